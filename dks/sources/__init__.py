"""Image collections as users keep them: manifests and WebDataset shards (work in progress).

* :class:`Manifest`: a ``.csv``/``.tsv``/``.parquet`` table of image paths and labels.
* :class:`WebDataset`: tar shards, each sample the members sharing a key (image + ``.cls``).
"""

from dks.sources._base import IMAGE_EXTENSIONS, Collection, SourceError
from dks.sources._manifest import MANIFEST_SUFFIXES, Manifest
from dks.sources._webdataset import WebDataset, expand_braces, is_shard_pattern

__all__ = [
    "IMAGE_EXTENSIONS",
    "MANIFEST_SUFFIXES",
    "Collection",
    "Manifest",
    "SourceError",
    "WebDataset",
    "expand_braces",
    "is_shard_pattern",
]
