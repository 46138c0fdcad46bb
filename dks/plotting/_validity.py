"""Ablation and stability per class (:mod:`dks.validity`): one figure, two panels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from dks._sign import SIGN_COLORS
from dks.plotting._mpl import setup_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: The bars of the ablation panel: column, side, label, colour.
_BARS = (
    ("drop", "presence", "relevant by presence", SIGN_COLORS["presence"]),
    ("drop", "absence", "relevant by absence", SIGN_COLORS["absence"]),
    ("drop_random", "presence", "random", "0.55"),
    ("drop_null", "presence", "D_KS ≈ 0, same layers", "0.8"),
)


def plot_validity(ablation, stability, *, k=None, ax=None, fig=None) -> Figure:
    """Per class: the AUC drops of the ablation (left) and the stability of the verdict (right).

    Left, for one ``k``: how much each class's one-vs-rest probe loses (AUC) when its ``k``
    features of highest D_KS (presence) or lowest (absence) are replaced by their mean,
    beside ``k`` random features and ``k`` features of D_KS near 0 (the controls of the
    presence side). Right: the Jaccard index of the pairs kept by two disjoint halves of the
    class (mean over splits, the bar from the smallest to the largest), and what two random
    sets of the same sizes would give (``x``): a class near its ``x`` has a verdict that
    another sample would not repeat.

    Parameters
    ----------
    ablation : dict of str to array-like
        :attr:`dks.validity.AblationResult.table` (columns ``class``, ``k``, ``side``,
        ``drop``, ``drop_random``, ``drop_null``).
    stability : dict of str to array-like
        :attr:`dks.validity.StabilityResult.table` (its ``scope="class"`` rows are drawn).
    k : int or None, default=None
        Which ``k`` of the ablation; ``None``: the middle one.
    ax : sequence of two Axes, optional
        Where to draw; their figure is returned.
    fig : Figure, optional
        Figure to draw in when ``ax`` is None; a new one by default.

    Returns
    -------
    Figure
    """
    for name, table in (("ablation", ablation), ("stability", stability)):
        if not isinstance(table, Mapping):
            raise TypeError(
                f"{name} must be a dict of columns (the result's .table); got "
                f"{type(table).__name__}."
            )
    ks = np.unique(np.asarray(ablation["k"], dtype=int))
    if k is None:
        k = int(ks[(ks.size - 1) // 2])
    elif k not in ks:
        raise ValueError(f"k={k!r} is not among the ablation's k ({ks.tolist()}).")
    side = np.asarray(ablation["side"], dtype=str)
    chosen = np.asarray(ablation["k"], dtype=int) == k
    names = list(dict.fromkeys(np.asarray(ablation["class"], dtype=str)[chosen].tolist()))
    fig, (left, right) = setup_axes(
        ax, fig, 2, figsize=(11.0, 1.6 + 0.28 * max(len(names), 4)), what="the validity figure"
    )
    y = np.arange(len(names))
    height = 0.8 / len(_BARS)
    for b, (column, which, label, color) in enumerate(_BARS):
        rows = chosen & (side == which)
        values = dict(
            zip(
                np.asarray(ablation["class"], dtype=str)[rows].tolist(),
                np.asarray(ablation[column], dtype=float)[rows].tolist(),
                strict=True,
            )
        )
        left.barh(
            y - 0.4 + (b + 0.5) * height,
            [values.get(n, np.nan) for n in names],
            height=height,
            color=color,
            label=label,
        )
    left.axvline(0, color="black", lw=0.6)
    left.set_yticks(y, names)
    left.invert_yaxis()
    left.set_xlabel(f"drop of the class's probe AUC, {k} features replaced")
    left.set_title("Ablation: is relevance importance?", fontsize="medium")
    left.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2)

    scope = np.asarray(stability["scope"], dtype=str) == "class"
    st = {c: np.asarray(stability[c])[scope] for c in stability}
    order = {str(n): i for i, n in enumerate(st["name"].tolist())}
    pick = [order.get(n) for n in names]
    ok = np.array([p is not None for p in pick])
    idx = np.array([p if p is not None else 0 for p in pick], dtype=int)
    mean, low, high, chance = (
        np.where(ok, np.asarray(st[c], dtype=float)[idx], np.nan)
        for c in ("jaccard", "jaccard_min", "jaccard_max", "jaccard_chance")
    )
    right.errorbar(
        mean, y, xerr=np.vstack([mean - low, high - mean]), fmt="o", color="black",
        ecolor="0.5", capsize=2, label="two halves (mean, min-max over splits)",
    )  # fmt: skip
    right.scatter(chance, y, marker="x", color="red", label="chance (random sets, same sizes)")
    right.set_yticks(y, names)
    right.invert_yaxis()
    right.set_xlim(0, 1.02)
    right.set_xlabel("Jaccard index of the kept pairs")
    right.set_title("Stability: would another sample agree?", fontsize="medium")
    right.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=1)
    return fig
