"""Where feature blocks come from: arrays too large for RAM, read once in column blocks.

The signed D_KS of a feature needs the whole column (every sample), and nothing else: so the
statistics are computed feature block by feature block, each block read exactly once and
used for every labeling (the true one and all shuffled ones). This module turns the inputs
that may not fit in memory into such blocks:

- a :class:`numpy.memmap` (e.g. ``np.load(path, mmap_mode="r")``);
- a :class:`zarr.Array` (the chunked store of :mod:`dks`, or any 2-D Zarr array);
- (a ``dask.array.Array`` is handled by :mod:`dks._engine._dask`, which sends blocks to workers.)

A block is as wide as ``sklearn.set_config(working_memory=...)`` allows per thread (at least
``block_size`` features) and, for Zarr, a whole number of feature chunks.

*Row-major data.* Reading a column block out of data laid out by rows (a C-order memory
map, or a Zarr array whose chunks span all features, e.g. one chunk per write batch) touches
every row, hence the whole file, for every block: with a page cache smaller than the file
that is one full read per block (a 200,000 x 9,600 embedding in a process limited to 2 GB
read 96 times its size before it was stopped). Such a source is therefore first *spilled*,
in one sequential pass of row steps, into one temporary file per feature block (under the
system's temporary directory, ``TMPDIR``): each row step appends its columns of every block
to that block's file, so all writes and later reads are sequential (writing a Fortran-order
copy in place instead rewrites partly filled pages, which a small page cache evicts and
reads back). The spill costs one write and one read of the data and needs that much free
disk; it is skipped when the whole array fits in one block.
"""

import os
import shutil
import sys
import tempfile
from concurrent.futures import wait

import numpy as np
from sklearn import get_config

from dks._engine._threads import executor

__all__ = [
    "FeatureSource",
    "block_stats",
    "block_width",
    "copy_rows",
    "lazy_kind",
    "work_dtype",
]


def lazy_kind(X):
    """``"dask"``, ``"zarr"``, ``"memmap"`` or ``None`` (an ordinary in-memory input).

    Neither Dask nor Zarr is imported here: an object can only be one of their arrays if its
    library is already loaded.
    """
    dask_array = sys.modules.get("dask.array")
    if dask_array is not None and isinstance(X, dask_array.Array):
        return "dask"
    zarr = sys.modules.get("zarr")
    if zarr is not None and isinstance(X, zarr.Array):
        return "zarr"
    base = X
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap):
            return "memmap"
        base = base.base
    return None


def work_dtype(dtype):
    """float32 stays float32; every other numeric type is computed in float64."""
    return np.dtype(np.float32) if np.dtype(dtype) == np.float32 else np.dtype(np.float64)


def block_width(n_samples, itemsize, n_threads, *, block_size, align=1):
    """Features per block: what ``working_memory`` allows per thread, a multiple of ``align``.

    At least ``block_size`` features (rounded up to ``align``).
    """
    budget = get_config()["working_memory"] * 2**20 / max(n_threads, 1)
    width = max(int(block_size), int(budget // (max(n_samples, 1) * itemsize)))
    return max(align, (width // align) * align)


def block_stats(block):
    """Column minima, maxima (float64), non-finite counts and first non-finite rows.

    ``first_bad[j]`` is ``-1`` where column ``j`` is finite.
    """
    finite = np.isfinite(block)
    n_bad = block.shape[0] - np.count_nonzero(finite, axis=0)
    first_bad = np.where(n_bad > 0, np.argmin(finite, axis=0), -1)
    if n_bad.any():
        mins = np.min(block, axis=0, initial=np.inf, where=finite)
        maxs = np.max(block, axis=0, initial=-np.inf, where=finite)
    else:
        mins, maxs = block.min(axis=0), block.max(axis=0)
    return mins.astype(np.float64), maxs.astype(np.float64), n_bad.astype(np.int64), first_bad


class FeatureSource:
    """Column blocks of a memory map or a Zarr array, each read once, in Fortran order.

    Parameters
    ----------
    X : numpy.memmap or zarr.Array of shape (n_samples, n_features)
    n_threads : int
        Threads reading blocks at the same time (each holds one block).
    block_size : int
        Fewest features per block.

    Attributes
    ----------
    blocks : list of (f0, f1)
        Column ranges, in order.
    dtype : numpy.dtype
        float32 or float64, the dtype of the blocks.

    A row-major ``X`` of more than one block is spilled when the source is made (see the
    module docstring). Use as a context manager: the spill, if any, is removed on exit.
    """

    def __init__(self, X, *, n_threads, block_size):
        self.X = X
        self.dtype = work_dtype(X.dtype)
        n_samples, n_features = X.shape
        row_major = _row_major(X)
        # Blocks of whole feature chunks, unless chunks span all features (then spilled).
        align = 1 if row_major or lazy_kind(X) != "zarr" else int(X.chunks[1])
        width = block_width(
            n_samples, self.dtype.itemsize, n_threads, block_size=block_size, align=align
        )
        width = min(width, n_features)
        self.blocks = [(f0, min(f0 + width, n_features)) for f0 in range(0, n_features, width)]
        # Rows read at a time: a Zarr row chunk, or as many rows as one block holds values.
        rows = _row_chunk(X)
        if rows == 1:
            rows = max(1, (n_samples * width) // n_features)
        self._row_steps = [(r0, min(r0 + rows, n_samples)) for r0 in range(0, n_samples, rows)]
        self._tmpdir = None
        if len(self.blocks) > 1 and row_major:
            self._spill()

    def read(self, f0, f1):
        """Columns ``f0:f1`` as a Fortran-ordered ndarray of ``dtype``.

        Filled a row step at a time, so that no second copy of the block is made.
        """
        out = np.empty((self.X.shape[0], f1 - f0), dtype=self.dtype, order="F")
        if self._tmpdir is not None:
            with open(self._block_path(f0), "rb") as f:
                for r0, r1 in self._row_steps:
                    count = (r1 - r0) * (f1 - f0)
                    rows = np.fromfile(f, self.dtype, count).reshape(r1 - r0, f1 - f0)
                    copy_rows(rows, out, r0)
        elif lazy_kind(self.X) == "zarr":
            for r0, r1 in self._row_steps:
                copy_rows(self.X[r0:r1, f0:f1], out, r0)
        else:
            out[:] = self.X[:, f0:f1]
        return out

    def prefetched(self):
        """Yield ``(f0, f1, block)`` for every block, reading the next one meanwhile.

        A second thread reads (and decompresses) block ``k + 1`` while the caller computes
        on block ``k``: reading and computing overlap, at the cost of two blocks in memory.
        """
        pool = executor(1)  # the engine's thread pool
        pending = pool.submit(self.read, *self.blocks[0])
        try:
            for k, (f0, f1) in enumerate(self.blocks):
                block = pending.result()
                if k + 1 < len(self.blocks):
                    pending = pool.submit(self.read, *self.blocks[k + 1])
                yield f0, f1, block
                del block
        finally:
            pending.cancel()
            wait([pending])  # no read left running on the spill files being removed

    def _spill(self):
        """Write each feature block of a row-major ``X`` to its own temporary file.

        One sequential pass of row steps; each step appends its columns of every block to
        that block's file, so every file is written sequentially and later read the same way.
        """
        self._tmpdir = tempfile.mkdtemp(prefix="dks-feature-blocks-")
        files = [open(self._block_path(f0), "wb") for f0, _ in self.blocks]  # noqa: SIM115
        try:
            for r0, r1 in self._row_steps:
                rows = np.asarray(self.X[r0:r1], dtype=self.dtype)
                for f, (f0, f1) in zip(files, self.blocks, strict=True):
                    np.ascontiguousarray(rows[:, f0:f1]).tofile(f)
        finally:
            for f in files:
                f.close()

    def _block_path(self, f0):
        return os.path.join(self._tmpdir, f"{f0}.bin")

    def close(self):
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _row_major(X):
    """Whether a column block of ``X`` would touch (nearly) all of its storage."""
    if lazy_kind(X) == "zarr":
        return int(X.chunks[1]) >= X.shape[1]
    return not X.flags.f_contiguous


def copy_rows(rows, out, r0):
    """``out[r0:r0 + len(rows)] = rows``, by tiles of 64 rows (a cache-friendly transpose
    of C-ordered rows into Fortran-ordered ``out``)."""
    rows = np.asarray(rows)
    n = rows.shape[0]
    for t0 in range(0, n, 64):
        t1 = min(t0 + 64, n)
        out[r0 + t0 : r0 + t1] = rows[t0:t1]


def _row_chunk(X):
    return int(X.chunks[0]) if lazy_kind(X) == "zarr" else 1
