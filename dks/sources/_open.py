"""Which kind of collection a path names, and opening it with the options of its kind.

``IMAGES`` of ``dks analyze``/``dks embed`` (and the ``images`` of :func:`dks.analyze`) is
one of: a folder in ImageFolder layout, a manifest (``.csv``/``.tsv``/``.parquet``),
WebDataset shards (a ``.tar`` file or a brace pattern) or a Hugging Face dataset folder.
:func:`source_kind` tells them apart from the path alone; :func:`open_collection` opens the
three that are not folders, refusing an option that does not apply to the kind.
"""

import os
from pathlib import Path

from dks._options import option
from dks.sources._hf import HFDataset, is_hf_dataset
from dks.sources._manifest import MANIFEST_SUFFIXES, Manifest
from dks.sources._webdataset import WebDataset, is_shard_pattern

__all__ = ["SOURCE_OPTIONS", "open_collection", "source_kind"]

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
    """Open the manifest, shards or Hugging Face dataset ``images``.

    Parameters
    ----------
    images : str or os.PathLike
        Not a folder in ImageFolder layout (:func:`source_kind` is not ``"folder"``).
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
    raise SourceError(f"{os.fspath(images)!r} is an image folder; list it with image_folder.")
