"""Images held in memory, as the same kind of value as a collection: adapters.

:class:`ImageList` (paths, PIL images, uint8 arrays, image tensors), :class:`ImageArray`
(a 4-D uint8 array) and :class:`TorchDataset` (a map-style torch ``Dataset``) give what a
:class:`~dks.sources.Collection` gives to the embedder: ``len``, ``open(index)`` (the raw
image, which :meth:`~dks.sources.ImageReader.read` decodes), ``describe(index)``,
``identities`` (what the store records for each row) and ``files``. Torch is never
imported here: a tensor or a dataset is recognised when torch is already imported.
"""

import hashlib
import os
import sys

import numpy as np

__all__ = ["BadImage", "ImageArray", "ImageList", "TorchDataset", "is_torch_dataset"]

_CHANNELS = (1, 3, 4)


class BadImage(Exception):
    """An input that cannot be turned into an image (reported per input)."""


def _torch():
    """The torch module when it is imported already, else None."""
    return sys.modules.get("torch")


def is_tensor(item):
    torch = _torch()
    return torch is not None and isinstance(item, torch.Tensor)


def is_torch_dataset(item):
    torch = _torch()
    if torch is None:
        return False
    from torch.utils.data import Dataset

    return isinstance(item, Dataset)


def is_pil_image(item):
    from PIL import Image

    return isinstance(item, Image.Image)


class _Inputs:
    """What every adapter gives (see the module docstring)."""

    kind = "memory"

    def __len__(self):
        raise NotImplementedError

    def open(self, index):
        raise NotImplementedError

    def describe(self, index):
        return f"input {index}"

    @property
    def identities(self):
        return [f"input {index} ({self.describe(index)})" for index in range(len(self))]

    @property
    def files(self):
        return [None] * len(self)


class ImageList(_Inputs):
    """A list of paths, PIL images, uint8 arrays and/or image tensors (checked)."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def open(self, index):
        return self.items[index]

    def describe(self, index):
        item = self.items[index]
        if isinstance(item, (str, os.PathLike)):
            return f"file {os.fspath(item)!r}"
        return _kind(item)

    @property
    def identities(self):
        return [identity(item) for item in self.items]

    @property
    def files(self):
        return [os.fspath(i) if isinstance(i, (str, os.PathLike)) else None for i in self.items]


class ImageArray(_Inputs):
    """A 4-D uint8 array ``(n_images, height, width, channels)``."""

    def __init__(self, array):
        self.array = array

    def __len__(self):
        return self.array.shape[0]

    def open(self, index):
        return self.array[index]

    def describe(self, index):
        return f"row {index} of the image array"

    @property
    def identities(self):
        return [identity(self.array[i]) for i in range(len(self))]


class TorchDataset(_Inputs):
    """A map-style torch Dataset whose items are images or ``(image, target, ...)`` tuples."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def open(self, index):
        item = self.dataset[index]
        if isinstance(item, (tuple, list)):
            if not item:
                raise BadImage("the dataset item is an empty tuple")
            item = item[0]
        if isinstance(item, np.ndarray) or is_tensor(item):
            check_image_array(item)
        elif not (isinstance(item, (str, os.PathLike)) or is_pil_image(item)):
            raise BadImage(f"the dataset item is a {type(item).__name__}, not an image")
        return item

    def describe(self, index):
        return f"item {index} of the {type(self.dataset).__name__}"


def identity(item):
    """A file's path, or a hash of an in-memory image's content."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    if is_pil_image(item):
        data, meta = item.tobytes(), f"{item.mode}{item.size}"
    else:
        if is_tensor(item):
            item = item.detach().cpu().numpy()
        array = np.ascontiguousarray(item)
        data, meta = array.tobytes(), f"{array.dtype}{array.shape}"
    return f"sha256:{hashlib.sha256(meta.encode() + data).hexdigest()}"


def _kind(item):
    if is_pil_image(item):
        return f"PIL image {item.width}x{item.height}"
    shape = "x".join(map(str, item.shape)) if hasattr(item, "shape") else "?"
    return f"{type(item).__name__} {shape}"


def check_array_batch(X):
    """``X``, a 4-D uint8 array of images, checked."""
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


def check_image_array(item):
    """Raise TypeError (dtype) or ValueError (shape, range) unless ``item`` is an image."""
    if is_tensor(item):
        if item.ndim == 3 and item.shape[0] in _CHANNELS:
            pass
        elif item.ndim != 2:
            raise ValueError(
                f"an image tensor must be (C, H, W) with C in (1, 3, 4) or (H, W); got shape "
                f"{tuple(item.shape)}"
            )
        if item.dtype == _torch().uint8:
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
