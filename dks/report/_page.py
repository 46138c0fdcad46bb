"""The frame of dks's HTML pages: head and style, title, meta line, contents, sections.

One page layout for the report of a results folder (:mod:`dks.report`) and the comparison of
several (:mod:`dks.study._compare_page`); written atomically.
"""

from __future__ import annotations

import html
from pathlib import Path

from dks._atomic import atomic_open

__all__ = ["write_page"]


def write_page(path, title, meta, sections, css):
    """Write a self-contained HTML page (no JavaScript) to ``path``.

    Parameters
    ----------
    path : path-like
        The file written (atomically).
    title : str
        Page title and heading (plain text).
    meta : list of str
        HTML fragments of the line under the heading, joined with `` · ``; "made with dks
        <version>" is appended.
    sections : list of (str, str, str)
        ``(anchor, name, HTML body)`` in the order shown and listed in the contents; those
        with an empty body are left out.
    css : str
        The style sheet.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    try:
        from dks import __version__ as version
    except ImportError:  # pragma: no cover
        version = None
    meta = [*meta, f"made with dks {html.escape(version)}" if version else "made with dks"]
    sections = [(anchor, name, body) for anchor, name, body in sections if body]
    toc = "".join(
        f'<li><a href="#{anchor}">{html.escape(name)}</a></li>' for anchor, name, _ in sections
    )
    title = html.escape(str(title))
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{css}</style>\n</head>\n<body>\n<main>\n"
        f'<h1>{title}</h1>\n<p class="meta">{" · ".join(meta)}</p>\n'
        f"<nav><ul>{toc}</ul></nav>\n"
        + "\n".join(body for _, _, body in sections)
        + "\n</main>\n</body>\n</html>\n"
    )
    path = Path(path)
    with atomic_open(path) as fh:
        fh.write(page.encode("utf-8", "backslashreplace"))
    return path
