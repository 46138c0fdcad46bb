"""The analysis of a results folder: images -> embedding -> D_KS -> thresholds -> report.

:func:`analyze` is what ``dks analyze`` runs; :func:`embed`, :func:`characterize` and
:func:`report` are its three steps (``dks embed``, ``dks characterize``, ``dks report``), so
that the embedding can be computed once (e.g. on a GPU machine) and analyzed elsewhere.
:func:`validate` and :func:`export_fne` work on a finished folder. One module per step:

========================  ===========================================================
``_steps``                the public steps and their transactions
``_parameters``           argument checks, delegated to the estimators' constraints
``_image_set``            the images analyzed: a user's collection, or the default dataset
``_embedding``            the embedding step: the store filled in place, then committed
``_statistics``           the statistics step and the summary it makes
``_figures``              the report step: which figures, and ``report.html``
``_regions``              what a feature looks at: its image regions in the report,
                          :func:`visualize`
``_summary``              the printed text summary
``_validate``             ablation and stability of a results folder (:func:`validate`)
``_export``               the pruned full-network embedding, to reuse (:func:`export_fne`)
========================  ===========================================================
"""

from dks.analysis._export import export_fne, load_fne
from dks.analysis._figures import layer_kept, require_matplotlib
from dks.analysis._image_set import DEFAULT_PER_CLASS
from dks.analysis._parameters import check_parameters
from dks.analysis._regions import embedder_from_results, image_paths, missing_images, visualize
from dks.analysis._statistics import PAPER_T_MINUS, PAPER_T_PLUS
from dks.analysis._steps import Analysis, analyze, characterize, embed, report
from dks.analysis._summary import format_summary
from dks.analysis._validate import Validation, validate

__all__ = [
    "DEFAULT_PER_CLASS",
    "PAPER_T_MINUS",
    "PAPER_T_PLUS",
    "Analysis",
    "Validation",
    "analyze",
    "characterize",
    "check_parameters",
    "embed",
    "embedder_from_results",
    "export_fne",
    "format_summary",
    "image_paths",
    "layer_kept",
    "load_fne",
    "missing_images",
    "report",
    "require_matplotlib",
    "validate",
    "visualize",
]
