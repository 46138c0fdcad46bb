"""Per-class noise thresholds and the per-class noise rate (issue 13).

Why per class. Under shuffled labels the two-sample KS statistic of a class of ``n`` samples
against the ``m = N - n`` others has a null distribution whose spread scales as
``1 / sqrt(n_eff)`` with the *effective size* ``n_eff = n m / (n + m)`` (Kolmogorov: ``sqrt(n_eff)
* |D|`` has a limit law that does not depend on ``n``). One threshold for all classes, as in the
paper's Eq. 4, therefore keeps mostly noise in small classes and is needlessly strict in big
ones.

The rule. Eq. 4 counts, at each candidate threshold ``x``, the pairs beyond ``x`` with the true
labels, ``T(x)``, and with shuffled labels, ``N(x)``, and takes their difference averaged over
classes. Per class and per side (presence ``D > x``, absence ``D < -x``) we keep the same two
counts and use their ratio, the expected share of the kept pairs that are noise::

    T_c(x) = #{f : D(c, f) > x}
    N_c(x) = (sum_{c' in P(c)} sum_s #{f : D_s(c', f) > x * sqrt(n_eff(c) / n_eff(c'))} + 1)
             / (|P(c)| * n_shuffles)
    t_plus[c] = min {x in grid : T_c(x) > 0 and N_c(x) <= q * T_c(x)}

``t_minus[c]`` likewise on ``-D``. ``q`` is ``max_noise_share``. ``P(c)`` pools the shuffled
nulls of the classes whose effective size is within a factor ``_config.POOL_SIZE_RATIO`` of
``c``'s, each rescaled to ``c``'s size by the ``1 / sqrt(n_eff)`` law (exact for equal sizes,
where the nulls are identically distributed): with a handful of shuffles this multiplies the null
sample. The ``+ 1`` is one pseudo-observation of noise (as ``(b + 1) / (m + 1)`` permutation
p-values), so that a threshold is never accepted on a null count of zero from too few shuffles.
A side with no such ``x`` gets ``t = +-1`` (nothing kept: comparisons are strict); a class with
neither side is *unresolved*: no threshold separates its signal from chance.

Complexity: the exceedance counts of Eq. 4, per class instead of summed over classes
(``O(n_shuffles * n_classes * n_features)``), then ``O(n_sizes * |P| * n_grid)`` look-ups for
the pooling, where ``n_sizes`` is the number of distinct class sizes (the nulls of equal-size
classes are summed first).
"""

import warnings

import numpy as np

from dks import _config
from dks._options import on_command_line, option
from dks.thresholds import _exceedance

__all__ = [
    "class_exceedance",
    "class_noise_table",
    "effective_sizes",
    "per_class_thresholds",
    "thresholds_from_counts",
]


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
    """Per-class thresholds of the module's rule.

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
        out[0, c], out[1, c] = _exceedance(values[:, c, :], grid, resolution)
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
        the true labels) and ``"mostly_noise"`` (``noise_share > _config.MOSTLY_NOISE``, or
        nothing kept while chance keeps some).
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
