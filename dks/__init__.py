"""dks: which features of a pretrained CNN characterize which classes, and which are noise.

The statistics (:class:`KSCharacterizer`, :class:`NoiseThresholdSelector`) and the
full-network embedding (:class:`FullNetworkEmbedding`) work on any feature matrix and do not
import torch. :class:`CNNEmbedder` and the analysis
(:func:`analyze`, :func:`load_results`, :func:`compare`, :func:`visualize`, from
:mod:`dks.pipeline`) are imported lazily, on
first use, so ``import dks`` stays light; so are :func:`ablation` and :func:`stability`
(:mod:`dks.validity`: is relevance importance, and is it reproducible?).
"""

from dks._config import config_context, get_config, set_config
from dks.characterize import KSCharacterizer
from dks.fne import FullNetworkEmbedding
from dks.select import NoiseThresholdSelector

__version__ = "0.2.0.dev0"

__all__ = [
    "CNNEmbedder",
    "FullNetworkEmbedding",
    "KSCharacterizer",
    "NoiseThresholdSelector",
    "__version__",
    "ablation",
    "analyze",
    "compare",
    "config_context",
    "explore",
    "get_config",
    "load_results",
    "set_config",
    "stability",
    "visualize",
]

#: Names imported on first use, and their module.
_LAZY = {
    "CNNEmbedder": "dks.embed",
    "ablation": "dks.validity",
    "analyze": "dks.pipeline",
    "compare": "dks.pipeline",
    "explore": "dks.explore",
    "load_results": "dks.pipeline",
    "stability": "dks.validity",
    "visualize": "dks.pipeline",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dks' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
