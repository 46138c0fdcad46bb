"""Datasets for trying dks out: Fashion-MNIST, offline when the Debian package is installed.

* :func:`load_fashion_mnist`: the images, labels and class names of Fashion-MNIST (Xiao et
  al., 2017: 70,000 grey 28 x 28 pictures of clothes in 10 classes), optionally a
  class-balanced random subset. The files are read from Debian's ``dataset-fashion-mnist``
  package (``apt-get install dataset-fashion-mnist``, no network needed) or from a folder of
  your own; torchvision downloads them only when asked (``download=True``).
* :func:`export_image_folder`: write images as PNG files in the ImageFolder layout (one
  sub-folder per class) that ``dks analyze`` and :func:`dks.embed.image_folder` read.

* The paper's datasets, from their official files to an ImageFolder of links:
  :func:`make_flowers102` (test split), :func:`make_cub200` (train split),
  :func:`make_mit67` (train split) and :func:`make_imagenet_val` (500 classes x 50
  images of the ImageNet validation set); :data:`PAPER_DATASETS` lists them and
  :data:`PAPER_TABLE4` holds the paper's thresholds for the three it studies.

None needs torch (the files are parsed with numpy; pillow writes the PNGs). Images are listed
and decoded in :mod:`dks.sources`.
"""

from dks.datasets._fashion_mnist import (
    DEBIAN_FASHION_MNIST,
    FASHION_MNIST_CLASSES,
    load_fashion_mnist,
)
from dks.datasets._folders import export_image_folder, folder_name
from dks.datasets._paper import (
    PAPER_DATASETS,
    PAPER_TABLE4,
    make_cub200,
    make_flowers102,
    make_imagenet_val,
    make_mit67,
)

__all__ = [
    "DEBIAN_FASHION_MNIST",
    "FASHION_MNIST_CLASSES",
    "PAPER_DATASETS",
    "PAPER_TABLE4",
    "export_image_folder",
    "folder_name",
    "load_fashion_mnist",
    "make_cub200",
    "make_flowers102",
    "make_imagenet_val",
    "make_mit67",
]
