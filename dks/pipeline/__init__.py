"""The whole analysis in one call: images -> embedding -> D_KS -> thresholds -> report.

:func:`analyze` is what ``dks analyze`` runs; :func:`embed`, :func:`characterize` and
:func:`report` are its three steps (``dks embed``, ``dks characterize``, ``dks report``), so
that the embedding can be computed once (e.g. on a GPU machine) and analyzed elsewhere. All
four work on a *results folder*, whose files are described in :doc:`/results`;
:func:`load_results` reads one back.

This module is the public face of three packages, each cut by job: :mod:`dks.analysis`
(the steps), :mod:`dks.results` (the results folder: its files, metadata and transaction)
and :mod:`dks.study` (:func:`compare`). It holds no code of its own.
"""

from dks.analysis import (
    DEFAULT_PER_CLASS,
    PAPER_T_MINUS,
    PAPER_T_PLUS,
    Analysis,
    Validation,
    analyze,
    characterize,
    embed,
    export_fne,
    format_summary,
    load_fne,
    report,
    validate,
    visualize,
)
from dks.results import AnalysisError, load_results
from dks.study import compare

__all__ = [
    "DEFAULT_PER_CLASS",
    "PAPER_T_MINUS",
    "PAPER_T_PLUS",
    "Analysis",
    "AnalysisError",
    "Validation",
    "analyze",
    "characterize",
    "compare",
    "embed",
    "export_fne",
    "format_summary",
    "load_fne",
    "load_results",
    "report",
    "validate",
    "visualize",
]
