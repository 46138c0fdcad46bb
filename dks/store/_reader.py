"""Reading an embedding store: :func:`open_embedding` and :class:`EmbeddingStore`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dks._atomic import atomic_open
from dks._optional import import_optional
from dks.store._layout import (
    ARRAY,
    COMPLETE,
    DONE,
    FORMAT,
    IMAGES,
    LABELS,
    MANIFEST,
    chunk_range,
    read_json,
)

__all__ = ["EmbeddingStore", "RowView", "SkippedRow", "open_embedding"]


class SkippedRow(NamedTuple):
    """An input that could not be embedded: its row is NaN in :attr:`EmbeddingStore.array`."""

    index: int
    description: str
    error: str


class RowView:
    """Some rows of a 2-D Zarr array, read lazily: what ``np.asarray`` and slicing accept.

    Parameters
    ----------
    array : zarr.Array
        The full array.
    rows : ndarray of int
        The rows to show, increasing.
    """

    def __init__(self, array, rows):
        self.array = array
        self.rows = np.asarray(rows, dtype=np.int64)

    @property
    def shape(self):
        return (len(self.rows), self.array.shape[1])

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self):
        return 2

    def __len__(self):
        return len(self.rows)

    def __array__(self, dtype=None, copy=None):
        out = self[:, :]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getitem__(self, key):
        row_key, col_key = key if isinstance(key, tuple) else (key, slice(None))
        rows = self.rows[row_key]
        scalar_row = np.ndim(rows) == 0
        rows = np.atleast_1d(rows)
        if rows.size == 0:
            return self.array[0:0, col_key]
        if rows.size and np.array_equal(rows, np.arange(rows[0], rows[0] + rows.size)):
            out = self.array[int(rows[0]) : int(rows[0]) + rows.size, col_key]
        else:
            out = self.array.oindex[rows, col_key]
        return out[0] if scalar_row else out

    def __repr__(self):
        return f"RowView(shape={self.shape}, dtype={self.dtype})"


class EmbeddingStore:
    """An embedding store opened for reading (see :func:`open_embedding`).

    Attributes
    ----------
    path : pathlib.Path
    array : zarr.Array
        All ``n_rows`` rows, one per input, NaN for skipped (or not yet embedded) inputs.
    X : zarr.Array or RowView
        The embedded rows only (``sample_indices``): the array itself when nothing was
        skipped, else a lazy :class:`RowView`. Give it to the estimators as ``X``.
    sample_indices : ndarray of int64
        Input position of each row of ``X``.
    skipped : list of SkippedRow
    feature_names : ndarray of str objects
    layer_slices : dict of str to slice
    images : list of str
        One identity per input (file path, or a content hash of an in-memory image).
    labels : ndarray or None
        Labels of all inputs (see :meth:`set_labels`); ``y`` gives those of ``X``'s rows.
    settings : dict
        What determined the values (model, weights, layers, crops, ...).
    fingerprint : str
    complete : bool
    n_chunks : int
        Row chunks of the store (each written whole by one writer).
    n_chunks_done : int
        Of those, the chunks finished so far (all of them when ``complete``).
    revision : str or None
        Changes each time the store is completed, also when chunks of images replaced since
        were computed again (None for an incomplete store, or one of an older dks).
    """

    def __init__(self, path, allow_incomplete=False):
        zarr = import_optional("zarr", "The embedding store", needs="zarr>=3", extra="store")

        self.path = Path(path)
        manifest_path = self.path / MANIFEST
        if not manifest_path.is_file():
            raise FileNotFoundError(
                f"{os.fspath(self.path)!r} is not an embedding store (no {MANIFEST}); write "
                "one with CNNEmbedder(output='....zarr')."
            )
        manifest = read_json(manifest_path)
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{os.fspath(manifest_path)!r} is not a dks store manifest.")
        self.manifest = manifest
        self.settings = manifest["settings"]
        self.fingerprint = manifest["fingerprint"]
        self.feature_names = np.asarray(manifest["feature_names"], dtype=object)
        self.layer_slices = {k: slice(a, b) for k, (a, b) in manifest["layer_slices"].items()}
        self.array = zarr.open_array(self.path / ARRAY, mode="r")
        self.complete = (self.path / COMPLETE).is_file()
        n_rows, chunk_rows = manifest["n_rows"], manifest["chunk_rows"]
        self.revision = None
        self.n_chunks = -(-n_rows // chunk_rows) if n_rows else 0
        self.n_chunks_done = self.n_chunks
        if self.complete:
            record = read_json(self.path / COMPLETE)
            skipped, self.revision = record["skipped"], record.get("revision")
            done_rows = np.ones(n_rows, dtype=bool)
        else:
            done_rows, skipped = self._done_rows(n_rows, chunk_rows)
            if not allow_incomplete:
                missing = np.flatnonzero(~done_rows)
                raise ValueError(
                    f"The store {os.fspath(self.path)!r} is incomplete: {missing.size} of "
                    f"{n_rows} rows are not embedded yet (the first: row {missing[0]}). Rerun "
                    "the embedding (every shard) to complete it, or pass "
                    "allow_incomplete=True to read the rows done so far."
                )
        self.skipped = [SkippedRow(*s) for s in skipped]
        valid = done_rows.copy()
        valid[[s.index for s in self.skipped]] = False
        self.sample_indices = np.flatnonzero(valid).astype(np.int64)
        if self.sample_indices.size == n_rows:
            self.X = self.array
        else:
            self.X = RowView(self.array, self.sample_indices)

    def _done_rows(self, n_rows, chunk_rows):
        done_rows = np.zeros(n_rows, dtype=bool)
        skipped = []
        self.n_chunks_done = 0
        for name in sorted(os.listdir(self.path / DONE)):
            stem, _, ext = name.partition(".")
            if ext != "json" or not stem.isdigit():
                continue
            record = read_json(self.path / DONE / name)
            start, stop = chunk_range(int(stem), chunk_rows, n_rows)
            done_rows[start:stop] = True
            self.n_chunks_done += 1
            skipped.extend(record["skipped"])
        skipped.sort()
        return done_rows, skipped

    @property
    def images(self):
        return read_json(self.path / IMAGES)

    @property
    def labels(self):
        path = self.path / LABELS
        return np.asarray(read_json(path)) if path.is_file() else None

    @property
    def y(self):
        """Labels of the rows of ``X`` (None without labels)."""
        labels = self.labels
        return None if labels is None else labels[self.sample_indices]

    def set_labels(self, labels):
        """Store one label per input (all ``n_rows`` of them, skipped ones included).

        Parameters
        ----------
        labels : array-like of shape (n_rows,)
            Str or int labels, JSON-serializable.
        """
        values = np.asarray(labels)
        if values.shape != (self.array.shape[0],):
            raise ValueError(
                f"labels must hold one label per input of the store ({self.array.shape[0]}); "
                f"got shape {values.shape}."
            )
        with atomic_open(self.path / LABELS, "w") as fh:
            json.dump(values.tolist(), fh)

    def to_npy(self, path):
        """Write ``X`` (the embedded rows) to a ``.npy`` file, atomically; return its path."""
        path = Path(path)
        X = self.X
        header = {
            "descr": np.lib.format.dtype_to_descr(np.dtype("<f4")),
            "fortran_order": False,
            "shape": tuple(X.shape),
        }
        step = max(1, int(self.manifest["chunk_rows"]))
        with atomic_open(path, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            for start in range(0, X.shape[0], step):
                fh.write(np.ascontiguousarray(X[start : start + step, :], dtype="<f4").data)
        return path

    def __repr__(self):
        state = "complete" if self.complete else "incomplete"
        return (
            f"EmbeddingStore({os.fspath(self.path)!r}, {self.array.shape[0]} rows x "
            f"{self.array.shape[1]} features, {len(self.skipped)} skipped, {state})"
        )


def open_embedding(path, *, allow_incomplete=False):
    """Open an embedding store written by :class:`~dks.embed.CNNEmbedder`.

    Parameters
    ----------
    path : path-like
        The store folder (``*.zarr``).
    allow_incomplete : bool, default=False
        Open a store whose writers have not all finished (their rows are left out of ``X``).
        By default that is an error naming the first missing row.

    Returns
    -------
    EmbeddingStore
        ``store.X`` is the embedding (``np.asarray(store.X)`` reads it whole; ``store.X[:,
        a:b]`` reads a block of columns); ``store.feature_names``, ``store.layer_slices``,
        ``store.skipped``, ``store.images``, ``store.y`` describe it.
    """
    return EmbeddingStore(path, allow_incomplete=allow_incomplete)
