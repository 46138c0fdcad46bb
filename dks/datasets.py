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
  images of the ImageNet validation set).

None needs torch (the files are parsed with numpy; pillow writes the PNGs).
"""

import gzip
import os
import re
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "DEBIAN_FASHION_MNIST",
    "FASHION_MNIST_CLASSES",
    "PAPER_DATASETS",
    "export_image_folder",
    "folder_name",
    "load_fashion_mnist",
    "make_cub200",
    "make_flowers102",
    "make_imagenet_val",
    "make_mit67",
]

#: Where Debian's ``dataset-fashion-mnist`` package installs the files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

#: Class names of Fashion-MNIST, in label order (those of torchvision).
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_SPLITS = {"train": "train", "test": "t10k"}
_IMAGES_MAGIC = 0x0803  # unsigned bytes, 3 dimensions
_LABELS_MAGIC = 0x0801  # unsigned bytes, 1 dimension
_UNSAFE = re.compile(r'[\x00-\x1f/\\:*?"<>|]+')


def _default_download_home():
    return Path("~/.cache/dks").expanduser()


def load_fashion_mnist(
    split="test", n_per_class=None, *, random_state=0, data_home=None, download=False
):
    """Load Fashion-MNIST, or a class-balanced random subset of it.

    The four files (``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``) are looked for,
    in order, in ``data_home`` (directly or in ``data_home/FashionMNIST/raw``, torchvision's
    layout) and in :data:`DEBIAN_FASHION_MNIST`. If they are in neither place,
    ``download=True`` fetches them with :class:`torchvision.datasets.FashionMNIST` into
    ``data_home`` (default ``~/.cache/dks``).

    Parameters
    ----------
    split : {"test", "train"}, default="test"
        The 10,000 test images (1,000 per class) or the 60,000 training images (6,000 per
        class).
    n_per_class : int or None, default=None
        Images drawn at random from each class, without replacement; None keeps them all.
    random_state : int, RandomState instance or None, default=0
        Seeds the subset: the same value gives the same images.
    data_home : str, os.PathLike or None, default=None
        A folder to look in first, and where ``download=True`` stores the files.
    download : bool, default=False
        Download the files with torchvision (needs internet) when they are not found.

    Returns
    -------
    images : ndarray of shape (n_images, 28, 28), uint8
        Grey images, 0 = black. With ``n_per_class``, in the order of the dataset.
    y : ndarray of shape (n_images,), int64
        Labels, indices into ``class_names``.
    class_names : list of str
        :data:`FASHION_MNIST_CLASSES`.

    Raises
    ------
    FileNotFoundError
        If the files are not found and ``download`` is False; the message says how to get
        them.
    ValueError
        For a bad ``split`` or ``n_per_class``, or files that are not valid IDX files.

    Examples
    --------
    >>> from dks.datasets import load_fashion_mnist
    >>> images, y, class_names = load_fashion_mnist(n_per_class=5)  # doctest: +SKIP
    >>> images.shape, images.dtype, class_names[y[0]]  # doctest: +SKIP
    ((50, 28, 28), dtype('uint8'), 'T-shirt/top')
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be 'test' or 'train'; got {split!r}.")
    if n_per_class is not None and (
        isinstance(n_per_class, bool) or not isinstance(n_per_class, Integral) or n_per_class < 1
    ):
        raise ValueError(f"n_per_class must be a positive int or None; got {n_per_class!r}.")
    rng = check_random_state(random_state)
    images_file, labels_file = _find_files(split, data_home, download)
    images = _read_idx(images_file, _IMAGES_MAGIC)
    y = _read_idx(labels_file, _LABELS_MAGIC).astype(np.int64)
    if images.shape[0] != y.shape[0]:
        raise ValueError(
            f"{images_file} holds {images.shape[0]} images but {labels_file} holds "
            f"{y.shape[0]} labels."
        )
    n_classes = len(FASHION_MNIST_CLASSES)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{labels_file} has labels outside 0..{n_classes - 1}.")
    if n_per_class is not None:
        keep = []
        for label in range(n_classes):
            members = np.flatnonzero(y == label)
            if members.size < n_per_class:
                raise ValueError(
                    f"n_per_class={n_per_class} but class {FASHION_MNIST_CLASSES[label]!r} "
                    f"has only {members.size} images in the {split!r} split."
                )
            keep.append(rng.choice(members, size=n_per_class, replace=False))
        keep = np.sort(np.concatenate(keep))
        images, y = images[keep], y[keep]
    return np.ascontiguousarray(images), y, list(FASHION_MNIST_CLASSES)


def _candidate_folders(data_home):
    folders = []
    if data_home is not None:
        home = Path(data_home).expanduser()
        folders += [home, home / "FashionMNIST" / "raw"]
    folders.append(DEBIAN_FASHION_MNIST)
    return folders


def _find_in(folder, split):
    """The (images, labels) files of ``split`` in ``folder``, or None."""
    prefix = _SPLITS[split]
    found = []
    for kind in ("images-idx3", "labels-idx1"):
        stem = folder / f"{prefix}-{kind}-ubyte"
        hits = [p for p in (stem.with_name(stem.name + ".gz"), stem) if p.is_file()]
        if not hits:
            return None
        found.append(hits[0])
    return tuple(found)


def _find_files(split, data_home, download):
    folders = _candidate_folders(data_home)
    for folder in folders:
        files = _find_in(folder, split)
        if files is not None:
            return files
    if not download:
        looked = ", ".join(str(f) for f in folders)
        raise FileNotFoundError(
            f"The Fashion-MNIST {split!r} files were not found (looked in: {looked}). "
            "Install Debian's copy with `apt-get install dataset-fashion-mnist` (no network "
            "needed beyond the package mirror), or pass download=True (`--download` on the "
            "command line) to fetch them with torchvision."
        )
    home = Path(data_home).expanduser() if data_home is not None else _default_download_home()
    try:
        from torchvision.datasets import FashionMNIST
    except ImportError as exc:
        raise ImportError(
            "Downloading Fashion-MNIST needs torchvision (`pip install dks[torch]`); or "
            "install Debian's copy with `apt-get install dataset-fashion-mnist`."
        ) from exc
    try:
        FashionMNIST(os.fspath(home), train=split == "train", download=True)
    except Exception as exc:  # network errors come in many types
        raise OSError(
            f"Downloading Fashion-MNIST into {home} failed ({type(exc).__name__}: {exc}). "
            "Without internet, install Debian's copy with `apt-get install "
            "dataset-fashion-mnist`."
        ) from exc
    files = _find_in(home / "FashionMNIST" / "raw", split)
    if files is None:  # pragma: no cover - torchvision changed its layout
        raise FileNotFoundError(f"torchvision did not leave the Fashion-MNIST files in {home}.")
    return files


def _read_idx(path, magic):
    """Parse an IDX file (gzipped or not) of unsigned bytes into an ndarray."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"Cannot read {path}: {exc}") from exc
    n_dims = magic & 0xFF
    header = 4 + 4 * n_dims
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        raise ValueError(
            f"{path} is not an IDX file of unsigned bytes with {n_dims} dimension(s) "
            f"(expected the magic number 0x{magic:08x})."
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    size = int(np.prod(shape))
    if len(data) - header != size:
        raise ValueError(
            f"{path} should hold {size} values after its header (shape {shape}) but holds "
            f"{len(data) - header}: the file is truncated or corrupt."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def folder_name(name):
    """A class name made safe as a folder name (``"T-shirt/top"`` -> ``"T-shirt-top"``).

    Path separators, characters that Windows forbids and control characters become ``-``;
    leading dots (hidden folders, which :func:`dks.embed.image_folder` ignores) and
    trailing dots and spaces are removed.

    Parameters
    ----------
    name : object
        The class name (converted with ``str``).

    Returns
    -------
    str

    Examples
    --------
    >>> from dks.datasets import folder_name
    >>> folder_name("T-shirt/top")
    'T-shirt-top'
    """
    text = _UNSAFE.sub("-", str(name)).lstrip(".").rstrip(". ")
    if not text:
        raise ValueError(f"The class name {name!r} cannot be made into a folder name.")
    return text


def export_image_folder(images, y, class_names=None, root="images"):
    """Write images as PNG files in ImageFolder layout: ``root/<class>/<index>.png``.

    Parameters
    ----------
    images : array-like of shape (n_images, H, W) or (n_images, H, W, 3), uint8
        Grey or RGB images.
    y : array-like of shape (n_images,)
        Labels: indices into ``class_names``, or the class names themselves when
        ``class_names`` is None.
    class_names : sequence of str or None, default=None
        Name of each label. Folder names are made from them with :func:`folder_name`.
    root : str or os.PathLike, default="images"
        The folder to create; it must not exist, or be empty.

    Returns
    -------
    paths : list of str
        The file written for each image, in the order of ``images``. File names are the
        row index, zero-padded (``00042.png``), so that a sorted listing (as
        :func:`dks.embed.image_folder` does) keeps the order of ``images`` within a class.

    Raises
    ------
    FileExistsError
        If ``root`` exists and is not an empty folder.
    ValueError
        For images or labels of the wrong shape or dtype, or two classes whose folder
        names would coincide.

    Examples
    --------
    >>> import numpy as np
    >>> from dks.datasets import export_image_folder
    >>> images = np.zeros((2, 8, 8), dtype=np.uint8)
    >>> export_image_folder(images, [0, 1], ["a", "b"], "tmp_images")  # doctest: +SKIP
    ['tmp_images/a/0.png', 'tmp_images/b/1.png']
    """
    from PIL import Image

    images = np.asarray(images)
    if images.dtype != np.uint8 or not (
        images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)
    ):
        raise ValueError(
            "images must be a uint8 array of shape (n_images, H, W) or (n_images, H, W, 3); "
            f"got {images.dtype} of shape {images.shape}."
        )
    y = np.asarray(y)
    if y.shape != (images.shape[0],):
        raise ValueError(f"y must have shape ({images.shape[0]},); got {y.shape}.")
    if class_names is None:
        names = [str(label) for label in y.tolist()]
    else:
        class_names = [str(c) for c in class_names]
        if not np.issubdtype(y.dtype, np.integer) or (
            y.size and (y.min() < 0 or y.max() >= len(class_names))
        ):
            raise ValueError(
                f"With class_names, y must hold integer labels in 0..{len(class_names) - 1}."
            )
        names = [class_names[i] for i in y.tolist()]
    folders = {}
    for name in dict.fromkeys(names):
        folder = folder_name(name)
        clash = [other for other, f in folders.items() if f.lower() == folder.lower()]
        if clash:
            raise ValueError(
                f"The classes {clash[0]!r} and {name!r} would share the folder {folder!r}."
            )
        folders[name] = folder
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{str(root)!r} exists and is not an empty folder.")
    for folder in folders.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
    width = max(1, len(str(max(images.shape[0] - 1, 0))))
    paths = []
    for index, (image, name) in enumerate(zip(images, names, strict=True)):
        path = root / folders[name] / f"{index:0{width}d}.png"
        Image.fromarray(image).save(path, format="PNG")
        paths.append(os.fspath(path))
    return paths


from dks._paper_datasets import (  # noqa: E402  (they use folder_name above)
    PAPER_DATASETS,
    make_cub200,
    make_flowers102,
    make_imagenet_val,
    make_mit67,
)
