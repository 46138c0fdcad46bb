"""What a path or an object given as images is: the one place that decides.

``IMAGES`` of ``dks analyze``/``dks embed`` (and the ``images`` of :func:`dks.analyze`) is
one of: a folder in ImageFolder layout, a manifest (``.csv``/``.tsv``/``.parquet``),
WebDataset shards (a ``.tar`` file or a brace pattern) or a Hugging Face dataset folder.
:func:`source_kind` tells them apart from the path alone; :func:`open_collection` opens
one, refusing an option that does not apply to the kind. :func:`open_images` takes any
input of :class:`~dks.embed.CNNEmbedder` (those paths, a collection, a list of images, a
4-D array, a torch dataset) and returns a collection or an in-memory adapter
(:mod:`dks.sources._inputs`).
"""

import os
from pathlib import Path

import numpy as np

from dks._options import option
from dks.sources._base import Collection
from dks.sources._hf import HFDataset, is_hf_dataset
from dks.sources._image_folder import ImageFolder
from dks.sources._inputs import (
    ImageArray,
    ImageList,
    TorchDataset,
    check_array_batch,
    check_image_array,
    is_pil_image,
    is_tensor,
    is_torch_dataset,
)
from dks.sources._manifest import MANIFEST_SUFFIXES, Manifest
from dks.sources._webdataset import WebDataset, is_shard_pattern

__all__ = ["SOURCE_OPTIONS", "open_collection", "open_images", "source_kind"]

#: The options of each kind of collection (the folder has none).
SOURCE_OPTIONS = {
    "folder": (),
    "manifest": ("path_column", "label_column"),
    "webdataset": (),
    "hf-dataset": ("image_column", "label_column", "split"),
}

_WHAT = {
    "folder": "an image folder",
    "manifest": "a manifest",
    "webdataset": "WebDataset shards",
    "hf-dataset": "a Hugging Face dataset",
}


def source_kind(images):
    """``"folder"``, ``"manifest"``, ``"webdataset"`` or ``"hf-dataset"``; None if unknown.

    Parameters
    ----------
    images : str or os.PathLike

    Returns
    -------
    str or None
        None for a path that exists but is none of them, or does not exist.
    """
    text = os.fspath(images)
    if is_shard_pattern(text):
        return "webdataset"
    path = Path(text).expanduser()
    if path.suffix.lower() in MANIFEST_SUFFIXES and not path.is_dir():
        return "manifest"
    if path.is_dir():
        return "hf-dataset" if is_hf_dataset(path) else "folder"
    return None


def open_collection(images, **options):
    """Open the folder, manifest, shards or Hugging Face dataset ``images``.

    Parameters
    ----------
    images : str or os.PathLike
    **options
        ``path_column``, ``label_column``, ``image_column``, ``split``; those that are None
        are left at the kind's default, the others must apply to the kind.

    Returns
    -------
    Collection

    Raises
    ------
    FileNotFoundError
        If ``images`` names nothing that exists.
    SourceError
        If an option does not apply to the kind, or the collection cannot be listed.
    """
    from dks.sources._base import SourceError

    kind = source_kind(images)
    given = {k: v for k, v in options.items() if v is not None}
    if kind is None:
        raise FileNotFoundError(
            f"{os.fspath(images)!r} does not exist, or is neither a folder of images, a "
            f"manifest ({', '.join(MANIFEST_SUFFIXES)}), WebDataset shards (.tar, "
            "'shard-{000000..000009}.tar') nor a Hugging Face dataset folder."
        )
    wrong = [k for k in given if k not in SOURCE_OPTIONS[kind]]
    if wrong:
        fits = [k for k, names in SOURCE_OPTIONS.items() if wrong[0] in names]
        raise SourceError(
            f"{option(wrong[0])} applies to {' and '.join(_WHAT[k] for k in fits)}; "
            f"{os.fspath(images)!r} is {_WHAT[kind]}."
        )
    if kind == "manifest":
        return Manifest(images, **given)
    if kind == "webdataset":
        return WebDataset(images)
    if kind == "hf-dataset":
        return HFDataset(images, **given)
    return ImageFolder(images)


def open_images(X, **options):
    """The images ``X`` as a collection or an in-memory adapter, checked.

    Parameters
    ----------
    X : path, Collection, sequence of images, 4-D uint8 array or torch Dataset
        See :class:`~dks.embed.CNNEmbedder`. A path is opened by :func:`open_collection`.
    **options
        The options of a path's kind (:data:`SOURCE_OPTIONS`).

    Returns
    -------
    images : Collection, ImageList, ImageArray or TorchDataset
        ``len``, ``open(index)``, ``describe(index)``, ``identities`` and ``files``.

    Raises
    ------
    TypeError, ValueError
        On empty input, unsupported input types, wrong dtypes or shapes of in-memory images.
    FileNotFoundError
        If ``X`` is a path that does not exist.
    """
    if isinstance(X, Collection):
        if not len(X):
            raise ValueError(f"X is an empty collection ({X!r}): there are no images to embed.")
        return X
    if isinstance(X, (str, os.PathLike)):
        path = Path(X)
        if source_kind(path) is not None:
            return open_collection(path, **options)
        if path.exists():
            raise TypeError(
                f"X is a single file path ({str(path)!r}); pass a list of images, e.g. [path], "
                "a folder in ImageFolder layout, a manifest (.csv, .tsv, .parquet), WebDataset "
                "shards (.tar) or a Hugging Face dataset folder."
            )
        raise FileNotFoundError(f"X is a path that does not exist: {str(path)!r}.")
    if is_torch_dataset(X):
        if not hasattr(X, "__len__"):
            raise TypeError(
                f"X is a {type(X).__name__} without a length (an IterableDataset?); "
                "CNNEmbedder needs a map-style Dataset with __len__ and __getitem__."
            )
        if len(X) == 0:
            raise ValueError("X is an empty Dataset: there are no images to embed.")
        return TorchDataset(X)
    if is_pil_image(X):
        raise TypeError("X is a single PIL image; pass a list of images, e.g. [image].")
    if is_tensor(X):
        raise TypeError(
            "X is a torch.Tensor; pass a list of (C, H, W) image tensors or a Dataset."
        )
    if hasattr(X, "iloc") and hasattr(X, "columns"):
        raise TypeError(
            "X is a DataFrame; pass a list or Series of image paths, e.g. df['path'].tolist()."
        )
    if isinstance(X, np.ndarray) and X.ndim != 1:
        return ImageArray(check_array_batch(X))
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
        if isinstance(item, np.ndarray) or is_tensor(item):
            try:
                check_image_array(item)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"Input {index} of X: {exc}") from None
        elif not (isinstance(item, (str, os.PathLike)) or is_pil_image(item)):
            raise TypeError(
                f"Input {index} of X is a {type(item).__name__}; each image must be a file "
                "path, a PIL image, a uint8 array (H, W) or (H, W, 3), or a (C, H, W) tensor."
            )
    return ImageList(items)
