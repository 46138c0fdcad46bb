"""Batches of crops for :class:`~dks.embed.CNNEmbedder`: preprocessing and loading.

:class:`Preprocess` turns one image into its crops (resize, crop, normalize) and
:func:`make_loader` runs loading and preprocessing in DataLoader workers (or
:class:`Prefetcher` in a thread); a batch holds the crops stacked channels-last, grouped by
shape, plus the inputs that failed (they are reported, not raised, so that the estimator
decides whether to stop or skip).

The workers' temporary folders: a worker that sends tensors to the main process makes a
``pymp-*`` folder for its sockets (:func:`multiprocessing.util.get_temp_dir`), removed when it
exits normally, but left behind when it is killed with its process group (``kill -9`` of a job,
the OOM killer). So the workers make theirs inside ``<tmp>/.dks-mp.<pid>.<host>.<random>.dks-tmp``
(:class:`WorkerTempdir`), named by :func:`dks._atomic.temporary_name` after the main process,
removed by :func:`shutdown` once they have stopped and, when that process was killed, by the
next loader on the machine (:func:`dks._atomic.remove_stale`), as the engine's spill folders.
"""

import contextlib
import functools
import math
import os
import queue
import shutil
import tempfile
import threading
import weakref

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, get_worker_info

from dks._atomic import remove_stale, temporary_name
from dks._config import carry_context
from dks._options import command_line, on_command_line, option
from dks.embed._device_crops import DeviceFeeder, ResizedImages, collate_resized
from dks.sources import BadImage, ImageReader

__all__ = [
    "Prefetcher",
    "Preprocess",
    "WorkerTempdir",
    "default_num_workers",
    "make_loader",
    "shutdown",
]


# --------------------------------------------------------------------------- preprocessing

#: PIL's filter for each ``interpolation``, as torchvision maps them: on PIL images, its
#: resize is PIL's (antialiased). Not imported from torchvision, whose import takes seconds
#: and a few hundred MB (it loads torch._dynamo) and which EfficientNet-Lite0 does not need.
_PIL_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


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
        self.interpolation = interpolation
        self.filter = _PIL_FILTERS[interpolation]
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

        Views of the normalized image (and of its mirror, for the mirrored crops): the crops
        are copied once, into the batch (:func:`_collate`). Resizing works on the 8-bit image
        (PIL), normalizing on the resized one, before the ten crops multiply the pixels.
        Only PIL and numpy run here, no torch operation (see :class:`Prefetcher`).
        """
        image = self.resized(image)
        pixels = np.asarray(image, dtype=np.uint8)
        if self.crops == "ten":
            # The mirror is made on the 8-bit image (PIL, a fast copy) and normalized with
            # it: every crop is then a view with positive strides, copied in long runs into
            # the batch (a crop of a reversed view is copied pixel by pixel, much slower).
            mirror = np.asarray(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), np.uint8)
            pixels = np.stack([pixels, mirror])
        x = self.normalized(pixels)
        if self.crops == "none":
            return [x]
        height, width = x.shape[-3], x.shape[-2]
        center = self.check_size(height, width)
        ch, cw = self.crop_size
        if self.crops == "center":
            return [_crop(x, *center, ch, cw)]
        corners = [(0, 0), (0, width - cw), (height - ch, 0), (height - ch, width - cw), center]
        return [_crop(plane, t, s, ch, cw) for plane in x for t, s in corners]

    def pixels(self, image):
        """The resized image as uint8 ``(h, w, 3)``, checked against the crop size.

        What :mod:`dks.embed._device_crops` sends to the device, where :meth:`views`'s
        crops are made.
        """
        pixels = np.asarray(self.resized(image), dtype=np.uint8)
        if self.crops != "none":
            self.check_size(pixels.shape[0], pixels.shape[1])
        return pixels

    def check_size(self, height, width):
        """``(top, left)`` of the centre crop; :class:`BadImage` if the image is smaller."""
        center = self.center(height, width)
        if center is None:
            ch, cw = self.crop_size
            resized = "after resizing " if self.resize is not None else ""
            raise BadImage(
                f"the image is {width}x{height} (width x height) {resized}and smaller than "
                f"the {cw}x{ch} crop; use a larger {option('resize')}, a smaller "
                f"{option('crop_size')} or {option('crops', 'none')}"
            )
        return center

    def resized(self, image):
        """The PIL image resized as for the crops (``image`` itself without ``resize``).

        The size rule of :func:`torchvision.transforms.functional.resize` (the tests compare
        the two to the bit): an int sets the shorter side, the longer one is
        ``int(size * long / short)``; an image already of that size is returned as it is.
        """
        if self.resize is None:
            return image
        width, height = image.size
        size = [self.resize] if isinstance(self.resize, int) else list(self.resize)
        if len(size) == 1:
            short, long = (width, height) if width <= height else (height, width)
            new_short, new_long = size[0], int(size[0] * long / short)
            new_width, new_height = (
                (new_short, new_long) if width <= height else (new_long, new_short)
            )
        else:
            new_height, new_width = size
        if (new_height, new_width) == (height, width):
            return image
        return image.resize((new_width, new_height), self.filter)

    def normalized(self, pixels):
        """uint8 RGB pixels ``(..., h, w, 3)`` as normalized float32 values, same shape."""
        # The operations of torchvision's to_tensor and normalize, in float32: the same
        # values to the bit. Each row is seen as one run of width * 3 values, with the
        # mean and std repeated along it, so that numpy loops over long runs, not over 3.
        x = np.divide(pixels, np.float32(255), dtype=np.float32)
        rows = x.reshape(*x.shape[:-2], -1)
        width = x.shape[-2]
        rows -= np.tile(self.mean, width)
        rows /= np.tile(self.std, width)
        return x

    def center(self, height, width):
        """``(top, left)`` of the centre crop of a ``height x width`` image; None if smaller."""
        ch, cw = self.crop_size
        if ch > height or cw > width:
            return None
        return round((height - ch) / 2.0), round((width - cw) / 2.0)

    def center_view(self, image):
        """The centre crop as the network sees it, and where it lies in the resized image.

        What :func:`dks.embed.feature_crops` runs the network on: the centre crop of
        :meth:`views` (the whole resized image with ``crops="none"``, or when the image is
        smaller than the crop).

        Returns
        -------
        x : ndarray of shape (h, w, 3), float32
            The normalized view.
        offset : (int, int)
            ``(top, left)`` of the view in the resized image.
        resized : (int, int)
            ``(height, width)`` of the resized image.
        """
        image = self.resized(image)
        x = self.normalized(np.asarray(image, dtype=np.uint8))
        height, width = x.shape[0], x.shape[1]
        center = None if self.crops == "none" else self.center(height, width)
        if center is None:
            return x, (0, 0), (height, width)
        return _crop(x, *center, *self.crop_size), center, (height, width)


def _crop(x, top, left, height, width):
    return x[top : top + height, left : left + width]


# --------------------------------------------------------------------------- batching


class _CropDataset(Dataset):
    """``dataset[i] -> (i, list of crop views or None, error message or None)``; never raises.

    The messages are made here, in a worker process or the prefetch thread: they spell
    options as the caller's interface does (:func:`dks._options.option`), which is recorded
    when the dataset is made, since neither a thread nor a spawned process inherits it.
    """

    def __init__(self, source, preprocess, reader=None):
        self.source = source
        self.preprocess = preprocess
        self.reader = ImageReader() if reader is None else reader
        self.on_command_line = on_command_line()

    def __len__(self):
        return len(self.source)

    def __getitem__(self, index):
        with command_line() if self.on_command_line else contextlib.nullcontext():
            try:
                image = self.reader.load(self.source, index)
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


def default_num_workers(n_images, batch_size, device_type="cpu", processes=1):
    """Workers for ``num_workers=None``.

    None for a single batch. On a GPU, the cores of this process's share of the machine
    (``cores // processes``, ``processes`` being how many embedders share it: one per
    device under ``shard``) but one, which is left to the main process, and at least one:
    a GPU consumes images far faster than one core decodes them. On the CPU, only the
    cores that torch's compute threads leave free, up to 4: a worker that competes with
    those threads for a core slows every parallel operation of the forward pass down by
    more than it gains. With no worker, :class:`Prefetcher` still decodes the next batch
    in a thread while the current one runs (``nox -s bench`` measures both).
    """
    if n_images <= batch_size:
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    if device_type == "cuda":
        return max(1, cores // max(1, processes) - 1)
    busy = 1 if device_type != "cpu" else torch.get_num_threads()
    return min(4, max(0, cores - busy))


#: Characters a worker's socket adds to its temporary folder's path
#: (``/pymp-XXXXXXXX/listener-XXXXXXXX``), and the most a Unix socket's path may hold.
_SOCKET_SUFFIX, _SOCKET_PATH_MAX = 32, 107


class WorkerTempdir:
    """The temporary folder of one loader's workers, and their ``worker_init_fn``.

    Made at ``<tmp>/.dks-mp.<pid>.<host>.<random>.dks-tmp`` (``<tmp>``:
    :func:`tempfile.gettempdir`, i.e. ``TMPDIR``) once the folders of killed runs are
    removed. Called in a worker, it points the worker's :mod:`tempfile` at the folder, so that
    :mod:`multiprocessing` makes the worker's ``pymp-*`` folder there. :meth:`remove` (also
    run when the object is collected, or at exit) deletes the folder.

    Parameters
    ----------
    path : str
        The folder, made by :meth:`make`.
    """

    def __init__(self, path):
        self.path = path
        self._finalizer = weakref.finalize(self, shutil.rmtree, path, True)

    @classmethod
    def make(cls, num_workers):
        """A new folder for ``num_workers`` workers, once those of killed runs are removed;
        None without workers, or when the temp dir's path leaves no room for the sockets."""
        target = os.path.join(tempfile.gettempdir(), "dks-mp")
        remove_stale(target)
        if not num_workers:
            return None
        path = os.fspath(temporary_name(target))
        if len(path) + _SOCKET_SUFFIX > _SOCKET_PATH_MAX:
            return None  # multiprocessing's own folders, as without dks
        os.mkdir(path, mode=0o700)
        return cls(path)

    def __call__(self, worker_id):
        tempfile.tempdir = self.path

    def __getstate__(self):  # a worker of the spawn or forkserver method gets only the path
        return {"path": self.path}

    def remove(self):
        """Delete the folder (once the workers have stopped)."""
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()


def make_loader(
    source,
    preprocess,
    *,
    batch_size,
    num_workers,
    pin_memory,
    reader=None,
    resized=False,
):
    """DataLoader over ``source`` that yields its batches in input order.

    ``reader`` (a :class:`~dks.sources.ImageReader`; None: the default one) decodes the
    images.

    The batches are :func:`_collate`'s crops, or with ``resized=True`` the resized uint8
    images of :func:`dks.embed._device_crops.collate_resized`, whose crops the device makes.
    The workers (``num_workers > 0``) keep their temporary folders in a
    :class:`WorkerTempdir`, the loader's ``worker_init_fn``; :func:`shutdown` removes it.
    """
    init = WorkerTempdir.make(num_workers)
    if not resized:
        return DataLoader(
            _CropDataset(source, preprocess, reader),
            batch_size=batch_size,
            shuffle=False,
            num_workers=num_workers,
            collate_fn=_collate,
            pin_memory=pin_memory,
            worker_init_fn=init,
        )
    return DataLoader(
        ResizedImages(source, preprocess, reader),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_resized,
        pin_memory=pin_memory,
        persistent_workers=False,
        prefetch_factor=4 if num_workers else None,
        worker_init_fn=init,
    )


class Prefetcher:
    """Iterate over ``iterable`` in a background thread, one item ahead of the consumer.

    With ``num_workers=0`` this overlaps decoding the next batch with the forward pass of
    the current one: PIL's decoding and resizing and numpy's arithmetic release the GIL, as
    torch does while it computes. The thread runs no torch operation (the crops are made
    and stacked with numpy), so it starts no second pool of torch threads. Exceptions of
    the iterable are raised by :meth:`__next__`; :meth:`close` stops the thread.

    The thread starts an item only when the consumer has taken the one before: at most one
    item is made and not yet taken, so two batches live at once (the consumer's and the
    next), not three (a batch of EfficientNet-Lite0 is 48 MB: 8 images of ten crops).
    """

    _DONE = object()

    def __init__(self, iterable):
        self._queue = queue.Queue(maxsize=1)
        self._slot = threading.Semaphore(1)  # released when the consumer takes an item
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=carry_context(self._run),
            args=(iter(iterable),),
            name="dks-prefetch",
            daemon=True,
        )
        self._thread.start()

    def _run(self, iterator):
        try:
            while self._wait(self._slot.acquire):
                item = next(iterator, self._DONE)
                if not self._wait(functools.partial(self._put, (item, None))):
                    return
                if item is self._DONE:
                    return
        except BaseException as exc:  # handed to the consumer
            self._wait(functools.partial(self._put, (None, exc)))

    def _put(self, entry, timeout):
        try:
            self._queue.put(entry, timeout=timeout)
        except queue.Full:
            return False
        return True

    def _wait(self, attempt):
        """Retry ``attempt(timeout=...)`` until it succeeds (True) or :meth:`close` (False)."""
        while not self._stop.is_set():
            if attempt(timeout=0.1):
                return True
        return False

    def __iter__(self):
        return self

    def __next__(self):
        item, exc = self._queue.get()
        self._slot.release()  # the thread may start the next item
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


def shutdown(iterator):
    """Stop a DataLoader iterator's workers now (not when garbage collected), then remove
    their :class:`WorkerTempdir`."""
    if isinstance(iterator, (Prefetcher, DeviceFeeder)):
        iterator.close()
        return
    stop = getattr(iterator, "_shutdown_workers", None)
    if stop is not None:
        stop()
    init = getattr(iterator, "_worker_init_fn", None)
    if isinstance(init, WorkerTempdir):
        init.remove()
