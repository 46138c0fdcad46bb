"""What a feature looks at: the image crops where it responds most (the paper's Figs. 2-4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dks.plotting._mpl import setup_axes
from dks.plotting._thumbnails import image_reader, load_thumbnail

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_feature_crops"]


def _image_and_caption(item):
    """An image (PIL, path or array) and its caption from a crop or a bare image."""
    image = getattr(item, "image", item)
    value = getattr(item, "value", None)
    caption = f"{value:.3g}" if isinstance(value, (int, float)) else ""
    return image, caption


def _thumbnail(image, size, reader):
    if hasattr(image, "thumbnail"):  # a PIL image: RGB as the embedder makes it (a copy)
        image = reader.read(image)
        image.thumbnail((size, size))
        return np.asarray(image)
    return load_thumbnail(image, size, reader)


def plot_feature_crops(
    crops,
    *,
    feature=None,
    lowest=None,
    class_images=None,
    class_name=None,
    ncols=None,
    thumb_size=128,
    background="white",
    max_image_pixels="auto",
    fig=None,
) -> Figure:
    """The image regions where a feature responds most, and optionally where it is absent.

    The top row is the paper's Fig. 2 for one feature: the images with the highest
    activation, each cropped to the receptive field of the position where the feature's map
    peaks (:func:`dks.embed.feature_crops`). For a feature characteristic of a class by its
    *absence* (the paper's Figs. 3 and 4), ``lowest`` adds the images where the feature is
    lowest and ``class_images`` some images of the class itself.

    Parameters
    ----------
    crops : sequence of FeatureCrop, PIL images, paths or arrays
        Highest first; a :class:`~dks.embed.FeatureCrop` is captioned with its value.
    feature : str, optional
        The feature's name, for the title.
    lowest : sequence, optional
        The same for the images where the feature is lowest (a second row).
    class_images : sequence of paths or arrays, optional
        Images of the class (a last row).
    class_name : str, optional
        The class, named in the rows' labels.
    ncols : int, optional
        Images per row; default the longest row.
    thumb_size : int, default=128
        Pixels of the longest side of each thumbnail.
    background : str or (int, int, int), default="white"
        Colour behind the transparent pixels of the images given as files, PIL images or
        4-channel arrays, as :class:`~dks.embed.CNNEmbedder`'s ``background``;
        the crops of :func:`~dks.embed.feature_crops` are already over the embedder's.
    max_image_pixels : "auto", int or None, default="auto"
        Image files with more pixels are refused, as :class:`~dks.embed.CNNEmbedder`'s
        ``max_image_pixels`` (a guard against decompression bombs); None: no limit.
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    rows = [("highest activation", list(crops))]
    if lowest is not None:
        rows.append(("lowest activation", list(lowest)))
    if class_images is not None:
        what = f"class {class_name}" if class_name is not None else "the class"
        rows.append((f"images of {what}", list(class_images)))
    rows = [(label, items) for label, items in rows if items]
    if not rows:
        raise ValueError("'crops' is empty: there is nothing to show.")
    reader = image_reader().checked(background, max_image_pixels)
    ncols = int(ncols) if ncols else max(len(items) for _, items in rows)
    nrows = sum(-(-len(items) // ncols) for _, items in rows)
    fig, axes = setup_axes(
        None,
        fig,
        nrows * ncols,
        figsize=(1.6 * ncols + 0.6, 1.75 * nrows + 0.5),
        ncols=ncols,
        what="feature crops",
    )
    at = 0
    for label, items in rows:
        n_rows = -(-len(items) // ncols)
        for i in range(n_rows * ncols):
            axis = axes[at + i]
            axis.set_xticks([])
            axis.set_yticks([])
            if i >= len(items):
                axis.set_axis_off()
                continue
            image, caption = _image_and_caption(items[i])
            image = _thumbnail(image, thumb_size, reader)
            axis.imshow(image, cmap="gray" if image.ndim == 2 else None)
            axis.set_xlabel(caption, fontsize="x-small")
            if i == 0:
                axis.set_ylabel(label, fontsize="small")
        at += n_rows * ncols
    title = "What the feature looks at"
    fig.suptitle(f"{title}: {feature}" if feature is not None else title)
    return fig
