"""The whole analysis in one call: images -> embedding -> D_KS -> thresholds -> report.

:func:`analyze` is what ``dks analyze`` runs; :func:`embed`, :func:`characterize` and
:func:`report` are its three steps (``dks embed``, ``dks characterize``, ``dks report``), so
that the embedding can be computed once (e.g. on a GPU machine) and analyzed elsewhere. All
four work on a *results folder*, whose files are described in :doc:`/results`;
:func:`load_results` reads one back.

One module per idea:

========================  ===========================================================
``_steps``                the public steps and their transactions
``_settings``             the embedding settings, once (``EmbedSettings``)
``_parameters``           argument checks, delegated to the estimators' constraints
``_folder``               the results folder: file names, the write transaction
``_io``                   JSON / CSV / ``.npy`` reading and writing, :func:`load_results`
``_layers``               layer membership, read back from ``embedding.json``
``_images``               image listing, subsets and the default dataset
``_embedding``            the embedding step: the store filled in place, then committed
``_statistics``           the statistics step and the summary it makes
``_figures``              the report step: which figures, and ``report.html``
``_summary``              the printed text summary
``_compare*``             several results folders side by side (:func:`compare`)
``_crops``                what a feature looks at: crops in the report, :func:`visualize`
``_validate``             ablation and stability of a results folder (:func:`validate`)
``_export``               the pruned full-network embedding, to reuse (:func:`export_fne`)
``_log``                  progress lines and timings
========================  ===========================================================
"""

from dks.pipeline._compare import compare
from dks.pipeline._crops import visualize
from dks.pipeline._errors import AnalysisError
from dks.pipeline._export import export_fne, load_fne
from dks.pipeline._images import DEFAULT_PER_CLASS
from dks.pipeline._io import load_results
from dks.pipeline._statistics import PAPER_T_MINUS, PAPER_T_PLUS
from dks.pipeline._steps import Analysis, analyze, characterize, embed, report
from dks.pipeline._summary import format_summary
from dks.pipeline._validate import Validation, validate

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
