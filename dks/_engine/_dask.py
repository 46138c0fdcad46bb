"""Feature blocks of a Dask array as tasks on a ``dask.distributed`` cluster (optional).

Install with ``pip install dks[dask]``. Dask is imported only when a Dask array is given
or :func:`client_for` is called, so :mod:`dks` works without Dask.

A ``dask.array.Array`` is cut into column blocks spanning all rows (as wide as
``working_memory`` allows per ``n_jobs`` thread of the caller, see
:mod:`dks._engine._memory`); each block is one task that reads its columns, checks them,
and computes the signed D_KS of every labeling (true and shuffled) for them. The labelings
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
are then whole chunks merged side by side. From an array whose chunks span all features
(row batches), each block reads its columns of every chunk: all of the data once per block.
"""

import itertools

import numpy as np

from dks._engine._blocks import block_stats, lazy_kind, work_dtype
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


def _block_task(block, labelings, class_counts, n_bins, max_cols):
    """One feature block: its non-finite counts, and its D_KS if it has none."""
    # The kernel and the checks read the C-ordered block as it is (no Fortran copy).
    block = np.asarray(block)
    block = block.astype(work_dtype(block.dtype), copy=False)
    mins, maxs, n_bad, first_bad = block_stats(block)
    if n_bad.any():
        return None, n_bad, first_bad
    width = block.shape[1]
    res = np.empty((labelings.shape[0], class_counts.shape[0], width))
    block_signed_ks(block, 0, width, mins, maxs, n_bins, labelings, class_counts, res, max_cols)
    return res, n_bad, first_bad


def dask_signed_dks(
    X, labelings, class_counts, *, bins, bounds, max_cols, out, emit, estimator, n_threads=1,
    on_done=None,
):  # fmt: skip
    """:func:`dks._engine.signed_dks` for a Dask array (see the module docstring).

    ``bounds`` are the blocks' edges (``0, ..., n_features``). ``out`` receives all
    labelings, or ``emit(f0, f1, res)`` is called per block; ``on_done(f1 - f0)`` then
    counts the block's features (a progress bar).
    """
    from dask import compute, delayed

    n_samples = X.shape[0]
    # Each block its own graph: the slices of the chunks it needs (Dask reads only them,
    # one chunk at a time), joined into one chunk of all rows. Rechunking the whole array
    # instead would hold whole chunks of X until every block that needs them has its part.
    blocks = []
    for f0, f1 in itertools.pairwise(bounds):
        (block,) = X[:, f0:f1].rechunk({0: n_samples, 1: f1 - f0}).to_delayed().ravel()
        blocks.append(block)
    client = _current_client()
    # A key of its own (hash=False): a key shared with an earlier fit's labelings could be
    # released by that fit while this one needs it.
    shared = labelings
    if client is not None:
        shared = client.scatter(labelings, broadcast=True, hash=False)
    task = delayed(_block_task, pure=True)
    tasks = [task(b, shared, class_counts, bins, max_cols) for b in blocks]

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
