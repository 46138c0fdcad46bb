"""What every kind of image collection gives: identities, labels, and the bytes of an image.

A :class:`Collection` is listed once, when it is opened: its images' identities, names and
labels are in memory (a few strings per image), the images themselves are read one at a time
by :meth:`Collection.open`, which returns a file path or a binary file object. The identity
of an image is what the embedding store records for its row, and what a resumed or sharded
run finds it by (:mod:`dks.store`):

=================  =====================================  ===========================
kind               identity                               name (in ``embedding.json``)
=================  =====================================  ===========================
``manifest``       the image file's absolute path          its path from the manifest's
                                                          folder (or absolute)
``webdataset``     ``<shard path>#<key>``                 ``<shard file>#<key>``
``hf-dataset``     ``<dataset folder>/<split>#<row>``     ``<split>#<row>``
=================  =====================================  ===========================

An identity is ``os.path.join(root, name)``: a manifest's images have the identities the
same files have in an image folder, so that both give the same store rows.
"""

import os

import numpy as np

__all__ = ["IMAGE_EXTENSIONS", "Collection", "SourceError"]

#: File extensions read as images (those of torchvision's ImageFolder).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class SourceError(ValueError):
    """A collection that cannot be listed, with the file, the row or member, and the fix."""


class Collection:
    """A listed collection of labelled images (see the module docstring).

    Subclasses set the attributes below in ``__init__`` and implement :meth:`_open`.

    Attributes
    ----------
    kind : str
        ``"manifest"``, ``"webdataset"`` or ``"hf-dataset"``.
    name : str
        The dataset's name, for the report, the summary and ``dks compare``.
    location : str
        What was opened (absolute path or pattern), for messages and the record.
    root : str
        The folder the names are relative to.
    names : list of str
        Each image's name, relative to ``root``.
    labels : ndarray of str
        Each image's class name.
    classes : list of str
        The class names, sorted (a dataset's ClassLabel order where it has one).
    files : list of str
        Each image's file (the image file, its shard, its Arrow or Parquet file): a resumed
        run computes again the rows whose file changed.
    options : dict
        The options that listed it (columns, split), recorded with the results.
    """

    kind = "collection"

    def __len__(self):
        return len(self.names)

    @property
    def identities(self):
        """One string per image: what the store records for its row."""
        return [os.path.join(self.root, n) for n in self.names]

    def open(self, index):
        """Image ``index`` as a file path or a binary file object (for ``PIL.Image.open``).

        Raises
        ------
        OSError, ValueError
            The image cannot be read; the embedder skips it and lists it.
        """
        return self._open(index)

    def describe(self, index):
        """Name image ``index`` for messages."""
        return f"{self.names[index]} of {self.location}"

    def record(self):
        """What the results folder records of the source."""
        return {"kind": self.kind, "location": self.location, "name": self.name, **self.options}

    def subset(self, indices):
        """The images ``indices`` (in that order), as a collection of the same kind."""
        indices = np.asarray(indices, dtype=np.int64)
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.names = [self.names[i] for i in indices]
        new.labels = self.labels[indices]
        new.files = [self.files[i] for i in indices]
        new.rows = self.rows[indices]
        new._reset()
        return new

    # -------------------------------------------------------------- for subclasses
    rows = None  # ndarray, one entry per image: what locates it for _open (a row, an offset)

    def _open(self, index):
        raise NotImplementedError

    def _reset(self):
        """Forget open handles (after a copy, or in a new process)."""

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_handles", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._reset()

    def __repr__(self):
        return (
            f"{type(self).__name__}({self.location!r}: {len(self)} images, "
            f"{len(self.classes)} classes)"
        )


def check_labels(labels, where):
    """Raise :class:`SourceError` at the first empty label; ``where(i)`` names entry ``i``."""
    labels = np.asarray(labels, dtype=str)
    empty = np.flatnonzero(np.char.strip(labels) == "")
    if empty.size:
        raise SourceError(
            f"{where(int(empty[0]))} has an empty label ({empty.size} entr"
            f"{'y' if empty.size == 1 else 'ies'} in all); give every image its class."
        )
    return labels
