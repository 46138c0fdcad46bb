"""matplotlib plumbing shared by the figures: lazy import, axes from ``ax=``/``fig=``,
labels."""

import math

import numpy as np

from dks._optional import import_optional


class Tex:
    """The mathtext labels of the figures."""

    DKS = r"$D_{KS}$"
    DKS_PLUS = r"$D_{KS}^{+}$"
    DKS_MINUS = r"$D_{KS}^{-}$"
    T_PLUS = r"$t^{+}$"
    T_MINUS = r"$t^{-}$"


def _figure_class():
    """Import matplotlib lazily and return ``matplotlib.figure.Figure``."""
    figure = import_optional("matplotlib.figure", "dks plotting", needs="matplotlib", extra="plot")
    return figure.Figure


def _root_figure(ax):
    """The top-level Figure holding ``ax`` (also when ``ax`` lives in a SubFigure)."""
    try:
        return ax.get_figure(root=True)
    except TypeError:  # matplotlib < 3.10
        fig = ax.figure
        while getattr(fig, "figure", fig) is not fig:
            fig = fig.figure
        return fig


def setup_axes(ax, fig, n_axes, *, figsize, ncols=None, what="this figure"):
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


def check_threshold(value, name="threshold"):
    """A finite float, or None for None/NaN (e.g. a selector that found no threshold)."""
    if value is None:
        return None
    if np.ndim(value) != 0:
        raise ValueError(
            f"This figure draws one {name}; got {np.shape(value)} values (per-class "
            "thresholds?). Pass one value, or draw per-class thresholds with plot_class_curves "
            "or plot_davg."
        )
    value = float(value)
    return value if math.isfinite(value) else None


def check_thresholds(value, name, n_classes=None):
    """None, a float (see :func:`check_threshold`), or a 1-D float array: one per class."""
    if value is None or np.ndim(value) == 0:
        return check_threshold(value, name)
    values = np.asarray(value, dtype=float)
    if values.ndim != 1 or (n_classes is not None and values.size != n_classes):
        expected = "n_classes" if n_classes is None else n_classes
        raise ValueError(
            f"'{name}' must be a float or one threshold per class, of shape ({expected},); "
            f"got shape {values.shape} instead."
        )
    return values


def found_thresholds(values):
    """Per-class thresholds of the classes that keep something (|t| < 1), finite."""
    return values[np.isfinite(values) & (np.abs(values) < 1.0)]


def spread_text(found):
    """``median 0.210 (0.150 to 0.400)`` of per-class thresholds."""
    if found.size == 0:
        return "none: no class keeps anything"
    return f"median {np.median(found):.3f} ({found.min():.3f} to {found.max():.3f})"


def _is_sequence(obj):
    return isinstance(obj, (list, tuple, np.ndarray))
