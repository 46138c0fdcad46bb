"""The readable summary that ``dks analyze`` and ``dks characterize`` print."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dks import _config
from dks._options import option
from dks.analysis._statistics import PAPER_T_MINUS, PAPER_T_PLUS
from dks.results import format_seconds

__all__ = ["format_summary"]


def _compare(value, lo, hi):
    if value is None:
        return "undefined"
    if value < lo:
        return f"below the paper's range {lo:.3f} to {hi:.3f}"
    if value > hi:
        return f"above the paper's range {lo:.3f} to {hi:.3f}"
    return f"within the paper's range {lo:.3f} to {hi:.3f}"


def _pct(value):
    return "  –  " if value is None else f"{100 * value:5.1f}%"


def _weighted_kept(rows):
    n = sum(r["n_features"] for r in rows)
    if not n:
        return float("nan")
    return sum(r["kept"] * r["n_features"] for r in rows if r["kept"] is not None) / n


def format_summary(summary, out=None):
    """The readable summary that ``dks analyze`` prints.

    Parameters
    ----------
    summary : dict
        The contents of ``summary.json`` (see :doc:`/results`).
    out : path, optional
        The results folder, named in the last line.

    Returns
    -------
    str
    """
    s = summary
    lines = [
        "",
        f"dks analysis: {_title(s)}",
        f"  {s.get('n_images')} images, {s.get('n_classes')} classes{_depth(s)}, "
        f"{s.get('n_features')} features; model {s.get('model')}",
    ]
    if s.get("n_skipped"):
        lines.append(
            f"  {s['n_skipped']} image(s) could not be read and were skipped (listed in "
            "skipped.csv)"
        )
    if s.get("n_not_images"):
        lines.append(
            f"  {s['n_not_images']} file(s) of the image folder were not read as images (their "
            "extension), listed in summary.json and the report"
        )
    lines += [
        f"Noise thresholds ({_rule(s)}; {s.get('n_shuffles')} shuffled labelings, "
        f"bins: {s.get('bins')}):",
        *_threshold_lines(s),
    ]
    n_pairs = s["n_pairs"]
    n_kept = s["n_pairs_plus"] + s["n_pairs_minus"]
    lines.append(
        f"Pairs kept: {n_kept:,} of {n_pairs:,} ({100 * n_kept / max(n_pairs, 1):.1f}%): "
        f"{s['n_pairs_plus']:,} by presence (D_KS > t+), {s['n_pairs_minus']:,} by absence "
        "(D_KS < t-)"
    )
    chance = (s.get("signal") or {}).get("kept_shuffled")
    if chance is not None:
        lines.append(
            f"  with shuffled labels (chance alone) the same thresholds keep {100 * chance:.1f}%"
        )
    lines += _layer_lines(s.get("layers") or [])
    lines += _noise_lines(s)
    noise = s.get("noise_features") or []
    n_shown = _config.PIPELINE_SUMMARY_NOISE_SHOWN
    shown = ", ".join(noise[:n_shown]) + (", ..." if len(noise) > n_shown else "")
    lines.append(
        f"Features that are noise for every class: {s['n_noise_features']} of {s['n_features']}"
        + (f" ({shown})" if noise else "")
    )
    lines += _class_lines(s.get("classes") or [])
    if s.get("wall_time_s") is not None:
        lines.append(
            f"Wall time: {format_seconds(s['wall_time_s'])}, from the start of the call, the "
            "figures and report not counted (report.html gives the same)"
        )
    if out is not None:
        lines.append(f"Results: {out}  (report: {Path(out) / 'report.html'})")
    return "\n".join(lines)


def _depth(s):
    depth = s.get("class_depth")
    return f" (the folder paths to depth {depth})" if depth else ""


def _rule(s):
    if s.get("thresholds") == "per_class":
        return f"one pair per class, max noise share {s.get('max_noise_share'):g}"
    return "one pair for all classes, the paper's Eq. 4"


def _threshold_lines(s):
    if not isinstance(s["t_plus"], list):
        return [
            f"  t+ = {s['t_plus']:+.3f}   d_avg(t+) = {s['d_avg_t_plus']:8.1f} features/class   "
            f"({_compare(s['t_plus'], *PAPER_T_PLUS)})",
            f"  t- = {s['t_minus']:+.3f}   d_avg(t-) = {s['d_avg_t_minus']:8.1f} features/class"
            f"   ({_compare(s['t_minus'], *PAPER_T_MINUS)})",
        ]
    lines = []
    for name, values, none in (("t+", s["t_plus"], 1.0), ("t-", s["t_minus"], -1.0)):
        t = np.asarray(values, dtype=float)
        found = t[t != none]
        if found.size:
            lines.append(
                f"  {name} per class: median {np.median(found):+.3f}, from {found.min():+.3f} "
                f"to {found.max():+.3f} ({found.size} of {t.size} classes; the others keep "
                f"nothing on this side)"
            )
        else:
            lines.append(f"  {name}: no class keeps anything on this side")
    unresolved = s.get("unresolved_classes") or []
    if unresolved:
        lines.append(
            f"  Unresolved (no threshold meets the bound; nothing kept): {', '.join(unresolved)}"
        )
    return lines


def _noise_lines(s):
    rows = [r for r in s.get("class_noise") or [] if r.get("mostly_noise")]
    if not rows:
        return []
    shown = ", ".join(
        f"{r['class']} ({r['n_samples']} images, "
        + ("nothing kept" if r.get("noise_share") is None else f"{100 * r['noise_share']:.0f}%")
        + ")"
        for r in rows
    )
    lines = [
        f"Classes whose kept pairs are mostly noise (expected noise share > "
        f"{100 * _config.MOSTLY_NOISE:.0f}%, from the shuffled labels): {shown}"
    ]
    if s.get("thresholds") != "per_class":
        alt = (s.get("signal") or {}).get("per_class")
        would = (
            f" (here it would keep {100 * alt['kept']:.1f}% of the pairs, "
            f"{100 * alt['kept_shuffled']:.1f}% with shuffled labels)"
            if alt
            else ""
        )
        lines.append(
            "  One threshold for all classes lets chance through in small classes: "
            f"{option('thresholds', 'per_class')} learns each class's own{would}."
        )
    return lines


def _layer_lines(layers):
    if not layers:
        return []
    width = max(len("layer"), *(len(r["name"]) for r in layers))
    lines = [
        "Share of (class, feature) pairs kept per layer (the paper's Fig. 10):",
        f"  {'layer':<{width}}  features   kept  presence absence  shuffled  noise feats",
    ]
    for r in layers:
        lines.append(
            f"  {r['name']:<{width}}  {r['n_features']:8d} {_pct(r['kept'])}   "
            f"{_pct(r['kept_presence'])}  {_pct(r['kept_absence'])}   "
            f"{_pct(r.get('kept_shuffled'))}  {r['n_noise']:6d}"
        )
    if len(layers) >= 3:
        third = max(1, len(layers) // 3)
        low = _weighted_kept(layers[:third])
        high = _weighted_kept(layers[-third:])
        lines.append(
            f"  first {third} layers keep {100 * low:.1f}% of their pairs, last {third} "
            f"keep {100 * high:.1f}%"
        )
    return lines


def _class_lines(classes):
    if not classes:
        return []
    width = max(len("class"), *(len(c["name"]) for c in classes))
    lines = ["Per class: features beyond t+ / t-; top feature by presence, by absence:"]
    for c in classes:
        plus = c["top_presence"][0] if c["top_presence"] else None
        minus = c["top_absence"][0] if c["top_absence"] else None
        lines.append(
            f"  {c['name']:<{width}}  {c['n_plus']:5d} / {c['n_minus']:5d}   "
            + (f"{plus[0]} ({plus[1]:+.3f})" if plus else "–")
            + "   "
            + (f"{minus[0]} ({minus[1]:+.3f})" if minus else "–")
        )
    return lines


def _title(s):
    """The dataset's name, with where its images are when that says more."""
    name, where = s.get("dataset_name"), s.get("dataset")
    if not name or name == where:
        return where
    return f"{name} ({where})" if where else name
