"""Image embeddings from pretrained CNNs: the paper's VGG19 embedding and others.

This subpackage needs torch, torchvision, pillow and tqdm (``pip install dks[torch]``).

* :class:`CNNEmbedder`: scikit-learn transformer, images -> float32 feature matrix.
* :func:`image_folder`: paths and labels of a folder in ImageFolder layout (from
  :mod:`dks.sources`, where images are listed and decoded).
* :func:`list_layers`: valid layer names of a model.
* :func:`feature_crops`: the image regions where a feature responds most.
* :func:`receptive_field`: the input pixels a layer's feature-map position sees.
* :func:`describe_layers`: the layers that can be embedded, with output shapes and the
  paper's default marked.
"""

from dks.embed._discover import Layer, describe_layers
from dks.embed._embedder import CNNEmbedder
from dks.embed._locate import FeatureCrop, feature_crops, top_images
from dks.embed._models import LITE0, check_model_name, list_layers
from dks.embed._output import SkippedInput, SkippedInputsWarning
from dks.embed._receptive_field import ReceptiveField, receptive_field
from dks.sources import IMAGE_EXTENSIONS as IMG_EXTENSIONS
from dks.sources import image_folder

__all__ = [
    "IMG_EXTENSIONS",
    "LITE0",
    "CNNEmbedder",
    "FeatureCrop",
    "Layer",
    "ReceptiveField",
    "SkippedInput",
    "SkippedInputsWarning",
    "check_model_name",
    "describe_layers",
    "feature_crops",
    "image_folder",
    "list_layers",
    "receptive_field",
    "top_images",
]
