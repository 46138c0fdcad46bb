"""Fashion-MNIST (Xiao et al., 2017): read from Debian's ``dataset-fashion-mnist`` package
or a folder of your own; torchvision downloads it only when asked."""

import gzip
import os
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

from dks._optional import import_optional

__all__ = ["DEBIAN_FASHION_MNIST", "FASHION_MNIST_CLASSES", "load_fashion_mnist"]

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
    FashionMNIST = import_optional(
        "torchvision.datasets",
        "Downloading Fashion-MNIST (or: apt-get install dataset-fashion-mnist)",
        needs="torchvision",
        extra="torch",
    ).FashionMNIST
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
