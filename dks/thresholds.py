"""Exceedance curves and the threshold rule of the paper (§5.5, Eq. 4), in one place.

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

The counts use one binary search per value (a histogram of "how many grid points lie below
``|D|``" gives every count at once), ``O(n_values * log(n_grid))``; when the grid is
:func:`threshold_grid` of a known ``resolution`` the search is replaced by a division and a
one-step correction.
"""

import numpy as np

from dks._engine._kernels import exceedance_histogram
from dks._options import option
from dks._sign import check_sign

__all__ = [
    "MIN_RESOLUTION",
    "argmax_threshold",
    "average_distance",
    "exceedance",
    "threshold_grid",
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
        plus, minus = _exceedance(row, grid[order], resolution)
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
    null_counts : _NullCounts, optional
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
        null_counts = _NullCounts(grid, resolution, null_dks.shape[0])
        for null in null_dks:  # one labeling at a time keeps the temporaries small
            null_counts(0, null.shape[-1], null[None])
    n_classes = dks.shape[0]
    n_shuffles = null_counts.n_shuffles
    if n_shuffles == 0:
        nan = np.full(grid.shape, np.nan)
        return nan, nan.copy()
    true_plus, true_minus = _exceedance(dks, grid, resolution)
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


class _NullCounts:
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
        plus, minus = _exceedance(null, self.grid, self.resolution)
        self.plus += plus
        self.minus += minus


def _check_grid(grid):
    grid = np.asarray(grid, dtype=float).ravel()
    if grid.size and (not np.all(np.isfinite(grid)) or grid.min() < 0 or grid.max() > 1):
        raise ValueError("'grid' must hold magnitudes in [0, 1] (finite).")
    return grid


def _exceedance(values, grid, resolution):
    """Counts of ``values > grid[i]`` and of ``values < -grid[i]`` for every ``i``.

    ``grid`` is increasing; with ``resolution`` given it must be ``threshold_grid(resolution)``.
    Nothing is sorted: each ``|v|`` gets ``below = #{i : grid[i] < |v|}``, so that
    ``|v| > grid[i]`` if and only if ``below > i``, and a histogram of ``below`` (one for each
    sign of ``v``) gives all counts at once: in one numba pass
    (:func:`dks._engine._kernels.exceedance_histogram`) on a threshold grid, else by binary search.
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
