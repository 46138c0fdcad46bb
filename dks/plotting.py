"""Figures of a D_KS analysis: the paper's Figs. 1, 5, 6, 9 and 10, and two more.

Every function here works from plain arrays (it does not matter how they were computed) and
returns a :class:`matplotlib.figure.Figure`. Figures are built with the object-oriented API
(``matplotlib.figure.Figure``, never ``pyplot``), so they work headless, leak no global state
and are never shown; write them with :func:`save_figure` (PNG + SVG) or put them in the HTML
report (:func:`dks.report.write_report`). matplotlib is imported only when a function runs
(``pip install dks[plot]``).

The arrays, as produced by :class:`dks.KSCharacterizer` and :class:`dks.NoiseThresholdSelector`:

- ``dks``: float (n_classes, n_features), the signed D_KS in [-1, 1], one row per class.
- ``null_dks``: float (n_shuffles, n_classes, n_features), D_KS with shuffled labels.
- ``groups``: ``dict[str, index array]`` mapping each layer to its columns, in layer order
  (e.g. from ``dks.groups.feature_groups(names)``); slices are accepted too.
- ``grid``, ``d_avg_plus``, ``d_avg_minus``: the curves of the paper's Eq. 4, with ``grid`` the
  magnitudes 0 ... 1; ``d_avg_minus[i]`` is about D_KS < ``-grid[i]``.
- ``t_plus`` >= 0 >= ``t_minus``: the noise thresholds.

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

from __future__ import annotations

import contextlib
import difflib
import math
import os
import secrets
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "class_curves",
    "dks_histogram",
    "layer_mode_bands",
    "mode_band",
    "plot_class_curves",
    "plot_davg",
    "plot_dks_histograms",
    "plot_feature_histograms",
    "plot_layer_distribution",
    "plot_layer_kept",
    "plot_top_images",
    "save_figure",
    "signed_ks_1d",
]

#: Share of a half-normal within one sigma of the mean, erf(1 / sqrt(2)).
BAND_MASS = math.erf(1.0 / math.sqrt(2.0))

_DKS = r"$D_{KS}$"
_DKS_PLUS = r"$D_{KS}^{+}$"
_DKS_MINUS = r"$D_{KS}^{-}$"
_T_PLUS = r"$t^{+}$"
_T_MINUS = r"$t^{-}$"
_COLOR_TRUE = "black"
_COLOR_NULL = "red"


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def _figure_class():
    """Import matplotlib lazily and return ``matplotlib.figure.Figure``."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "dks plotting needs matplotlib, which is not installed; "
            "install it with `pip install dks[plot]`."
        ) from exc
    return Figure


def _root_figure(ax):
    """The top-level Figure holding ``ax`` (also when ``ax`` lives in a SubFigure)."""
    try:
        return ax.get_figure(root=True)
    except TypeError:  # matplotlib < 3.10
        fig = ax.figure
        while getattr(fig, "figure", fig) is not fig:
            fig = fig.figure
        return fig


def _setup_axes(ax, fig, n_axes, *, figsize, ncols=None, what="this figure"):
    """Return ``(figure, list of n_axes Axes)`` from the ``ax``/``fig`` arguments.

    ``ax`` (one Axes or a sequence of them) wins over ``fig``; with neither, a new
    constrained-layout Figure is created.
    """
    if ax is not None:
        axes = list(np.ravel(np.asarray(ax, dtype=object))) if _is_sequence(ax) else [ax]
        if len(axes) != n_axes:
            raise ValueError(f"{what} needs {n_axes} Axes in 'ax'; got {len(axes)} instead.")
        return _root_figure(axes[0]), axes
    if fig is None:
        fig = _figure_class()(figsize=figsize, layout="constrained")
    ncols = n_axes if ncols is None else ncols
    nrows = -(-n_axes // ncols)
    grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for extra in grid[n_axes:]:
        extra.remove()
    return _root_figure(grid[0]), list(grid[:n_axes])


@contextlib.contextmanager
def _atomic_open(target):
    """Open a binary file that appears at ``target`` only once fully written.

    The data goes to a hidden temporary file in the same folder (created with the usual
    permissions, i.e. 0o666 minus the umask), renamed over ``target`` on success and removed on
    failure. Missing parent folders are created.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _threshold(value):
    """A finite float, or None for None/NaN (e.g. a selector that found no threshold)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _is_sequence(obj):
    return isinstance(obj, (list, tuple, np.ndarray))


def _as_dks(dks, name="dks", ndim=2):
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


def _group_items(groups, n_features):
    """``[(name, column index array)]`` in the mapping's order, validated."""
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError("'groups' must be a non-empty dict {layer name: column indices}.")
    items = []
    for name, cols in groups.items():
        if isinstance(cols, slice):
            cols = np.arange(n_features)[cols]
        cols = np.asarray(cols)
        if cols.dtype == bool:
            cols = np.flatnonzero(cols)
        if cols.ndim != 1 or (cols.size and not np.issubdtype(cols.dtype, np.integer)):
            raise ValueError(f"groups[{name!r}] must be a 1-D array of column indices.")
        if cols.size and (cols.min() < -n_features or cols.max() >= n_features):
            raise ValueError(
                f"groups[{name!r}] has column indices outside [0, {n_features}) "
                f"(dks has {n_features} features)."
            )
        items.append((str(name), cols.astype(np.intp)))
    return items


def _check_names(requested, valid, what):
    valid = list(valid)
    for name in requested:
        if name not in valid:
            close = difflib.get_close_matches(str(name), valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"Unknown layer {name!r} in '{what}'.{hint} Valid names: {valid}.")


def _describe_groups(names, n_features):
    if not names:
        return "no layers"
    if len(names) == 1:
        text = names[0]
    elif len(names) == 2:
        text = f"{names[0]} + {names[1]}"
    else:
        text = f"{names[0]} to {names[-1]} ({len(names)} layers)"
    return f"{text}, {n_features:,} features"


# --------------------------------------------------------------------------------------------
# computations behind the figures (public so they can be checked and reused)
# --------------------------------------------------------------------------------------------
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
    dks = _as_dks(dks)
    items = _group_items(groups, dks.shape[1])
    plus = np.full((len(items), 3), np.nan)
    minus = np.full((len(items), 3), np.nan)
    for i, (_, cols) in enumerate(items):
        values = dks[:, cols].ravel()
        plus[i] = mode_band(values[values > 0], bandwidth=bandwidth, resolution=resolution)
        m, lo, hi = mode_band(-values[values < 0], bandwidth=bandwidth, resolution=resolution)
        minus[i] = (-m, -hi, -lo)
    return [name for name, _ in items], plus, minus


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


def class_curves(dks, grid=None, side="positive"):
    """Per row (class), the number of features beyond each point of ``grid`` (Fig. 9 curves).

    Parameters
    ----------
    dks : array-like of shape (n_rows, n_features)
        Signed D_KS; pass ``null_dks.reshape(-1, n_features)`` for the shuffled labelings.
    grid : array-like of float, optional
        Magnitudes in [0, 1]; default ``np.linspace(0, 1, 201)``.
    side : {"positive", "negative"}
        ``"positive"`` counts ``D_KS > grid``; ``"negative"`` counts ``D_KS < -grid``.

    Returns
    -------
    x : ndarray of shape (n_grid,)
        Where the counts are plotted: ``grid`` (positive side) or ``-grid`` (negative side).
    counts : ndarray of int64, shape (n_rows, n_grid)
        The counts. Their mean over classes, minus that over shuffled classes, is the paper's
        d_avg (Eq. 4).
    """
    dks = np.asarray(dks, dtype=float)
    if dks.ndim != 2:
        raise ValueError(f"'dks' must be a 2-D array; got shape {dks.shape} instead.")
    grid = np.linspace(0.0, 1.0, 201) if grid is None else np.asarray(grid, dtype=float).ravel()
    if side not in ("positive", "negative"):
        raise ValueError(f"'side' must be 'positive' or 'negative'; got {side!r} instead.")
    ordered = np.sort(dks, axis=1)
    counts = np.empty((dks.shape[0], grid.size), dtype=np.int64)
    for i, row in enumerate(ordered):
        if side == "positive":
            counts[i] = row.size - np.searchsorted(row, grid, side="right")
        else:
            counts[i] = np.searchsorted(row, -grid, side="left")
    return (grid.copy() if side == "positive" else -grid), counts


def signed_ks_1d(values, y, classes=None):
    """Exact signed D_KS of one feature for each class (the characterizer's sign convention).

    ``D = F_inter(x*) - F_intra(x*)`` with ``x*`` maximizing ``|F_intra - F_inter|``; positive
    when the class's values are higher; a tie between the largest positive and the largest
    negative gap gives the positive value. Used to rank classes in
    :func:`plot_feature_histograms` when no D_KS row is given.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
        Activations of one feature.
    y : array-like of shape (n_samples,)
        Class labels.
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


# --------------------------------------------------------------------------------------------
# the figures
# --------------------------------------------------------------------------------------------
def plot_layer_distribution(
    dks,
    groups,
    *,
    t_plus=None,
    t_minus=None,
    bandwidth=None,
    label=None,
    color="C0",
    offset=0.0,
    ax=None,
    fig=None,
) -> Figure:
    """Per-layer D_KS distribution: modes and 68% bands of both sides (the paper's Fig. 5).

    For every layer, the D_KS values of all its (feature, class) pairs are split into the
    positive side (upward triangle) and the negative side (downward triangle); each side is
    drawn as its mode with an error bar enclosing 68% of that side's values on each side of the
    mode (see :func:`mode_band`).

    Parameters
    ----------
    dks : array-like of shape (n_classes, n_features)
        Signed D_KS.
    groups : dict of str to array of int
        Layer name -> column indices, in layer order (x axis).
    t_plus, t_minus : float, optional
        Thresholds, drawn as dotted horizontal lines when given.
    bandwidth : float, optional
        KDE bandwidth for the modes (see :func:`mode_band`).
    label : str, optional
        Dataset name for the legend; call again on the same ``ax`` with another ``label``,
        ``color`` and a small ``offset`` to compare datasets as the paper does.
    color : color, default="C0"
    offset : float, default=0.0
        Horizontal shift of the markers, in layer units.
    ax : Axes, optional
        Draw there instead of on a new figure.
    fig : Figure, optional
        Add the axes to this figure (ignored when ``ax`` is given).

    Returns
    -------
    Figure
    """
    names, plus, minus = layer_mode_bands(dks, groups, bandwidth=bandwidth)
    t_plus, t_minus = _threshold(t_plus), _threshold(t_minus)
    fig, (ax,) = _setup_axes(
        ax, fig, 1, figsize=(max(5.0, 0.45 * len(names) + 2.0), 4.0), what="Fig. 5"
    )
    x = np.arange(len(names)) + offset
    prefix = f"{label}: " if label else ""
    for stats, marker, side in ((plus, "^", _DKS_PLUS), (minus, "v", _DKS_MINUS)):
        ok = np.isfinite(stats[:, 0])
        mode, lower, upper = stats[ok].T
        ax.errorbar(
            x[ok],
            mode,
            yerr=np.vstack([mode - lower, upper - mode]),
            fmt=marker,
            color=color,
            markersize=6,
            capsize=3,
            linewidth=1.2,
            label=f"{prefix}{side} mode, 68% band",
        )
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    if t_plus is not None:
        ax.axhline(t_plus, color="0.3", linestyle=":", linewidth=1, label=f"{_T_PLUS}, {_T_MINUS}")
    if t_minus is not None:
        ax.axhline(
            t_minus,
            color="0.3",
            linestyle=":",
            linewidth=1,
            label=None if t_plus is not None else _T_MINUS,
        )
    ax.set_xticks(np.arange(len(names)), names, rotation=45, ha="right")
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylim(-1.0, 1.0)
    ax.set_xlabel("layer")
    ax.set_ylabel(_DKS)
    ax.set_title(f"{_DKS} distribution per layer")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig


def plot_dks_histograms(
    dks,
    groups,
    *,
    low=None,
    high=None,
    bins=50,
    t_plus=None,
    t_minus=None,
    label=None,
    color="C0",
    ax=None,
    fig=None,
) -> Figure:
    """D_KS histograms of low/mid layers versus high layers (the paper's Fig. 6).

    Each panel shows, for a set of layers, the share (%) of its (feature, class) pairs in each
    D_KS bin, as a step line (so several datasets can be overlaid with ``label``/``color``).

    Parameters
    ----------
    dks : array-like of shape (n_classes, n_features)
        Signed D_KS.
    groups : dict of str to array of int
        Layer name -> column indices, in layer order.
    low, high : sequence of str, optional
        Layer names of each panel. Default ``high``: the last two layers (the paper's conv5_4 +
        fc7) when there are three layers or more, else the last one; default ``low``: all the
        other layers. Given one, the other defaults to the remaining layers. A panel with no
        layer is left out.
    bins : int, default=50
        Equal-width bins over [-1, 1].
    t_plus, t_minus : float, optional
        Thresholds, drawn as dashed vertical lines when given.
    label : str, optional
        Legend label (e.g. the dataset name).
    color : color, default="C0"
    ax : Axes or sequence of Axes, optional
        One Axes per panel shown.
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    dks = _as_dks(dks)
    t_plus, t_minus = _threshold(t_plus), _threshold(t_minus)
    items = _group_items(groups, dks.shape[1])
    names = [name for name, _ in items]
    if high is None and low is None:
        high = names[-2:] if len(names) >= 3 else names[-1:]
    if high is not None:
        high = [high] if isinstance(high, str) else list(high)
        _check_names(high, names, "high")
    if low is not None:
        low = [low] if isinstance(low, str) else list(low)
        _check_names(low, names, "low")
    if low is None:
        low = [n for n in names if n not in high]
    if high is None:
        high = [n for n in names if n not in low]
    cols_of = dict(items)
    panels = []
    for chosen in (low, high):
        chosen = [n for n in names if n in set(chosen)]  # layer order
        if chosen:
            cols = np.concatenate([cols_of[n] for n in chosen])
            panels.append((chosen, cols))
    fig, axes = _setup_axes(ax, fig, len(panels), figsize=(4.6 * len(panels), 3.6), what="Fig. 6")
    for axis, (chosen, cols) in zip(axes, panels, strict=True):
        edges, percent = dks_histogram(dks[:, cols], bins=bins)
        axis.stairs(percent, edges, color=color, linewidth=1.4, label=label)
        axis.set_xlim(-1.0, 1.0)
        axis.set_ylim(bottom=0.0)
        axis.axvline(0.0, color="0.6", linewidth=0.8, zorder=0)
        for t, name in ((t_plus, _T_PLUS), (t_minus, _T_MINUS)):
            if t is not None:
                axis.axvline(
                    t, color="0.3", linestyle="--", linewidth=1, label=f"{name} = {t:.3f}"
                )
        axis.set_title(_describe_groups(chosen, cols.size), fontsize="medium")
        axis.set_xlabel(_DKS)
        axis.set_ylabel("feature/class pairs (%)")
        axis.grid(alpha=0.3)
        if label is not None or t_plus is not None or t_minus is not None:
            axis.legend(fontsize="small")
    return fig


def plot_class_curves(
    dks,
    null_dks=None,
    t_plus=None,
    t_minus=None,
    *,
    side="positive",
    grid=None,
    ax=None,
    fig=None,
) -> Figure:
    """Per class, the number of features with D_KS beyond x, true vs shuffled (paper's Fig. 9).

    One thin black line per class: at x, the number of features with D_KS > x (positive side) or
    D_KS < x (negative side). Red lines: the same for every class of every shuffled labeling.
    The dashed line marks the threshold.

    Parameters
    ----------
    dks : array-like of shape (n_classes, n_features)
        Signed D_KS with the true labels.
    null_dks : array-like of shape (n_shuffles, n_classes, n_features), optional
        Signed D_KS with shuffled labels.
    t_plus, t_minus : float, optional
        Thresholds (dashed vertical lines).
    side : {"positive", "negative", "both"}, default="positive"
        ``"both"`` draws two panels, negative side on the left.
    grid : array-like of float, optional
        Magnitudes at which the counts are evaluated; default ``np.linspace(0, 1, 201)``.
    ax : Axes or sequence of two Axes, optional
    fig : Figure, optional

    Returns
    -------
    Figure
        The curves are LineCollections with gid ``"dks-true"`` and ``"dks-null"``; a collection of
        more than 300 curves is rasterized in vector outputs (SVG, PDF) to keep them small.
    """
    dks = _as_dks(dks)
    t_plus, t_minus = _threshold(t_plus), _threshold(t_minus)
    null = None
    if null_dks is not None:
        null = _as_dks(null_dks, "null_dks", ndim=3)
        if null.shape[1:] != dks.shape:
            raise ValueError(
                f"'null_dks' must have shape (n_shuffles, {dks.shape[0]}, {dks.shape[1]}); "
                f"got {null.shape} instead."
            )
    if side not in ("positive", "negative", "both"):
        raise ValueError(f"'side' must be 'positive', 'negative' or 'both'; got {side!r}.")
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    sides = ["negative", "positive"] if side == "both" else [side]
    fig, axes = _setup_axes(ax, fig, len(sides), figsize=(5.2 * len(sides), 4.0), what="Fig. 9")
    for axis, s in zip(axes, sides, strict=True):
        ymax = 1
        handles = []
        for arr, color, gid in (
            (dks, _COLOR_TRUE, "dks-true"),
            (null if null is None else null.reshape(-1, dks.shape[1]), _COLOR_NULL, "dks-null"),
        ):
            if arr is None:
                continue
            x, counts = class_curves(arr, grid, side=s)
            segments = np.stack([np.broadcast_to(x, counts.shape), counts], axis=-1)
            # fainter lines when there are many, so that their density stays readable
            alpha = float(np.clip(2.5 / np.sqrt(len(segments)), 0.08, 0.6))
            lines = LineCollection(segments, colors=color, linewidths=0.6, alpha=alpha)
            lines.set_gid(gid)
            # keep SVGs light with many classes: the lines become one image, the rest stays vector
            lines.set_rasterized(len(segments) > 300)
            axis.add_collection(lines)
            ymax = max(ymax, int(counts.max(initial=0)))
            if gid == "dks-true":
                text = f"true labels ({dks.shape[0]} classes)"
            else:
                text = f"shuffled labels ({null.shape[0]} × {dks.shape[0]} curves)"
            handles.append(Line2D([], [], color=color, linewidth=1.2, label=text))
        t, t_name = (t_plus, _T_PLUS) if s == "positive" else (t_minus, _T_MINUS)
        if t is not None:
            axis.axvline(t, color="0.2", linestyle="--", linewidth=1.2)
            handles.append(
                Line2D([], [], color="0.2", linestyle="--", label=f"{t_name} = {t:.3f}")
            )
        axis.set_xlim((0.0, 1.0) if s == "positive" else (-1.0, 0.0))
        axis.set_ylim(0, ymax * 1.05)
        axis.set_xlabel(f"x ({_DKS})")
        relation = ">" if s == "positive" else "<"
        axis.set_ylabel(f"features with $D_{{KS}} {relation} x$")
        axis.set_title(
            f"{_DKS_PLUS if s == 'positive' else _DKS_MINUS} accumulated distribution per class",
            fontsize="medium",
        )
        axis.grid(alpha=0.3)
        axis.legend(
            handles=handles,
            loc="upper right" if s == "positive" else "upper left",
            fontsize="small",
        )
    return fig


def plot_davg(
    grid, d_avg_plus, d_avg_minus=None, t_plus=None, t_minus=None, *, ax=None, fig=None
) -> Figure:
    """The d_avg curves (the paper's Eq. 4) with their maxima, the thresholds, marked.

    ``d_avg_plus`` is drawn at x = ``grid`` and ``d_avg_minus`` at x = ``-grid``, so the picture
    reads like the D_KS axis; markers and dashed lines show ``t_plus`` and ``t_minus``.

    Parameters
    ----------
    grid : array-like of shape (n_grid,)
        Magnitudes in [0, 1].
    d_avg_plus : array-like of shape (n_grid,)
        Mean over classes of #{f : D_KS > grid}, minus the same with shuffled labels.
    d_avg_minus : array-like of shape (n_grid,), optional
        The same for D_KS < -grid.
    t_plus, t_minus : float, optional
        Default: the grid point of the maximum (the smallest on ties), negated for ``t_minus``.
    ax : Axes, optional
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    grid = np.asarray(grid, dtype=float).ravel()
    curves = []
    for name, curve, t, sign, color in (
        ("d_avg_plus", d_avg_plus, t_plus, 1.0, "C0"),
        ("d_avg_minus", d_avg_minus, t_minus, -1.0, "C3"),
    ):
        if curve is None:
            continue
        curve = np.asarray(curve, dtype=float).ravel()
        if curve.shape != grid.shape:
            raise ValueError(
                f"'{name}' must have the shape of 'grid' {grid.shape}; got {curve.shape}."
            )
        t = _threshold(t)
        if t is None:
            t = sign * grid[int(np.argmax(curve))]
        curves.append((curve, float(t), sign, color))
    fig, (ax,) = _setup_axes(ax, fig, 1, figsize=(6.4, 4.0), what="the d_avg figure")
    for curve, t, sign, color in curves:
        side = _DKS_PLUS if sign > 0 else _DKS_MINUS
        ax.plot(sign * grid, curve, color=color, linewidth=1.5, label=f"$d_{{avg}}$, {side}")
        at = curve[int(np.argmin(np.abs(sign * grid - t)))]
        t_name = _T_PLUS if sign > 0 else _T_MINUS
        ax.axvline(t, color=color, linestyle="--", linewidth=1)
        ax.plot([t], [at], "o", color=color, label=f"{t_name} = {t:.3f}, $d_{{avg}}$ = {at:,.1f}")
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    ax.axvline(0.0, color="0.6", linewidth=0.8, zorder=0)
    ax.set_xlim(-1.0 if any(s < 0 for _, _, s, _ in curves) else 0.0, 1.0)
    ax.set_xlabel(f"x ({_DKS})")
    ax.set_ylabel("$d_{avg}(x)$: features per class, true − shuffled")
    ax.set_title("Average distance to shuffled labels", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_layer_kept(kept_true, kept_null=None, group_names=None, *, ax=None, fig=None) -> Figure:
    """Share of (feature, class) pairs kept per layer, true vs shuffled (the paper's Fig. 10).

    Parameters
    ----------
    kept_true : array-like of shape (n_layers,)
        Per layer, the share (0-1) of pairs with D_KS > t+ or D_KS < t- with the true labels.
    kept_null : array-like of shape (n_layers,) or (n_shuffles, n_layers), optional
        The same with shuffled labels; with several shuffles, the bar is the mean and the error
        bar spans the min-max over shuffles. All NaN (no shuffle) is the same as None.
    group_names : sequence of str, optional
        Layer names (x axis); default ``"0", "1", ...``.
    ax : Axes, optional
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    true = np.asarray(kept_true, dtype=float).ravel()
    n = true.size
    names = [str(i) for i in range(n)] if group_names is None else [str(g) for g in group_names]
    if len(names) != n:
        raise ValueError(f"'group_names' has {len(names)} names for {n} layers in 'kept_true'.")
    null = None
    if kept_null is not None and not np.all(np.isnan(np.asarray(kept_null, dtype=float))):
        null = np.atleast_2d(np.asarray(kept_null, dtype=float))
        if null.ndim != 2 or null.shape[1] != n:
            raise ValueError(
                f"'kept_null' must have shape ({n},) or (n_shuffles, {n}); got "
                f"{np.shape(kept_null)} instead."
            )
    for name, arr in (("kept_true", true), ("kept_null", null)):
        if (
            arr is not None
            and arr.size
            and (not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1)
        ):
            raise ValueError(f"'{name}' must hold shares in [0, 1] (fractions, not percents).")
    fig, (ax,) = _setup_axes(ax, fig, 1, figsize=(max(5.0, 0.5 * n + 2.0), 4.0), what="Fig. 10")
    x = np.arange(n)
    width = 0.4 if null is not None else 0.7
    shift = width / 2 if null is not None else 0.0
    ax.bar(x - shift, 100 * true, width, color="C0", label="true labels")
    if null is not None:
        mean = null.mean(axis=0)
        yerr = None
        if null.shape[0] > 1:
            yerr = 100 * np.vstack([mean - null.min(axis=0), null.max(axis=0) - mean])
        label = "shuffled labels" + (
            f" (mean, min–max of {null.shape[0]})" if null.shape[0] > 1 else ""
        )
        ax.bar(x + shift, 100 * mean, width, yerr=yerr, capsize=2, color="C2", label=label)
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(0, 100)
    ax.set_xlabel("layer")
    ax.set_ylabel("feature/class pairs kept (%)")
    ax.set_title(
        f"Pairs kept by the thresholds ({_DKS} > {_T_PLUS} or {_DKS} < {_T_MINUS})",
        fontsize="medium",
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_feature_histograms(
    values,
    y,
    feature=None,
    classes=None,
    top=3,
    *,
    dks=None,
    sign=None,
    bins=50,
    log=False,
    ncols=3,
    ax=None,
    fig=None,
) -> Figure:
    """Intra- vs inter-class activation histograms of one feature (the paper's Fig. 1).

    For each of the ``top`` classes with the largest ``|D_KS|`` for this feature, the histogram of
    its activations on the images of the class (intra, filled) is drawn over that on all other
    images (inter, line), both as densities over the same bins.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
        Activations of the feature.
    y : array-like of shape (n_samples,)
        Class labels.
    feature : str or int, optional
        Feature name for the title.
    classes : sequence, optional
        The class labels, in the order of ``dks``; default ``np.unique(y)``.
    top : int, default=3
        Number of classes shown.
    dks : array-like of shape (n_classes,), optional
        This feature's D_KS per class (a column of the characterizer's ``dks_``), used to rank
        and annotate the classes. Default: computed exactly here (:func:`signed_ks_1d`).
    sign : {None, 1, -1}, optional
        Rank only classes with ``D_KS > 0`` (presence) or ``< 0`` (absence).
    bins : int, default=50
        Equal-width bins over the feature's range.
    log : bool, default=False
        Logarithmic density axis (helps with ReLU features, whose many zeros make a tall spike).
    ncols : int, default=3
        Panels per row.
    ax : sequence of Axes, optional
        One per class shown.
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    values = np.asarray(values, dtype=float).ravel()
    y = np.asarray(y).ravel()
    if values.shape != y.shape:
        raise ValueError(
            f"'values' and 'y' must have the same length; got {values.size} and {y.size}."
        )
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("'values' must be a non-empty array of finite activations.")
    classes = list(np.unique(y)) if classes is None else list(classes)
    if dks is None:
        d = signed_ks_1d(values, y, classes)
    else:
        d = np.asarray(dks, dtype=float).ravel()
        if d.size != len(classes):
            raise ValueError(f"'dks' has {d.size} values for {len(classes)} classes.")
    if sign not in (None, 1, -1):
        raise ValueError(f"'sign' must be None, 1 or -1; got {sign!r} instead.")
    score = np.where(np.isfinite(d), np.abs(d), -1.0)
    if sign is not None:
        score = np.where(np.sign(d) == sign, score, -1.0)
    order = [i for i in np.argsort(-score, kind="stable") if score[i] >= 0][: int(top)]
    if not order:
        raise ValueError("No class to show (no class with a D_KS of the requested sign).")
    n = len(order)
    ncols = max(1, min(int(ncols), n))
    fig, axes = _setup_axes(
        ax,
        fig,
        n,
        figsize=(3.6 * ncols, 3.0 * -(-n // ncols) + 0.4),
        ncols=ncols,
        what="the feature histograms",
    )
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, int(bins) + 1)
    for axis, i in zip(axes, order, strict=True):
        in_c = y == classes[i]
        for data, kwargs in (
            (values[in_c], dict(histtype="stepfilled", color="C1", alpha=0.55, label="intra")),
            (values[~in_c], dict(histtype="step", color="C0", linewidth=1.3, label="inter")),
        ):
            if data.size:
                axis.hist(data, bins=edges, density=True, log=log, **kwargs)
        axis.set_title(f"{classes[i]}: {_DKS} = {d[i]:+.3f}", fontsize="medium")
        axis.set_xlabel(f"activation of {feature}" if feature is not None else "activation")
        axis.set_ylabel("density")
        axis.legend(fontsize="small")
    if feature is not None:
        fig.suptitle(f"Feature {feature}: intra/inter class histograms")
    return fig


def _load_thumbnail(item, size):
    """An RGB (or 2-D gray) array for one image given as a path or an array."""
    if isinstance(item, (str, os.PathLike)):
        try:
            from PIL import Image
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "Showing images from paths needs pillow; install it with `pip install pillow`."
            ) from exc
        with Image.open(item) as img:
            img = img.convert("RGB")
            img.thumbnail((size, size))
            return np.asarray(img)
    arr = np.asarray(item)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # channels first (torch) -> last
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ValueError(f"An image array must be HxW, HxWx3 or HxWx4; got shape {arr.shape}.")
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        return np.clip(arr, 0, 255).astype(np.uint8)
    arr = arr.astype(float)
    finite = arr[np.isfinite(arr)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):  # rescale to [0, 1]
        span = finite.max() - finite.min()
        arr = (arr - finite.min()) / (span if span > 0 else 1.0)
    return np.clip(np.nan_to_num(arr), 0.0, 1.0)


def plot_top_images(
    images,
    values,
    k=9,
    *,
    labels=None,
    feature=None,
    ncols=None,
    thumb_size=128,
    fig=None,
) -> Figure:
    """Thumbnails of the ``k`` images on which a feature is highest, highest first.

    Parameters
    ----------
    images : sequence of paths or arrays, or ndarray of shape (n_images, H, W[, C])
        The images, in the order of ``values``; only the ``k`` shown are loaded.
    values : array-like of shape (n_images,)
        The feature's activation on each image.
    k : int, default=9
        Number of images shown (fewer if there are fewer images).
    labels : array-like of shape (n_images,), optional
        Class of each image, printed under its thumbnail.
    feature : str or int, optional
        Feature name for the title.
    ncols : int, optional
        Thumbnails per row; default ``ceil(sqrt(k))``.
    thumb_size : int, default=128
        Images read from paths are downscaled to fit this many pixels.
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    values = np.asarray(values, dtype=float).ravel()
    if len(images) != values.size:
        raise ValueError(f"Got {len(images)} images but {values.size} values.")
    if labels is not None and len(labels) != values.size:
        raise ValueError(f"Got {len(labels)} labels for {values.size} images.")
    if int(k) < 1:
        raise ValueError(f"'k' must be >= 1; got {k!r} instead.")
    finite = np.where(np.isfinite(values), values, -np.inf)
    top = np.argsort(-finite, kind="stable")[: int(k)]
    n = top.size
    ncols = int(ncols) if ncols else math.ceil(math.sqrt(n))
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = _setup_axes(
        None, fig, n, figsize=(1.9 * ncols, 2.1 * nrows + 0.4), ncols=ncols, what="top images"
    )
    for rank, (axis, idx) in enumerate(zip(axes, top, strict=True), start=1):
        img = _load_thumbnail(images[idx], thumb_size)
        axis.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="antialiased")
        axis.set_xticks([])
        axis.set_yticks([])
        caption = f"#{rank}: {values[idx]:.3g}"
        if labels is not None:
            caption += f"\n{labels[idx]}"
        axis.set_xlabel(caption, fontsize="small")
    title = "Images that activate the feature most"
    fig.suptitle(f"{title}: {feature}" if feature is not None else title)
    return fig


def save_figure(fig, path_stem, *, formats=("png", "svg"), dpi=150):
    """Write a figure as PNG and SVG (by default), each atomically.

    Each file is written to a temporary file in the target folder, then renamed over the
    target, so a reader never sees a half-written figure. SVGs carry no date, so re-running
    gives identical files.

    Parameters
    ----------
    fig : Figure
    path_stem : str or path-like
        Target without extension (``out/fig5`` -> ``out/fig5.png``, ``out/fig5.svg``); a
        trailing ``.png``/``.svg``/... matching one of ``formats`` is dropped. Missing parent
        folders are created.
    formats : sequence of str, default=("png", "svg")
    dpi : float, default=150
        Resolution of raster formats.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``formats``.
    """
    import matplotlib

    stem = Path(path_stem)
    formats = [f.lower().lstrip(".") for f in ([formats] if isinstance(formats, str) else formats)]
    if stem.suffix.lower().lstrip(".") in formats:
        stem = stem.with_suffix("")
    written = []
    for fmt in formats:
        target = stem.with_name(f"{stem.name}.{fmt}")
        metadata = {"Date": None} if fmt in ("svg", "pdf") else None
        with _atomic_open(target) as fh, matplotlib.rc_context({"svg.hashsalt": "dks"}):
            fig.savefig(fh, format=fmt, dpi=dpi, metadata=metadata)
        written.append(target)
    return written
