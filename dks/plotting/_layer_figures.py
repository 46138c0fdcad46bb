"""Per-layer figures: D_KS modes and bands (Fig. 5), histograms (Fig. 6), pairs kept
(Fig. 10)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

import numpy as np

from dks.groups import check_groups
from dks.plotting._mpl import Tex, check_threshold, setup_axes
from dks.plotting._summaries import as_dks, dks_histogram, layer_mode_bands

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


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
    t_plus, t_minus = check_threshold(t_plus, "t_plus"), check_threshold(t_minus, "t_minus")
    fig, (ax,) = setup_axes(
        ax, fig, 1, figsize=(max(5.0, 0.45 * len(names) + 2.0), 4.0), what="Fig. 5"
    )
    x = np.arange(len(names)) + offset
    prefix = f"{label}: " if label else ""
    for stats, marker, side in ((plus, "^", Tex.DKS_PLUS), (minus, "v", Tex.DKS_MINUS)):
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
        ax.axhline(
            t_plus, color="0.3", linestyle=":", linewidth=1, label=f"{Tex.T_PLUS}, {Tex.T_MINUS}"
        )
    if t_minus is not None:
        ax.axhline(
            t_minus,
            color="0.3",
            linestyle=":",
            linewidth=1,
            label=None if t_plus is not None else Tex.T_MINUS,
        )
    ax.set_xticks(np.arange(len(names)), names, rotation=45, ha="right")
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylim(-1.0, 1.0)
    ax.set_xlabel("layer")
    ax.set_ylabel(Tex.DKS)
    ax.set_title(f"{Tex.DKS} distribution per layer")
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
    dks, groups
        Signed D_KS and the columns of each layer, as for :func:`layer_mode_bands`.
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
    dks = as_dks(dks)
    t_plus, t_minus = check_threshold(t_plus, "t_plus"), check_threshold(t_minus, "t_minus")
    cols_of = {str(name): cols for name, cols in check_groups(groups, dks.shape[1]).items()}
    names = list(cols_of)
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
    panels = []
    for chosen in (low, high):
        chosen = [n for n in names if n in set(chosen)]  # layer order
        if chosen:
            cols = np.concatenate([cols_of[n] for n in chosen])
            panels.append((chosen, cols))
    fig, axes = setup_axes(ax, fig, len(panels), figsize=(4.6 * len(panels), 3.6), what="Fig. 6")
    for axis, (chosen, cols) in zip(axes, panels, strict=True):
        edges, percent = dks_histogram(dks[:, cols], bins=bins)
        axis.stairs(percent, edges, color=color, linewidth=1.4, label=label)
        axis.set_xlim(-1.0, 1.0)
        axis.set_ylim(bottom=0.0)
        axis.axvline(0.0, color="0.6", linewidth=0.8, zorder=0)
        for t, name in ((t_plus, Tex.T_PLUS), (t_minus, Tex.T_MINUS)):
            if t is not None:
                axis.axvline(
                    t, color="0.3", linestyle="--", linewidth=1, label=f"{name} = {t:.3f}"
                )
        axis.set_title(_describe_groups(chosen, cols.size), fontsize="medium")
        axis.set_xlabel(Tex.DKS)
        axis.set_ylabel("feature/class pairs (%)")
        axis.grid(alpha=0.3)
        if label is not None or t_plus is not None or t_minus is not None:
            axis.legend(fontsize="small")
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
    fig, (ax,) = setup_axes(ax, fig, 1, figsize=(max(5.0, 0.5 * n + 2.0), 4.0), what="Fig. 10")
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
        f"Pairs kept by the thresholds ({Tex.DKS} > {Tex.T_PLUS} or {Tex.DKS} < {Tex.T_MINUS})",
        fontsize="medium",
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    return fig


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
