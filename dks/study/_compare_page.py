"""The comparison report: one self-contained HTML page (figures embedded, no JavaScript).

Built from the HTML kit of :mod:`dks.report._kit` (style sheet, tables, number formatting,
embedded figures) and the page frame of :mod:`dks.report._page`, so that the comparison
reads like the report of a single results folder; written atomically.
"""

from __future__ import annotations

from dks.report import CSS, escape, figure, fmt_num, table, write_page

__all__ = ["write_compare_page"]

_EXTRA_CSS = "ul.words li { margin: 0.3em 0; } .folder { font-size: 0.85em; color: #555; }"


def _datasets_section(rows):
    header = ("Dataset", "Model", "Images", "Classes", "Features", "Shuffles", "Folder")
    body = [
        (
            f"<b>{escape(r['dataset'])}</b>",
            escape(r.get("model") or "–"),
            fmt_num(r.get("n_images")),
            fmt_num(r.get("n_classes")),
            fmt_num(r.get("n_features")),
            fmt_num(r.get("n_shuffles")),
            f'<span class="folder">{escape(r["folder"])}</span>',
        )
        for r in rows
    ]
    return (
        '<section id="datasets"><h2>Datasets</h2>'
        + table(header, body, num_cols=(2, 3, 4, 5))
        + "</section>"
    )


def _table4_section(rows, paper):
    header = ("Dataset", "t<sup>+</sup>", "d<sub>avg</sub>(t<sup>+</sup>)")
    header += ("t<sup>−</sup>", "d<sub>avg</sub>(t<sup>−</sup>)")
    body, classes = [], []
    for r in rows:
        body.append(
            (
                escape(r["dataset"]),
                fmt_num(r.get("t_plus")),
                fmt_num(r.get("d_avg_t_plus"), 1),
                fmt_num(r.get("t_minus")),
                fmt_num(r.get("d_avg_t_minus"), 1),
            )
        )
        classes.append("")
    for p in paper:
        body.append(
            (
                escape(f"{p['dataset']} (paper, VGG19)"),
                fmt_num(p["t_plus"]),
                fmt_num(p["d_avg_t_plus"]),
                fmt_num(p["t_minus"]),
                fmt_num(p["d_avg_t_minus"]),
            )
        )
        classes.append("ref")
    return (
        '<section id="thresholds"><h2>Noise thresholds (paper\'s Table 4)</h2>'
        + table(header, body, num_cols=(1, 2, 3, 4), row_class=classes)
        + '<p class="note">t<sup>+</sup> and t<sup>−</sup> maximize d<sub>avg</sub>, the '
        "average number of features per class beyond x with the true labels minus the same "
        "with shuffled labels (paper's Eq. 4). The grey rows are the paper's values (VGG19, "
        "9,600 features); d<sub>avg</sub> counts features, so compare it only between runs "
        "of the same model.</p></section>"
    )


def _words_section(text, differences):
    items = "".join(f"<li>{escape(sentence)}</li>" for sentence in text)
    note = ""
    if differences:
        note = (
            '<p class="note">Only the layer-independent parts are compared: the folders were '
            "embedded differently (" + escape(", ".join(d["what"] for d in differences)) + ").</p>"
        )
    return f'<section id="words"><h2>In words</h2>{note}<ul class="words">{items}</ul></section>'


def _figures_section(figures, dpi):
    out = ['<section id="figures"><h2>Figures</h2>']
    for number, (key, (title, caption, png)) in enumerate(figures.items(), start=1):
        out.append(figure(key, number, title, caption, png, dpi))
    out.append("</section>")
    return "".join(out)


def write_compare_page(path, comparison, figures, *, dpi=110):
    """Write the comparison page.

    Parameters
    ----------
    path : pathlib.Path
        The HTML file (written atomically).
    comparison : dict
        As returned by :func:`dks.compare` (``datasets``, ``paper``, ``text``,
        ``differences``).
    figures : dict of str to (title, caption, PNG path)
        In the order shown.
    dpi : float, default=110
        Unused for PNG files (kept as they are); used for Figures passed instead of paths.

    Returns
    -------
    pathlib.Path
    """
    rows = comparison["datasets"]
    names = ", ".join(r["dataset"] for r in rows)
    title = f"dks comparison: {names}"
    sections = [
        ("datasets", "Datasets", _datasets_section(rows)),
        ("words", "In words", _words_section(comparison["text"], comparison["differences"])),
        ("thresholds", "Noise thresholds", _table4_section(rows, comparison["paper"])),
        ("figures", "Figures", _figures_section(figures, dpi) if figures else ""),
    ]
    meta = [f"{len(rows)} results folders compared"]
    return write_page(path, title, meta, sections, CSS + _EXTRA_CSS)
