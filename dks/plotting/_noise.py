"""The noise rate of every class against its size: true vs shuffled labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from dks.plotting._mpl import setup_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

_COLOR_TRUE = "black"
_COLOR_NULL = "red"


def plot_class_noise(class_noise, *, annotate=True, ax=None, fig=None) -> Figure:
    """Share of pairs kept per class, true vs shuffled labels, against class size.

    One point per class and labeling: black for the true labels, red for the shuffled ones
    (their ratio is the class's expected noise share). A class whose kept pairs are mostly
    noise is drawn with an open black marker and, with ``annotate``, labelled (the 12
    smallest of them, when there are more). With the
    paper's global thresholds the red points climb as classes shrink; per-class thresholds
    keep them a small fraction of the black ones.

    Parameters
    ----------
    class_noise : dict of str to array-like
        ``NoiseThresholdSelector.class_noise_`` (or a table with its columns): at least
        ``"n_samples"``, ``"kept"`` and ``"kept_shuffled"``; ``"class"`` and
        ``"mostly_noise"`` are used when present.
    annotate : bool, default=True
        Write the label of each mostly-noise class next to its point.
    ax : Axes, optional
        Where to draw; its figure is returned.
    fig : Figure, optional
        Figure to draw in when ``ax`` is None; a new one by default.

    Returns
    -------
    Figure
    """
    if not isinstance(class_noise, Mapping):
        raise TypeError(
            "class_noise must be a dict of columns such as NoiseThresholdSelector.class_noise_;"
            f" got {type(class_noise).__name__}."
        )
    missing = [k for k in ("n_samples", "kept", "kept_shuffled") if k not in class_noise]
    if missing:
        raise ValueError(
            f"class_noise lacks the column(s) {missing}; pass NoiseThresholdSelector.class_noise_."
        )
    size = np.asarray(class_noise["n_samples"], dtype=float)
    kept = np.asarray(class_noise["kept"], dtype=float)
    shuffled = np.asarray(class_noise["kept_shuffled"], dtype=float)
    if not size.shape == kept.shape == shuffled.shape or size.ndim != 1:
        raise ValueError(
            "class_noise columns must be 1-D and of one length; got shapes "
            f"{size.shape}, {kept.shape}, {shuffled.shape}."
        )
    if np.any(size < 1):
        raise ValueError("class_noise['n_samples'] must hold class sizes >= 1.")
    for name, arr in (("kept", kept), ("kept_shuffled", shuffled)):
        finite = arr[np.isfinite(arr)]
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            raise ValueError(f"class_noise[{name!r}] must hold shares in [0, 1], not percents.")
    mostly = np.asarray(class_noise.get("mostly_noise", np.zeros(size.shape, bool)), dtype=bool)
    labels = np.asarray(class_noise.get("class", np.arange(size.size))).tolist()

    fig, (ax,) = setup_axes(ax, fig, 1, figsize=(6.0, 4.0), what="the class noise figure")

    # Many classes (ImageNet's 1,000): smaller, lighter marks, so that they do not merge into
    # one blot, and at most _MAX_LABELS of the flagged classes named (the smallest).
    many = size.size > _MANY_CLASSES
    mark, line = (6, 0.4) if many else (18, 0.8)
    alpha = 0.6 if many else 1.0
    for x, a, b in zip(size, kept, shuffled, strict=True):
        if np.isfinite(a) and np.isfinite(b):
            ax.plot([x, x], [100 * a, 100 * b], color="0.75", lw=line, zorder=1)
    ax.scatter(
        size[~mostly], 100 * kept[~mostly], color=_COLOR_TRUE, s=mark, alpha=alpha,
        label="true labels",
    )  # fmt: skip
    if mostly.any():
        ax.scatter(
            size[mostly],
            100 * kept[mostly],
            facecolors="none",
            edgecolors=_COLOR_TRUE,
            s=mark * 4 / 3,
            label="true labels, mostly noise",
        )
    if np.isfinite(shuffled).any():
        ax.scatter(
            size, 100 * shuffled, color=_COLOR_NULL, marker="x", s=mark, alpha=alpha,
            label="shuffled labels",
        )  # fmt: skip
    if annotate:
        flagged = np.flatnonzero(mostly)
        for i in flagged[np.argsort(size[flagged], kind="stable")][:_MAX_LABELS]:
            ax.annotate(
                str(labels[i]),
                (size[i], 100 * kept[i]),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize="x-small",
            )
    if size.max() >= 10 * size.min():
        ax.set_xscale("log")
        from matplotlib.ticker import FuncFormatter

        # class sizes as plain numbers (2, 5, 10, 20, 50, ...), not powers of ten
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(_two_and_five))
    # else (sizes within one decade, as ImageNet's 732-1,300): a linear axis, whose ticks
    # are labelled, where a log axis would show one tick or none
    # Down to the shares actually seen (per-class thresholds keep a few percent), with a
    # margin below 0 so that the points at 0 (chance keeps nothing) stay visible.
    top = min(100.0, 110 * np.nanmax(np.concatenate([kept, shuffled, [0.01]])))
    ax.set_ylim(-0.04 * top, top)
    ax.set_xlabel("class size (samples)")
    ax.set_ylabel("feature/class pairs kept (%)")
    ax.set_title("Pairs kept per class: true vs shuffled labels", fontsize="medium")
    ax.grid(alpha=0.3)
    # loc="best" searches every point: slow (and warned about) with many classes
    ax.legend(fontsize="small", loc="best" if size.size <= _MANY_CLASSES else "upper left")
    return fig


#: Above this many classes the marks are smaller and lighter.
_MANY_CLASSES = 100

#: At most this many flagged classes are named on the figure (the smallest first).
_MAX_LABELS = 12


def _two_and_five(value, _):
    """Label the minor ticks 2, 5, 20, 50, ... of a log axis; leave the others blank."""
    if value <= 0:
        return ""
    lead = value / 10 ** np.floor(np.log10(value))
    return f"{value:g}" if np.isclose(lead, 2) or np.isclose(lead, 5) else ""
