"""Exceedance curves and the threshold rules: the paper's (§5.5, Eq. 4) and per class.

Everything here is numpy only; :class:`dks.NoiseThresholdSelector` and :mod:`dks.plotting`
both call it.

- :func:`threshold_grid`: the candidate thresholds ``0, resolution, ..., 1``.
- :func:`exceedance`: per row (class) of a D_KS array, how many values exceed each ``x`` of a
  grid: ``#{f : D > x}`` (``sign="presence"``) or ``#{f : D < -x}`` (``sign="absence"``). These
  are the curves of the paper's Fig. 9. Comparisons are strict: a value equal to ``x`` does not
  count.
- :func:`average_distance`: Eq. 4, the mean over classes of those counts with the true labels
  minus the same mean over the classes of every shuffled labeling, for both signs.
- :func:`argmax_threshold`: the threshold rule, ``t+ = grid[argmax d_avg_plus]`` and
  ``t- = -grid[argmax d_avg_minus]``; on ties of the maximum the smallest ``x`` wins.
- :func:`per_class_thresholds`: one pair of thresholds per class (below).
- :func:`relevance_from_thresholds`, :func:`benjamini_hochberg`: the pairs each rule keeps;
  :func:`warn_small_classes`: the warning for classes too small for a shuffled null.

The counts use one binary search per value (a histogram of "how many grid points lie below
``|D|``" gives every count at once), ``O(n_values * log(n_grid))``; when the grid is
:func:`threshold_grid` of a known ``resolution`` the search is replaced by a division and a
one-step correction.

*Per-class thresholds* (``NoiseThresholdSelector(thresholds="per_class")``). Why per class.
Under shuffled labels the two-sample KS statistic of a class of ``n`` samples against the
``m = N - n`` others has a null distribution whose spread scales as ``1 / sqrt(n_eff)`` with the
*effective size* ``n_eff = n m / (n + m)`` (Kolmogorov: ``sqrt(n_eff) * |D|`` has a limit law
that does not depend on ``n``). One threshold for all classes, as in the paper's Eq. 4,
therefore keeps mostly noise in small classes and is needlessly strict in big ones.

The rule. Eq. 4 counts, at each candidate threshold ``x``, the pairs beyond ``x`` with the true
labels, ``T(x)``, and with shuffled labels, ``N(x)``, and takes their difference averaged over
classes. Per class and per side (presence ``D > x``, absence ``D < -x``) we keep the same two
counts and use their ratio, the expected share of the kept pairs that are noise::

    T_c(x) = #{f : D(c, f) > x}
    N_c(x) = (sum_{c' in P(c)} sum_s #{f : D_s(c', f) > x * sqrt(n_eff(c) / n_eff(c'))} + 1)
             / (|P(c)| * n_shuffles)
    t_plus[c] = min {x in grid : T_c(x) > 0 and N_c(x) <= q * T_c(x)}

``t_minus[c]`` likewise on ``-D``. ``q`` is ``max_noise_share``. ``P(c)`` pools the shuffled
nulls of the classes whose effective size is within a factor ``pool_size_ratio``
(:func:`dks.set_config`) of ``c``'s, each rescaled to ``c``'s size by the ``1 / sqrt(n_eff)``
law (exact for equal sizes, where the nulls are identically distributed): with a handful of
shuffles this multiplies the null sample. The ``+ 1`` is one pseudo-observation of noise (as
``(b + 1) / (m + 1)`` permutation p-values), so that a threshold is never accepted on a null
count of zero from too few shuffles. A side with no such ``x`` gets ``t = +-1`` (nothing kept:
comparisons are strict); a class with neither side is *unresolved*: no threshold separates its
signal from chance.

Complexity: the exceedance counts of Eq. 4, per class instead of summed over classes
(``O(n_shuffles * n_classes * n_features)``), then ``O(n_sizes * |P| * n_grid)`` look-ups for
the pooling, where ``n_sizes`` is the number of distinct class sizes (the nulls of equal-size
classes are summed first).
"""

import warnings

import numpy as np
from scipy.stats import false_discovery_control

from dks import _config
from dks._engine import exceedance_histogram
from dks._options import on_command_line, option
from dks._sign import check_sign

# The user's API; the other names without an underscore are what NoiseThresholdSelector
# (dks.select) and the tests use: the counts and the per-class rule.
__all__ = [
    "MIN_CLASS_SIZE",
    "MIN_RESOLUTION",
    "argmax_threshold",
    "average_distance",
    "benjamini_hochberg",
    "exceedance",
    "relevance_from_thresholds",
    "threshold_grid",
    "warn_small_classes",
]

#: Smallest ``resolution`` (a grid of at most ten million thresholds).
MIN_RESOLUTION = 1e-7

# Values per chunk in the counts (a few arrays of this size stay in cache).
_CHUNK = 1 << 15


def threshold_grid(resolution):
    """Candidate thresholds ``0, resolution, 2 * resolution, ..., 1``.

    Parameters
    ----------
    resolution : float
        Step, in ``(0, 1)``, at least ``1e-7``.

    Returns
    -------
    grid : ndarray of shape (n_grid,), float64
        ``np.round(np.arange(n + 1) * resolution, 12)`` with ``n = floor(1 / resolution)``
        (up to 1e-9), then ``1.0`` appended if the last value is below 1. Rounding makes
        ``grid[123]`` with ``resolution=0.001`` the float ``0.123`` exactly.

    Examples
    --------
    >>> from dks.thresholds import threshold_grid
    >>> threshold_grid(0.25).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> threshold_grid(0.3).tolist()
    [0.0, 0.3, 0.6, 0.9, 1.0]
    """
    if not 0.0 < resolution < 1.0:
        raise ValueError(f"{option('resolution')} must be in (0, 1); got {resolution!r}.")
    if resolution < MIN_RESOLUTION:
        raise ValueError(
            f"{option('resolution', resolution)} would make a grid of {1 / resolution:.3g} "
            f"thresholds; use a {option('resolution')} of at least {MIN_RESOLUTION:g}."
        )
    n = int(np.floor(1.0 / resolution + 1e-9))
    grid = np.round(np.arange(n + 1) * resolution, 12)
    if grid[-1] < 1.0:
        grid = np.append(grid, 1.0)
    return grid


def exceedance(dks, grid, *, sign="presence", resolution=None):
    """Per row, the number of D_KS values beyond each point of ``grid`` (the Fig. 9 curves).

    Parameters
    ----------
    dks : array-like of shape (n_rows, n_values)
        Signed D_KS, one row per class (``null_dks.reshape(-1, n_features)`` for shuffled
        labelings).
    grid : array-like of shape (n_grid,)
        Magnitudes ``x`` in [0, 1], in any order.
    sign : {"presence", "absence"}, default="presence"
        ``"presence"`` counts ``D > x``; ``"absence"`` counts ``D < -x``.
    resolution : float, optional
        Pass it when ``grid`` is ``threshold_grid(resolution)``, for a faster count.

    Returns
    -------
    counts : ndarray of shape (n_rows, n_grid), int64

    Examples
    --------
    >>> from dks.thresholds import exceedance
    >>> exceedance([[0.5, -0.2, 0.1]], [0.0, 0.1, 0.6]).tolist()
    [[2, 1, 0]]
    >>> exceedance([[0.5, -0.2, 0.1]], [0.0, 0.1, 0.6], sign="absence").tolist()
    [[1, 1, 0]]
    """
    sign = check_sign(sign, allowed=("presence", "absence"))
    dks = np.asarray(dks, dtype=float)
    if dks.ndim != 2:
        raise ValueError(f"'dks' must be a 2-D array; got shape {dks.shape} instead.")
    grid = _check_grid(grid)
    order = np.argsort(grid, kind="stable")
    if resolution is not None and np.any(order != np.arange(grid.size)):
        resolution = None  # not a threshold_grid: the general path
    counts = np.empty((dks.shape[0], grid.size), dtype=np.int64)
    for i, row in enumerate(dks):
        plus, minus = exceedance_counts(row, grid[order], resolution)
        counts[i, order] = plus if sign == "presence" else minus
    return counts


def average_distance(dks, null_dks, grid, *, resolution=None, null_counts=None):
    """The paper's Eq. 4 for both signs, on ``grid``.

    ::

        d_avg_plus(x)  = mean_c #{f : D(c, f) > x}  - mean_{s, c} #{f : D_s(c, f) > x}
        d_avg_minus(x) = mean_c #{f : D(c, f) < -x} - mean_{s, c} #{f : D_s(c, f) < -x}

    Parameters
    ----------
    dks : ndarray of shape (n_classes, n_features)
        D_KS with the true labels.
    null_dks : ndarray of shape (n_shuffles, n_classes, n_features) or None
        D_KS with each shuffled labeling; not read when ``null_counts`` is given.
    grid : ndarray of shape (n_grid,)
        Increasing magnitudes, e.g. :func:`threshold_grid`.
    resolution : float, optional
        Pass it when ``grid`` is ``threshold_grid(resolution)``, for a faster count.
    null_counts : NullCounts, optional
        The shuffled labelings' counts, accumulated block by block while they were computed
        (so that ``null_dks`` need not be kept).

    Returns
    -------
    d_avg_plus, d_avg_minus : ndarray of shape (n_grid,), float64
        In features per class; NaN when ``n_shuffles`` is 0.
    """
    dks = np.asarray(dks)
    grid = np.asarray(grid, dtype=float)
    if null_counts is None:
        null_dks = np.asarray(null_dks)
        null_counts = NullCounts(grid, resolution, null_dks.shape[0])
        for null in null_dks:  # one labeling at a time keeps the temporaries small
            null_counts(0, null.shape[-1], null[None])
    n_classes = dks.shape[0]
    n_shuffles = null_counts.n_shuffles
    if n_shuffles == 0:
        nan = np.full(grid.shape, np.nan)
        return nan, nan.copy()
    true_plus, true_minus = exceedance_counts(dks, grid, resolution)
    scale = n_classes * n_shuffles
    return (
        true_plus / n_classes - null_counts.plus / scale,
        true_minus / n_classes - null_counts.minus / scale,
    )


def argmax_threshold(grid, d_avg, *, sign="presence"):
    """The threshold rule: where ``d_avg`` peaks, the smallest ``x`` on ties.

    Parameters
    ----------
    grid : array-like of shape (n_grid,)
        Magnitudes.
    d_avg : array-like of shape (n_grid,)
        ``d_avg_plus`` or ``d_avg_minus`` of :func:`average_distance`.
    sign : {"presence", "absence"}, default="presence"
        ``"presence"`` gives ``t+ = grid[argmax]`` (>= 0), ``"absence"`` gives
        ``t- = -grid[argmax]`` (<= 0).

    Returns
    -------
    float

    Examples
    --------
    >>> from dks.thresholds import argmax_threshold
    >>> argmax_threshold([0.0, 0.1, 0.2, 0.3], [1.0, 3.0, 3.0, 2.0])
    0.1
    >>> argmax_threshold([0.0, 0.1, 0.2], [2.0, 1.0, 0.0], sign="absence")
    0.0
    """
    sign = check_sign(sign, allowed=("presence", "absence"))
    grid = np.asarray(grid, dtype=float).ravel()
    d_avg = np.asarray(d_avg, dtype=float).ravel()
    if d_avg.shape != grid.shape:
        raise ValueError(
            f"'d_avg' must have the shape of 'grid' {grid.shape}; got {d_avg.shape} instead."
        )
    x = float(grid[int(np.argmax(d_avg))])
    # "+ 0.0" turns -0.0 into 0.0.
    return x if sign == "presence" else -x + 0.0


class NullCounts:
    """Exceedance counts of shuffled D_KS on the grid, summed block by block.

    Called as ``counts(f0, f1, null)`` with ``null`` of shape ``(n_shuffles, n_classes,
    f1 - f0)`` (a block of features, as a characterizer produces them); ``plus[i]`` and
    ``minus[i]`` count the values ``> grid[i]`` and ``< -grid[i]`` of all blocks seen. Counts
    are integers, so the order of the blocks does not change the sums.
    """

    def __init__(self, grid, resolution, n_shuffles):
        self.grid = grid
        self.resolution = resolution
        self.n_shuffles = n_shuffles
        self.plus = np.zeros(grid.shape, dtype=np.int64)
        self.minus = np.zeros(grid.shape, dtype=np.int64)

    def __call__(self, f0, f1, null):
        plus, minus = exceedance_counts(null, self.grid, self.resolution)
        self.plus += plus
        self.minus += minus


def _check_grid(grid):
    grid = np.asarray(grid, dtype=float).ravel()
    if grid.size and (not np.all(np.isfinite(grid)) or grid.min() < 0 or grid.max() > 1):
        raise ValueError("'grid' must hold magnitudes in [0, 1] (finite).")
    return grid


def exceedance_counts(values, grid, resolution):
    """Counts of ``values > grid[i]`` and of ``values < -grid[i]`` for every ``i``.

    What :func:`exceedance` and :func:`average_distance` count, on a clean increasing
    ``grid``; with ``resolution`` given it must be ``threshold_grid(resolution)``.
    Nothing is sorted: each ``|v|`` gets ``below = #{i : grid[i] < |v|}``, so that
    ``|v| > grid[i]`` if and only if ``below > i``, and a histogram of ``below`` (one for each
    sign of ``v``) gives all counts at once: in one numba pass
    (``exceedance_histogram`` of the engine's kernels) on a threshold grid, else by binary search.
    """
    n_grid = grid.shape[0]
    hist = np.zeros(2 * (n_grid + 1), dtype=np.int64)
    if resolution is not None:
        flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
        exceedance_histogram(flat, np.ascontiguousarray(grid, dtype=np.float64), resolution, hist)
    else:
        flat = np.ravel(values)
        for start in range(0, flat.shape[0], _CHUNK):
            v = flat[start : start + _CHUNK]
            below = np.searchsorted(grid, np.abs(v), side="left")
            # Negative values go to a second histogram, offset by n_grid + 1.
            below += (v < 0) * (n_grid + 1)
            hist += np.bincount(below, minlength=hist.shape[0])
    # at_least[j] = #{below >= j}; the count for grid[i] is at_least[i + 1].
    plus = np.cumsum(hist[n_grid::-1])[::-1][1:]
    minus = np.cumsum(hist[:n_grid:-1])[::-1][1:]
    return plus, minus


# ------------------------------------------------------------------- per-class thresholds
def effective_sizes(counts):
    """Effective sample size ``n (N - n) / N`` of each class against the rest.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
        Samples per class; ``N`` is their sum.

    Returns
    -------
    n_eff : ndarray of shape (n_classes,), float64
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts * (total - counts) / total


def per_class_thresholds(dks, null_dks, counts, grid, resolution, max_noise_share):
    """Per-class thresholds of the rule in the module docstring.

    Parameters
    ----------
    dks : ndarray of shape (n_classes, n_features)
        D_KS with the true labels.
    null_dks : ndarray of shape (n_shuffles, n_classes, n_features)
        D_KS with shuffled labels; ``n_shuffles >= 1``.
    counts : array-like of shape (n_classes,)
        Samples per class.
    grid : ndarray of shape (n_grid,)
        ``threshold_grid(resolution)``.
    resolution : float
        Step of ``grid``.
    max_noise_share : float
        ``q`` of the rule, in ``(0, 1)``.

    Returns
    -------
    t_plus, t_minus : ndarray of shape (n_classes,), float64
        ``t_plus[c] = 1.0`` (``t_minus[c] = -1.0``) where no threshold reaches the bound.
    resolved_plus, resolved_minus : ndarray of shape (n_classes,), bool
        Whether that side found a threshold.
    """
    n_shuffles = null_dks.shape[0]
    true_counts = class_exceedance(dks[np.newaxis], grid, resolution)
    null_counts = class_exceedance(null_dks, grid, resolution)
    return thresholds_from_counts(
        true_counts, null_counts, counts, grid, n_shuffles, max_noise_share
    )


def class_exceedance(values, grid, resolution):
    """Per-class counts of Eq. 4, summed over labelings.

    Parameters
    ----------
    values : ndarray of shape (n_labelings, n_classes, n_features)
        D_KS of each labeling.
    grid, resolution
        ``threshold_grid(resolution)`` and ``resolution``.

    Returns
    -------
    counts : ndarray of shape (2, n_classes, n_grid), int64
        ``counts[0, c, i] = #{(s, f) : values[s, c, f] > grid[i]}`` and
        ``counts[1, c, i] = #{(s, f) : values[s, c, f] < -grid[i]}``. Everything the per-class
        rule needs from the null: ``2 * n_classes * n_grid`` integers whatever the number of
        features and shuffles.
    """
    n_classes = values.shape[1]
    out = np.empty((2, n_classes, grid.size), dtype=np.int64)
    for c in range(n_classes):
        out[0, c], out[1, c] = exceedance_counts(values[:, c, :], grid, resolution)
    return out


def thresholds_from_counts(true_counts, null_counts, counts, grid, n_shuffles, max_noise_share):
    """The rule on the outputs of :func:`class_exceedance` (true labels, shuffles).

    Returns what :func:`per_class_thresholds` returns.
    """
    counts = np.asarray(counts)
    n_classes = counts.size
    # Classes of one size have identically distributed nulls: sum them once per size.
    sizes, size_of_class = np.unique(counts, return_inverse=True)
    members = np.bincount(size_of_class, minlength=sizes.size)
    total = counts.sum()
    log_eff = np.log(sizes * (total - sizes) / total)  # effective size of each distinct size
    width = np.log(_config.POOL_SIZE_RATIO)
    out = []
    for side, sign in ((0, 1.0), (1, -1.0)):
        true_side = true_counts[side]
        null_by_size = np.zeros((sizes.size, grid.size))
        np.add.at(null_by_size, size_of_class, null_counts[side])
        thresholds = np.ones(n_classes)
        resolved = np.zeros(n_classes, dtype=bool)
        for u in range(sizes.size):
            pool = np.flatnonzero(np.abs(log_eff - log_eff[u]) <= width + 1e-12)
            noise = np.ones(grid.shape)  # the pseudo-observation
            for v in pool:
                scaled = grid * np.exp(0.5 * (log_eff[u] - log_eff[v]))
                # Largest grid value <= scaled: a lower threshold counts more noise (conservative).
                idx = np.clip(np.searchsorted(grid, scaled, side="right") - 1, 0, grid.size - 1)
                noise += null_by_size[v, idx]
            noise /= members[pool].sum() * n_shuffles
            rows = np.flatnonzero(size_of_class == u)
            true_rows = true_side[rows]
            ok = (true_rows > 0) & (noise <= max_noise_share * true_rows)
            first = np.argmax(ok, axis=1)
            found = ok[np.arange(rows.size), first]
            resolved[rows] = found
            thresholds[rows] = np.where(found, grid[first], 1.0)
        out.append((sign * thresholds + 0.0, resolved))  # + 0.0 turns -0.0 into 0.0
    (t_plus, resolved_plus), (t_minus, resolved_minus) = out
    return t_plus, t_minus, resolved_plus, resolved_minus


def class_noise_table(classes, counts, relevance, null_kept):
    """Per-class noise rate: the columns of ``NoiseThresholdSelector.class_noise_``.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
    counts : array-like of shape (n_classes,)
    relevance : ndarray of shape (n_classes, n_features), int8
    null_kept : ndarray of shape (n_shuffles, n_classes, n_features), bool, or None
        Pairs selected with each shuffled labeling; ``None`` when there are no shuffles.

    Returns
    -------
    table : dict of str to ndarray
        ``"class"``, ``"n_samples"``, ``"kept"`` (share of the class's pairs kept with the
        true labels), ``"kept_shuffled"`` (the same with shuffled labels, averaged over
        shuffles), ``"noise_share"`` (``kept_shuffled / kept``, the expected share of the kept
        pairs that are noise; NaN when nothing is kept; above 1 when chance keeps more than
        the true labels) and ``"mostly_noise"`` (``noise_share`` above ``mostly_noise`` of
        :func:`dks.get_config`, or nothing kept while chance keeps some).
    """
    kept = np.count_nonzero(relevance, axis=1) / relevance.shape[1]
    shuffled = np.full(kept.shape, np.nan) if null_kept is None else null_kept.mean(axis=(0, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(kept > 0, shuffled / np.where(kept > 0, kept, 1.0), np.nan)
    mostly = (share > _config.MOSTLY_NOISE) | ((kept == 0) & (shuffled > 0))
    return {
        "class": np.asarray(classes),
        "n_samples": np.asarray(counts, dtype=np.int64),
        "kept": kept.astype(np.float64),
        "kept_shuffled": shuffled.astype(np.float64),
        "noise_share": share.astype(np.float64),
        "mostly_noise": mostly,
    }


def warn_unresolved(classes, counts, unresolved, max_noise_share):
    """Warn, naming them, about the classes for which no threshold separates signal."""
    idx = np.flatnonzero(unresolved)
    if idx.size == 0:
        return
    labels = np.asarray(classes).tolist()
    shown = ", ".join(f"{labels[i]!r} ({int(counts[i])} samples)" for i in idx[:10])
    more = f" and {idx.size - 10} more" if idx.size > 10 else ""
    listed = (
        "listed in the summary and in class_noise.csv"
        if on_command_line()
        else "see unresolved_classes_"
    )
    warnings.warn(
        f"{idx.size} class(es) have no threshold at which the kept pairs are at most "
        f"{max_noise_share:g} noise (estimated from the shuffled labels): {shown}{more}. "
        f"Nothing is kept for them ({listed}): they are too small for their D_KS to stand "
        "out from chance, or no feature characterizes them. Collect more samples, merge "
        f"classes, or raise {option('max_noise_share')}.",
        UserWarning,
        # Point at the caller of fit: this helper, fit, and the _fit_context wrapper.
        stacklevel=4,
    )


#: Classes with fewer samples than this get a warning when labels are shuffled.
MIN_CLASS_SIZE = 5


def relevance_from_thresholds(dks, t_plus, t_minus):
    """``+1`` where ``dks > t_plus``, ``-1`` where ``dks < t_minus``, else ``0`` (int8)."""
    # Scalars, or one threshold per class (row) with thresholds="per_class". As
    # t_minus <= 0 <= t_plus, no pair is both: one vectorized pass, no masked writes.
    t_plus, t_minus = np.reshape(t_plus, (-1, 1)), np.reshape(t_minus, (-1, 1))
    return np.subtract(dks > t_plus, dks < t_minus, dtype=np.int8)


def benjamini_hochberg(pvalues, alpha):
    """Bool mask of the p-values rejected by Benjamini-Hochberg at level ``alpha``."""
    p = np.nan_to_num(np.asarray(pvalues, dtype=np.float64), nan=1.0)
    if p.size == 0:
        return np.zeros(p.shape, dtype=bool)
    adjusted = false_discovery_control(p.ravel(), method="bh")
    return (adjusted <= alpha).reshape(p.shape)


def warn_small_classes(classes, counts, thresholds):
    """Warn (at the caller of ``fit``) about classes of fewer than ``MIN_CLASS_SIZE`` samples."""
    small = np.flatnonzero(np.asarray(counts) < MIN_CLASS_SIZE)
    if small.size == 0:
        return
    labels = np.asarray(classes).tolist()
    shown = ", ".join(f"{labels[i]!r} ({int(counts[i])})" for i in small[:5])
    more = f" and {small.size - 5} more" if small.size > 5 else ""
    if thresholds == "global":
        advice = (
            "With one threshold for all classes, most of what they keep is noise: use "
            f"{option('thresholds', 'per_class')}, which learns each class's thresholds from "
            "its own shuffled null and names the classes too small for any, or merge or drop "
            "these classes, or collect more samples."
        )
    else:
        advice = "Merge or drop these classes, or collect more samples."
    warnings.warn(
        f"{small.size} class(es) have fewer than {MIN_CLASS_SIZE} samples: {shown}{more}. "
        "Shuffling the labels of so small a class is hardly meaningful: its D_KS takes few, "
        f"large values with true and shuffled labels alike. {advice}",
        UserWarning,
        # Point at the caller of fit: this helper, fit, and the _fit_context wrapper.
        stacklevel=4,
    )
