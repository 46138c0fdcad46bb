"""The HTML pages of dks: the report of a results folder and the HTML kit it shares.

* :func:`write_report` writes ``report.html`` from a summary: a :class:`SummaryRecord`
  (what ``summary.json`` holds, one field per key) or a dict with its keys;
  :data:`FIGURE_TEXT` holds the figures' captions.
* :mod:`dks.report._kit` (style sheet, escaping, number formatting, tables, embedded PNGs) and
  :mod:`dks.report._page` (the page frame) are what the comparison page of ``dks compare``
  is built from too.
"""

from dks.report._kit import CSS, escape, figure, fmt_num, table
from dks.report._page import write_page
from dks.report._report import FIGURE_TEXT, write_report
from dks.report._summary_record import SummaryRecord

__all__ = [
    "CSS",
    "FIGURE_TEXT",
    "SummaryRecord",
    "escape",
    "figure",
    "fmt_num",
    "table",
    "write_page",
    "write_report",
]
