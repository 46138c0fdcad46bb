"""Threshold figures: per-class exceedance curves, true vs shuffled (Fig. 9), and the
d_avg curves of Eq. 4 with their maxima."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dks._sign import SIGN_COLORS, check_sign
from dks.plotting._mpl import Tex, check_thresholds, found_thresholds, setup_axes, spread_text
from dks.plotting._summaries import as_dks, class_curves
from dks.thresholds import argmax_threshold

_COLOR_TRUE = "black"
_COLOR_NULL = "red"

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def plot_class_curves(
    dks,
    null_dks=None,
    t_plus=None,
    t_minus=None,
    *,
    sign="presence",
    grid=None,
    ax=None,
    fig=None,
) -> Figure:
    """Per class, the number of features with D_KS beyond x, true vs shuffled (paper's Fig. 9).

    One thin black line per class: at x, the number of features with D_KS > x (presence) or
    D_KS < x (absence). Red lines: the same for every class of every shuffled labeling.
    The dashed line marks the threshold.

    With one threshold per class (``NoiseThresholdSelector(thresholds="per_class")``) there is
    no single line to draw: each class's threshold is marked on its own black curve (a dot at
    ``(t_c, count of features beyond t_c)``), and the legend gives their median and range.
    A class that keeps nothing on a side (``t = +-1``, unresolved) gets no dot there.

    Parameters
    ----------
    dks : array-like of shape (n_classes, n_features)
        Signed D_KS with the true labels.
    null_dks : array-like of shape (n_shuffles, n_classes, n_features), optional
        Signed D_KS with shuffled labels.
    t_plus, t_minus : float or array-like of shape (n_classes,), optional
        Thresholds: one (a dashed vertical line) or one per class (dots on the curves).
    sign : {"presence", "absence", "both"}, default="presence"
        ``"both"`` draws two panels, absence (D_KS < 0) on the left.
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
    dks = as_dks(dks)
    t_plus = check_thresholds(t_plus, "t_plus", dks.shape[0])
    t_minus = check_thresholds(t_minus, "t_minus", dks.shape[0])
    null = None
    if null_dks is not None:
        null = as_dks(null_dks, "null_dks", ndim=3)
        if null.shape[1:] != dks.shape:
            raise ValueError(
                f"'null_dks' must have shape (n_shuffles, {dks.shape[0]}, {dks.shape[1]}); "
                f"got {null.shape} instead."
            )
    sign = check_sign(sign)
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    sides = ["absence", "presence"] if sign == "both" else [sign]
    fig, axes = setup_axes(ax, fig, len(sides), figsize=(5.2 * len(sides), 4.0), what="Fig. 9")
    for axis, s in zip(axes, sides, strict=True):
        ymax = 1
        handles = []
        for arr, color, gid in (
            (dks, _COLOR_TRUE, "dks-true"),
            (null if null is None else null.reshape(-1, dks.shape[1]), _COLOR_NULL, "dks-null"),
        ):
            if arr is None:
                continue
            x, counts = class_curves(arr, grid, sign=s)
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
        t, t_name = (t_plus, Tex.T_PLUS) if s == "presence" else (t_minus, Tex.T_MINUS)
        if isinstance(t, np.ndarray):
            handles.append(_class_threshold_dots(axis, dks, t, s, t_name))
        elif t is not None:
            axis.axvline(t, color="0.2", linestyle="--", linewidth=1.2)
            handles.append(
                Line2D([], [], color="0.2", linestyle="--", label=f"{t_name} = {t:.3f}")
            )
        axis.set_xlim((0.0, 1.0) if s == "presence" else (-1.0, 0.0))
        axis.set_ylim(0, ymax * 1.05)
        axis.set_xlabel(f"x ({Tex.DKS})")
        relation = ">" if s == "presence" else "<"
        axis.set_ylabel(f"features with $D_{{KS}} {relation} x$")
        side = Tex.DKS_PLUS if s == "presence" else Tex.DKS_MINUS
        axis.set_title(f"{side} accumulated distribution per class", fontsize="medium")
        axis.grid(alpha=0.3)
        axis.legend(
            handles=handles,
            loc="upper right" if s == "presence" else "upper left",
            fontsize="small",
        )
    return fig


def _class_threshold_dots(axis, dks, t, side, t_name):
    """Dots at each class's threshold on its curve; returns the legend handle."""
    from matplotlib.lines import Line2D

    ok = np.isfinite(t) & (np.abs(t) < 1.0)
    if side == "presence":
        counts = np.count_nonzero(dks > t[:, np.newaxis], axis=1)
    else:
        counts = np.count_nonzero(dks < t[:, np.newaxis], axis=1)
    dots = axis.scatter(t[ok], counts[ok], s=14, color="C0", zorder=3, edgecolors="white")
    dots.set_gid("dks-class-thresholds")
    text = spread_text(found_thresholds(t))
    return Line2D(
        [], [], color="C0", marker="o", linestyle="none", label=f"{t_name} per class: {text}"
    )


def plot_davg(
    grid, d_avg_plus, d_avg_minus=None, t_plus=None, t_minus=None, *, ax=None, fig=None
) -> Figure:
    """The d_avg curves (the paper's Eq. 4) with their maxima, the thresholds, marked.

    ``d_avg_plus`` is drawn at x = ``grid`` and ``d_avg_minus`` at x = ``-grid``, so the picture
    reads like the D_KS axis; markers and dashed lines show ``t_plus`` and ``t_minus``.

    Per-class thresholds (``NoiseThresholdSelector(thresholds="per_class")``) are not maxima of
    these curves, which average over classes: the curves are still drawn, with the range of
    the per-class thresholds (of the classes that keep something) shaded and their median
    dashed, and the legend says so.

    Parameters
    ----------
    grid : array-like of shape (n_grid,)
        Magnitudes in [0, 1].
    d_avg_plus : array-like of shape (n_grid,)
        Mean over classes of #{f : D_KS > grid}, minus the same with shuffled labels.
    d_avg_minus : array-like of shape (n_grid,), optional
        The same for D_KS < -grid.
    t_plus, t_minus : float or array-like of shape (n_classes,), optional
        Default: the grid point of the maximum (the smallest on ties), negated for ``t_minus``.
        An array: per-class thresholds (shaded range and median).
    ax : Axes, optional
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    grid = np.asarray(grid, dtype=float).ravel()
    curves = []
    for name, curve, t, sign, color in (
        ("d_avg_plus", d_avg_plus, t_plus, "presence", SIGN_COLORS["presence"]),
        ("d_avg_minus", d_avg_minus, t_minus, "absence", SIGN_COLORS["absence"]),
    ):
        if curve is None:
            continue
        curve = np.asarray(curve, dtype=float).ravel()
        if curve.shape != grid.shape:
            raise ValueError(
                f"'{name}' must have the shape of 'grid' {grid.shape}; got {curve.shape}."
            )
        t = check_thresholds(t, name.replace("d_avg", "t"))
        if t is None:
            t = argmax_threshold(grid, curve, sign=sign)
        t = t if isinstance(t, np.ndarray) else float(t)
        curves.append((curve, t, 1.0 if sign == "presence" else -1.0, color))
    fig, (ax,) = setup_axes(ax, fig, 1, figsize=(6.4, 4.0), what="the d_avg figure")
    for curve, t, direction, color in curves:
        side = Tex.DKS_PLUS if direction > 0 else Tex.DKS_MINUS
        ax.plot(direction * grid, curve, color=color, linewidth=1.5, label=f"$d_{{avg}}$, {side}")
        t_name = Tex.T_PLUS if direction > 0 else Tex.T_MINUS
        if isinstance(t, np.ndarray):
            found = found_thresholds(t)
            label = f"{t_name} per class: {spread_text(found)}"
            if found.size:
                ax.axvspan(found.min(), found.max(), color=color, alpha=0.12, linewidth=0)
                ax.axvline(np.median(found), color=color, linestyle="--", linewidth=1)
            ax.plot([], [], "s", color=color, alpha=0.4, label=label)
            continue
        at = curve[int(np.argmin(np.abs(direction * grid - t)))]
        ax.axvline(t, color=color, linestyle="--", linewidth=1)
        ax.plot([t], [at], "o", color=color, label=f"{t_name} = {t:.3f}, $d_{{avg}}$ = {at:,.1f}")
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    ax.axvline(0.0, color="0.6", linewidth=0.8, zorder=0)
    ax.set_xlim(-1.0 if any(s < 0 for _, _, s, _ in curves) else 0.0, 1.0)
    ax.set_xlabel(f"x ({Tex.DKS})")
    ax.set_ylabel("$d_{avg}(x)$: features per class, true − shuffled")
    ax.set_title("Average distance to shuffled labels", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig
