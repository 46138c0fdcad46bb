"""A folder in ImageFolder layout, listed: one sub-folder per class.

:func:`image_folder` lists it (paths, labels, classes); :class:`ImageFolder` is the same
listing as a :class:`~dks.sources.Collection`, so that a folder is opened, subset, named
and recorded as a manifest, shards or a Hugging Face dataset are. Its images' identities
are their file paths, as listed.
"""

import os
from pathlib import Path

import numpy as np

from dks.sources._base import IMAGE_EXTENSIONS, Collection

__all__ = ["ImageFolder", "image_folder"]


class ImageFolder(Collection):
    """The images of a folder in ImageFolder layout (``root/<class>/.../<image>``).

    Parameters
    ----------
    root : str or os.PathLike
        The folder that holds the class folders, kept as given (relative or absolute):
        the images' identities are ``root/<class>/.../<image>``.

    Raises
    ------
    FileNotFoundError, NotADirectoryError, ValueError
        As :func:`image_folder`.
    """

    kind = "folder"

    def __init__(self, root):
        paths, labels, classes = image_folder(root)
        self._listed(os.fspath(Path(root)), paths, labels, classes)

    @classmethod
    def listed(cls, root, names, labels, classes):
        """A folder whose images ``names`` (relative to ``root``) are already listed."""
        new = object.__new__(cls)
        prefix = os.path.join(os.fspath(root), "")
        new._listed(os.fspath(root), [prefix + n for n in names], labels, classes)
        return new

    def _listed(self, root, paths, labels, classes):
        self.root = self.location = root
        self.name = Path(root).name
        self.options = {}
        self.files = list(paths)
        self.names = relative_to(self.files, root)
        self.labels = np.asarray(labels, dtype=str)
        self.classes = list(classes)
        self.rows = np.arange(len(self.files), dtype=np.int64)

    @property
    def identities(self):
        """The image files, as listed."""
        return list(self.files)

    def moved_to(self, root):
        """The same images, found under ``root`` (a copy of the folder)."""
        return type(self).listed(root, self.names, self.labels, self.classes)

    def describe(self, index):
        return f"file {self.files[index]!r}"

    def _open(self, index):
        return self.files[index]


def relative_to(paths, root):
    """``paths`` relative to ``root``, which they are under (as :func:`image_folder` lists them).

    A slice of each, not :func:`os.path.relpath`, which normalizes both paths every time
    (15 s for a million images).
    """
    prefix = os.path.join(os.fspath(root), "")
    if all(p.startswith(prefix) for p in paths):
        return [p[len(prefix) :] for p in paths]
    return [os.path.relpath(p, root) for p in paths]


def image_folder(root, *, extensions=IMAGE_EXTENSIONS):
    """List the images and labels of a folder in ImageFolder layout.

    The layout is the one of :class:`torchvision.datasets.ImageFolder`: one sub-folder per
    class, ``root/<class>/.../<image>``. Classes are the sub-folder names in sorted order;
    images are collected recursively in each class folder, in sorted order, which is the
    order of ``ImageFolder``. Hidden files and folders (names starting with ``"."``, such as
    ``.ipynb_checkpoints``) are ignored.

    Parameters
    ----------
    root : str or os.PathLike
        The folder that holds the class folders.
    extensions : tuple of str, default=IMAGE_EXTENSIONS
        File name endings (case-insensitive) that count as images.

    Returns
    -------
    paths : list of str
        Image files, class by class.
    y : ndarray of str of shape (n_images,)
        Class name of each image.
    classes : list of str
        Sorted class names.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is not a folder.
    ValueError
        If ``root`` has no class folders, no images at all, or a class folder without
        images.

    Examples
    --------
    >>> from dks.embed import CNNEmbedder, image_folder
    >>> paths, y, classes = image_folder("flowers/train")  # doctest: +SKIP
    >>> X = CNNEmbedder().fit_transform(paths)  # doctest: +SKIP
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"The image folder {str(root)!r} does not exist.")
    if not root.is_dir():
        raise NotADirectoryError(
            f"{str(root)!r} is not a folder. image_folder expects the ImageFolder layout "
            "root/<class>/<image>."
        )
    extensions = tuple(ext.lower() for ext in extensions)
    classes = sorted(
        entry.name
        for entry in os.scandir(root)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    if not classes:
        loose = [p.name for p in root.iterdir() if p.name.lower().endswith(extensions)]
        hint = (
            f" It holds {len(loose)} image file(s) directly (e.g. {loose[0]!r}): move them into "
            "one folder per class."
            if loose
            else ""
        )
        raise ValueError(
            f"The image folder {str(root)!r} has no class folders; expected the ImageFolder "
            f"layout root/<class>/<image>.{hint}"
        )
    paths, labels, empty = [], [], []
    for name in classes:
        found = _images_under(root / name, extensions)
        if not found:
            empty.append(name)
        paths.extend(found)
        labels.extend([name] * len(found))
    if not paths:
        raise ValueError(
            f"The image folder {str(root)!r} has {len(classes)} class folder(s) but no image "
            f"files (extensions {', '.join(extensions)})."
        )
    if empty:
        raise ValueError(
            f"{len(empty)} class folder(s) of {str(root)!r} hold no image files "
            f"(extensions {', '.join(extensions)}): {', '.join(map(repr, empty))}. "
            "Remove them or add images."
        )
    return paths, np.asarray(labels, dtype=str), classes


def _images_under(folder, extensions):
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(
            os.path.join(dirpath, f)
            for f in sorted(filenames)
            if not f.startswith(".") and f.lower().endswith(extensions)
        )
    return found
