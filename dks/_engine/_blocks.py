"""Where feature blocks come from: arrays too large for RAM, read once in column blocks.

The signed D_KS of a feature needs the whole column (every sample), and nothing else: so the
statistics are computed feature block by feature block, each block read exactly once and
used for every labeling (the true one and all shuffled ones). This module turns the inputs
that may not fit in memory into such blocks:

- a :class:`numpy.memmap` (e.g. ``np.load(path, mmap_mode="r")``);
- a :class:`zarr.Array` (the chunked store of :mod:`dks`, or any 2-D Zarr array), or some
  of its rows (the store's :class:`dks.store.RowView`, without the skipped inputs);
- (a ``dask.array.Array`` is handled by :mod:`dks._engine._dask`, which sends blocks to workers.)

A block is as wide as ``sklearn.set_config(working_memory=...)`` allows for all the blocks in
flight and what reading them holds (:mod:`dks._engine._memory`) and, for Zarr, a whole number
of feature chunks where one fits.

*Row-major data.* Reading a column block out of data laid out by rows (a C-order memory
map, or a Zarr array whose chunks span all features, e.g. one chunk per write batch) touches
every row, hence the whole file, for every block: with a page cache smaller than the file
that is one full read per block (a 200,000 x 9,600 embedding in a process limited to 2 GB
read 96 times its size before it was stopped). Such a source is therefore first *spilled*,
in one sequential pass of row steps, into one temporary file per feature block (under the
system's temporary directory, ``TMPDIR``): each row step appends its columns of every block
to that block's file, column after column (each step's piece in Fortran order, so that it
is read back straight into the block's columns, with no copy), so all writes and later reads
are sequential (writing a Fortran-order copy of the whole block in place instead rewrites
partly filled pages, which a small page cache evicts and reads back). The spill costs one
write and one read of the data and needs that much free disk (each block's file is removed
once read); it is skipped when the whole array fits in one block.

*Chunks wider than a block.* When not even half a feature chunk of a Zarr array fits in a
block (e.g. chunks of 20,000 rows x 250 features, as other tools write them, read with a
small ``working_memory``), each chunk would be decoded once for every block it holds. Such an
array is spilled too, a chunk column at a time, by a thread of its own that keeps one chunk
column ahead of the reads: the blocks then lie inside chunk columns, each chunk is decoded
once and holds memory only while its columns are written out, and the spill of the next chunk
column overlaps the reads and statistics of this one.

*Reading ahead.* Fetching and decoding a Zarr row step is most of the spill's work, and
writing it out waits on the disk: a second thread of the spill (the *read-ahead*) decodes row
step ``k + 1`` while the spilling thread writes step ``k``, into two buffers used in turn
(zarr decodes each chunk straight into one; C order, the chunks' own, which is a plain copy
for zarr). The spilling thread transposes each block's columns out of the step by small tiles
(:func:`dks._engine._kernels.load_columns`, faster than numpy's strided copy) and writes
them. This costs one row step of a chunk column more than decoding in the spilling thread
(counted in ``working_memory``). A memory map is read in place by the spilling thread (a
second row step would cost a block's worth of memory there).
"""

import errno
import os
import shutil
import sys
import tempfile
import threading
from concurrent.futures import wait

import numpy as np

from dks._atomic import remove_stale, temporary_name
from dks._config import ContextThreadPool, carry_context
from dks._engine._kernels import load_columns
from dks._engine._memory import fit_width, release_free_memory, zarr_concurrency
from dks._engine._threads import executor

__all__ = [
    "FeatureSource",
    "block_stats",
    "copy_rows",
    "lazy_kind",
    "work_dtype",
    "zarr_chunks",
]


def lazy_kind(X):
    """``"dask"``, ``"zarr"``, ``"memmap"`` or ``None`` (an ordinary in-memory input).

    ``"zarr"`` also for some rows of a Zarr array (:func:`zarr_chunks`). Neither Dask nor
    Zarr is imported here: an object can only be one of their arrays if its library is
    already loaded.
    """
    dask_array = sys.modules.get("dask.array")
    if dask_array is not None and isinstance(X, dask_array.Array):
        return "dask"
    if zarr_chunks(X) is not None:
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


def block_stats(block):
    """Column minima, maxima (float64), non-finite counts and first non-finite rows.

    ``first_bad[j]`` is ``-1`` where column ``j`` is finite. Two passes where the block is
    finite: a NaN makes its column's minimum NaN, an infinity its minimum or maximum
    infinite, so finite extremes mean a finite column.
    """
    mins, maxs = block.min(axis=0), block.max(axis=0)
    if np.isfinite(mins).all() and np.isfinite(maxs).all():
        n_features = block.shape[1]
        no_bad = np.zeros(n_features, dtype=np.int64)
        return mins.astype(np.float64), maxs.astype(np.float64), no_bad, no_bad - 1
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
    X : numpy.memmap, zarr.Array, or rows of a Zarr array, of shape (n_samples, n_features)
        Rows of a Zarr array: an object with the array as ``array`` and the row indices as
        ``rows`` (the store's :class:`dks.store.RowView`).
    n_threads : int
        Threads computing on blocks at the same time, each holding one block (with one, a
        second thread reads the next block meanwhile: two blocks in memory).
    temporaries : callable or None, default=None
        ``temporaries(width)``: the bytes that each computing thread holds beside a block of
        ``width`` features (the kernel's buffers, the block's statistics).

    Attributes
    ----------
    blocks : list of (f0, f1)
        Column ranges, in order: as wide as ``working_memory`` allows for all the blocks in
        flight, their temporaries and what reading them decodes (see
        :mod:`dks._engine._memory`); whole Zarr feature chunks where one fits.
    dtype : numpy.dtype
        float32 or float64, the dtype of the blocks.

    Raises
    ------
    ValueError
        When ``working_memory`` cannot hold the blocks of a single feature.

    A row-major ``X`` of more than one block is spilled at the first read, a Zarr array of
    chunks wider than two blocks a chunk column at a time (see the module docstring). Use
    as a context manager: the spill, if any, is removed on exit.
    """

    def __init__(self, X, *, n_threads, temporaries=None):
        self.X = X
        self.dtype = work_dtype(X.dtype)
        n_samples, n_features = X.shape
        self._layout = _Layout(X, self.dtype)
        self._n_threads = max(1, int(n_threads))
        self._temporaries = temporaries or (lambda width: 0)
        layout = self._layout
        # Blocks of whole feature chunks where they fit, unless chunks span all features.
        align = 1 if layout.row_major or layout.chunks is None else layout.chunks[1]
        what = f"X of shape {(n_samples, n_features)} ({layout.describe()})"
        width = fit_width(
            self._cost, n_features, align=align, what=what, n_threads=self._n_threads
        )
        spilled = layout.spills(width)
        if spilled:  # blocks inside chunk columns, so that each chunk is read once
            group = layout.group_cols
            self.blocks = [
                (f0, min(f0 + width, c0 + group, n_features))
                for c0 in range(0, n_features, group)
                for f0 in range(c0, min(c0 + group, n_features), width)
            ]
        else:
            self.blocks = [(f0, min(f0 + width, n_features)) for f0 in range(0, n_features, width)]
        rows = layout.step_rows(width)
        self._row_steps = [(r0, min(r0 + rows, n_samples)) for r0 in range(0, n_samples, rows)]
        self._tmpdir = None
        self._spill_state = threading.Condition()
        self._spilled = set()  # the chunk columns written to the spill
        self._wanted = -1  # the last chunk column a block was asked of
        self._spiller = None
        self._reader = None  # the read-ahead thread of a Zarr spill, and its two buffers
        self._step_buffers = ()
        self._spill_error = None
        self._closing = False
        if spilled and len(self.blocks) > 1:
            self._tmpdir = _spill_dir()

    def _cost(self, width):
        """Bytes held at once with blocks of ``width`` features (see dks._engine._memory)."""
        layout, threads = self._layout, self._n_threads
        n_samples = self.X.shape[0]
        spilled = layout.spills(width)
        readers = 1 if threads == 1 else threads
        computing = (
            max(2, threads) * n_samples * width * self.dtype.itemsize
            + threads * self._temporaries(width)
            + readers * layout.read_bytes(width, spilled)
        )
        # What the spill held is counted as still held: the allocator keeps part of it
        # (zarr decodes in threads of its own, whose heaps are not all given back).
        return computing + (layout.spill_bytes(width) if spilled else 0)

    def read(self, f0, f1):
        """Columns ``f0:f1`` as a Fortran-ordered ndarray of ``dtype``.

        Filled a row step at a time, so that no second copy of the block is made.
        """
        if self._tmpdir is not None:
            self._wait_spilled(f0 // self._layout.group_cols)
        out = np.empty((self.X.shape[0], f1 - f0), dtype=self.dtype, order="F")
        if self._tmpdir is not None:
            path = self._block_path(f0)
            with open(path, "rb", buffering=0) as f:
                for r0, r1 in self._row_steps:  # a row step: its columns one after another
                    for j in range(f1 - f0):
                        _read_into(f, out[r0:r1, j], path)
            os.remove(path)  # read once: its pages leave the page cache now
        elif self._layout.chunks is not None:
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

    def _wait_spilled(self, group):
        """Wait until chunk column ``group`` is spilled; the spilling thread then goes on to
        the next one (never more than one ahead of the reads), started on the first call."""
        with self._spill_state:
            self._wanted = max(self._wanted, group)
            if self._spiller is None:
                self._spiller = threading.Thread(
                    target=carry_context(self._spill_all), name="dks-spill", daemon=True
                )
                self._spiller.start()
            self._spill_state.notify_all()
            while group not in self._spilled and self._spill_error is None:
                self._spill_state.wait()
            if group not in self._spilled:
                raise self._spill_error

    def _spill_all(self):
        """The spilling thread: each chunk column in turn, one ahead of the reads at most.

        A thread of its own, not of the engine's pool: it waits for the reads, which run on
        the pool.
        """
        state = self._spill_state
        n_groups = -(-self.X.shape[1] // self._layout.group_cols)
        if self._layout.chunks is not None:  # Zarr: decoded ahead into two buffers in turn
            self._reader = ContextThreadPool(1, thread_name_prefix="dks-spill-read")
            r0, r1 = self._row_steps[0]
            size = (r1 - r0) * min(self._layout.group_cols, self.X.shape[1])
            self._step_buffers = tuple(np.empty(size, dtype=self.dtype) for _ in range(2))
        try:
            for group in range(n_groups):
                with state:
                    while not self._closing and group > self._wanted + 1:
                        state.wait()
                    if self._closing:
                        return
                try:
                    try:
                        self._spill(group)
                    except OSError as exc:
                        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                            raise
                        raise OSError(self._spill_full(exc)) from exc
                except BaseException as exc:  # handed to the reads
                    with state:
                        self._spill_error = exc
                        state.notify_all()
                    return
                with state:
                    self._spilled.add(group)
                    state.notify_all()
        finally:
            if self._reader is not None:
                self._reader.shutdown()
            self._reader, self._step_buffers = None, ()

    def _spill(self, group):
        """Write the blocks of chunk column ``group`` to their temporary files.

        Run by the spilling thread (:meth:`_spill_all`): while the blocks of one chunk
        column are read and computed on, the next one is spilled. A chunk column is read
        once, in row steps (all features of a row-major ``X``: one pass over all of it), and
        each step appends its columns of every block to that block's file (in Fortran order:
        column after column), so every file is written sequentially and later read the same
        way, each column straight into the block.
        """
        width = self._layout.group_cols
        c0 = group * width
        c1 = min(c0 + width, self.X.shape[1])
        blocks = [(f0, f1) for f0, f1 in self.blocks if c0 <= f0 < c1]
        files = [open(self._block_path(f0), "wb") for f0, _ in blocks]  # noqa: SIM115
        steps = self._steps(c0, c1)
        r0, r1 = self._row_steps[0]
        widest = max(f1 - f0 for f0, f1 in blocks)
        pieces = np.empty((r1 - r0) * widest, dtype=self.dtype)  # one block's columns
        try:
            for rows in steps:
                for f, (f0, f1) in zip(files, blocks, strict=True):
                    # The block's columns of the step, one after another (a tiled transpose).
                    piece = pieces[: (f1 - f0) * rows.shape[0]].reshape(f1 - f0, rows.shape[0])
                    load_columns(rows, f0 - c0, f1 - c0, piece)
                    # write(), not tofile(): a full disk is then ENOSPC, not a short write
                    f.write(piece.data)
                del rows
        finally:
            steps.close()  # no decoding left running into the buffers
            for f in files:
                f.close()
            release_free_memory()  # the heap of zarr's decoding, before the blocks are read

    def _steps(self, c0, c1):
        """Yield the row steps of columns ``c0:c1`` of ``X``, C-ordered, of ``dtype``.

        A Zarr array's steps are decoded by the read-ahead thread, one step ahead of the
        caller, into the two buffers in turn; a step stays valid until the next one is asked
        for. A memory map's rows are views of it (copies where its dtype is converted).
        """
        if self._reader is None:
            for r0, r1 in self._row_steps:
                yield np.asarray(self.X[r0:r1, c0:c1], dtype=self.dtype)
            return

        def decode(k):
            r0, r1 = self._row_steps[k]
            flat = self._step_buffers[k % 2][: (r1 - r0) * (c1 - c0)]
            step = flat.reshape(r1 - r0, c1 - c0)
            self._read_rows(r0, r1, c0, c1, step)
            return step

        n_steps = len(self._row_steps)
        pending = self._reader.submit(decode, 0)
        try:
            for k in range(n_steps):
                step = pending.result()  # an error of the read-ahead is raised here
                if k + 1 < n_steps:
                    pending = self._reader.submit(decode, k + 1)
                yield step
                del step
        finally:
            pending.cancel()
            wait([pending])

    def _read_rows(self, r0, r1, c0, c1, out):
        """Rows ``r0:r1`` of features ``c0:c1`` of the Zarr ``X`` into C-ordered ``out``.

        Zarr decodes each chunk straight into ``out`` where the dtype is kept; otherwise
        the rows it returns are converted as they are copied.
        """
        X, layout = self.X, self._layout
        if layout.converted:
            out[:] = X[r0:r1, c0:c1]
            return
        into = _nd_buffer(out)
        if not layout.row_view:
            X.get_basic_selection((slice(r0, r1), slice(c0, c1)), out=into)
            return
        rows = X.rows[r0:r1]  # increasing
        if rows[-1] - rows[0] == len(rows) - 1:  # a range of rows
            selection = (slice(int(rows[0]), int(rows[-1]) + 1), slice(c0, c1))
            X.array.get_basic_selection(selection, out=into)
        else:
            X.array.get_orthogonal_selection((rows, slice(c0, c1)), out=into)

    def _spill_full(self, exc):
        """The message of a spill that does not fit in the temporary directory."""
        n_rows, n_features = self.X.shape
        need = n_rows * n_features * np.dtype(self.dtype).itemsize
        try:
            stat = os.statvfs(self._tmpdir)
            free = f"{stat.f_bavail * stat.f_frsize / 2**20:,.0f} MiB free"
        except (OSError, AttributeError):
            free = "less free"
        where = os.path.dirname(self._tmpdir)
        return (
            f"The temporary directory {where!r} (TMPDIR) is full ({exc.strerror}): the "
            f"statistics spill the embedding there ({n_rows:,} rows x {n_features:,} features "
            f"read column block by column block), which needs {need / 2**20:,.0f} MiB ({free}). "
            "Set the environment variable TMPDIR to a folder on a disk with that much room "
            "(e.g. TMPDIR=/scratch/tmp dks characterize ...), or free space there."
        )

    def _block_path(self, f0):
        return os.path.join(self._tmpdir, f"{f0}.bin")

    def close(self):
        with self._spill_state:
            self._closing = True
            self._spill_state.notify_all()
        if self._spiller is not None:
            self._spiller.join()
            self._spiller = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _spill_dir():
    """A new spill folder in the temp dir, after removing those of killed fits.

    ``<tmp>/.dks-feature-blocks.<pid>.<host>.<random>.dks-tmp`` (:func:`dks._atomic.
    temporary_name`): a fit killed by SIGKILL cannot remove its spill, and a spill is as large
    as the input, so the next fit on the machine removes the folders whose process is gone
    (:func:`dks._atomic.remove_stale`); those of fits still running are kept.
    """
    target = os.path.join(tempfile.gettempdir(), "dks-feature-blocks")
    remove_stale(target)
    path = temporary_name(target)
    path.mkdir(mode=0o700)
    return os.fspath(path)


def _row_major(X):
    """Whether a column block of ``X`` would touch (nearly) all of its storage."""
    chunks = zarr_chunks(X)
    if chunks is not None:
        return chunks[1] >= X.shape[1]
    return not X.flags.f_contiguous


def zarr_chunks(X):
    """The chunk shape of a Zarr array, or of the Zarr array under a row view; else None."""
    zarr = sys.modules.get("zarr")
    if zarr is None:
        return None
    array = X if isinstance(X, zarr.Array) else getattr(X, "array", None)
    if isinstance(array, zarr.Array) and (array is X or hasattr(X, "rows")):
        return tuple(int(c) for c in array.chunks)
    return None


class _Layout:
    """How ``X`` is stored, and what reading it holds in memory (see dks._engine._memory)."""

    def __init__(self, X, dtype):
        self.shape = tuple(X.shape)
        self.itemsize = dtype.itemsize
        self.source_itemsize = np.dtype(X.dtype).itemsize
        self.converted = np.dtype(X.dtype) != dtype
        self.chunks = zarr_chunks(X)
        self.row_view = self.chunks is not None and hasattr(X, "rows")
        self.row_major = _row_major(X)

    def describe(self):
        if self.chunks is None:
            return "a memory map" if self.row_major else "a Fortran-ordered memory map"
        rows, cols = self.chunks
        return f"a Zarr array in chunks of {rows} x {cols}"

    @property
    def group_cols(self):
        """Width of one column of chunks: all features for a memory map or row chunks."""
        if self.chunks is None or self.row_major:
            return self.shape[1]
        return self.chunks[1]

    def spills(self, width):
        """Whether blocks of ``width`` are first written to temporary files.

        Row-major data of more than one block (each block would read all of it), and Zarr
        blocks narrower than half a chunk (each chunk would be decoded three times or more:
        writing and reading the spill once costs less). A block of half a chunk or more
        reads part of the (at most two) chunks it touches.
        """
        if self.chunks is None and not self.row_major:
            return False
        if self.row_major:
            return width < self.group_cols
        return 2 * width < self.group_cols

    def step_rows(self, width):
        """Rows read at a time: a Zarr row chunk, or as many rows as a block holds values."""
        if self.chunks is not None:
            return self.chunks[0]
        n_samples, n_features = self.shape
        return max(1, (n_samples * width) // n_features)

    def _decoded(self, width):
        """Bytes of the Zarr chunks that reading one row step of ``width`` columns decodes."""
        cols = self.chunks[1]
        touched = min(-(-width // cols) + (width % cols != 0), -(-self.shape[1] // cols))
        touched *= 2 if self.row_view else 1  # the rows of a view may span two row chunks
        return min(zarr_concurrency(), touched) * 2 * self._chunk_bytes()

    def read_bytes(self, width, spilled):
        """What one thread holds beside the block while it reads a block of ``width``."""
        rows = self.step_rows(width)
        if spilled:
            return rows * width * self.itemsize  # a row step of the block's spill file
        if self.chunks is None:
            return 0  # copied straight from the memory map
        return rows * width * self.source_itemsize + self._decoded(width)

    def spill_bytes(self, width):
        """What the spill holds while it writes the blocks of a chunk column.

        The columns of one block in a row step, transposed for writing; a memory map's step
        where its dtype is converted. A Zarr array: two row steps of a chunk column (one
        written out while the read-ahead decodes the next), the chunks being decoded and,
        where the dtype is converted, the rows zarr returns before they are.
        """
        rows = self.step_rows(width)
        group = self.group_cols
        held = rows * width * self.itemsize
        if self.chunks is None:
            return held + (rows * group * self.itemsize if self.converted else 0)
        held += 2 * rows * group * self.itemsize
        held += min(zarr_concurrency(), 2 if self.row_view else 1) * 2 * self._chunk_bytes()
        if self.converted:
            held += rows * group * self.source_itemsize
        return held

    def _chunk_bytes(self):
        rows, cols = self.chunks
        return rows * cols * self.source_itemsize


def _nd_buffer(out):
    """``out`` as the buffer zarr decodes into (zarr is loaded: ``X`` is one of its arrays)."""
    prototype = sys.modules["zarr"].core.buffer.default_buffer_prototype()
    return prototype.nd_buffer.from_numpy_array(out)


def _read_into(f, column, path):
    """Fill the contiguous array ``column`` from the unbuffered file ``f``."""
    view = memoryview(column).cast("B")
    while view:
        n = f.readinto(view)
        if not n:
            raise OSError(f"The spill file {path!r} ended early: another process changed it.")
        view = view[n:]


def copy_rows(rows, out, r0):
    """``out[r0:r0 + len(rows)] = rows``, by tiles of 64 rows (a cache-friendly transpose
    of C-ordered rows into Fortran-ordered ``out``)."""
    rows = np.asarray(rows)
    n = rows.shape[0]
    for t0 in range(0, n, 64):
        t1 = min(t0 + 64, n)
        out[r0 + t0 : r0 + t1] = rows[t0:t1]
