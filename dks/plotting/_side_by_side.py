"""Several datasets side by side: the paper's Figs. 5, 6/8, 9 and 10 with one series or one
panel per dataset.

Each function takes ``runs``, a dict mapping a dataset name to its arrays (the names are the
legend labels and the panel titles, in the order given), and draws them with the
single-dataset functions of this package (:func:`plot_layer_distribution`,
:func:`plot_dks_histograms`, :func:`plot_class_curves`, :func:`plot_layer_kept`) on shared
axes: a comparison is the same picture drawn several times, never a near-copy of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dks.plotting._layer_figures import (
    plot_dks_histograms,
    plot_layer_distribution,
    plot_layer_kept,
)
from dks.plotting._mpl import setup_axes
from dks.plotting._thresholds import plot_class_curves

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "compare_colors",
    "plot_compare_class_curves",
    "plot_compare_dks_histograms",
    "plot_compare_layer_distribution",
    "plot_compare_layer_kept",
]

#: Colour of the reference dataset of Fig. 8 (the paper draws ImageNet in blue, the rest green).
REFERENCE_COLOR = "C0"


def compare_colors(names, reference=None):
    """One matplotlib colour per dataset name, the same in every comparison figure.

    The reference dataset (if any) gets :data:`REFERENCE_COLOR`; the others ``C1``, ``C2``, ...
    in the order given.
    """
    colors, i = {}, 1
    for name in names:
        if name == reference:
            colors[name] = REFERENCE_COLOR
        else:
            colors[name] = f"C{i % 10}"
            i += 1
    return colors


def _check_runs(runs, needs):
    if not isinstance(runs, dict) or not runs:
        raise ValueError("'runs' must be a non-empty dict: dataset name -> dict of arrays.")
    for name, run in runs.items():
        missing = [key for key in needs if key not in run]
        if missing:
            raise ValueError(f"runs[{name!r}] lacks {missing}; it needs {list(needs)}.")
    return list(runs)


def plot_compare_layer_distribution(runs, *, ax=None, fig=None) -> Figure:
    """Fig. 5 for several datasets: per layer, the modes and 68% bands, one series each.

    Parameters
    ----------
    runs : dict of str to dict
        Dataset name -> ``{"dks": (n_classes, n_features), "groups": layer -> columns}``.
        Every dataset must have the same layers (the x axis).
    ax : Axes, optional
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    names = _check_runs(runs, ("dks", "groups"))
    layers = [list(map(str, runs[n]["groups"])) for n in names]
    if any(ls != layers[0] for ls in layers):
        raise ValueError("Fig. 5 compares datasets embedded with the same layers only.")
    colors = compare_colors(names)
    n_layers = len(layers[0])
    fig, (ax,) = setup_axes(
        ax, fig, 1, figsize=(max(6.0, 0.55 * n_layers + 2.5), 4.4), what="Fig. 5"
    )
    offsets = np.linspace(-0.25, 0.25, len(names)) if len(names) > 1 else [0.0]
    for name, offset in zip(names, offsets, strict=True):
        plot_layer_distribution(
            runs[name]["dks"],
            runs[name]["groups"],
            label=name,
            color=colors[name],
            offset=offset,
            ax=ax,
        )
    ax.set_title("$D_{KS}$ distribution per layer, by dataset")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return fig


def plot_compare_dks_histograms(runs, *, reference=None, low=None, high=None, bins=50, fig=None):
    """Figs. 6 and 8: D_KS histograms of low/mid and high layers, one line per dataset.

    Parameters
    ----------
    runs : dict of str to dict
        Dataset name -> ``{"dks": ..., "groups": ...}``, all with the same layers.
    reference : str, optional
        A dataset drawn thicker, in :data:`REFERENCE_COLOR`, behind the others (the paper's
        ImageNet curve of Fig. 8).
    low, high, bins
        As for :func:`plot_dks_histograms`.
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    names = _check_runs(runs, ("dks", "groups"))
    if reference is not None and reference not in runs:
        raise ValueError(f"reference {reference!r} is none of the datasets {names}.")
    colors = compare_colors(names, reference)
    first = runs[names[0]]
    n_panels = len(
        plot_dks_histograms(first["dks"], first["groups"], low=low, high=high, bins=bins).axes
    )
    fig, axes = setup_axes(None, fig, n_panels, figsize=(5.2 * n_panels, 3.9), what="Fig. 6")
    order = sorted(names, key=lambda n: n != reference)  # the reference first, underneath
    for name in order:
        plot_dks_histograms(
            runs[name]["dks"],
            runs[name]["groups"],
            low=low,
            high=high,
            bins=bins,
            label=f"{name} (reference)" if name == reference else name,
            color=colors[name],
            ax=axes,
        )
        if name == reference:
            for axis in axes:
                axis.patches[-1].set_linewidth(2.6)
                axis.patches[-1].set_alpha(0.75)
    for axis in axes:  # each call fixed the y range to its own data: fit them all
        top = max((p.get_data().values.max(initial=0.0) for p in axis.patches), default=0.0)
        axis.set_ylim(0.0, 1.05 * top if top > 0 else 1.0)
    return fig


def plot_compare_class_curves(runs, *, signs=("presence", "absence"), fig=None) -> Figure:
    """Fig. 9: per-class accumulated curves, true and shuffled labels, one panel per dataset.

    Parameters
    ----------
    runs : dict of str to dict
        Dataset name -> ``{"dks", "null_dks", "t_plus", "t_minus"}`` (``null_dks`` may be
        None). Datasets may differ in model and layers.
    signs : sequence of {"presence", "absence"}, default=("presence", "absence")
        One row of panels per sign.
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    names = _check_runs(runs, ("dks", "null_dks", "t_plus", "t_minus"))
    signs = list(signs)
    n = len(names)
    fig, axes = setup_axes(
        None, fig, n * len(signs), figsize=(4.4 * n, 3.7 * len(signs)), ncols=n, what="Fig. 9"
    )
    for row, sign in enumerate(signs):
        for col, name in enumerate(names):
            run, axis = runs[name], axes[row * n + col]
            plot_class_curves(
                run["dks"], run["null_dks"], run["t_plus"], run["t_minus"], sign=sign, ax=axis
            )
            side = "$D_{KS}^{+}$" if sign == "presence" else "$D_{KS}^{-}$"
            axis.set_title(f"{name}: {side} per class", fontsize="medium")
    return fig


def plot_compare_layer_kept(runs, *, fig=None) -> Figure:
    """Fig. 10: share of pairs kept per layer, true and shuffled labels, grouped by dataset.

    Parameters
    ----------
    runs : dict of str to dict
        Dataset name -> ``{"kept": (n_layers,), "kept_null": (n_layers,) or None,
        "layer_names": (n_layers,)}``.
    fig : Figure, optional

    Returns
    -------
    Figure
        One panel per dataset, one above the other.
    """
    names = _check_runs(runs, ("kept", "kept_null", "layer_names"))
    n = len(names)
    width = max(6.0, 0.42 * len(runs[names[0]]["layer_names"]) + 2.0)
    fig, axes = setup_axes(None, fig, n, figsize=(width, 3.6 * n), ncols=1, what="Fig. 10")
    for axis, name in zip(axes, names, strict=True):
        run = runs[name]
        plot_layer_kept(run["kept"], run["kept_null"], run["layer_names"], ax=axis)
        axis.set_title(f"{name}: pairs kept per layer", fontsize="medium")
    return fig
