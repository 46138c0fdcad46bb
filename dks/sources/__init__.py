"""The images dks reads: listed, identified and decoded here only.

* :class:`ImageFolder`: a folder in ImageFolder layout (:func:`image_folder` lists it).
* :class:`Manifest`: a ``.csv``/``.tsv``/``.parquet`` table of image paths and labels.
* :class:`WebDataset`: tar shards, each sample the members sharing a key (image + ``.cls``).
* :class:`HFDataset`: a Hugging Face dataset saved to disk (Arrow) or kept as Parquet.

Each is a :class:`Collection` that :class:`~dks.embed.CNNEmbedder` and :func:`dks.analyze`
take as their images. :func:`open_images` decides what any input is (a path of one of
those, a collection, a list of images, a 4-D array, a torch dataset: the last three as
in-memory adapters); :func:`open_collection` opens a path (what the ``dks`` command does
with its ``IMAGES`` argument). :class:`ImageReader` decodes an image as people see it, with
the two decoding settings as one value; it and the other decoding names
(:mod:`dks.sources._decode`) need Pillow and are imported when first used, so that listing
needs neither torch nor Pillow.
"""

from dks.sources._base import IMAGE_EXTENSIONS, Collection, SourceError
from dks.sources._hf import HFDataset, is_hf_dataset
from dks.sources._image_folder import ImageFolder, class_paths, image_folder
from dks.sources._inputs import BadImage
from dks.sources._manifest import MANIFEST_SUFFIXES, Manifest
from dks.sources._open import SOURCE_OPTIONS, open_collection, open_images, source_kind
from dks.sources._webdataset import WebDataset, expand_braces, is_shard_pattern

#: The names of the decoder (:mod:`dks.sources._decode`), imported with Pillow when used.
_DECODER = (
    "WHITE",
    "ImageReader",
    "ImageTooLargeError",
    "check_background",
    "check_max_image_pixels",
    "fits_pixel_limit",
    "to_rgb",
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "MANIFEST_SUFFIXES",
    "SOURCE_OPTIONS",
    "BadImage",
    "Collection",
    "HFDataset",
    "ImageFolder",
    "Manifest",
    "SourceError",
    "WebDataset",
    "class_paths",
    "describe_input",
    "expand_braces",
    "image_folder",
    "is_hf_dataset",
    "is_shard_pattern",
    "open_collection",
    "open_images",
    "source_kind",
    *_DECODER,
]


def describe_input(images, index):
    """Input ``index`` of ``images`` named for messages: ``"input 3 (file 'a/b.png')"``."""
    return f"input {index} ({images.describe(index)})"


def __getattr__(name):
    if name in _DECODER:
        from dks.sources import _decode

        return getattr(_decode, name)
    raise AttributeError(f"module 'dks.sources' has no attribute {name!r}")
