"""One self-contained HTML report of a D_KS analysis.

:func:`write_report` writes a single ``report.html`` with inline CSS and every figure embedded as
a base64 PNG data URI: no external file, no network, no JavaScript. It can be opened offline,
mailed or archived on its own. All text taken from the summary (class and feature names, ...) is
HTML-escaped.

The summary
-----------
What the report shows is a :class:`~dks.report.SummaryRecord` (``summary.json``: its
fields are the schema, the contract with ``dks analyze``), or a dict with its keys. Every key
is optional: a section whose data are missing is left out, and a missing cell shows "–".

Figures
-------
``figures`` maps a key to a matplotlib Figure, to the path of a PNG file, or to a
``(figure or path, caption)`` pair. The keys below get a title and a caption explaining how to
read the figure (a key that starts with one of them, e.g. ``"feature_histograms_fc7_12"``, too);
other keys are shown under their own name, with the caption given, if any:
``"layer_distribution"`` (Fig. 5), ``"dks_histograms"`` (Fig. 6), ``"class_curves"`` and
``"class_curves_negative"`` (Fig. 9), ``"davg"``, ``"layer_kept"`` (Fig. 10), ``"class_noise"``,
``"feature_histograms"`` (Fig. 1 style) and ``"top_images"``.
"""

from __future__ import annotations

from collections.abc import Mapping

from dks.datasets import PAPER_TABLE4
from dks.plotting import FIGURE_TEXT
from dks.report._classes import class_noise_section, layer_note, rule_note, threshold_cell
from dks.report._glance import PAPER, glance_section, glossary_section, term
from dks.report._kit import CSS, escape, figure, fmt_num, fmt_share, is_number, scrolled, table
from dks.report._left_out import left_out_section
from dks.report._page import write_page
from dks.report._summary_record import SummaryRecord
from dks.report._validity_section import validity_section

__all__ = ["FIGURE_TEXT", "write_report"]


def _feature_list(items, css):
    """``name (D)`` items of a top-features list, escaped."""
    parts = []
    for item in items or []:
        if isinstance(item, Mapping):
            name, value = item.get("feature", item.get("name", "?")), item.get("dks")
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            name, value = item
        else:
            name, value = item, None
        text = f'<span class="feat">{escape(name)}</span>'
        if is_number(value):
            text += f' <span class="{css}">({float(value):+.3f})</span>'
        parts.append(text)
    return ", ".join(parts) if parts else "–"


def _seconds(value):
    minutes, seconds = divmod(float(value), 60)
    return f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"


def _time_cell(value, timings):
    """The wall time with its steps and what it covers (the one definition of the docs'
    *Results folder*: from the call's start to the report, without drawing it)."""
    steps = ""
    if isinstance(timings, Mapping) and timings:
        steps = (
            " ("
            + ", ".join(f"{escape(k)} {_seconds(v)}" for k, v in timings.items() if is_number(v))
            + ")"
        )
    return (
        f"{_seconds(value)}{steps}<br><small>from the start of the call to this report; "
        "the figures and the report, drawn after, and Python's start-up are not counted</small>"
    )


def _figure_text(key, caption):
    """Title and caption of a figure: a known key (or ``known_suffix``) gets the defaults."""
    for known in sorted(FIGURE_TEXT, key=len, reverse=True):
        if key == known or key.startswith(f"{known}_"):
            title, default = FIGURE_TEXT[known]
            suffix = key[len(known) + 1 :]
            return (f"{title}: {suffix}" if suffix else title), (
                default if caption is None else caption
            )
    return key, caption


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------
def _run_section(s):
    rows = []
    fields = (
        ("dataset_name", "Dataset", None),
        ("dataset", "Images from", None),
        ("source", "Kind of images", "source"),
        ("model", "Model", None),
        ("n_images", "Images", None),
        ("n_classes", "Classes", "classes"),
        ("n_features", "Features", None),
        ("n_shuffles", "Shuffled labelings", None),
        ("bins", "Binning", None),
        ("wall_time_s", "Wall time, to this report", "time"),
        ("created", "Created", None),
    )
    for key, label, kind in fields:
        if s.get(key) is None:
            continue
        value = s[key]
        if kind == "time" and is_number(value):
            cell = _time_cell(value, s.get("timings"))
        elif kind == "source":
            cell = escape(_SOURCES.get(value, value))
        elif kind == "classes" and s.get("class_depth"):
            cell = f"{fmt_num(value)}: the folder paths to depth {fmt_num(s['class_depth'])}"
        else:
            cell = fmt_num(value)
        rows.append((term("source", escape(label)) if kind == "source" else escape(label), cell))
    params = s.get("parameters")
    if isinstance(params, Mapping):
        rows += [(f"<code>{escape(k)}</code>", fmt_num(v)) for k, v in params.items()]
    if not rows:
        return ""
    rows_html = table(("Setting", "Value"), rows)
    return f'<section id="run"><h2>Run</h2>{rows_html}{_EXPLORE_NOTE}</section>'


#: The kinds of source (``summary["source"]``) in words.
_SOURCES = {
    "folder": "a folder of class folders",
    "manifest": "a manifest (a table of paths and labels)",
    "webdataset": "WebDataset shards",
    "hf-dataset": "a Hugging Face dataset",
    "default": "the default dataset (a class-balanced subset of Fashion-MNIST's test split)",
}

#: How to open the interactive explorer (a static page cannot start its server).
_EXPLORE_NOTE = (
    '<p class="note" id="explore">Every class and feature interactively (features ranked per '
    "class, the paper's Fig. 1 for any pair, two classes compared): run "
    "<code>dks explore RESULTS_DIR</code>, RESULTS_DIR being the folder of this report, and open "
    "the URL it "
    "prints.</p>"
)


def _thresholds_section(s, paper_reference):
    keys = ("t_plus", "d_avg_t_plus", "t_minus", "d_avg_t_minus")
    if all(s.get(k) is None for k in keys):
        return ""
    davg = term("davg", "d<sub>avg</sub>")
    header = ("Dataset", term("thresholds", "t<sup>+</sup>"), f"{davg}(t<sup>+</sup>)")
    header += (term("thresholds", "t<sup>−</sup>"), f"{davg}(t<sup>−</sup>)")
    rows = [
        (
            escape(s.get("dataset_name") or s.get("dataset") or "this dataset"),
            threshold_cell(s.get("t_plus")) or fmt_num(s.get("t_plus")),
            fmt_num(s.get("d_avg_t_plus"), 1),
            threshold_cell(s.get("t_minus")) or fmt_num(s.get("t_minus")),
            fmt_num(s.get("d_avg_t_minus"), 1),
        )
    ]
    classes = [""]
    if paper_reference:
        for name, (tp, dp, tm, dm) in PAPER_TABLE4.items():
            rows.append(
                (
                    escape(f"{name} (paper, VGG19)"),
                    fmt_num(tp),
                    fmt_num(dp),
                    fmt_num(tm),
                    fmt_num(dm),
                )
            )
            classes.append("ref")
    out = [
        '<section id="thresholds"><h2>Noise thresholds (the '
        + term("paper", "paper's Table 4")
        + ")</h2>"
    ]
    out.append(table(header, rows, num_cols=(1, 2, 3, 4), row_class=classes))
    out.append(
        '<p class="note">A pair (feature f, class c) is kept as characteristic of c by '
        "<b>presence</b> when D<sub>KS</sub> &gt; t<sup>+</sup> and by <b>absence</b> when "
        "D<sub>KS</sub> &lt; t<sup>−</sup>; pairs in between are treated as noise. "
        + (
            rule_note(s)
            or f"The thresholds maximize {term('davg', 'd<sub>avg</sub>')}, the average number "
            "of features per class beyond x with the true labels minus the same with shuffled "
            f"labels (the {term('paper', 'paper')}'s Eq. 4)."
        )
        + (
            " The grey rows are the paper's values for comparison (VGG19 embedding): "
            "t<sup>+</sup> from 0.123 to 0.183, t<sup>−</sup> from −0.165 to −0.114. "
            "d<sub>avg</sub> depends on the number of features, so compare it only "
            "between runs of the same model."
            if paper_reference
            else ""
        )
        + "</p>"
    )
    counts = _counts_table(s)
    if counts:
        out.append("<h3>Counts</h3>" + counts)
    out.append("</section>")
    return "".join(out)


def _counts_table(s):
    rows = []
    n_pairs = s.get("n_pairs")

    def with_share(value):
        if is_number(value) and is_number(n_pairs) and n_pairs:
            return f"{fmt_num(value)} ({fmt_share(value / n_pairs)})"
        return fmt_num(value)

    n_noise = s.get("n_noise_features")
    if n_noise is None and s.get("noise_features") is not None:
        n_noise = len(s["noise_features"])
    for key, label, value in (
        ("n_pairs", "Feature/class pairs", n_pairs),
        ("n_pairs_plus", "Pairs kept by presence (D<sub>KS</sub> &gt; t<sup>+</sup>)", None),
        ("n_pairs_minus", "Pairs kept by absence (D<sub>KS</sub> &lt; t<sup>−</sup>)", None),
        (
            "n_noise_features",
            term("noise-features", "Features that are noise for every class")
            + " (t<sup>+</sup> and t<sup>−</sup>)",
            n_noise,
        ),
        ("n_noise_features_plus", "Features with no D<sub>KS</sub> &gt; t<sup>+</sup>", None),
        ("n_noise_features_minus", "Features with no D<sub>KS</sub> &lt; t<sup>−</sup>", None),
    ):
        value = s.get(key) if value is None else value
        if value is None:
            continue
        rows.append((label, with_share(value) if key.startswith("n_pairs_") else fmt_num(value)))
    return table(("", "count"), rows, num_cols=(1,)) if rows else ""


_LAYER_COLUMNS = (
    # (key, aliases, header, formatter name)
    ("n_features", (), "Features", "num"),
    ("kept", (), "Kept, true labels", "share"),
    ("kept_shuffled", ("kept_null",), "Kept, shuffled labels", "share"),
    ("kept_presence", ("kept_plus",), "Kept by t<sup>+</sup>", "share"),
    ("kept_absence", ("kept_minus",), "Kept by t<sup>−</sup>", "share"),
    ("n_noise", ("n_noise_features",), "Features that are noise for every class", "num"),
)


def _layer_rows(layers):
    """Rows (dicts) from a list of dicts or from a dict of columns (``layer_summary()``)."""
    if isinstance(layers, Mapping):
        columns = {k: list(v) for k, v in layers.items()}
        n = max((len(v) for v in columns.values()), default=0)
        return [{k: v[i] for k, v in columns.items() if i < len(v)} for i in range(n)]
    return [dict(layer) for layer in layers]


def _lookup(row, key, aliases):
    for name in (key, *aliases):
        if row.get(name) is not None:
            return row[name]
    return None


def _layers_section(s):
    layers = s.get("layers")
    if layers is None or len(layers) == 0:
        return ""
    layers = _layer_rows(layers)
    present = [
        c for c in _LAYER_COLUMNS if any(_lookup(row, c[0], c[1]) is not None for row in layers)
    ]
    header = ["Layer"] + [label for _, _, label, _ in present]
    fmt = {"num": fmt_num, "share": fmt_share}
    rows = []
    for layer in layers:
        name = _lookup(layer, "name", ("group",))
        rows.append(
            [f'<span class="feat">{escape("?" if name is None else name)}</span>']
            + [fmt[kind](_lookup(layer, key, aliases)) for key, aliases, _, kind in present]
        )
    return (
        '<section id="layers"><h2>Per layer: share of pairs kept (the '
        + term("paper", "paper's Fig. 10")
        + ")</h2>"
        "<p>Share of each layer's (feature, class) pairs beyond the thresholds. Compare the "
        "true labels with the shuffled ones: the latter is the noise that the thresholds let "
        "through.</p>"
        + table(header, rows, num_cols=tuple(range(1, len(header))))
        + (
            layer_note(s)
            if any(_lookup(r, "kept_shuffled", ("kept_null",)) is not None for r in layers)
            else ""
        )
        + "</section>"
    )


def _noise_section(s, max_listed):
    names = s.get("noise_features")
    if names is None:
        return ""
    names = [str(n) for n in names]
    out = ['<section id="noise"><h2>Features that are noise for every class</h2>']
    if not names:
        out.append(
            "<p>None: every feature is beyond t<sup>+</sup> or t<sup>−</sup> for at "
            "least one class.</p></section>"
        )
        return "".join(out)
    out.append(
        f"<p>{len(names):,} features have no D<sub>KS</sub> beyond t<sup>+</sup> or "
        "t<sup>−</sup> for any class: they describe no class of this dataset beyond noise "
        "(the paper finds 38 to 108 such features, nearly all in fc7).</p>"
    )
    shown = names[: int(max_listed)]
    more = f" … and {len(names) - len(shown):,} more" if len(names) > len(shown) else ""
    out.append(
        f"<details><summary>Show the {len(shown):,} names</summary><p>"
        + ", ".join(f'<span class="feat">{escape(n)}</span>' for n in shown)
        + escape(more)
        + "</p></details></section>"
    )
    return "".join(out)


def _classes_section(s):
    classes = s.get("classes")
    if not classes:
        return ""
    columns = (
        ("n_images", (), "Images"),
        ("n_plus", ("n_presence",), "Features by presence (&gt; t<sup>+</sup>)"),
        ("n_minus", ("n_absence",), "Features by absence (&lt; t<sup>−</sup>)"),
    )
    present = [c for c in columns if any(_lookup(row, c[0], c[1]) is not None for row in classes)]
    header = ["Class"] + [label for _, _, label in present]
    header += [
        term("feature-name", "Top features") + " by presence (D<sub>KS</sub>)",
        "Top features by absence",
    ]
    noise = {str(r.get("class")): r for r in s.get("class_noise") or []}
    rows, marks = [], []
    for row in classes:
        flag = noise.get(str(row.get("name")), {})
        mostly = bool(flag.get("mostly_noise"))
        marks.append("noisy" if mostly else "")
        share = fmt_share(flag.get("noise_share")) if flag.get("kept") else "nothing kept"
        name = escape(row.get("name", "?"))
        if mostly:
            name += (
                f'<br><span class="flag">{term("mostly-noise", "mostly noise")} '
                f"(noise share {share})</span>"
            )
        rows.append(
            [name]
            + [fmt_num(_lookup(row, key, aliases)) for key, aliases, _ in present]
            + [
                _feature_list(row.get("top_presence"), "pos"),
                _feature_list(row.get("top_absence"), "neg"),
            ]
        )
    n_noisy = marks.count("noisy")
    return (
        '<section id="classes"><h2>Per class: top features</h2>'
        "<p>For each class, how many features characterize it beyond the thresholds, and the "
        "features with the highest D<sub>KS</sub> (more active in the class than elsewhere) and "
        "the lowest (less active in the class than elsewhere)."
        + (
            f" The {n_noisy} classes marked <i>mostly noise</i> (greyed) keep mostly what chance "
            "keeps: their top features are more likely chance than signal."
            if n_noisy
            else ""
        )
        + "</p>"
        + scrolled(
            table(header, rows, num_cols=tuple(range(1, 1 + len(present))), row_class=marks),
            len(rows),
            "classes",
        )
        + "</section>"
    )


def _figures_section(figures, captions, dpi):
    if not figures:
        return ""
    out = ['<section id="figures"><h2>Figures</h2>']
    for number, (key, value) in enumerate(figures.items(), start=1):
        caption = None
        if isinstance(value, tuple) and len(value) == 2:
            value, caption = value
        if captions and key in captions:
            caption = captions[key]
        title, caption = _figure_text(str(key), caption)
        out.append(figure(key, number, title, caption, value, dpi))
    out.append("</section>")
    return "".join(out)


_READING_GUIDE = (
    '<section id="reading"><h2>How to read D<sub>KS</sub></h2><p>For a feature f and a class c, '
    "D<sub>KS</sub>(f, c) in [−1, 1] is the signed Kolmogorov–Smirnov distance between the "
    "feature's activations on the images of c (intra) and on all other images (inter). "
    '<span class="pos">D<sub>KS</sub> &gt; 0</span>: the feature takes higher values in c than '
    "elsewhere, so c is characterized by its <b>presence</b>. "
    '<span class="neg">D<sub>KS</sub> &lt; 0</span>: lower values in c, so c is characterized by '
    "its <b>absence</b> (the feature is common in the dataset but rare in c). D<sub>KS</sub> "
    "near 0: the feature says little about c. Shuffled labels show how large D<sub>KS</sub> gets "
    "by chance, which sets the thresholds t<sup>+</sup> and t<sup>−</sup>. The method and the "
    f"equations and figures cited are those of {PAPER}; the words used are defined at the end, "
    '<a href="#glossary">Words used in this report</a>.</p></section>'
)


def write_report(
    path,
    summary,
    figures=None,
    *,
    title="dks analysis report",
    captions=None,
    paper_reference=True,
    max_listed=5000,
    dpi=110,
):
    """Write one self-contained HTML report (inline CSS, figures embedded as PNG data URIs).

    Parameters
    ----------
    path : str or path-like
        The HTML file to write (e.g. ``results/report.html``); written atomically (temporary
        file, then rename); missing parent folders are created.
    summary : SummaryRecord or dict
        The numbers and lists to show: a :class:`~dks.report.SummaryRecord` or a dict with
        its keys (all optional; unknown keys are ignored).
    figures : dict of str to Figure, PNG path or (Figure or path, caption), optional
        Figures in the order shown; known keys get a title and a caption (module docstring).
    title : str, default="dks analysis report"
    captions : dict of str to str, optional
        Captions overriding the default ones, by figure key.
    paper_reference : bool, default=True
        Show the paper's Table 4 values next to this run's thresholds.
    max_listed : int, default=5000
        At most this many names of noise features are listed.
    dpi : float, default=110
        Resolution of the PNGs made from Figures.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    if not isinstance(summary, Mapping):
        raise TypeError(
            f"'summary' must be a dict or a SummaryRecord; got {type(summary).__name__} instead."
        )
    summary = SummaryRecord.from_dict(summary)
    figures = dict(figures or {})
    sections = [
        ("glance", "At a glance", glance_section(summary)),
        ("run", "Run", _run_section(summary)),
        ("reading", "How to read D_KS", _READING_GUIDE),
        ("thresholds", "Noise thresholds", _thresholds_section(summary, paper_reference)),
        ("layers", "Per layer", _layers_section(summary)),
        ("noise", "Features that are noise for every class", _noise_section(summary, max_listed)),
        ("classes", "Per class", _classes_section(summary)),
        ("class-noise", "Noise per class", class_noise_section(summary)),
        ("skipped", "Left out", left_out_section(summary)),
        ("validity", "Validity", validity_section(summary)),
        ("figures", "Figures", _figures_section(figures, captions, dpi)),
        ("glossary", "Words used in this report", glossary_section()),
    ]
    meta = [
        escape(summary[key])
        for key in (
            "dataset_name" if summary.get("dataset_name") else "dataset",
            "model",
            "created",
        )
        if summary.get(key) is not None
    ]
    return write_page(path, title, meta, sections, CSS)
