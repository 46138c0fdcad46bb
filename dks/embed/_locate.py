"""What a feature looks at: the image regions where a filter responds most (the paper's Fig. 2).

The embedding averages every feature map over space, so it cannot say *where* a filter
fired. :func:`feature_crops` answers that with a second pass over a few images only: the
``k`` images with the highest (or lowest) value of the feature in the embedding go through
the network again as it sees them, through the embedder's own preprocessing (loaded over its
``background``, resized, the centre crop, normalized: ``Preprocess.center_view`` in
:mod:`dks.embed._batching`, the code that makes the embedding's crops), the feature's map is
read from its layer, and the image is cropped to the receptive field
(:func:`~dks.embed.receptive_field`) of the position where the map is largest, mapped back to
the pixels of the original image. Features of fully connected layers, and vision-transformer
tokens (which have no map), see the whole image, which is returned uncropped.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from dks.embed._receptive_field import receptive_field
from dks.sources import open_images

__all__ = ["FeatureCrop", "feature_crops", "top_images"]


class FeatureCrop(NamedTuple):
    """One image region where a feature responds.

    Attributes
    ----------
    index : int
        Position of the image in the images given.
    image : PIL.Image.Image
        The crop, in the pixels of the original image.
    box : tuple of int
        ``(top, left, bottom, right)`` of the crop in the original image.
    value : float
        The feature's value for that image (from ``activations`` when given, else the
        spatial mean recomputed on the whole resized image).
    peak : float
        The largest value of the feature map (the response at the crop's centre).
    """

    index: int
    image: object
    box: tuple
    value: float
    peak: float


class _Stop(Exception):
    pass


def top_images(activations, k, *, lowest=False):
    """Positions of the ``k`` images that :func:`feature_crops` crops, best first.

    The highest values of ``activations`` (the lowest with ``lowest=True``), ties in the
    order of the images, NaN last.
    """
    activations = np.asarray(activations, dtype=np.float64).ravel()
    order = np.argsort(activations if lowest else -activations, kind="stable")
    return order[: min(int(k), activations.size)]


def _feature_position(embedder, feature):
    """``(layer name, module path, channel)`` of a feature name or column index."""
    names = embedder.get_feature_names_out()
    if isinstance(feature, (int, np.integer)):
        if not 0 <= feature < names.size:
            raise ValueError(f"feature must be in 0..{names.size - 1}; got {feature}.")
        column = int(feature)
    else:
        matches = np.flatnonzero(names == feature)
        if matches.size == 0:
            raise ValueError(
                f"Unknown feature {feature!r}; the embedder's features are named "
                f"'<layer>_<index>', e.g. {names[0]!r} ... {names[-1]!r}."
            )
        column = int(matches[0])
    for (name, path), (_, span) in zip(
        embedder.layer_modules_, embedder.layer_slices_.items(), strict=True
    ):
        if span.start <= column < span.stop:
            return name, path, column - span.start
    raise AssertionError("layer_slices_ do not cover every feature")  # pragma: no cover


def feature_crops(embedder, images, feature, *, activations=None, k=9, lowest=False):
    """Crop the images where a feature responds most to the feature's receptive field.

    Parameters
    ----------
    embedder : CNNEmbedder
        A fitted embedder: its network, layers and preprocessing are used.
    images : images
        As for :meth:`CNNEmbedder.transform` (paths, a folder listing, arrays...).
    feature : str or int
        A feature name (``"conv5_4_17"``) or its column in the embedding.
    activations : array-like of shape (n_images,), optional
        The feature's column of the embedding of ``images``: the images are ranked by it,
        and only the ``k`` chosen ones go through the network again. Without it every image
        is passed once to rank them.
    k : int, default=9
        Number of images (the paper shows 9).
    lowest : bool, default=False
        Rank by the lowest values instead (where the feature is absent); the crop is still
        where the map is largest in each of those images.

    Returns
    -------
    list of FeatureCrop
        Best first.
    """
    check_is_fitted(embedder, "layer_slices_")
    source = open_images(images)
    n = len(source)
    if not (isinstance(k, (int, np.integer)) and k >= 1):
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    _, path, channel = _feature_position(embedder, feature)
    candidates = range(n)
    if activations is not None:
        activations = np.asarray(activations, dtype=np.float64).ravel()
        if activations.shape != (n,):
            raise ValueError(
                f"activations must have one value per image ({n}); got shape {activations.shape}."
            )
        candidates = top_images(activations, k, lowest=lowest).tolist()
    module = embedder.model_
    target = dict(module.named_modules())[path]
    fields = {}
    found = []
    training = module.training
    module.eval()
    try:
        for index in candidates:
            original = embedder.image_reader_.load(source, index)
            view, offset, resized = embedder.preprocess_.center_view(original)
            fmap = _feature_map(embedder, module, target, view, channel)
            found.append(_crop(index, original, view, offset, resized, fmap, path, module, fields))
    finally:
        module.train(training)
    if activations is not None:
        found = [c._replace(value=float(activations[c.index])) for c in found]
    else:
        found.sort(key=lambda c: c.value, reverse=not lowest)
    return found[:k]


def _feature_map(embedder, module, target, view, channel):
    """The feature's map on ``view`` (``(h, w, 3)`` normalized float32, channels last)."""
    x = torch.from_numpy(np.ascontiguousarray(view)).permute(2, 0, 1)[None]
    x = x.to(embedder.device_).contiguous(memory_format=torch.channels_last)
    out = {}

    def hook(mod, args, output):
        if output.ndim == 3:  # tokens (N, T, C): no spatial map to locate; the whole image
            tokens = output[0].detach().float()
            out["map"] = tokens[:, channel % tokens.shape[1]].mean().cpu()
        else:
            out["map"] = output[0, channel].detach().float().cpu().clone()
        raise _Stop

    handle = target.register_forward_hook(hook)
    try:
        with torch.inference_mode():
            module(x)
    except _Stop:
        pass
    finally:
        handle.remove()
    return out["map"]


def _crop(index, original, view, offset, resized, fmap, path, module, fields):
    width, height = original.size
    if fmap.ndim == 0:  # a fully connected feature (or tokens): it sees everything
        value = float(fmap)
        return FeatureCrop(index, original.copy(), (0, 0, height, width), value, value)
    flat = int(torch.argmax(fmap))
    row, col = divmod(flat, fmap.shape[1])
    size = view.shape[:2]
    if size not in fields:
        fields[size] = receptive_field(module, path, input_size=size)
    top, left, bottom, right = fields[size].box(row, col)
    top, bottom = top + offset[0], bottom + offset[0]  # in the resized image
    left, right = left + offset[1], right + offset[1]
    sy, sx = height / resized[0], width / resized[1]
    box = (
        int(np.floor(top * sy)),
        int(np.floor(left * sx)),
        int(np.ceil(bottom * sy)),
        int(np.ceil(right * sx)),
    )
    image = original.crop((box[1], box[0], box[3], box[2]))
    return FeatureCrop(index, image, box, float(fmap.mean()), float(fmap.max()))
