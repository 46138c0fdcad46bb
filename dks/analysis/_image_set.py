"""The images analyzed: a user's collection (or a random subset of it), or the default dataset.

A user's images are an ImageFolder, a manifest, WebDataset shards or a Hugging Face dataset
(:mod:`dks.sources`; a :class:`~dks.sources.Collection` or a path to one). With none, the
default dataset is a class-balanced random subset of the Fashion-MNIST test split
(:data:`DEFAULT_PER_CLASS` images per class, read offline from Debian's
``dataset-fashion-mnist``), exported as PNG files to ``<results>/images/`` (see
:doc:`/results`). ``embedding.json`` records the source (its kind, where it is, the options
that listed it) and the dataset's name; :func:`recorded_images` opens the images again from
that record, for the report's figures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dks._options import option
from dks.results import DATASET_FILE, IMAGES_DIR, AnalysisError, read_json, write_json

__all__ = [
    "DEFAULT_PER_CLASS",
    "Images",
    "Thumbnails",
    "folder_images",
    "prepare_images",
    "recorded_images",
    "user_images",
]

#: Images per class of the default dataset (Fashion-MNIST test split, 10 classes).
DEFAULT_PER_CLASS = 50

#: Images per class in the Fashion-MNIST test split.
_FASHION_MNIST_TEST_PER_CLASS = 1000


@dataclass
class Images:
    """The images of an analysis, as listed in ``embedding.json``.

    ``collection`` holds them (a folder is an :class:`~dks.sources.ImageFolder`, like any
    other :class:`~dks.sources.Collection`), the images kept only.
    """

    collection: object  # a dks.sources.Collection
    root_record: str  # what embedding.json says (relative to the results folder or absolute)
    description: str
    source: dict  # kind, location, name and options, for embedding.json
    dataset: dict | None = None
    reused: bool = False  # the default dataset's images of the previous run, kept

    @property
    def root(self):
        """Where the images are now (their names are relative to it)."""
        return Path(self.collection.root)

    @property
    def relative(self):
        """Each image's name, relative to :attr:`root`."""
        return self.collection.names

    @property
    def labels(self):
        """Each image's class name."""
        return self.collection.labels

    @property
    def classes(self):
        """The class names, sorted."""
        return self.collection.classes

    @property
    def name(self):
        """The dataset's name, for the report, the summary and ``dks compare``."""
        return self.source.get("name") or self.root.name

    @property
    def paths(self):
        """The images' identities in the store: their files, or the collection's names."""
        return self.collection.identities

    def moved_to(self, root):
        """The same images, found under ``root`` (the committed copy of a staged folder)."""
        return dataclasses.replace(self, collection=self.collection.moved_to(root))


def prepare_images(stage, images, limit_per_class, seed, data_home, download, log):
    """The images of this run: ``images`` listed, or the default dataset in ``stage``."""
    if images is None:
        n = DEFAULT_PER_CLASS if limit_per_class is None else limit_per_class
        if n > _FASHION_MNIST_TEST_PER_CLASS:
            raise AnalysisError(
                f"The default dataset (Fashion-MNIST test split) has "
                f"{_FASHION_MNIST_TEST_PER_CLASS} images per class; got {n} images per class "
                f"({option('limit_per_class')})."
            )
        return _default_images(stage, n, seed, data_home, download, log)
    return user_images(images, stage.out, limit_per_class, seed)


def user_images(images, out, limit_per_class, seed, class_depth=1):
    """List a user's images: a folder, or a collection (or the path of one), checked."""
    from dks.sources import Collection, SourceError, open_images, source_kind

    if not isinstance(images, Collection):
        kind = source_kind(images)
        if kind in (None, "folder"):
            return folder_images(images, out, limit_per_class, seed, class_depth)
        if class_depth != 1:
            raise AnalysisError(
                f"{option('class_depth', class_depth)} applies to a folder of images; "
                f"{str(images)!r} is a {kind} whose labels are its own."
            )
        try:
            images = open_images(images)
        except SourceError as exc:
            raise AnalysisError(str(exc)) from None
    location = Path(images.root)
    if out is not None and (out == location or out in location.parents):
        raise AnalysisError(
            f"The images {images.location!r} are inside the results folder {str(out)!r}, "
            "which each run replaces. Put the images elsewhere."
        )
    _check_classes(images.classes, images.location, "")
    keep = _limit(images.labels, limit_per_class, seed)
    kept = images if keep.size == len(images) else images.subset(keep)
    description = images.location
    if limit_per_class is not None:
        description += f" (at most {limit_per_class} per class, seed {seed})"
    return Images(kept, images.root, description, images.record())


def _check_classes(classes, where, hint):
    if len(classes) < 2:
        raise AnalysisError(
            f"The images {where!r} have a single class ({classes[0]!r}); D_KS compares each "
            f"class with the others, so at least 2 classes are needed{hint}."
        )


def folder_images(images, out, limit_per_class, seed, class_depth=1):
    """List a user's ImageFolder, checking what would make the analysis meaningless; its
    classes are the folder paths to ``class_depth`` (:func:`dks.sources.class_paths`)."""
    from dks.sources import ImageFolder

    root = Path(images).expanduser().absolute()
    if not root.exists():
        raise AnalysisError(
            f"The images {str(images)!r}: the path does not exist. Give a folder (<class>/"
            "<image>), a manifest (.csv, .tsv, .parquet), WebDataset shards (.tar, "
            "'shard-{000000..000009}.tar') or a Hugging Face dataset folder."
        )
    if not root.is_dir():
        raise AnalysisError(f"{str(images)!r} is not a folder of images.")
    if out is not None and (out == root or root in out.parents):
        raise AnalysisError(
            f"The results folder {str(out)!r} is inside the image folder {str(images)!r}; "
            "its figures would be read as a class of images. Put the results elsewhere."
        )
    if out is not None and out in root.parents:
        raise AnalysisError(
            f"The image folder {str(images)!r} is inside the results folder {str(out)!r}, "
            "which each run replaces. Put the images elsewhere."
        )
    folder = ImageFolder(root, class_depth=class_depth)
    _check_classes(
        folder.classes, os.fspath(images), " (ImageFolder layout: IMAGES_DIR/<class>/<image>)"
    )
    keep = _limit(folder.labels, limit_per_class, seed)
    kept = folder if keep.size == len(folder) else folder.subset(keep)
    description = os.fspath(images)
    if limit_per_class is not None:
        description += f" (at most {limit_per_class} per class, seed {seed})"
    return Images(kept, os.fspath(root), description, folder.record())


def _limit(labels, limit_per_class, seed):
    """Indices of a random subset of at most ``limit_per_class`` images per class, sorted."""
    if limit_per_class is None:
        return np.arange(labels.shape[0])
    rng = np.random.RandomState(seed)
    keep = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if members.size > limit_per_class:
            members = rng.choice(members, size=limit_per_class, replace=False)
        keep.append(members)
    return np.sort(np.concatenate(keep))


def _default_images(stage, n_per_class, seed, data_home, download, log):
    """Export (or carry over) the default Fashion-MNIST subset into ``stage/images``."""
    from dks.datasets import FASHION_MNIST_CLASSES, export_image_folder, load_fashion_mnist
    from dks.sources import ImageFolder

    spec = {
        "name": "Fashion-MNIST",
        "split": "test",
        "n_per_class": int(n_per_class),
        "seed": int(seed),
    }
    target = stage.path / IMAGES_DIR
    old_spec = None
    if stage.has_old(os.path.join(IMAGES_DIR, DATASET_FILE)):
        with contextlib.suppress(OSError, ValueError):
            old_spec = read_json(stage.old / IMAGES_DIR / DATASET_FILE)
    n_expected = n_per_class * len(FASHION_MNIST_CLASSES)
    if old_spec == spec:
        stage.reuse(IMAGES_DIR)
        try:
            n_found = len(ImageFolder(target))
        except ValueError:
            n_found = 0
        if n_found == n_expected:
            log(f"images: reusing the {n_expected} images of {stage.out / IMAGES_DIR}")
        else:  # files were removed or added by hand: export them again
            shutil.rmtree(target)
            old_spec = None
    reused = old_spec == spec
    if old_spec != spec:
        images, y, class_names = load_fashion_mnist(
            "test", n_per_class, random_state=seed, data_home=data_home, download=download
        )
        export_image_folder(images, y, class_names, target)
        write_json(target / DATASET_FILE, spec)
    description = f"Fashion-MNIST (test split, {n_per_class} per class)"
    source = {"kind": "default", "location": IMAGES_DIR, "name": spec["name"]}
    return Images(ImageFolder(target), IMAGES_DIR, description, source, spec, reused)


def recorded_images(meta, path):
    """The embedded images, opened again from ``embedding.json``.

    Returns
    -------
    images : list of str or dks.sources.Collection
        The files (a folder, a manifest, the default dataset), or the collection of shards or
        dataset rows, in the order of ``meta.images``.
    missing : list of str
        What is gone: files, or the shards or dataset that cannot be opened (one message).
    """
    source = meta.source or {}
    root = Path(meta.images_root)
    root = root if root.is_absolute() else Path(path) / root
    if source.get("kind") not in ("webdataset", "hf-dataset"):
        files = [os.fspath(root / p) for p in meta.images]
        return files, [p for p in files if not os.path.isfile(p)]
    from dks.sources import SOURCE_OPTIONS, SourceError, open_collection

    options = {k: source.get(k) for k in SOURCE_OPTIONS[source["kind"]]}
    try:
        collection = open_collection(source["location"], **options)
    except (OSError, SourceError, ImportError) as exc:
        return [], [str(exc)]
    index = {name: i for i, name in enumerate(collection.names)}
    gone = [n for n in meta.images if n not in index]
    if gone:
        return [], [f"{source['location']} no longer holds {gone[0]!r}"]
    return collection.subset([index[n] for n in meta.images]), []


class Thumbnails:
    """Indexable images for the thumbnails: ``Thumbnails(images)[i]`` is a path or an array.

    Files stay paths (the plotting loads them); a collection's image is loaded when shown.
    """

    def __init__(self, images, reader=None):
        from dks.sources import ImageReader

        self.images, self.reader = images, ImageReader() if reader is None else reader

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        if isinstance(self.images, list):
            return self.images[index]
        return np.asarray(self.reader.load(self.images, int(index)))
