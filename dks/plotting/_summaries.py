"""The numbers behind the figures, numpy only (this module imports no matplotlib).

Per-layer modes and bands (Fig. 5)
----------------------------------
The paper summarizes each side of each layer's D_KS distribution by its mode and "two error bars
enclosing 68% of accumulated probability on each side (equivalent to mu +- sigma for normal
distribution)". :func:`mode_band` implements this on the magnitudes of one side (D_KS > 0, or
-D_KS for D_KS < 0; exact zeros belong to neither side):

- **mode**: the maximum of a Gaussian kernel density estimate evaluated on a grid of step
  ``resolution`` (0.001) over [0, 1]. The values are first binned to the nearest grid point, the
  counts reflected at 0 and 1 (D_KS is bounded, and high layers pile up near 0), then convolved
  with the kernel. The bandwidth is Silverman's rule, ``0.9 * min(std, IQR / 1.349) * n**-0.2``,
  floored at two grid steps; pass ``bandwidth`` to override. A KDE is used rather than a
  histogram because D_KS values are quantized (multiples of the reciprocal of the class sizes),
  which makes the tallest histogram bin depend on how bins and lattice align.
- **band**: the bar above the mode reaches the value below which lies 68.27% of the pairs that are
  at or above the mode; the bar below it reaches the value above which lies 68.27% of the pairs
  below the mode (both empirical quantiles of the raw values, not of the KDE). For a normal
  distribution this is exactly mode +- sigma (68.27% = erf(1/sqrt 2) is the share of a half-normal
  within one sigma); for the skewed, log-normal-like sides of D_KS the two bars differ in length,
  as in the paper's figure.
"""

import math
import warnings

import numpy as np

from dks._sign import check_sign
from dks.groups import check_groups
from dks.thresholds import exceedance

#: Share of a half-normal within one sigma of the mean, erf(1 / sqrt(2)).
BAND_MASS = math.erf(1.0 / math.sqrt(2.0))


def as_dks(dks, name="dks", ndim=2):
    arr = np.asarray(dks, dtype=float)
    if arr.ndim != ndim:
        raise ValueError(f"'{name}' must be a {ndim}-D array; got shape {arr.shape} instead.")
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"'{name}' contains {int(np.sum(~np.isfinite(arr)))} non-finite values.")
    if arr.size and (arr.min() < -1 - 1e-9 or arr.max() > 1 + 1e-9):
        raise ValueError(
            f"'{name}' must hold D_KS values in [-1, 1]; got range "
            f"[{arr.min():.3g}, {arr.max():.3g}] instead."
        )
    return np.clip(arr, -1.0, 1.0)  # round-off beyond +-1 would upset the bounded KDE


def mode_band(values, *, bandwidth=None, resolution=0.001, mass=BAND_MASS):
    """Mode and 68% band of one side of a D_KS distribution (magnitudes in [0, 1]).

    See the module docstring for the exact definition (reflected Gaussian KDE for the mode,
    empirical quantiles on each side of the mode for the band).

    Parameters
    ----------
    values : array-like of float
        Magnitudes in [0, 1]: the positive D_KS values, or minus the negative ones.
    bandwidth : float, optional
        Kernel standard deviation. Default: Silverman's rule (floored at ``2 * resolution``).
    resolution : float, default=0.001
        Step of the grid on which the density is evaluated; the mode is a grid point.
    mass : float, default=erf(1/sqrt(2)) ~ 0.6827
        Share of the values on each side of the mode that each bar encloses.

    Returns
    -------
    mode, lower, upper : float
        ``lower <= mode <= upper``; all NaN when ``values`` is empty.

    Examples
    --------
    >>> mode, lower, upper = mode_band([0.2, 0.3, 0.3, 0.3, 0.4])
    >>> round(mode, 3)
    0.3
    """
    v = np.asarray(values, dtype=float).ravel()
    if not 0 < resolution < 1:
        raise ValueError(f"'resolution' must be in (0, 1); got {resolution!r} instead.")
    if not 0 < mass < 1:
        raise ValueError(f"'mass' must be in (0, 1); got {mass!r} instead.")
    if v.size == 0:
        return (math.nan, math.nan, math.nan)
    if not np.all(np.isfinite(v)) or v.min() < 0 or v.max() > 1:
        raise ValueError("mode_band expects finite magnitudes in [0, 1].")
    if np.ptp(v) == 0:
        return (float(v[0]), float(v[0]), float(v[0]))

    n_grid = round(1.0 / resolution) + 1
    grid = np.linspace(0.0, 1.0, n_grid)
    if bandwidth is None:
        q75, q25 = np.quantile(v, [0.75, 0.25])
        spread = v.std()
        if q75 > q25:
            spread = min(spread, (q75 - q25) / 1.349)
        bandwidth = 0.9 * spread * v.size ** (-0.2)
    elif not bandwidth > 0:
        raise ValueError(f"'bandwidth' must be > 0; got {bandwidth!r} instead.")
    bandwidth = max(float(bandwidth), 2 * resolution)

    step = 1.0 / (n_grid - 1)
    counts = np.bincount(np.rint(v / step).astype(np.intp), minlength=n_grid).astype(float)
    half = int(np.ceil(4 * bandwidth / step))
    padded = np.pad(counts, half, mode="reflect")
    t = np.arange(-half, half + 1) * (step / bandwidth)
    density = np.convolve(padded, np.exp(-0.5 * t * t), mode="valid")
    mode = float(grid[int(np.argmax(density))])

    above = v[v >= mode]
    below = v[v < mode]
    upper = float(np.quantile(above, mass)) if above.size else mode
    lower = float(np.quantile(below, 1.0 - mass)) if below.size else mode
    return (mode, lower, upper)


def layer_mode_bands(dks, groups, *, bandwidth=None, resolution=0.001):
    """Per layer, the mode and 68% band of the positive and of the negative D_KS values.

    Parameters
    ----------
    dks : array-like of shape (n_classes, n_features)
        Signed D_KS.
    groups : dict of str to array of int
        Layer name -> column indices, in layer order.
    bandwidth, resolution : see :func:`mode_band`.

    Returns
    -------
    names : list of str
        The layer names, in order.
    plus : ndarray of shape (n_layers, 3)
        ``(mode, lower, upper)`` of D_KS > 0 per layer (NaN if the layer has none).
    minus : ndarray of shape (n_layers, 3)
        ``(mode, lower, upper)`` of D_KS < 0, in D_KS units (so ``lower <= mode <= upper <= 0``).
    """
    dks = as_dks(dks)
    groups = check_groups(groups, dks.shape[1])
    plus = np.full((len(groups), 3), np.nan)
    minus = np.full((len(groups), 3), np.nan)
    for i, cols in enumerate(groups.values()):
        values = dks[:, cols].ravel()
        plus[i] = mode_band(values[values > 0], bandwidth=bandwidth, resolution=resolution)
        m, lo, hi = mode_band(-values[values < 0], bandwidth=bandwidth, resolution=resolution)
        minus[i] = (-m, -hi, -lo)
    return [str(name) for name in groups], plus, minus


def dks_histogram(values, bins=50):
    """Histogram of D_KS values over [-1, 1], as a percentage of the values.

    Parameters
    ----------
    values : array-like of float
        D_KS values (any shape; flattened).
    bins : int, default=50
        Number of equal-width bins over [-1, 1] (the last bin includes 1).

    Returns
    -------
    edges : ndarray of shape (bins + 1,)
    percent : ndarray of shape (bins,)
        Share of the values in each bin, in percent (sums to 100 unless ``values`` is empty).
    """
    v = np.asarray(values, dtype=float).ravel()
    if int(bins) != bins or bins < 1:
        raise ValueError(f"'bins' must be a positive integer; got {bins!r} instead.")
    edges = np.linspace(-1.0, 1.0, int(bins) + 1)
    counts, _ = np.histogram(v, bins=edges)
    percent = counts * (100.0 / v.size) if v.size else counts.astype(float)
    return edges, percent


def class_curves(dks, grid=None, sign="presence"):
    """Per row (class), the number of features beyond each point of ``grid`` (Fig. 9 curves).

    The counts are :func:`dks.thresholds.exceedance`; this adds where to plot them.

    Parameters
    ----------
    dks : array-like of shape (n_rows, n_features)
        Signed D_KS; pass ``null_dks.reshape(-1, n_features)`` for the shuffled labelings.
    grid : array-like of float, optional
        Magnitudes in [0, 1]; default ``np.linspace(0, 1, 201)``.
    sign : {"presence", "absence"}, default="presence"
        ``"presence"`` counts ``D_KS > grid``; ``"absence"`` counts ``D_KS < -grid``.

    Returns
    -------
    x : ndarray of shape (n_grid,)
        Where the counts are plotted: ``grid`` (presence) or ``-grid`` (absence).
    counts : ndarray of int64, shape (n_rows, n_grid)
        The counts. Their mean over classes, minus that over shuffled classes, is the paper's
        d_avg (Eq. 4).
    """
    sign = check_sign(sign, allowed=("presence", "absence"))
    grid = np.linspace(0.0, 1.0, 201) if grid is None else np.asarray(grid, dtype=float).ravel()
    counts = exceedance(dks, grid, sign=sign)
    return (grid.copy() if sign == "presence" else -grid), counts


def signed_ks_1d(values, y, classes=None):
    """Exact signed D_KS of one feature for each class (the characterizer's sign convention).

    ``D = F_inter(x*) - F_intra(x*)`` with ``x*`` maximizing ``|F_intra - F_inter|``; positive
    when the class's values are higher; a tie between the largest positive and the largest
    negative gap gives the positive value. Used to rank classes in
    :func:`plot_feature_histograms` when no D_KS row is given.

    Parameters
    ----------
    values, y : array-like of shape (n_samples,)
        Activations of one feature and the class labels, as for
        :func:`plot_feature_histograms`.
    classes : sequence, optional
        The classes, in the order wanted; default ``np.unique(y)``.

    Returns
    -------
    ndarray of shape (n_classes,)
        NaN for a class with no sample, or which holds all samples.
    """
    values = np.asarray(values, dtype=float).ravel()
    y = np.asarray(y).ravel()
    if values.shape != y.shape:
        raise ValueError(
            f"'values' and 'y' must have the same length; got {values.size} and {y.size}."
        )
    classes = np.unique(y) if classes is None else list(classes)
    out = np.full(len(classes), np.nan)
    if np.unique(y).shape[0] < 2:
        return out
    from dks.characterize import KSCharacterizer  # the one home of the statistic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # single-sample classes are fine here
        char = KSCharacterizer(n_bins=None).fit(values[:, None], y)
    for i, c in enumerate(classes):
        hit = np.flatnonzero(char.classes_ == c)
        if hit.shape[0]:
            out[i] = char.dks_[hit[0], 0]
    return out
