"""dks: which features of a pretrained CNN characterize which classes, and which are noise.

The statistics (:class:`KSCharacterizer`, :class:`NoiseThresholdSelector`) work on any
feature matrix and do not import torch. :class:`CNNEmbedder` is imported lazily, on first
use, so ``import dks`` stays light.
"""

from dks.characterize import KSCharacterizer
from dks.select import NoiseThresholdSelector

__version__ = "0.1.0"

__all__ = ["CNNEmbedder", "KSCharacterizer", "NoiseThresholdSelector", "__version__"]


def __getattr__(name):
    if name == "CNNEmbedder":
        from dks.embed import CNNEmbedder

        return CNNEmbedder
    raise AttributeError(f"module 'dks' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
