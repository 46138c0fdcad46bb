"""The HTML pages of dks: the report of a results folder and the HTML kit it shares.

* :func:`write_report` writes ``report.html`` from a summary dict (its schema:
  :mod:`dks.report._report`); :data:`FIGURE_TEXT` holds the figures' captions.
* :mod:`dks.report._kit` (style sheet, escaping, number formatting, tables, embedded PNGs) and
  :mod:`dks.report._page` (the page frame) are what the comparison page of ``dks compare``
  is built from too.
"""

from dks.report._kit import CSS, escape, figure, fmt_num, table
from dks.report._page import write_page
from dks.report._report import FIGURE_TEXT, write_report

__all__ = [
    "CSS",
    "FIGURE_TEXT",
    "escape",
    "figure",
    "fmt_num",
    "table",
    "write_page",
    "write_report",
]
