"""Image inputs of :class:`~dks.embed.CNNEmbedder`: sources, preprocessing and batching.

An input collection ``X`` becomes a :class:`ImageSource` (:func:`as_source`), which can load
its ``i``-th image as an RGB PIL image, as people see it (:mod:`dks._imageio`).
:class:`Preprocess` turns one image into its crops (resize, crop, normalize) and
:func:`make_loader` runs both in DataLoader workers (or :class:`Prefetcher` in a thread); a
batch holds the crops stacked channels-last, grouped by shape, plus the inputs that failed
(they are reported, not raised, so that the estimator decides whether to stop or skip).
"""

import contextlib
import math
import os
import queue
import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, get_worker_info
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from dks._imageio import WHITE, load_image, to_rgb

__all__ = [
    "IMG_EXTENSIONS",
    "ImageSource",
    "Prefetcher",
    "Preprocess",
    "as_source",
    "image_folder",
    "make_loader",
]

#: File extensions that :func:`image_folder` collects (those of torchvision's ImageFolder).
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

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
    paths, labels, empty = [], [], []
    for name in classes:
        found = _images_under(root / name, extensions)
        if not found:
            empty.append(name)
        paths.extend(found)
        labels.extend([name] * len(found))
    if not paths:
        raise ValueError(
            f"The image folder {str(root)!r} has {len(classes)} class folder(s) but no image "
            f"files (extensions {', '.join(extensions)})."
        )
    if empty:
        raise ValueError(
            f"{len(empty)} class folder(s) of {str(root)!r} hold no image files "
            f"(extensions {', '.join(extensions)}): {', '.join(map(repr, empty))}. "
            "Remove them or add images."
        )
    return paths, np.asarray(labels, dtype=str), classes


def _images_under(folder, extensions):
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(
            os.path.join(dirpath, f)
            for f in sorted(filenames)
            if not f.startswith(".") and f.lower().endswith(extensions)
        )
    return found


class BadImage(Exception):
    """An input that cannot be turned into an image (reported per input)."""


# --------------------------------------------------------------------------- sources


class ImageSource:
    """Indexable collection of images: ``len(source)``, ``source.load(i)``, ``describe(i)``."""

    def __len__(self):
        raise NotImplementedError

    def load(self, index, background=WHITE):
        """Return input ``index`` as an RGB :class:`PIL.Image.Image` (see :func:`to_pil`)."""
        raise NotImplementedError

    def describe(self, index):
        """Name input ``index`` for messages."""
        return f"input {index}"


class _SequenceSource(ImageSource):
    """A list of paths, PIL images, uint8 arrays and/or image tensors."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def load(self, index, background=WHITE):
        return to_pil(self.items[index], background)

    def describe(self, index):
        item = self.items[index]
        if isinstance(item, (str, os.PathLike)):
            return f"input {index} (file {os.fspath(item)!r})"
        return f"input {index} ({_kind(item)})"


class _ArraySource(ImageSource):
    """A 4-D uint8 array ``(n_images, height, width, channels)``."""

    def __init__(self, array):
        self.array = array

    def __len__(self):
        return self.array.shape[0]

    def load(self, index, background=WHITE):
        return _array_to_pil(self.array[index], background)

    def describe(self, index):
        return f"input {index} (row {index} of the image array)"


class _DatasetSource(ImageSource):
    """A map-style torch Dataset whose items are images or ``(image, target, ...)`` tuples."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def load(self, index, background=WHITE):
        item = self.dataset[index]
        if isinstance(item, (tuple, list)):
            if not item:
                raise BadImage("the dataset item is an empty tuple")
            item = item[0]
        if isinstance(item, (np.ndarray, torch.Tensor)):
            _check_image_array(item)
        elif not isinstance(item, (str, os.PathLike, Image.Image)):
            raise BadImage(f"the dataset item is a {type(item).__name__}, not an image")
        return to_pil(item, background)

    def describe(self, index):
        return f"input {index} (item {index} of the {type(self.dataset).__name__})"


def as_source(X):
    """Turn an input collection into an :class:`ImageSource`, checking what can be checked.

    Parameters
    ----------
    X : folder path, sequence, 4-D uint8 array or torch Dataset
        See :class:`~dks.embed.CNNEmbedder`.

    Returns
    -------
    source : ImageSource

    Raises
    ------
    TypeError, ValueError
        On empty input, unsupported input types, wrong dtypes or shapes of in-memory images.
    """
    if isinstance(X, (str, os.PathLike)):
        path = Path(X)
        if path.is_dir():
            paths, _, _ = image_folder(path)
            return _SequenceSource(paths)
        if path.exists():
            raise TypeError(
                f"X is a single file path ({str(path)!r}); pass a list of images, e.g. [path], "
                "or a folder in ImageFolder layout."
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
        return _ArraySource(_check_array_batch(X))
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
    return _SequenceSource(items)


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


def to_pil(item, background=WHITE):
    """Return an image input (path, PIL image, uint8 array, tensor) as an RGB PIL image.

    Files and PIL images go through :func:`dks._imageio.load_image` (EXIF orientation,
    transparency composited over ``background``, 16-bit and CMYK images converted); a
    4-channel array or tensor is RGBA, composited likewise.
    """
    if isinstance(item, (str, os.PathLike, Image.Image)):
        return load_image(item, background=background)
    if isinstance(item, torch.Tensor):
        tensor = item.detach().cpu()
        if tensor.ndim == 2:
            tensor = tensor.unsqueeze(0)
        if tensor.is_floating_point():
            tensor = tensor.float().mul(255).round().to(torch.uint8)
        return _array_to_pil(tensor.permute(1, 2, 0).numpy(), background)
    return _array_to_pil(item, background)


# --------------------------------------------------------------------------- preprocessing


class Preprocess:
    """Resize, crop and normalize one image, as torchvision does.

    Parameters
    ----------
    crops : {"ten", "center", "none"}
        ``"ten"``: the 4 corner crops and the centre crop of the image and of its horizontal
        mirror (:func:`torchvision.transforms.functional.ten_crop`); ``"center"``: the centre
        crop; ``"none"``: the whole (resized) image.
    resize : int, (int, int) or None
        Int: the shorter side is resized to it, keeping the aspect ratio; pair: exact
        ``(height, width)``; None: no resizing. Antialiased (PIL).
    crop_size : (int, int)
        ``(height, width)`` of the crops.
    mean, std : sequence of 3 floats
        Normalization of the RGB values in [0, 1].
    interpolation : {"bilinear", "bicubic", "nearest"}, default="bilinear"
        Of the resize (antialiased).

    Notes
    -----
    Calling the object returns a float32 tensor ``(n_crops, height, width, 3)``, channels
    last: stacked and permuted to ``(N, 3, H, W)``, the batch is ``channels_last`` without
    a copy.
    """

    def __init__(self, crops, resize, crop_size, mean, std, interpolation="bilinear"):
        self.crops = crops
        self.interpolation = InterpolationMode(interpolation)
        self.resize = resize
        self.crop_size = crop_size
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    @property
    def n_crops(self):
        """Crops per image."""
        return 10 if self.crops == "ten" else 1

    def __call__(self, image):
        """Return the normalized crops of a PIL image, ``(n_crops, h, w, 3)`` float32."""
        return torch.from_numpy(np.stack(self.views(image)))

    def views(self, image):
        """The normalized crops of a PIL image as numpy views, each ``(h, w, 3)`` float32.

        Views of the normalized (and, for the mirrored crops, flipped) image: the crops are
        copied once, into the batch (:func:`_collate`). Resizing works on the 8-bit image
        (PIL), normalizing on the resized one, before the ten crops multiply the pixels.
        Only PIL and numpy run here, no torch operation (see :class:`Prefetcher`).
        """
        if self.resize is not None:
            size = [self.resize] if isinstance(self.resize, int) else list(self.resize)
            image = TF.resize(image, size, interpolation=self.interpolation)
        x = np.asarray(image, dtype=np.uint8).astype(np.float32)
        x /= np.float32(255)  # the operations of torchvision's to_tensor and normalize,
        x -= self.mean  # in float32: the same values to the bit
        x /= self.std
        if self.crops == "none":
            return [x]
        height, width = x.shape[0], x.shape[1]
        ch, cw = self.crop_size
        if ch > height or cw > width:
            resized = "after resizing " if self.resize is not None else ""
            raise BadImage(
                f"the image is {width}x{height} (width x height) {resized}and smaller than "
                f"the {cw}x{ch} crop; use a larger resize, a smaller crop_size or "
                "crops='none'"
            )
        center = (round((height - ch) / 2.0), round((width - cw) / 2.0))
        if self.crops == "center":
            return [_crop(x, *center, ch, cw)]
        corners = [(0, 0), (0, width - cw), (height - ch, 0), (height - ch, width - cw), center]
        flipped = x[:, ::-1]
        return [_crop(x, t, s, ch, cw) for t, s in corners] + [
            _crop(flipped, t, s, ch, cw) for t, s in corners
        ]


def _crop(x, top, left, height, width):
    return x[top : top + height, left : left + width]


# --------------------------------------------------------------------------- batching


class _CropDataset(Dataset):
    """``dataset[i] -> (i, list of crop views or None, error message or None)``; never raises."""

    def __init__(self, source, preprocess, background=WHITE):
        self.source = source
        self.preprocess = preprocess
        self.background = background

    def __len__(self):
        return len(self.source)

    def __getitem__(self, index):
        try:
            image = self.source.load(index, self.background)
            return index, self.preprocess.views(image), None
        except Exception as exc:  # reported to the main process, which raises or skips
            return index, None, f"{type(exc).__name__}: {exc}"


def _collate(items):
    """Stack a batch's crops, grouped by shape: ``([(indices, NCHW batch)], errors)``.

    The crops are copied once, into a ``(n, h, w, 3)`` buffer, returned permuted to
    ``(n, 3, h, w)``: ``channels_last`` without another copy. In a worker process the buffer
    is allocated in shared memory, as :func:`torch.utils.data.default_collate` does, so
    that sending it to the main process copies nothing.
    """
    groups, errors = {}, []
    for index, crops, error in items:
        if error is not None:
            errors.append((index, error))
            continue
        indices, views = groups.setdefault(tuple(crops[0].shape), ([], []))
        indices.append(index)
        views.extend(crops)
    in_worker = get_worker_info() is not None
    stacked = []
    for shape, (indices, views) in groups.items():
        if in_worker:
            storage = torch.UntypedStorage._new_shared(len(views) * math.prod(shape) * 4)
            out = torch.empty(0, dtype=torch.float32).set_(storage).view(len(views), *shape)
            np.stack(views, out=out.numpy())
        else:
            out = torch.from_numpy(np.stack(views))
        stacked.append((indices, out.permute(0, 3, 1, 2)))
    return stacked, errors


def default_num_workers(n_images, batch_size, device_type="cpu"):
    """Workers for ``num_workers=None``.

    None for a single batch. On a GPU, up to 4 (one core is left to the main process). On
    the CPU, only the cores that torch's compute threads leave free, up to 4: a worker
    that competes with those threads for a core slows every parallel operation of the
    forward pass down by more than it gains. With no worker, :class:`Prefetcher` still
    decodes the next batch in a thread while the current one runs (``nox -s bench``
    measures both).
    """
    if n_images <= batch_size:
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    busy = 1 if device_type != "cpu" else torch.get_num_threads()
    return min(4, max(0, cores - busy))


def make_loader(source, preprocess, *, batch_size, num_workers, pin_memory, background=WHITE):
    """DataLoader over ``source`` that yields :func:`_collate` batches in input order."""
    return DataLoader(
        _CropDataset(source, preprocess, background),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_collate,
        pin_memory=pin_memory,
    )


class Prefetcher:
    """Iterate over ``iterable`` in a background thread, one item ahead of the consumer.

    With ``num_workers=0`` this overlaps decoding the next batch with the forward pass of
    the current one: PIL's decoding and resizing and numpy's arithmetic release the GIL, as
    torch does while it computes. The thread runs no torch operation (the crops are made
    and stacked with numpy), so it starts no second pool of torch threads. Exceptions of
    the iterable are raised by :meth:`__next__`; :meth:`close` stops the thread.
    """

    _DONE = object()

    def __init__(self, iterable):
        self._queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(iter(iterable),), name="dks-prefetch", daemon=True
        )
        self._thread.start()

    def _run(self, iterator):
        try:
            for item in iterator:
                if not self._put((item, None)):
                    return
        except BaseException as exc:  # handed to the consumer
            self._put((None, exc))
            return
        self._put((self._DONE, None))

    def _put(self, entry):
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        return self

    def __next__(self):
        item, exc = self._queue.get()
        if exc is not None:
            self.close()
            raise exc
        if item is self._DONE:
            self.close()
            raise StopIteration
        return item

    def close(self):
        """Stop the thread (it ends after the item it is making) and wait for it."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()
            self._thread.join(timeout=0.05)
