"""The report's "Validity" section: what ``dks validate`` found (:mod:`dks.validity`).

A section of :func:`dks.report.write_report`, kept apart so that the report module stays one
page; it reads ``summary["validity"]`` (see the ``summary`` schema there), which the report
step fills from ``validity/ablation.csv`` and ``validity/stability.csv`` when they exist.
"""

from __future__ import annotations

import math

from dks.report._kit import escape, fmt_num, is_number, scrolled, table
from dks.validity import UNSTABLE_JACCARD

__all__ = ["validity_section"]


def _num(value, digits=3):
    return fmt_num(value, digits) if is_number(value) and math.isfinite(value) else "–"


def _interval(low, high):
    if not (is_number(low) and is_number(high)) or not math.isfinite(low + high):
        return "–"
    return f"[{low:+.3f}, {high:+.3f}]"


def validity_section(s):
    """Ablation (per k and side) and stability (overall, per class, per layer), or ""."""
    v = s.get("validity")
    if not v:
        return ""
    parts = [
        '<section id="validity"><h2>Validity: is relevance importance, and reproducible?</h2>'
        "<p>Made by <code>dks validate</code> (files in <code>validity/</code>). "
        "<b>Ablation</b>: for each class, a linear probe (one class against the rest) is trained "
        "on 70% of the images; on the other 30%, its AUC drops when the class's k features of "
        "highest D<sub>KS</sub> (presence) or lowest (absence) are replaced by their mean. The "
        "ratio divides that drop by the drop for k random features, or for k features of "
        "D<sub>KS</sub> near 0 from the same layers (controls floored at 0.001). A ratio of 2 "
        "or more: the relevant features matter at least twice as much to the probe.</p>"
    ]
    rows = [
        [
            str(r["k"]),
            escape(r["side"]),
            _num(r["ratio_median"]),
            _num(r["share_ge_2"], 2),
            _num(r["ratio_null_median"]),
            _num(r["drop_median"], 4),
            _num(r["drop_random_median"], 4),
            _num(r["drop_null_median"], 4),
        ]
        for r in v.get("ablation", [])
    ]
    if rows:
        header = (
            "k", "Side", "Median ratio vs random", "Share of classes ≥ 2",
            "Median ratio vs D<sub>KS</sub>≈0", "Median AUC drop", "random", "D<sub>KS</sub>≈0",
        )  # fmt: skip
        parts.append(table(header, rows, num_cols=(0, 2, 3, 4, 5, 6, 7)))
    overall = v.get("stability")
    if overall:
        parts.append(
            "<p><b>Stability</b>: the images of every class are split into two disjoint halves "
            "(several random splits); each half is characterized and thresholded alone, and the "
            "Jaccard index of the pairs both keep (same sign) is "
            f"<b>{_num(overall.get('jaccard'))}</b> over all pairs (two random sets of the same "
            f"sizes: {_num(overall.get('jaccard_chance'))}). A half has half the images: this is "
            "the stability of a verdict on half of them. Bootstrap intervals of the thresholds: "
            f"t<sup>+</sup> {_interval(overall.get('t_plus_low'), overall.get('t_plus_high'))}, "
            f"t<sup>−</sup> {_interval(overall.get('t_minus_low'), overall.get('t_minus_high'))}"
            " (per class below, with per-class thresholds).</p>"
        )
    classes = v.get("classes", [])
    if classes:
        unstable = [c["name"] for c in classes if not _stable(c)]
        if unstable:
            parts.append(
                f'<p class="note">Unstable verdicts (Jaccard below {UNSTABLE_JACCARD}: the two '
                "halves disagree on most kept pairs): "
                + ", ".join(escape(n) for n in unstable)
                + ".</p>"
            )
        parts.append(scrolled(_stability_table(classes, "Class", "Images"), len(classes)))
    layers = v.get("layers", [])
    if layers:
        parts.append(scrolled(_stability_table(layers, "Layer", "Features"), len(layers)))
    parts.append("</section>")
    return "".join(parts)


def _stable(row):
    j = row.get("jaccard")
    return is_number(j) and j >= UNSTABLE_JACCARD


def _stability_table(rows, what, size):
    """One row per class or layer; the threshold intervals only where they differ by row
    (per-class thresholds): the global rule's are in the text above."""
    plus = [_interval(r.get("t_plus_low"), r.get("t_plus_high")) for r in rows]
    minus = [_interval(r.get("t_minus_low"), r.get("t_minus_high")) for r in rows]
    per_row = len(set(plus)) > 1 or len(set(minus)) > 1
    header = [what, size, "Jaccard (mean)", "min – max", "chance", "Pairs kept by a half"]
    if per_row:
        header += ["t<sup>+</sup> interval", "t<sup>−</sup> interval"]
    header.append("Verdict")
    body = []
    for i, r in enumerate(rows):
        cells = [
            escape(r["name"]),
            str(r["size"]),
            _num(r.get("jaccard")),
            f"{_num(r.get('jaccard_min'))} – {_num(r.get('jaccard_max'))}",
            _num(r.get("jaccard_chance")),
            _num(r.get("kept"), 0),
        ]
        if per_row:
            cells += [plus[i], minus[i]]
        cells.append("stable" if _stable(r) else "unstable")
        body.append(cells)
    return table(header, body, num_cols=(1, 2, 4, 5))
