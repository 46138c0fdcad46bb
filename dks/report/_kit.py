"""The HTML kit of dks's pages: style sheet, escaping, number formatting, tables, figures.

The report of a results folder (:mod:`dks.report._report`, :mod:`dks.report._classes`) and
the comparison page of ``dks compare`` (:mod:`dks.study._compare_page`) are built from
these pieces, so that both read alike; :mod:`dks.report._page` holds the page frame.

Every function returns HTML. Text taken from the data (class and feature names, file paths,
...) goes through :func:`escape`; the cells given to :func:`table` are HTML already.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
import os
from pathlib import Path

from dks._sign import SIGN_COLORS

__all__ = [
    "CSS",
    "escape",
    "figure",
    "fmt_num",
    "fmt_share",
    "is_number",
    "png_bytes",
    "scrolled",
    "table",
]

#: Tables longer than this many rows (1,000 classes of ImageNet) scroll in a box of their own,
#: their header kept in view, instead of making the page tens of screens long.
SCROLL_ROWS = 25

#: The style sheet of every page (inline, so that a page is one file).
CSS = (
    """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1d1d1f; background: #fafafa; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5em 2em 4em; background: #fff; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
p.meta { color: #666; margin-top: 0; }
nav ul { padding-left: 1.2em; columns: 2; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d0d0; padding: 0.3em 0.6em; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.ref td { color: #777; font-style: italic; }
tr.noisy td { color: #888; background: #fafafa; } .flag { color: #b35c00; font-size: 0.85em; }
a.term { color: inherit; text-decoration: underline dotted; }
dl dt { font-weight: 600; margin-top: 0.6em; } dl dd { margin-left: 1.5em; }
td.feats { font-size: 0.9em; }
code, .feat { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
              font-size: 0.92em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.93em; color: #333; max-width: 60em; }
details { margin: 0.5em 0; } summary { cursor: pointer; }
.note { background: #f5f7fb; border-left: 3px solid #8aa4d6; padding: 0.5em 0.9em; }
.scroll { max-height: 70vh; overflow: auto; border: 1px solid #ddd; margin: .6em 0; }
.scroll table { margin: 0; }
.scroll thead th { position: sticky; top: 0; z-index: 1; }
"""
    + (
        # the two sides of D_KS, in the colours of every page and figure (dks._sign)
        f".pos {{ color: {SIGN_COLORS['presence']}; }} "
        f".neg {{ color: {SIGN_COLORS['absence']}; }}\n"
    )
)


def escape(value):
    """HTML-escaped text of any value (quotes included, so that it fits in attributes).

    A file name that is not UTF-8 (lone surrogates, from :func:`os.fsdecode`) shows its
    bytes as ``\\udcXX`` escapes, as Python prints it.
    """
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return html.escape(text, quote=True)


def is_number(value):
    """True for Python and numpy numbers, False for bools and anything else."""
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def fmt_num(value, digits=3, *, signed=False):
    """A float with ``digits`` decimals, an int with thousands separators, else the text.

    ``None`` shows as "–"; NaN and infinities as their names.
    """
    if value is None:
        return "–"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{int(value):,}"
    if is_number(value):
        value = float(value)
        if not math.isfinite(value):
            return escape(value)
        return f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    return escape(value)


def fmt_share(value):
    """A share (0-1) as a percentage with one decimal; "–" for None, NaN and infinities."""
    if value is None or (is_number(value) and not math.isfinite(float(value))):
        return "–"
    if not is_number(value):
        return escape(value)
    return f"{100 * float(value):.1f}%"


def table(header, rows, *, num_cols=(), row_class=None):
    """An HTML table; ``header`` and ``rows`` hold HTML cells (escaped already).

    Parameters
    ----------
    header : sequence of str
    rows : sequence of sequence of str
    num_cols : collection of int, default=()
        The columns of numbers, right-aligned.
    row_class : sequence of str, optional
        A CSS class per row (``"ref"``: a reference row, in grey); empty for none.
    """
    out = ["<table>", "<thead><tr>"]
    out += [f"<th>{h}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        cls = f' class="{row_class[i]}"' if row_class and row_class[i] else ""
        out.append(f"<tr{cls}>")
        for j, cell in enumerate(row):
            out.append(f'<td class="num">{cell}</td>' if j in num_cols else f"<td>{cell}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def scrolled(html_table, n_rows, what="rows"):
    """``html_table`` in a scrolling box (``.scroll``), with its row count, when it has more
    than :data:`SCROLL_ROWS` rows; as it is otherwise."""
    if n_rows <= SCROLL_ROWS:
        return html_table
    return (
        f'<p class="meta">{n_rows:,} {escape(what)}; the table scrolls (all of them are also '
        'in the CSV files of the results folder).</p><div class="scroll">' + html_table + "</div>"
    )


def png_bytes(obj, dpi):
    """PNG bytes of a Figure (anything with ``savefig``, drawn at ``dpi``) or of a PNG file.

    Raises
    ------
    ValueError
        The file is not a PNG image.
    TypeError
        ``obj`` is neither.
    """
    if hasattr(obj, "savefig"):
        buf = io.BytesIO()
        obj.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()
    if isinstance(obj, (str, os.PathLike)):
        data = Path(obj).read_bytes()
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ValueError(f"Figure file {str(obj)!r} is not a PNG image.")
        return data
    raise TypeError(
        "A figure must be a matplotlib Figure or the path of a PNG file; "
        f"got {type(obj).__name__} instead."
    )


def figure(key, number, title, caption, png, dpi):
    """A numbered ``<figure>`` with the PNG embedded as a data URI (see :func:`png_bytes`).

    ``key`` makes the anchor ``fig-<key>``; ``title`` and ``caption`` are plain text (an
    empty caption is left out).
    """
    data = base64.b64encode(png_bytes(png, dpi)).decode("ascii")
    return (
        f'<figure id="fig-{escape(key)}"><img src="data:image/png;base64,{data}" '
        f'alt="{escape(title)}"><figcaption><b>Figure {number}. {escape(title)}.</b> '
        f"{escape(caption) if caption else ''}</figcaption></figure>"
    )
