"""Image thumbnails: the images on which a feature is highest."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import numpy as np

from dks._optional import import_optional
from dks.plotting._mpl import setup_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def image_reader():
    """The embedder's decoder, :class:`dks.sources.ImageReader`, which needs pillow."""
    import_optional("PIL.Image", "Showing images", needs="pillow", pip="pillow")
    from dks.sources import ImageReader

    return ImageReader


def load_thumbnail(item, size, reader):
    """An RGB (or 2-D gray) array for one image given as a path or an array.

    As the network sees it (``reader``, the embedder's :class:`~dks.sources.ImageReader`):
    EXIF orientation applied, transparent pixels composited over its background, for files
    and 4-channel arrays alike; files over its pixel limit refused.
    """
    if isinstance(item, (str, os.PathLike)):
        img = reader.read(item)
        img.thumbnail((size, size))
        return np.asarray(img)
    arr = np.asarray(item)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # channels first (torch) -> last
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ValueError(f"An image array must be HxW, HxWx3 or HxWx4; got shape {arr.shape}.")
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
        if arr.ndim == 3 and arr.shape[-1] == 4:  # RGBA: composited as the embedder does
            return np.asarray(reader.read(arr))
        return arr
    arr = arr.astype(float)
    finite = arr[np.isfinite(arr)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):  # rescale to [0, 1]
        span = finite.max() - finite.min()
        arr = (arr - finite.min()) / (span if span > 0 else 1.0)
    arr = np.clip(np.nan_to_num(arr), 0.0, 1.0)
    if arr.ndim == 3 and arr.shape[-1] == 4:  # RGBA in [0, 1]: over the background
        alpha = arr[..., 3:]
        behind = np.asarray(reader.background, dtype=float) / 255.0
        arr = arr[..., :3] * alpha + behind * (1 - alpha)
    return arr


def plot_top_images(
    images,
    values,
    k=9,
    *,
    labels=None,
    feature=None,
    ncols=None,
    thumb_size=128,
    background="white",
    max_image_pixels="auto",
    fig=None,
) -> Figure:
    """Thumbnails of the ``k`` images on which a feature is highest, highest first.

    Parameters
    ----------
    images : sequence of paths or arrays, or ndarray of shape (n_images, H, W[, C])
        The images, in the order of ``values``; only the ``k`` shown are loaded.
    values : array-like of shape (n_images,)
        The feature's activation on each image.
    k : int, default=9
        Number of images shown (fewer if there are fewer images).
    labels : array-like of shape (n_images,), optional
        Class of each image, printed under its thumbnail.
    feature : str or int, optional
        Feature name for the title.
    ncols : int, optional
        Thumbnails per row; default ``ceil(sqrt(k))``.
    thumb_size : int, default=128
        Images read from paths are downscaled to fit this many pixels.
    background : str or (int, int, int), default="white"
        Colour behind transparent pixels (image files with transparency, 4-channel
        arrays), as :class:`~dks.embed.CNNEmbedder`'s ``background``: give the embedder's
        to show the images as the network saw them.
    max_image_pixels : "auto", int or None, default="auto"
        Image files with more pixels are refused, as :class:`~dks.embed.CNNEmbedder`'s
        ``max_image_pixels`` (a guard against decompression bombs); None: no limit.
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    values = np.asarray(values, dtype=float).ravel()
    if len(images) != values.size:
        raise ValueError(f"Got {len(images)} images but {values.size} values.")
    if labels is not None and len(labels) != values.size:
        raise ValueError(f"Got {len(labels)} labels for {values.size} images.")
    if int(k) < 1:
        raise ValueError(f"'k' must be >= 1; got {k!r} instead.")
    reader = image_reader().checked(background, max_image_pixels)
    finite = np.where(np.isfinite(values), values, -np.inf)
    top = np.argsort(-finite, kind="stable")[: int(k)]
    n = top.size
    ncols = int(ncols) if ncols else math.ceil(math.sqrt(n))
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = setup_axes(
        None, fig, n, figsize=(1.9 * ncols, 2.1 * nrows + 0.4), ncols=ncols, what="top images"
    )
    for rank, (axis, idx) in enumerate(zip(axes, top, strict=True), start=1):
        img = load_thumbnail(images[idx], thumb_size, reader)
        axis.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="antialiased")
        axis.set_xticks([])
        axis.set_yticks([])
        caption = f"#{rank}: {values[idx]:.3g}"
        if labels is not None:
            caption += f"\n{labels[idx]}"
        axis.set_xlabel(caption, fontsize="small")
    title = "Images where the feature is largest"
    fig.suptitle(f"{title}: {feature}" if feature is not None else title)
    return fig
