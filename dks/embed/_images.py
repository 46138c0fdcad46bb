"""Image inputs of :class:`~dks.embed.CNNEmbedder`: where images come from.

An input collection ``X`` becomes a :class:`ImageSource` (:func:`as_source`), which can load
its ``i``-th image as an RGB PIL image, as people see it (:mod:`dks.datasets._imageio`);
:func:`image_folder` lists a folder in ImageFolder layout. Turning images into batches of
crops is :mod:`dks.embed._batching`.
"""

import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from dks.datasets._imageio import WHITE, load_image, to_rgb
from dks.sources import IMAGE_EXTENSIONS, Collection, open_collection, source_kind

__all__ = [
    "IMG_EXTENSIONS",
    "ArraySource",
    "BadImage",
    "CollectionSource",
    "ImageSource",
    "SequenceSource",
    "SkippedInput",
    "as_source",
    "image_folder",
    "to_pil",
]

#: File extensions that :func:`image_folder` collects (those of torchvision's ImageFolder).
IMG_EXTENSIONS = IMAGE_EXTENSIONS

_CHANNELS = (1, 3, 4)


def image_folder(root, *, extensions=IMG_EXTENSIONS):
    """List the images and labels of a folder in ImageFolder layout.

    The layout is the one of :class:`torchvision.datasets.ImageFolder`: one sub-folder per
    class, ``root/<class>/.../<image>``. Classes are the sub-folder names in sorted order;
    images are collected recursively in each class folder, in sorted order, which is the
    order of ``ImageFolder``. Hidden files and folders (names starting with ``"."``, such as
    ``.ipynb_checkpoints``) are ignored.

    Parameters
    ----------
    root : str or os.PathLike
        The folder that holds the class folders.
    extensions : tuple of str, default=IMG_EXTENSIONS
        File name endings (case-insensitive) that count as images.

    Returns
    -------
    paths : list of str
        Image files, class by class.
    y : ndarray of str of shape (n_images,)
        Class name of each image.
    classes : list of str
        Sorted class names.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is not a folder.
    ValueError
        If ``root`` has no class folders, no images at all, or a class folder without
        images.

    Examples
    --------
    >>> from dks.embed import CNNEmbedder, image_folder
    >>> paths, y, classes = image_folder("flowers/train")  # doctest: +SKIP
    >>> X = CNNEmbedder().fit_transform(paths)  # doctest: +SKIP
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"The image folder {str(root)!r} does not exist.")
    if not root.is_dir():
        raise NotADirectoryError(
            f"{str(root)!r} is not a folder. image_folder expects the ImageFolder layout "
            "root/<class>/<image>."
        )
    extensions = tuple(ext.lower() for ext in extensions)
    classes = sorted(
        entry.name
        for entry in os.scandir(root)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    if not classes:
        loose = [p.name for p in root.iterdir() if p.name.lower().endswith(extensions)]
        hint = (
            f" It holds {len(loose)} image file(s) directly (e.g. {loose[0]!r}): move them into "
            "one folder per class."
            if loose
            else ""
        )
        raise ValueError(
            f"The image folder {str(root)!r} has no class folders; expected the ImageFolder "
            f"layout root/<class>/<image>.{hint}"
        )
    listing = _FolderListing(root, extensions)
    paths, labels, empty = [], [], []
    for name in classes:
        found = listing.images_of(name)
        if not found:
            empty.append(name)
        paths.extend(found)
        labels.extend([name] * len(found))
    listing.report()
    if not paths:
        raise ValueError(
            f"The image folder {str(root)!r} has {len(classes)} class folder(s) but no image "
            f"files (extensions {', '.join(extensions)}).{listing.denied_hint()}"
        )
    if empty:
        raise ValueError(
            f"{len(empty)} class folder(s) of {str(root)!r} hold no image files "
            f"(extensions {', '.join(extensions)}): {', '.join(map(repr, empty))}. "
            f"Remove them or add images.{listing.denied_hint()}"
        )
    return paths, np.asarray(labels, dtype=str), classes


class _FolderListing:
    """The images of the class folders of ``root``, each real file once.

    Folders are read in sorted order, each folder's files before its sub-folders (the order
    of ``ImageFolder``). Symbolic links are followed, but a file or folder that is also
    reached without any link is listed only there (under the class of that real path), a
    folder reached twice through links is listed the first time only, and a link to a folder
    that holds it (``ln -s .. up``: a cycle) is reported and never followed. Folders that
    cannot be read (permission denied) are reported. Other file-system objects with an image
    name (a FIFO, a socket, a broken link) are listed: reading them fails, and the embedding
    skips and lists them like any bad file, without opening a FIFO
    (:func:`dks.datasets._imageio.load_image`).
    """

    def __init__(self, root, extensions):
        self.root = root
        self.extensions = extensions
        self.cycles, self.repeats, self.denied, self.not_images = [], [], [], []
        # What is reached without following a link: files listed there, never via a link.
        self._real_files, self._seen_dirs, self._listed = set(), set(), set()
        self._links = self._walk_real()

    def images_of(self, name):
        """The image files of class ``name``, in listing order."""
        top = self.root / name
        if not self._links:  # no link anywhere: nothing can be reached twice
            return self._walk(top, via_link=False, ancestors=None)
        key, link = _key(top), top.is_symlink()
        if key in _ancestor_keys(self.root):
            self.cycles.append(os.fspath(top))
            return []
        if link and key in self._seen_dirs:
            self.repeats.append(os.fspath(top))
            return []
        self._seen_dirs.add(key)
        return self._walk(top, via_link=link, ancestors=_ancestor_keys(top))

    def _scan(self, folder):
        try:
            with os.scandir(folder) as entries:
                entries = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            self.denied.append((folder, exc.strerror or type(exc).__name__))
            return [], []
        files, dirs = [], []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                dirs.append(entry)
            elif entry.name.lower().endswith(self.extensions):
                files.append(entry)
            else:
                self.not_images.append(entry.path)
        return files, dirs

    def _walk_real(self):
        """Record the files and folders reached without links; whether any link exists."""
        tops = [self.root / name for name in sorted(os.listdir(self.root))]
        tops = [p for p in tops if not p.name.startswith(".") and p.is_dir()]
        links = any(p.is_symlink() for p in tops)
        stack = [os.fspath(p) for p in tops if not p.is_symlink()]
        while stack:
            folder = stack.pop()
            files, dirs = self._scan(folder)
            self._seen_dirs.add(_key(folder))
            for entry in files:
                if entry.is_symlink():
                    links = True
                else:
                    self._real_files.add(_key(entry))
            for entry in dirs:
                if entry.is_symlink():
                    links = True
                else:
                    stack.append(entry.path)
        del self.denied[:], self.not_images[:]  # reported once, by the listing itself
        return links

    def _walk(self, folder, *, via_link, ancestors):
        found = []
        files, dirs = self._scan(folder)
        for entry in files:
            if ancestors is None or not (via_link or entry.is_symlink()):
                found.append(entry.path)
                continue
            key = _key(entry)
            if key is None:  # a broken link: listed, then skipped as unreadable
                found.append(entry.path)
            elif key in self._real_files or key in self._listed:
                self.repeats.append(entry.path)
            else:
                self._listed.add(key)
                found.append(entry.path)
        for entry in dirs:
            if ancestors is None:
                found.extend(self._walk(entry.path, via_link=False, ancestors=None))
                continue
            key = _key(entry)
            link = via_link or entry.is_symlink()
            if key in ancestors:
                self.cycles.append(entry.path)
            elif link and key in self._seen_dirs:
                self.repeats.append(entry.path)
            else:
                self._seen_dirs.add(key)
                found.extend(self._walk(entry.path, via_link=link, ancestors=ancestors | {key}))
        return found

    def report(self):
        """Warn about the files not read as images (their extension), the links not
        followed and the folders that could not be read: how many, and the first few."""
        root, why = self.root, dict(self.denied)
        target = lambda p: f" -> {os.path.realpath(p)!r}"  # noqa: E731
        for found, text, more in (
            (self.not_images, "file(s) in the class folders of {root} are not read as images "
             f"(not {', '.join(self.extensions)}) and were left out", None),
            (self.cycles, "symbolic link(s) in {root} lead to a folder that holds them (a "
             "cycle) and were not followed", target),
            (self.repeats, "symbolic link(s) in {root} lead to images listed already; each "
             "image is embedded once, under the class of the first path that reaches it (a "
             "path without links first)", target),
            (list(why), "folder(s) of {root} cannot be read and were left out",
             lambda p: f" ({why[p]})"),
        ):  # fmt: skip
            if found:
                text = text.format(root=repr(str(root)))
                shown = _shown(found, root, more)
                warnings.warn(f"{len(found)} {text}: {shown}.", UserWarning, stacklevel=3)

    def denied_hint(self):
        if not self.denied:
            return ""
        names = ", ".join(repr(os.path.relpath(p, self.root)) for p, _ in self.denied[:5])
        return f" Folders that cannot be read (permission denied?): {names}."


def _key(entry):
    """The identity (device, inode) of a file or folder, links followed; None if broken."""
    try:
        st = entry.stat() if isinstance(entry, os.DirEntry) else os.stat(entry)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _ancestor_keys(folder):
    """Identities of ``folder`` and of every folder above its real path."""
    real = Path(os.path.realpath(folder))
    return frozenset(filter(None, (_key(p) for p in (real, *real.parents))))


def _shown(paths, root, more=None):
    """The first 5 of ``paths`` relative to ``root`` (and how many more)."""
    shown = ", ".join(f"{os.path.relpath(p, root)!r}{more(p) if more else ''}" for p in paths[:5])
    return shown + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")


class SkippedInput(NamedTuple):
    """An input that ``on_error="skip"`` left out of the embedding.

    Attributes
    ----------
    index : int
        Position of the input in ``X``.
    description : str
        The input, described for people (file name, item number).
    error : str
        Why it could not be embedded (exception type and message).
    """

    index: int
    description: str
    error: str


class BadImage(Exception):
    """An input that cannot be turned into an image (reported per input)."""


# --------------------------------------------------------------------------- sources


class ImageSource:
    """Indexable collection of images: ``len(source)``, ``source.load(i)``, ``describe(i)``."""

    def __len__(self):
        raise NotImplementedError

    def load(self, index, background=WHITE, max_image_pixels="auto"):
        """Return input ``index`` as an RGB :class:`PIL.Image.Image` (see :func:`to_pil`)."""
        raise NotImplementedError

    def describe(self, index):
        """Name input ``index`` for messages."""
        return f"input {index}"


class SequenceSource(ImageSource):
    """A list of paths, PIL images, uint8 arrays and/or image tensors."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def load(self, index, background=WHITE, max_image_pixels="auto"):
        return to_pil(self.items[index], background, max_image_pixels)

    def describe(self, index):
        item = self.items[index]
        if isinstance(item, (str, os.PathLike)):
            return f"input {index} (file {os.fspath(item)!r})"
        return f"input {index} ({_kind(item)})"


class ArraySource(ImageSource):
    """A 4-D uint8 array ``(n_images, height, width, channels)``."""

    def __init__(self, array):
        self.array = array

    def __len__(self):
        return self.array.shape[0]

    def load(self, index, background=WHITE, max_image_pixels="auto"):
        return _array_to_pil(self.array[index], background)

    def describe(self, index):
        return f"input {index} (row {index} of the image array)"


class CollectionSource(ImageSource):
    """A :class:`dks.sources.Collection`: a manifest, WebDataset shards, a Hugging Face dataset.

    Its images are named in the store by the collection's identities (a manifest's file
    paths, ``<shard>#<key>``, ``<dataset>/<split>#<row>``), not by their content.
    """

    def __init__(self, collection):
        self.collection = collection

    def __len__(self):
        return len(self.collection)

    def load(self, index, background=WHITE, max_image_pixels="auto"):
        return load_image(
            self.collection.open(index),
            background=background,
            max_image_pixels=max_image_pixels,
        )

    def describe(self, index):
        return f"input {index} ({self.collection.describe(index)})"


class _DatasetSource(ImageSource):
    """A map-style torch Dataset whose items are images or ``(image, target, ...)`` tuples."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def load(self, index, background=WHITE, max_image_pixels="auto"):
        item = self.dataset[index]
        if isinstance(item, (tuple, list)):
            if not item:
                raise BadImage("the dataset item is an empty tuple")
            item = item[0]
        if isinstance(item, (np.ndarray, torch.Tensor)):
            _check_image_array(item)
        elif not isinstance(item, (str, os.PathLike, Image.Image)):
            raise BadImage(f"the dataset item is a {type(item).__name__}, not an image")
        return to_pil(item, background, max_image_pixels)

    def describe(self, index):
        return f"input {index} (item {index} of the {type(self.dataset).__name__})"


def as_source(X):
    """Turn an input collection into an :class:`ImageSource`, checking what can be checked.

    Parameters
    ----------
    X : folder path, collection, sequence, 4-D uint8 array or torch Dataset
        See :class:`~dks.embed.CNNEmbedder`.

    Returns
    -------
    source : ImageSource

    Raises
    ------
    TypeError, ValueError
        On empty input, unsupported input types, wrong dtypes or shapes of in-memory images.
    """
    if isinstance(X, Collection):
        if not len(X):
            raise ValueError(f"X is an empty collection ({X!r}): there are no images to embed.")
        return CollectionSource(X)
    if isinstance(X, (str, os.PathLike)):
        path = Path(X)
        kind = source_kind(path)
        if kind not in (None, "folder"):  # a manifest, shards, a Hugging Face dataset
            return CollectionSource(open_collection(path))
        if path.is_dir():
            paths, _, _ = image_folder(path)
            return SequenceSource(paths)
        if path.exists():
            raise TypeError(
                f"X is a single file path ({str(path)!r}); pass a list of images, e.g. [path], "
                "a folder in ImageFolder layout, a manifest (.csv, .tsv, .parquet), WebDataset "
                "shards (.tar) or a Hugging Face dataset folder."
            )
        raise FileNotFoundError(f"X is a path that does not exist: {str(path)!r}.")
    if isinstance(X, Dataset):
        if not hasattr(X, "__len__"):
            raise TypeError(
                f"X is a {type(X).__name__} without a length (an IterableDataset?); "
                "CNNEmbedder needs a map-style Dataset with __len__ and __getitem__."
            )
        if len(X) == 0:
            raise ValueError("X is an empty Dataset: there are no images to embed.")
        return _DatasetSource(X)
    if isinstance(X, Image.Image):
        raise TypeError("X is a single PIL image; pass a list of images, e.g. [image].")
    if isinstance(X, torch.Tensor):
        raise TypeError(
            "X is a torch.Tensor; pass a list of (C, H, W) image tensors or a Dataset."
        )
    if hasattr(X, "iloc") and hasattr(X, "columns"):
        raise TypeError(
            "X is a DataFrame; pass a list or Series of image paths, e.g. df['path'].tolist()."
        )
    if isinstance(X, np.ndarray) and X.ndim != 1:
        return ArraySource(_check_array_batch(X))
    try:
        items = list(X)
    except TypeError:
        raise TypeError(
            f"X must be a list of images, a folder, a 4-D uint8 array or a torch Dataset; "
            f"got a {type(X).__name__}."
        ) from None
    if not items:
        raise ValueError("X is empty: there are no images to embed.")
    for index, item in enumerate(items):
        if isinstance(item, (np.ndarray, torch.Tensor)):
            try:
                _check_image_array(item)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"Input {index} of X: {exc}") from None
        elif not isinstance(item, (str, os.PathLike, Image.Image)):
            raise TypeError(
                f"Input {index} of X is a {type(item).__name__}; each image must be a file "
                "path, a PIL image, a uint8 array (H, W) or (H, W, 3), or a (C, H, W) tensor."
            )
    return SequenceSource(items)


def _kind(item):
    if isinstance(item, Image.Image):
        return f"PIL image {item.width}x{item.height}"
    shape = "x".join(map(str, item.shape)) if hasattr(item, "shape") else "?"
    return f"{type(item).__name__} {shape}"


def _check_array_batch(X):
    if X.ndim != 4:
        hint = (
            " A 3-D array is ambiguous (one colour image or several grey ones): pass a list "
            "of images or a 4-D array (n_images, height, width, 3)."
            if X.ndim == 3
            else ""
        )
        raise ValueError(
            f"An image array X must be 4-D (n_images, height, width, channels); got shape "
            f"{X.shape}.{hint}"
        )
    if X.dtype != np.uint8:
        raise TypeError(
            f"An image array X must have dtype uint8 (pixel values 0-255); got {X.dtype}. "
            "Convert float images in [0, 1] with (X * 255).round().astype(np.uint8)."
        )
    if X.shape[0] == 0:
        raise ValueError("X is an empty image array: there are no images to embed.")
    if X.shape[3] not in _CHANNELS:
        raise ValueError(
            f"An image array X must have 1, 3 or 4 channels in its last axis; got shape {X.shape}."
        )
    return X


def _check_image_array(item):
    """Raise TypeError (dtype) or ValueError (shape, range) unless ``item`` is an image."""
    if isinstance(item, torch.Tensor):
        if item.ndim == 3 and item.shape[0] in _CHANNELS:
            pass
        elif item.ndim != 2:
            raise ValueError(
                f"an image tensor must be (C, H, W) with C in (1, 3, 4) or (H, W); got shape "
                f"{tuple(item.shape)}"
            )
        if item.dtype == torch.uint8:
            return
        if not item.is_floating_point():
            raise TypeError(
                f"an image tensor must have dtype uint8 or a float dtype in [0, 1]; got "
                f"{item.dtype}"
            )
        lo, hi = float(item.min()), float(item.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"a float image tensor must hold values in [0, 1]; got [{lo:.3g}, {hi:.3g}] "
                "(already normalized? CNNEmbedder normalizes the images itself)"
            )
        return
    if item.dtype != np.uint8:
        raise TypeError(
            f"an image array must have dtype uint8 (pixel values 0-255); got {item.dtype}. "
            "Convert float images in [0, 1] with (x * 255).round().astype(np.uint8)"
        )
    if not (item.ndim == 2 or (item.ndim == 3 and item.shape[2] in _CHANNELS)):
        raise ValueError(
            f"an image array must be (H, W) or (H, W, C) with C in (1, 3, 4); got shape "
            f"{item.shape}"
        )


def _array_to_pil(array, background=WHITE):
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return to_rgb(Image.fromarray(np.ascontiguousarray(array)), background=background)


def to_pil(item, background=WHITE, max_image_pixels="auto"):
    """Return an image input (path, PIL image, uint8 array, tensor) as an RGB PIL image.

    Files and PIL images go through :func:`dks.datasets._imageio.load_image` (EXIF
    orientation, transparency composited over ``background``, 16-bit and CMYK images
    converted, files of more than ``max_image_pixels`` pixels refused); a 4-channel array or
    tensor is RGBA, composited likewise.
    """
    if isinstance(item, (str, os.PathLike, Image.Image)):
        return load_image(item, background=background, max_image_pixels=max_image_pixels)
    if isinstance(item, torch.Tensor):
        tensor = item.detach().cpu()
        if tensor.ndim == 2:
            tensor = tensor.unsqueeze(0)
        if tensor.is_floating_point():
            tensor = tensor.float().mul(255).round().to(torch.uint8)
        return _array_to_pil(tensor.permute(1, 2, 0).numpy(), background)
    return _array_to_pil(item, background)
