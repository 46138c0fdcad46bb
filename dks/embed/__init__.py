"""Image embeddings from pretrained CNNs: the paper's VGG19 embedding and others.

This subpackage needs torch, torchvision, pillow and tqdm (``pip install dks[torch]``).

* :class:`CNNEmbedder`: scikit-learn transformer, images -> float32 feature matrix.
* :func:`image_folder`: paths and labels of a folder in ImageFolder layout.
* :func:`list_layers`: valid layer names of a model.
* :func:`describe_layers`: the layers that can be embedded, with output shapes and the
  paper's default marked.
"""

from dks.embed._discover import Layer, describe_layers
from dks.embed._embedder import CNNEmbedder, SkippedInput
from dks.embed._images import IMG_EXTENSIONS, image_folder
from dks.embed._models import list_layers

__all__ = [
    "IMG_EXTENSIONS",
    "CNNEmbedder",
    "Layer",
    "SkippedInput",
    "describe_layers",
    "image_folder",
    "list_layers",
]
