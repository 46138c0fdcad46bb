"""The one driver of the signed D_KS: chooses how the feature blocks are made, once.

:func:`signed_dks` computes the statistic of every feature for several labelings (the true
one and the shuffled ones) with the kernel :func:`dks._engine._kernels.block_signed_ks`.
What differs between inputs is only where the blocks of columns come from and where they
run, chosen here from the input:

- **in memory** (an ndarray, checked and scanned by
  :func:`dks._engine._validation.check_features`, which gives its column minima and
  maxima): the kernel reads its columns from ``X`` directly, ``block_size`` features per
  task;
- **memory map or Zarr** (:mod:`dks._engine._blocks`): each block is read once (spilled
  first if ``X`` is laid out by rows), checked for non-finite values and scanned for its
  minima and maxima as it is read; blocks are as wide as ``working_memory`` allows;
- **Dask** (:mod:`dks._engine._dask`): the blocks are tasks of the Dask graph, run on the
  active ``distributed`` cluster or on Dask's local scheduler.

The in-memory and the memory-map / Zarr blocks, and Dask's local scheduler, run on the one
thread pool of the process (:mod:`dks._engine._threads`). Results are written into one
array, or handed block by block to the caller (``on_block``), one call at a time.
"""

import itertools
import threading
from dataclasses import dataclass

import numpy as np

from dks._engine._blocks import FeatureSource, block_stats, lazy_kind, work_dtype
from dks._engine._dask import dask_signed_dks
from dks._engine._kernels import block_signed_ks
from dks._engine._memory import budget, fit_width, kernel_bytes, release_free_memory
from dks._engine._threads import n_threads, run_threads
from dks._engine._validation import non_finite_error

__all__ = ["compact_labels", "label_dtype", "signed_dks"]

# Values of X copied at once into the kernel's column buffer (see signed_dks).
_BUFFER_VALUES = 1 << 20


def signed_dks(
    X,
    labelings,
    class_counts,
    *,
    n_bins,
    mins,
    maxs,
    n_jobs=None,
    block_size=256,
    progress=False,
    on_block=None,
    estimator=None,
):
    """Signed D_KS of all features for several labelings (validated inputs only).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, finite; or a lazy
        source (memory map, Zarr or Dask array, see :mod:`dks._engine._blocks`) with
        ``mins=None``
    labelings : ndarray of shape (n_labelings, n_samples), integer
        Class codes; every labeling has the class sizes ``class_counts``. They are passed
        to the kernels in the smallest unsigned type that holds them.
    class_counts : ndarray of shape (n_classes,), int64
    n_bins : int or None
        ``None`` for the exact statistic.
    mins, maxs : ndarray of shape (n_features,), float64, or None
        Column minima and maxima; ``None`` for a lazy source: each block is then read once,
        checked for non-finite values and scanned for its minima and maxima.
    n_jobs : int or None
        Threads over feature blocks.
    block_size : int
        Features per block of an in-memory ``X``; for a lazy source, the widest group of
        columns the kernel prepares at once.
    progress : bool or str, default=False
        Show a tqdm bar over the feature blocks; a string is its description.
    on_block : callable or None
        When given, ``on_block(f0, f1, null)`` receives the D_KS of labelings ``1:`` for
        columns ``f0:f1`` (float64 ``(n_labelings - 1, n_classes, f1 - f0)``, a temporary)
        as each block is done, one call at a time, and only labeling 0 is kept.
    estimator : estimator or None
        Named in the error about non-finite values of a lazy source.

    Returns
    -------
    dks : ndarray of shape (n_labelings, n_classes, n_features), float64
        ``(1, n_classes, n_features)`` when ``on_block`` is given.
    """
    n_samples, n_features = X.shape
    n_labelings, n_classes = labelings.shape[0], class_counts.shape[0]
    labelings = compact_labels(labelings, n_classes)
    out = np.empty((n_labelings if on_block is None else 1, n_classes, n_features))
    work = _Work(
        labelings=labelings,
        class_counts=class_counts,
        bins=0 if n_bins is None else int(n_bins),
        # Columns are copied to a buffer of about _BUFFER_VALUES values (in the L3 cache):
        # the wider the group of columns, the longer the contiguous run read from each row.
        max_cols=max(1, min(block_size, _BUFFER_VALUES // max(n_samples, 1))),
        n_jobs=n_jobs,
        out=out,
        emit=None if on_block is None else _one_at_a_time(out, on_block),
        estimator=estimator,
    )
    desc = progress if isinstance(progress, str) else f"D_KS ({n_labelings} labeling(s))"
    with _progress_bar(n_features, desc, enabled=bool(progress)) as bar:
        if mins is not None:
            _in_memory(X, mins, maxs, block_size, work, bar)
        elif lazy_kind(X) == "dask":
            _on_dask(X, work, bar)
        else:
            _from_blocks(X, work, bar)
            release_free_memory()
    return out


@dataclass
class _Work:
    """What every path needs: the labelings, the kernel's settings and where results go."""

    labelings: np.ndarray
    class_counts: np.ndarray
    bins: int
    max_cols: int
    n_jobs: object
    out: np.ndarray
    emit: object
    estimator: object

    def result_for(self, f0, f1):
        """Where the kernel writes columns ``f0:f1`` (as its columns ``0:f1 - f0``)."""
        if self.emit is None:
            return self.out[:, :, f0:f1]
        return np.empty((self.labelings.shape[0], self.class_counts.shape[0], f1 - f0))

    def temporaries(self, n_samples, itemsize, width):
        """Bytes one computing thread holds beside a block of ``width`` features."""
        n_labelings, n_classes = self.labelings.shape[0], self.class_counts.shape[0]
        held = kernel_bytes(n_samples, itemsize, min(self.max_cols, width), n_labelings, n_classes)
        if self.emit is not None:  # the block's statistics, handed over when done
            held += n_labelings * n_classes * 8 * width
        return held

    def done(self, f0, f1, res):
        if self.emit is not None:
            self.emit(f0, f1, res)
        return f1 - f0


def _in_memory(X, mins, maxs, block_size, work, bar):
    """``X`` in memory: each task runs the kernel on ``block_size`` columns of ``X``.

    Narrower tasks, and column groups, where the threads' temporaries would not fit in half
    of ``working_memory`` otherwise (the other half may hold a memory map or a Zarr array
    small enough to be read at once, see :func:`dks._engine._validation.check_features`).
    """
    n_samples, n_features = X.shape
    threads = min(n_threads(work.n_jobs), -(-n_features // block_size))

    def cost(width):
        return threads * work.temporaries(n_samples, X.dtype.itemsize, width)

    if cost(block_size) > budget() // 2:
        what = f"X of shape {X.shape} in memory"
        block_size = fit_width(
            lambda width: 2 * cost(width), block_size, what=what, n_threads=threads
        )
        work.max_cols = min(work.max_cols, block_size)
    blocks = [(f0, min(f0 + block_size, n_features)) for f0 in range(0, n_features, block_size)]
    args = (work.bins, work.labelings, work.class_counts)

    def run(f0, f1):
        if work.emit is None:
            block_signed_ks(X, f0, f1, mins, maxs, *args, work.out, work.max_cols)
            return f1 - f0
        res = work.result_for(f0, f1)
        lo, hi = mins[f0:f1], maxs[f0:f1]
        block_signed_ks(X[:, f0:f1], 0, f1 - f0, lo, hi, *args, res, work.max_cols)
        return work.done(f0, f1, res)

    for width in run_threads(run, blocks, work.n_jobs):
        bar.update(width)


def _from_blocks(X, work, bar):
    """A memory map or a Zarr array: blocks read once each, checked as they are read."""
    threads = n_threads(work.n_jobs)

    def run(f0, f1, block=None):
        block = source.read(f0, f1) if block is None else block
        mins, maxs, n_bad, first_bad = block_stats(block)
        if n_bad.any():
            raise non_finite_error(work.estimator, n_bad, first_bad, offset=f0)
        res = work.result_for(f0, f1)
        block_signed_ks(
            block, 0, f1 - f0, mins, maxs, work.bins, work.labelings, work.class_counts, res,
            work.max_cols,
        )  # fmt: skip
        return work.done(f0, f1, res)

    itemsize = work_dtype(X.dtype).itemsize

    def temporaries(width):
        return work.temporaries(X.shape[0], itemsize, width)

    # With one thread, a second one reads the next block meanwhile: two blocks in memory.
    with FeatureSource(X, n_threads=threads, temporaries=temporaries) as source:
        if threads == 1 and len(source.blocks) > 1:
            for f0, f1, block in source.prefetched():
                bar.update(run(f0, f1, block))
                del block
        else:
            for width in run_threads(run, source.blocks, work.n_jobs):
                bar.update(width)


def _on_dask(X, work, bar):
    """A Dask array: one task per band of columns, on the active cluster or Dask's local
    scheduler.

    A task gets its band as pieces (the slices of the chunks it spans) and computes the
    band's blocks one after the other, each copied out of the pieces: it holds the band and
    its statistics, one block, its temporaries, and two chunks of ``X`` being read and
    sliced; ``n_jobs``
    tasks run at once on the local scheduler (one per worker thread on a cluster). Bands
    are whole chunk columns where they fit, else lie inside one chunk column (a band
    across two would decode both), as few per chunk column as fit with blocks of at least
    a quarter of the band.
    """
    n_samples, n_features = X.shape
    threads = n_threads(work.n_jobs)
    chunk_rows, chunk_cols = (int(c) for c in X.chunksize)
    # Whole Dask column chunks per band, unless the chunks span all features.
    align = chunk_cols if chunk_cols < n_features else 1
    itemsize = work_dtype(X.dtype).itemsize
    chunk_bytes = chunk_rows * chunk_cols * X.dtype.itemsize

    n_stats = work.labelings.shape[0] * work.class_counts.shape[0] * 8  # per column

    def cost(band, width):
        held = band * (n_samples * X.dtype.itemsize + n_stats)  # its pieces and results
        held += width * n_samples * itemsize + 2 * chunk_bytes
        return threads * (held + work.temporaries(n_samples, itemsize, width))

    what = f"X of shape {X.shape} (a Dask array in chunks of {chunk_rows} x {chunk_cols})"
    width = fit_width(lambda w: cost(w, w), n_features, align=align, what=what, n_threads=threads)
    band = width
    if width < align:  # bands inside chunk columns: as few per chunk column as fit
        per_column = -(-align // width)  # bands of one block each
        for m in range(1, per_column):
            wide = -(-align // m)
            if cost(wide, -(-wide // 4)) <= budget():
                band, per_column = wide, m
                width = fit_width(lambda w, b=wide: cost(b, w), wide, what=what, n_threads=threads)
                break
        band = -(-align // per_column)
        starts = [f0 for c0 in range(0, n_features, align) for f0 in range(c0, c0 + align, band)]
        bounds = [f0 for f0 in starts if f0 < n_features] + [n_features]
    else:
        bounds = [*range(0, n_features, width), n_features]
    edges = []
    for f0, f1 in itertools.pairwise(bounds):
        step = -(-(f1 - f0) // -(-(f1 - f0) // min(width, band)))  # even blocks
        edges.append([*range(0, f1 - f0, step), f1 - f0])
    dask_signed_dks(
        X, work.labelings, work.class_counts, bins=work.bins, bounds=bounds, edges=edges,
        max_cols=work.max_cols, out=work.out, emit=work.emit, estimator=work.estimator,
        n_threads=threads, on_done=bar.update,
    )  # fmt: skip


def label_dtype(n_classes):
    """The smallest unsigned type that holds class codes ``0 .. n_classes - 1``.

    The kernels read a class code for every sample and labeling; uint8 codes (up to 256
    classes) keep several labelings in the L1 cache at once.
    """
    for dtype in (np.uint8, np.uint16):
        if n_classes <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.int32)


def compact_labels(labelings, n_classes):
    """The labelings in :func:`label_dtype` (not copied when they are already)."""
    return np.ascontiguousarray(labelings, dtype=label_dtype(n_classes))


def _one_at_a_time(out, on_block):
    """``emit(f0, f1, res)``: labeling 0 into ``out``, the others to ``on_block``, serialized."""
    lock = threading.Lock()

    def emit(f0, f1, res):
        out[0, :, f0:f1] = res[0]
        with lock:
            on_block(f0, f1, res[1:])

    return emit


class _NoBar:
    """Stands in for a tqdm bar when progress is off: prints nothing."""

    def update(self, n=1):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _progress_bar(total, desc, *, enabled):
    """A tqdm bar over ``total`` features (updated per block), or a silent stand-in.

    tqdm is a dependency of dks; it is imported only when a bar is shown.
    """
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="feature")
