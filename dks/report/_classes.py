"""The report's view of class sizes: the noise rate of every class, the classes whose kept
pairs are mostly noise or that no threshold resolves, and per-class thresholds.

Sections of :func:`dks.report.write_report`, kept apart so that the report module stays one
page; the keys they read are in its ``summary`` schema.
"""

from __future__ import annotations

import math

import numpy as np

from dks import _config
from dks.report._glance import term
from dks.report._kit import escape, fmt_share, is_number, scrolled, table

__all__ = ["class_noise_section", "layer_note", "rule_note", "threshold_cell"]

#: Where the user guide explains the two rules (there is no fixed URL for the docs).
GUIDE = (
    "user guide, <i>Class sizes: the noise rate of each class and per-class thresholds</i>, "
    "<i>When to use which rule</i>"
)


def _t(value):
    if not is_number(value) or not math.isfinite(float(value)):
        return "–"
    return "none" if abs(float(value)) >= 1.0 else f"{float(value):+.3f}"


def threshold_cell(value):
    """A table cell for ``t_plus``/``t_minus``: one number, or the summary of one per class."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        return None  # the caller formats a single number
    t = np.asarray(value, dtype=float)
    found = t[np.isfinite(t) & (np.abs(t) < 1.0)]
    if found.size == 0:
        return f"per class: none of {t.size} keeps anything"
    return (
        f"per class: median {np.median(found):+.3f}<br>"
        f"{found.min():+.3f} to {found.max():+.3f} ({found.size} of {t.size} classes)"
    )


def rule_note(s):
    """How per-class thresholds were set (a sentence), or "" with the global rule."""
    if s.get("thresholds") != "per_class":
        return ""
    share = s.get("max_noise_share")
    bound = f"{100 * share:g}%" if is_number(share) else "the bound"
    return (
        "<b>The thresholds are per class</b> (<code>--thresholds per_class</code>): each "
        "class's t<sup>+</sup> and t<sup>−</sup> are the smallest at which the pairs it keeps "
        f"are expected to be at most {bound} noise, by its own shuffled null; the table gives "
        "their median and range over the classes that keep something. They are not comparable "
        f"with the paper's single pair, and d<sub>avg</sub> is not maximized. See the {GUIDE}."
    )


def layer_note(s):
    """Under the per-layer table: what one shuffled share per layer does not show."""
    if s.get("thresholds") == "per_class":
        why = "here each class has its own thresholds, and the noise each one lets through is in"
    else:
        why = (
            "with one threshold for all classes a class of a few images can keep about as "
            "many pairs with shuffled labels as with the true ones while a large class keeps "
            "almost none. See"
        )
    where = (
        '<a href="#class-noise">Noise per class</a>'
        if s.get("class_noise")
        else "<code>class_noise.csv</code> (<code>dks characterize</code> writes it)"
    )
    return (
        '<p class="note">A single share per layer averages over classes, and so hides the '
        f"small ones: {why} {where}.</p>"
    )


def class_noise_section(s):
    """Flagged and unresolved classes, and the noise rate of all classes."""
    rows = s.get("class_noise")
    if not rows:
        return ""
    # the thresholds of each class, when they differ (with the global rule: the table above)
    per_class = s.get("thresholds") == "per_class"
    header = ("Class", "Images", "Kept, true labels", "Kept, shuffled labels")
    header += (term("noise-share", "Expected noise share"),)
    header += ("t<sup>+</sup>", "t<sup>−</sup>") if per_class else ()

    def class_table(chosen):
        rows = []
        for r in chosen:
            status = " (unresolved)" if r.get("unresolved") else ""
            cells = [
                fmt_share(r.get("kept")),
                fmt_share(r.get("kept_shuffled")),
                fmt_share(r.get("noise_share")) if r.get("kept") else "nothing kept",
            ]
            if per_class:
                cells += [_t(r.get("t_plus")), _t(r.get("t_minus"))]
            rows.append(
                [f"{escape(r.get('class', '?'))}{status}", escape(r.get("n_samples", "–")), *cells]
            )
        return table(header, rows, num_cols=range(1, len(header)))

    by_size = sorted(rows, key=lambda r: (r.get("n_samples") or 0, str(r.get("class"))))
    flagged = [r for r in by_size if r.get("mostly_noise") or r.get("unresolved")]
    limit = f"{100 * _config.MOSTLY_NOISE:.0f}%"
    out = [
        '<section id="class-noise"><h2>Noise per class</h2>',
        "<p>For each class, the share of its (feature, class) pairs kept with the true labels, "
        "the same with shuffled labels (what chance alone keeps with that class's thresholds), "
        "and their ratio, the expected share of its kept pairs that are noise. Small classes "
        "reach large D<sub>KS</sub> by chance, so one threshold for all classes keeps mostly "
        "noise in them.</p>",
    ]
    if flagged:
        out.append(
            f"<p><b>{len(flagged)} of {len(rows)} classes</b> keep mostly noise (expected noise "
            f"share above {limit}) or are unresolved (no threshold separates their signal from "
            "chance; nothing is kept):</p>"
            + scrolled(class_table(flagged), len(flagged), "classes")
        )
    else:
        out.append(f"<p>No class keeps mostly noise (expected noise share above {limit}).</p>")
    if s.get("thresholds") != "per_class" and flagged:
        out.append(
            '<p class="note">These classes are smaller than the thresholds suit. Per-class '
            "thresholds (<code>dks analyze --thresholds per_class</code>; in Python "
            '<code>thresholds="per_class"</code>) learn each class\'s own from its shuffled '
            f"null and say which classes are too small for any. See the {GUIDE}.</p>"
        )
    out.append(
        f"<details><summary>All {len(rows)} classes, smallest first</summary>"
        + scrolled(class_table(by_size), len(by_size), "classes")
        + "</details></section>"
    )
    return "".join(out)
