"""Image collections as users keep them: manifests, WebDataset shards, Hugging Face datasets.

* :class:`Manifest`: a ``.csv``/``.tsv``/``.parquet`` table of image paths and labels.
* :class:`WebDataset`: tar shards, each sample the members sharing a key (image + ``.cls``).
* :class:`HFDataset`: a Hugging Face dataset saved to disk (Arrow) or kept as Parquet.

Each is a :class:`Collection` that :class:`~dks.embed.CNNEmbedder` and :func:`dks.analyze`
take as their images; :func:`open_collection` opens one from a path (what the ``dks``
command does with its ``IMAGES`` argument). Torch-free.
"""

from dks.sources._base import IMAGE_EXTENSIONS, Collection, SourceError
from dks.sources._hf import HFDataset, is_hf_dataset
from dks.sources._manifest import MANIFEST_SUFFIXES, Manifest
from dks.sources._open import SOURCE_OPTIONS, open_collection, source_kind
from dks.sources._webdataset import WebDataset, expand_braces, is_shard_pattern

__all__ = [
    "IMAGE_EXTENSIONS",
    "MANIFEST_SUFFIXES",
    "SOURCE_OPTIONS",
    "Collection",
    "HFDataset",
    "Manifest",
    "SourceError",
    "WebDataset",
    "expand_braces",
    "is_hf_dataset",
    "is_shard_pattern",
    "open_collection",
    "source_kind",
]
