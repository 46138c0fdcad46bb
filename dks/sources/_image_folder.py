"""A folder in ImageFolder layout, listed: one sub-folder per class.

:func:`image_folder` lists it (paths, labels, classes); :class:`ImageFolder` is the same
listing as a :class:`~dks.sources.Collection`, so that a folder is opened, subset, named
and recorded as a manifest, shards or a Hugging Face dataset are. Its images' identities
are their file paths, as listed.
"""

import os
import warnings
from pathlib import Path

import numpy as np

from dks import _config
from dks.sources._base import IMAGE_EXTENSIONS, Collection

__all__ = ["ImageFolder", "class_paths", "image_folder", "relative_to"]


class ImageFolder(Collection):
    """The images of a folder in ImageFolder layout (``root/<class>/.../<image>``).

    Parameters
    ----------
    root : str or os.PathLike
        The folder that holds the class folders, kept as given (relative or absolute):
        the images' identities are ``root/<class>/.../<image>``.
    class_depth : int, default=1
        The class of an image is its folder path under ``root`` cut at this depth
        (:func:`class_paths`); 1: the class folder.

    Attributes
    ----------
    not_images : list of str
        The files of the class folders that are not read as images (their extension is not
        an image's), relative to ``root``, in listing order: left out, with a warning, and
        recorded (:meth:`record`).

    Raises
    ------
    FileNotFoundError, NotADirectoryError, ValueError
        As :func:`image_folder`.
    """

    kind = "folder"

    def __init__(self, root, *, class_depth=1):
        paths, labels, classes, not_images = _list_folder(root, IMAGE_EXTENSIONS)
        if class_depth > 1:
            labels, classes = class_paths(paths, root, class_depth)
        self._listed(os.fspath(Path(root)), paths, labels, classes)
        self.options = {"class_depth": int(class_depth)}
        self.not_images = relative_to(not_images, self.root)

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
        self.not_images = []

    @property
    def identities(self):
        """The image files, as listed."""
        return list(self.files)

    def moved_to(self, root):
        """The same images, found under ``root`` (a copy of the folder)."""
        moved = type(self).listed(root, self.names, self.labels, self.classes)
        moved.options = dict(self.options)
        moved.not_images = list(self.not_images)
        return moved

    def record(self):
        """What the results folder records of the folder: besides the kind, where it is
        and ``class_depth``, how many files were not read as images (``n_not_images``) and
        the first of them (``not_images``, at most ``dks.get_config()
        ["pipeline_not_images_listed"]``, relative to the folder)."""
        record = super().record()
        if self.not_images:
            record["n_not_images"] = len(self.not_images)
            record["not_images"] = self.not_images[: _config.PIPELINE_NOT_IMAGES_LISTED]
        return record

    def describe(self, index):
        return f"file {self.files[index]!r}"

    def _open(self, index):
        return self.files[index]


def class_paths(paths, root, depth):
    """The class of each image of a folder: its folder path under ``root``, cut at ``depth``.

    ``root/a/b/c/x.png`` is in class ``"a/b"`` with depth 2, ``"a/b/c"`` with 3 or more;
    ``root/a/x.png`` is in ``"a"`` with any depth (an image less deep than ``depth`` belongs
    to the folder that holds it). Parts are joined with ``/`` on every system.

    Returns
    -------
    labels : ndarray of str of shape (n_images,)
    classes : list of str
        The sorted class names.
    """
    labels = [
        "/".join(Path(p).parent.parts[:depth])
        for p in relative_to(list(map(os.fspath, paths)), root)
    ]
    return np.asarray(labels, dtype=str), sorted(set(labels))


def relative_to(paths, root):
    """``paths`` relative to ``root``, which they are under (as :func:`image_folder` lists them).

    A slice of each, not :func:`os.path.relpath`, which normalizes both paths every time.
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
    paths, labels, classes, _ = _list_folder(root, extensions)
    return paths, labels, classes


def _list_folder(root, extensions):
    """:func:`image_folder`, and the files of the class folders not read as images."""
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
    listing = _FolderListing(root, extensions)
    paths, labels, empty = [], [], []
    for name in classes:
        found = listing.images_of(name)
        if not found:
            empty.append(name)
        paths.extend(found)
        labels.extend([name] * len(found))
    listing.report()
    if not paths:
        raise ValueError(
            f"The image folder {str(root)!r} has {len(classes)} class folder(s) but no image "
            f"files (extensions {', '.join(extensions)}).{listing.denied_hint()}"
        )
    if empty:
        raise ValueError(
            f"{len(empty)} class folder(s) of {str(root)!r} hold no image files "
            f"(extensions {', '.join(extensions)}): {', '.join(map(repr, empty))}. "
            f"Remove them or add images.{listing.denied_hint()}"
        )
    return paths, np.asarray(labels, dtype=str), classes, listing.not_images


class _FolderListing:
    """The images of the class folders of ``root``, each real file once.

    Folders are read in sorted order, each folder's files before its sub-folders (the order
    of ``ImageFolder``). Symbolic links are followed, but a file or folder that is also
    reached without any link is listed only there (under the class of that real path), a
    folder reached twice through links is listed the first time only, and a link to a folder
    that holds it (``ln -s .. up``: a cycle) is reported and never followed. Folders that
    cannot be read (permission denied) are reported. Other file-system objects with an image
    name (a FIFO, a socket, a broken link) are listed: reading them fails, and the embedding
    skips and lists them like any bad file, without opening a FIFO
    (:mod:`dks.sources._decode`).
    """

    def __init__(self, root, extensions):
        self.root = root
        self.extensions = extensions
        self.cycles, self.repeats, self.denied, self.not_images = [], [], [], []
        # What is reached without following a link: files listed there, never via a link.
        self._real_files, self._seen_dirs, self._listed = set(), set(), set()
        self._links = self._walk_real()

    def images_of(self, name):
        """The image files of class ``name``, in listing order."""
        top = self.root / name
        if not self._links:  # no link anywhere: nothing can be reached twice
            return self._walk(top, via_link=False, ancestors=None)
        key, link = _key(top), top.is_symlink()
        if key in _ancestor_keys(self.root):
            self.cycles.append(os.fspath(top))
            return []
        if link and key in self._seen_dirs:
            self.repeats.append(os.fspath(top))
            return []
        self._seen_dirs.add(key)
        return self._walk(top, via_link=link, ancestors=_ancestor_keys(top))

    def _scan(self, folder):
        try:
            with os.scandir(folder) as entries:
                entries = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            self.denied.append((folder, exc.strerror or type(exc).__name__))
            return [], []
        files, dirs = [], []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                dirs.append(entry)
            elif entry.name.lower().endswith(self.extensions):
                files.append(entry)
            else:
                self.not_images.append(entry.path)
        return files, dirs

    def _walk_real(self):
        """Record the files and folders reached without links; whether any link exists."""
        tops = [self.root / name for name in sorted(os.listdir(self.root))]
        tops = [p for p in tops if not p.name.startswith(".") and p.is_dir()]
        links = any(p.is_symlink() for p in tops)
        stack = [os.fspath(p) for p in tops if not p.is_symlink()]
        while stack:
            folder = stack.pop()
            files, dirs = self._scan(folder)
            self._seen_dirs.add(_key(folder))
            for entry in files:
                if entry.is_symlink():
                    links = True
                else:
                    self._real_files.add(_key(entry))
            for entry in dirs:
                if entry.is_symlink():
                    links = True
                else:
                    stack.append(entry.path)
        del self.denied[:], self.not_images[:]  # reported once, by the listing itself
        return links

    def _walk(self, folder, *, via_link, ancestors):
        found = []
        files, dirs = self._scan(folder)
        for entry in files:
            if ancestors is None or not (via_link or entry.is_symlink()):
                found.append(entry.path)
                continue
            key = _key(entry)
            if key is None:  # a broken link: listed, then skipped as unreadable
                found.append(entry.path)
            elif key in self._real_files or key in self._listed:
                self.repeats.append(entry.path)
            else:
                self._listed.add(key)
                found.append(entry.path)
        for entry in dirs:
            if ancestors is None:
                found.extend(self._walk(entry.path, via_link=False, ancestors=None))
                continue
            key = _key(entry)
            link = via_link or entry.is_symlink()
            if key in ancestors:
                self.cycles.append(entry.path)
            elif link and key in self._seen_dirs:
                self.repeats.append(entry.path)
            else:
                self._seen_dirs.add(key)
                found.extend(self._walk(entry.path, via_link=link, ancestors=ancestors | {key}))
        return found

    def report(self):
        """Warn about the files not read as images (their extension), the links not
        followed and the folders that could not be read: how many, and the first few."""
        root, why = self.root, dict(self.denied)
        target = lambda p: f" -> {os.path.realpath(p)!r}"  # noqa: E731
        for found, text, more in (
            (self.not_images, "file(s) in the class folders of {root} are not read as images "
             f"(not {', '.join(self.extensions)}) and were left out", None),
            (self.cycles, "symbolic link(s) in {root} lead to a folder that holds them (a "
             "cycle) and were not followed", target),
            (self.repeats, "symbolic link(s) in {root} lead to images listed already; each "
             "image is embedded once, under the class of the first path that reaches it (a "
             "path without links first)", target),
            (list(why), "folder(s) of {root} cannot be read and were left out",
             lambda p: f" ({why[p]})"),
        ):  # fmt: skip
            if found:
                text = text.format(root=repr(str(root)))
                shown = _shown(found, root, more)
                warnings.warn(f"{len(found)} {text}: {shown}.", UserWarning, stacklevel=3)

    def denied_hint(self):
        if not self.denied:
            return ""
        names = ", ".join(repr(os.path.relpath(p, self.root)) for p, _ in self.denied[:5])
        return f" Folders that cannot be read (permission denied?): {names}."


def _key(entry):
    """The identity (device, inode) of a file or folder, links followed; None if broken."""
    try:
        st = entry.stat() if isinstance(entry, os.DirEntry) else os.stat(entry)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _ancestor_keys(folder):
    """Identities of ``folder`` and of every folder above its real path."""
    real = Path(os.path.realpath(folder))
    return frozenset(filter(None, (_key(p) for p in (real, *real.parents))))


def _shown(paths, root, more=None):
    """The first 5 of ``paths`` relative to ``root`` (and how many more)."""
    shown = ", ".join(f"{os.path.relpath(p, root)!r}{more(p) if more else ''}" for p in paths[:5])
    return shown + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
