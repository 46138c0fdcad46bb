"""Feature blocks of a Dask array as tasks on a ``dask.distributed`` cluster (optional).

Install with ``pip install dks[dask]``. Dask is imported only when a Dask array is given
or :func:`client_for` is called, so :mod:`dks` works without Dask.

A ``dask.array.Array`` is cut into column bands spanning all rows (as wide as
``working_memory`` allows per ``n_jobs`` thread of the caller, see
:mod:`dks._engine._memory`); each band is one task that gets its pieces of the chunks
(each chunk decoded once per band), copies out its blocks one at a time, checks them, and
computes the signed D_KS of every labeling (true and shuffled) for them. The labelings
are sent once to every worker
(``Client.scatter(broadcast=True)``). The results come back as the tasks finish and are
written into the result (or handed to the caller's block reducer and dropped, see
``NoiseThresholdSelector(keep_null=False)``), so the client never holds more than the
results plus one block's statistics. The numbers are those of the in-memory fit: the
same kernel on the same columns.

With an active ``distributed.Client`` (``get_client()`` finds one) the tasks run on its
cluster; otherwise on Dask's local threaded scheduler, ``n_jobs`` blocks at a time, on the
engine's thread pool (:mod:`dks._engine._threads`).

Give Dask a feature-chunked array (e.g. ``dask.array.from_zarr`` of the dks store): blocks
are then whole chunks side by side, or lie inside one chunk column where a chunk column
does not fit. From an array whose chunks span all features (row batches), each band reads
its columns of every chunk: all of the data once per band.
"""

import itertools

import numpy as np

from dks._engine._blocks import block_stats, copy_rows, lazy_kind, work_dtype
from dks._engine._kernels import block_signed_ks
from dks._engine._threads import executor
from dks._engine._validation import non_finite_error

__all__ = ["as_dask_array", "client_for", "dask_signed_dks"]


def client_for(scheduler=None, n_workers=None):
    """A ``distributed.Client`` for a scheduler address, or on a new local cluster.

    What the CLI's ``--scheduler ADDRESS`` and ``--local-cluster N`` call. The client
    becomes the default one, so fits on Dask arrays run their blocks on its cluster.
    Use it as a context manager: leaving closes the client (and the local cluster it
    started, if any).

    Parameters
    ----------
    scheduler : str or None, default=None
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"`` (started with
        ``dask scheduler`` and ``dask worker ADDRESS`` on the machines; each worker needs
        ``dks`` installed and read access to the store).
    n_workers : int or None, default=None
        With ``scheduler=None``: start a ``LocalCluster`` of this many worker processes,
        one thread each (``None``: one per core).

    Returns
    -------
    client : distributed.Client
    """
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            "Running on a Dask cluster needs the optional dependency distributed: "
            "pip install 'dks[dask]'."
        ) from None
    if scheduler is not None:
        if n_workers is not None:
            raise ValueError(
                f"Give a scheduler address ({scheduler!r}) or a number of local workers "
                f"({n_workers!r}), not both."
            )
        return Client(scheduler)
    if n_workers is not None and n_workers < 1:
        raise ValueError(f"n_workers must be at least 1; got {n_workers!r}.")
    return Client(n_workers=n_workers, threads_per_worker=1)


def as_dask_array(X):
    """``X`` as a Dask array whose tasks read it where they run.

    A Zarr array becomes ``dask.array.from_zarr`` (workers open the store themselves, so
    it must be at a path or URL they can reach), and a view of some rows of a Zarr array
    (an object with the array as ``array`` and the row indices as ``rows``, as the store's
    :class:`dks.store.RowView` without its skipped rows) those rows of it; an in-memory
    array is wrapped with ``dask.array.from_array`` (its data then travel with the task
    graph: for a large embedding, write a Zarr store and pass that); a Dask array is
    returned as it is.
    """
    import dask.array as da

    rows = getattr(X, "rows", None)
    if rows is not None and lazy_kind(getattr(X, "array", None)) == "zarr":
        return as_dask_array(X.array)[rows]  # skipped images: the kept rows of the array
    kind = lazy_kind(X)
    if kind == "dask":
        return X
    if kind == "zarr":
        return da.from_zarr(X)
    return da.from_array(np.asarray(X))


def _current_client():
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:
        return None


def _band_task(pieces, edges, labelings, class_counts, n_bins, max_cols):
    """One band of columns, given as its pieces: the D_KS of each of its blocks.

    ``edges`` are the blocks' edges within the band (``0, ..., width``). Each block is
    copied out of the pieces (in Fortran order: the column checks run faster) and computed
    in turn, so that the band is read (its chunks decoded) once for all its blocks. Returns
    the band's D_KS (``None`` if it holds non-finite values), non-finite counts and first
    non-finite rows.
    """
    pieces = [[np.asarray(p) for p in row] for row in pieces]  # [row chunk][column chunk]
    n_samples = sum(row[0].shape[0] for row in pieces)
    dtype = work_dtype(pieces[0][0].dtype)
    res = np.empty((labelings.shape[0], class_counts.shape[0], edges[-1]))
    n_bad = np.zeros(edges[-1], dtype=np.int64)
    first_bad = np.full(edges[-1], -1, dtype=np.int64)
    for s0, s1 in itertools.pairwise(edges):
        block = np.empty((n_samples, s1 - s0), dtype=dtype, order="F")  # checked faster
        r0 = 0
        for row in pieces:
            r1, c0 = r0 + row[0].shape[0], 0
            for p in row:  # its part of columns s0:s1
                c1 = c0 + p.shape[1]
                if c0 < s1 and s0 < c1:
                    lo, hi = max(s0, c0), min(s1, c1)
                    copy_rows(p[:, lo - c0 : hi - c0], block[:, lo - s0 : hi - s0], r0)
                c0 = c1
            r0 = r1
        mins, maxs, n_bad[s0:s1], first_bad[s0:s1] = block_stats(block)
        if not n_bad.any():
            part = np.empty((*res.shape[:2], s1 - s0))
            args = (mins, maxs, n_bins, labelings, class_counts, part, max_cols)
            block_signed_ks(block, 0, s1 - s0, *args)
            res[:, :, s0:s1] = part
        del block
    return (None if n_bad.any() else res), n_bad, first_bad


def dask_signed_dks(
    X, labelings, class_counts, *, bins, bounds, edges, max_cols, out, emit, estimator,
    n_threads=1, on_done=None,
):  # fmt: skip
    """:func:`dks._engine.signed_dks` for a Dask array (see the module docstring).

    ``bounds`` are the edges of the bands (``0, ..., n_features``), one task each, and
    ``edges[k]`` those of the blocks of band ``k`` (from 0). ``out`` receives all
    labelings, or ``emit(f0, f1, res)`` is called per band; ``on_done(f1 - f0)`` then
    counts the band's features (a progress bar).
    """
    from dask import compute, delayed

    # Each band its own graph: the slices of the chunks it needs (Dask reads only them,
    # one chunk at a time). Rechunking the whole array instead would hold whole chunks of
    # X until every band that needs them has its part.
    bands = [X[:, f0:f1].to_delayed().tolist() for f0, f1 in itertools.pairwise(bounds)]
    client = _current_client()
    # A key of its own (hash=False): a key shared with an earlier fit's labelings could be
    # released by that fit while this one needs it.
    shared = labelings
    if client is not None:
        shared = client.scatter(labelings, broadcast=True, hash=False)
    task = delayed(_band_task, pure=True)
    tasks = [
        task(pieces, list(e), shared, class_counts, bins, max_cols)
        for pieces, e in zip(bands, edges, strict=True)
    ]

    def store(k, result):
        res, n_bad, first_bad = result
        f0, f1 = bounds[k], bounds[k + 1]
        if res is None:
            raise non_finite_error(estimator, n_bad, first_bad, offset=f0)
        if emit is None:
            out[:, :, f0:f1] = res
        else:
            emit(f0, f1, res)
        if on_done is not None:
            on_done(f1 - f0)

    if client is None:
        step = max(1, n_threads)
        pool = executor(step)
        for k0 in range(0, len(tasks), step):
            group = compute(*tasks[k0 : k0 + step], scheduler="threads", pool=pool)
            for k, result in enumerate(group, start=k0):
                store(k, result)
        return out

    from distributed import as_completed

    futures = client.compute(tasks)
    index = {f.key: k for k, f in enumerate(futures)}
    try:
        for future, result in as_completed(futures, with_results=True):
            if isinstance(result, BaseException):  # a cancelled task (e.g. a lost worker)
                raise result
            store(index[future.key], result)
            future.release()
    finally:
        client.cancel(futures)
    return out
