"""The comparison of datasets in words: which has the lowest thresholds, where layers differ.

Every sentence is generated from the numbers of Table 4 and of the per-layer summaries
(Fig. 5 modes, Fig. 10 shares kept), so the text and the figures never disagree.
"""

from __future__ import annotations

import math

import numpy as np

from dks.analysis import PAPER_T_MINUS, PAPER_T_PLUS
from dks.plotting import layer_mode_bands

__all__ = ["compare_in_words", "layer_differences"]


def layer_differences(runs):
    """Per layer and dataset: the Fig. 5 modes of both sides and the share kept (Fig. 10).

    Returns
    -------
    dict
        ``layers`` (names, in order), and ``mode_plus``, ``mode_minus``, ``kept``: each a dict
        dataset name -> list of one float per layer (NaN where undefined).
    """
    out = {"layers": None, "mode_plus": {}, "mode_minus": {}, "kept": {}}
    for run in runs:
        names, plus, minus = layer_mode_bands(run.data["dks"], run.data["layers"])
        out["layers"] = names
        out["mode_plus"][run.name] = plus[:, 0].tolist()
        out["mode_minus"][run.name] = minus[:, 0].tolist()
        kept = {row.get("name"): row.get("kept") for row in run.summary.layers}
        out["kept"][run.name] = [
            math.nan if kept.get(layer) is None else float(kept[layer]) for layer in names
        ]
    return out


def _extreme(rows, key, lowest=True, magnitude=False):
    usable = [r for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    if not usable:
        return None
    value = (lambda r: abs(r[key])) if magnitude else (lambda r: r[key])
    return (min if lowest else max)(usable, key=value)


def _widest(per_dataset, layers):
    """``(layer, {dataset: value})`` of the layer where the datasets differ most, or None."""
    values = np.array(list(per_dataset.values()), dtype=float)  # (n_datasets, n_layers)
    if values.size == 0:
        return None
    with np.errstate(invalid="ignore"):
        spread = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
    if not np.any(np.isfinite(spread)):
        return None
    i = int(np.nanargmax(spread))
    return layers[i], dict(zip(per_dataset, values[:, i].tolist(), strict=True))


def _span(values, fmt):
    low = min(values, key=values.get)
    high = max(values, key=values.get)
    return f"from {fmt(values[low])} ({low}) to {fmt(values[high])} ({high})"


def compare_in_words(rows, per_layer=None, differences=()):
    """A few sentences comparing the datasets (a list of str, plain text).

    Parameters
    ----------
    rows : list of dict
        One per dataset: ``dataset``, ``t_plus``, ``t_minus``, ``d_avg_t_plus``, ``n_classes``.
    per_layer : dict, optional
        From :func:`layer_differences`; None when only the layer-independent parts are
        compared.
    differences : list of dict
        What differs between the embeddings (``what``, ``values``).
    """
    text = []
    plus = _extreme(rows, "t_plus")
    minus = _extreme(rows, "t_minus", magnitude=True)
    if plus is not None and minus is not None:
        both = plus["dataset"] == minus["dataset"]
        text.append(
            f"{plus['dataset']} has the lowest t+ ({plus['t_plus']:.3f})"
            + (
                f" and the t- closest to 0 ({minus['t_minus']:.3f})"
                if both
                else f"; {minus['dataset']} has the t- closest to 0 ({minus['t_minus']:.3f})"
            )
            + ": there the gap between true and shuffled labels peaks at the smallest "
            "|D_KS|."
        )
        tp = [r["t_plus"] for r in rows if r.get("t_plus") is not None]
        tm = [r["t_minus"] for r in rows if r.get("t_minus") is not None]
        inside = all(PAPER_T_PLUS[0] <= t <= PAPER_T_PLUS[1] for t in tp) and all(
            PAPER_T_MINUS[0] <= t <= PAPER_T_MINUS[1] for t in tm
        )
        text.append(
            f"t+ ranges over [{min(tp):.3f}, {max(tp):.3f}] and t- over [{min(tm):.3f}, "
            f"{max(tm):.3f}] across these datasets; the paper found [{PAPER_T_PLUS[0]}, "
            f"{PAPER_T_PLUS[1]}] and [{PAPER_T_MINUS[0]}, {PAPER_T_MINUS[1]}] with VGG19 "
            + ("(all of them fall inside)." if inside else "(some fall outside).")
        )
    if differences:
        what = ", ".join(d["what"] for d in differences)
        text.append(
            f"The folders differ in {what}: d_avg counts features, so it is not comparable "
            "between them, and the per-layer figures are left out."
        )
    else:
        best = _extreme(rows, "d_avg_t_plus", lowest=False)
        if best is not None:
            text.append(
                f"{best['dataset']} has the most features per class beyond noise at t+ "
                f"(d_avg(t+) = {best['d_avg_t_plus']:,.1f})."
            )
    if per_layer:
        layers = per_layer["layers"]
        for key, what, fmt in (
            ("mode_plus", "the mode of D_KS+ (Fig. 5)", lambda v: f"{v:.3f}"),
            ("mode_minus", "the mode of D_KS- (Fig. 5)", lambda v: f"{v:.3f}"),
            ("kept", "the share of pairs kept (Fig. 10)", lambda v: f"{100 * v:.1f}%"),
        ):
            found = _widest(per_layer[key], layers)
            if found is None:
                continue
            layer, values = found
            values = {k: v for k, v in values.items() if math.isfinite(v)}
            text.append(
                f"The datasets differ most in {what} at layer {layer}: {_span(values, fmt)}."
            )
    return text
