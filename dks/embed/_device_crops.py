"""Crops made on the device: one resized 8-bit image per input crosses to it.

On the CPU path (:mod:`dks.embed._batching`) the workers cut each image into its crops and
normalize them: for VGG19's ten crops that is ``10 x 3 x 224 x 224`` float32 values, 6.0 MB
per image, which on a GPU would all cross the PCIe bus. Here the workers only decode and
resize (:class:`ResizedImages`); the batch holds the resized uint8 images, grouped by size
(:func:`collate_resized`), about 0.26 MB per image for a 500 x 375 photo resized to
341 x 256. :class:`DeviceFeeder` copies them from pinned memory on a side CUDA stream, one
batch ahead of the forward pass, and :class:`DeviceCrops` makes the crops there: the mirror,
the corner and centre crops, the conversion to float and the normalization, batched.

The crops are made with the same operations as :class:`~dks.embed._batching.Preprocess`
(a float32 division by 255, then a float32 subtraction of the mean and division by the
std, per value) and put in the same order (input by input; the image's crops, then the
mirror's; corners then centre), in the same ``channels_last`` layout: on the CPU the
batch is equal to the bit, so the embedding is too. On CUDA the division by a scalar may
be a multiplication by its reciprocal, which differs in the last bit at most.

Images of different sizes in one batch are grouped by size: each group is one tensor,
copied at once and cropped at once; the crops of all groups are then put back in input
order into one batch (one forward pass), as on the CPU path.
"""

import math

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from dks.sources import ImageReader

__all__ = ["DeviceCrops", "DeviceFeeder", "ResizedImages", "collate_resized"]


class ResizedImages(Dataset):
    """``dataset[i] -> (i, uint8 array (h, w, 3) or None, error message or None)``.

    The image, resized as :meth:`Preprocess.pixels` does (and checked against the crop
    size); never raises, as :class:`~dks.embed._batching` datasets do.

    Parameters
    ----------
    source : ImageSource
        The inputs (:func:`dks.sources.open_images`).
    preprocess : Preprocess
        Gives the resizing and the crop size that the image must reach.
    reader : ImageReader or None, default=None
        Decodes the images (None: the default :class:`~dks.sources.ImageReader`).
    """

    def __init__(self, source, preprocess, reader=None):
        self.source = source
        self.preprocess = preprocess
        self.reader = ImageReader() if reader is None else reader

    def __len__(self):
        return len(self.source)

    def __getitem__(self, index):
        try:
            image = self.reader.load(self.source, index)
            return index, self.preprocess.pixels(image), None
        except Exception as exc:  # reported to the main process, which raises or skips
            return index, None, f"{type(exc).__name__}: {exc}"


def collate_resized(items):
    """Group a batch's resized images by size: ``([(indices, (n, h, w, 3) uint8)], errors)``.

    Groups come in the order of their first image; in a worker process each group is
    allocated in shared memory, so that sending it to the main process copies nothing
    (the DataLoader then copies it once more, into pinned memory, when ``pin_memory``).
    """
    groups, errors = {}, []
    for index, pixels, error in items:
        if error is not None:
            errors.append((index, error))
            continue
        indices, arrays = groups.setdefault(pixels.shape, ([], []))
        indices.append(index)
        arrays.append(pixels)
    in_worker = get_worker_info() is not None
    stacked = []
    for shape, (indices, arrays) in groups.items():
        if in_worker:  # shared memory from the start, as torch's default_collate does
            storage = torch.UntypedStorage._new_shared(len(arrays) * math.prod(shape))
            out = torch.empty(0, dtype=torch.uint8).set_(storage).view(len(arrays), *shape)
            np.stack(arrays, out=out.numpy())
        else:
            out = torch.from_numpy(np.stack(arrays))
        stacked.append((indices, out))
    return stacked, errors


class DeviceCrops:
    """The crops of resized uint8 images, made where the images are.

    Parameters
    ----------
    preprocess : Preprocess
        Gives the crops (``"ten"``, ``"center"``, ``"none"``), the crop size, the mean and
        the std.
    device : torch.device
        Where the crops are made (that of the images passed in).

    Notes
    -----
    Calling the object on ``groups``, a list of ``(indices, (n, h, w, 3) uint8 tensor)``,
    returns the list of ``(indices, (n * n_crops, 3, ch, cw) float32 channels_last)`` that
    the CPU path gives for the same images: one group in input order for fixed-size crops,
    a group per image size for ``crops="none"``.
    """

    def __init__(self, preprocess, device):
        self.preprocess = preprocess
        self.device = torch.device(device)
        self.mean = torch.from_numpy(preprocess.mean).to(self.device)
        self.std = torch.from_numpy(preprocess.std).to(self.device)
        self.scale = torch.tensor(255.0, dtype=torch.float32, device=self.device)

    def normalized(self, pixels):
        """The uint8 ``(..., h, w, 3)`` as normalized float32, by the CPU path's operations."""
        x = pixels.to(torch.float32).div_(self.scale)
        return x.sub_(self.mean).div_(self.std)

    def crops(self, pixels):
        """The uint8 crops of ``(n, h, w, 3)`` images, ``(n, n_crops, ch, cw, 3)``."""
        mode = self.preprocess.crops
        if mode == "none":
            return pixels[:, None]
        height, width = pixels.shape[1], pixels.shape[2]
        top, left = self.preprocess.center(height, width)
        ch, cw = self.preprocess.crop_size
        if mode == "center":
            return pixels[:, None, top : top + ch, left : left + cw]
        corners = [(0, 0), (0, width - cw), (height - ch, 0), (height - ch, width - cw)]
        corners.append((top, left))
        planes = (pixels, pixels.flip(2))
        return torch.stack(
            [plane[:, t : t + ch, s : s + cw] for plane in planes for t, s in corners], dim=1
        )

    def __call__(self, groups):
        """Crop, convert and normalize a batch's groups (see Notes of the class)."""
        if self.preprocess.crops == "none":
            return [(indices, self._finish(self.crops(pixels))) for indices, pixels in groups]
        if len(groups) == 1:
            indices, pixels = groups[0]
            return [(list(indices), self._finish(self.crops(pixels)))]
        # Several sizes: the crops of each group go to the rows of its images in input
        # order, so that the batch is the one of the CPU path (one forward pass).
        order = sorted(i for indices, _ in groups for i in indices)
        row = {index: r for r, index in enumerate(order)}
        ch, cw = self.preprocess.crop_size
        k = self.preprocess.n_crops
        device = groups[0][1].device
        out = torch.empty((len(order), k, ch, cw, 3), dtype=torch.uint8, device=device)
        for indices, pixels in groups:
            rows = torch.as_tensor([row[i] for i in indices], device=device)
            out[rows] = self.crops(pixels)
        return [(order, self._finish(out))]

    def _finish(self, crops):
        """``(n, k, h, w, 3)`` uint8 -> ``(n * k, 3, h, w)`` normalized, channels_last."""
        n, k, h, w, c = crops.shape
        return self.normalized(crops.reshape(n * k, h, w, c)).permute(0, 3, 1, 2)


class DeviceFeeder:
    """Batches of crops on the device, from batches of resized images on the host.

    Iterates over ``batches`` (:func:`collate_resized` batches, pinned for CUDA), copies
    each to ``device`` and crops it there (:class:`DeviceCrops`). On CUDA the copy and the
    crops of the next batch are issued on a side stream before the current batch is
    handed out, so that they overlap the forward pass of the current one; the compute
    stream waits for them only when it takes the batch. Yields ``(groups, errors)`` as the
    CPU path's loader does.

    Parameters
    ----------
    batches : iterator
        The host batches: a DataLoader iterator or a :class:`~dks.embed._batching.Prefetcher`
        over :func:`dks.embed._batching.make_loader` with ``resized=True``.
    crops : DeviceCrops
        Makes the crops on ``device``.
    device : torch.device
        Where the batches go.

    Attributes
    ----------
    bytes_copied : int
        Bytes of the host tensors sent to the device so far (the images, not the crops).
    images_copied : int
        Images sent so far.
    """

    def __init__(self, batches, crops, device):
        self._batches = batches
        self._crops = crops
        self._device = torch.device(device)
        self._cuda = self._device.type == "cuda"
        self._stream = torch.cuda.Stream(self._device) if self._cuda else None
        self._next = None
        self._done = False
        if self._cuda:  # the side stream sees what was made before (the mean and std)
            self._stream.wait_stream(torch.cuda.current_stream(self._device))
        self.bytes_copied = 0
        self.images_copied = 0

    def __iter__(self):
        return self

    def _send(self):
        """Copy and crop the next host batch (on the side stream on CUDA); None at the end."""
        if self._done:
            return None
        try:
            groups, errors = next(self._batches)
        except StopIteration:
            self._done = True  # a finished Prefetcher must not be asked again
            return None
        for _, pixels in groups:
            self.bytes_copied += pixels.nbytes
            self.images_copied += pixels.shape[0]
        if not self._cuda:
            moved = [(i, p.to(self._device)) for i, p in groups]
            return self._crops(moved), errors
        with torch.cuda.stream(self._stream):
            moved = [(i, p.to(self._device, non_blocking=True)) for i, p in groups]
            return self._crops(moved), errors

    def __next__(self):
        current = self._send() if self._next is None else self._next
        if current is None:
            raise StopIteration
        if self._cuda:
            compute = torch.cuda.current_stream(self._device)
            compute.wait_stream(self._stream)
            for _, crops in current[0]:
                crops.record_stream(compute)  # not reused before the forward pass is done
            self._next = self._send()  # the next batch's copy overlaps this forward pass
        else:
            self._next = None
        return current

    def close(self):
        """Stop the host batches' workers or thread."""
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()
            return
        shutdown = getattr(self._batches, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
        tempdir = getattr(self._batches, "_worker_init_fn", None)  # a WorkerTempdir
        if hasattr(tempdir, "remove"):
            tempdir.remove()
