"""The report's "Left out" section: the images that could not be read, and the files of the
image folder that are not read as images.

A section of :func:`dks.report.write_report`, kept apart so that the report module stays one
page; it reads ``summary["n_skipped"]``, ``["skipped"]``, ``["n_not_images"]`` and
``["not_images"]`` (see the ``summary`` schema there).
"""

from __future__ import annotations

from dks.report._kit import escape, table

__all__ = ["left_out_section"]


def left_out_section(s):
    """The skipped images (a table) and the files not read as images (a list), or ""."""
    parts = [_skipped(s), _not_images(s)]
    if not any(parts):
        return ""
    return '<section id="skipped"><h2>Left out</h2>' + "".join(parts) + "</section>"


def _skipped(s):
    n = s.get("n_skipped") or len(s.get("skipped") or [])
    if not n:
        return ""
    rows = [
        (f"<code>{escape(r.get('path'))}</code>", escape(r.get("class")), escape(r.get("reason")))
        for r in s.get("skipped") or []
    ]
    more = f" The first {len(rows):,} are listed; all are" if len(rows) < n else " They are"
    return (
        '<h3 id="skipped-images">Skipped images</h3>'
        f"<p>{n:,} image(s) could not be read and were left out of the analysis.{more} "
        "listed in <code>skipped.csv</code> of the results folder.</p>"
        + table(("File", "Class", "Reason"), rows)
    )


def _not_images(s):
    names = list(s.get("not_images") or [])
    n = s.get("n_not_images") or len(names)
    if not n:
        return ""
    listed = f"the first {len(names):,}" if len(names) < n else "all of them"
    return (
        '<h3 id="not-images">Files not read as images</h3>'
        f"<p>{n:,} file(s) in the class folders are not read as images (their extension is "
        f"not an image's) and were left out; {listed}, relative to the image folder:</p>"
        "<ul>" + "".join(f"<li><code>{escape(name)}</code></li>" for name in names) + "</ul>"
    )
