"""Threads for the numba kernels: one pool per process, reused by every fit and every path.

The kernels release the GIL (``nogil``), so threads run them in parallel. A fit on data in
memory makes two parallel passes (the column checks, then the statistics) that each take a
few hundredths of a second at the paper's scale; a pool started for each pass (as
:class:`joblib.Parallel` does) costs a noticeable part of that. This pool is started on
first use and kept; it is rebuilt with more threads when a fit asks for more, and in a
child process after ``fork`` (whose threads do not survive). The number of threads still
follows scikit-learn's convention: :func:`joblib.effective_n_jobs` of ``n_jobs``, which
honours :func:`joblib.parallel_config`.

Every way of computing D_KS runs on this pool: the column checks and the feature blocks of
an in-memory input, the blocks read from a memory map or a Zarr array, and the tasks of a
Dask array on Dask's local scheduler (given the pool, :func:`executor`). Only the spill of
a memory map or a Zarr array (:class:`dks._engine._blocks.FeatureSource`) has threads of
its own, its writer and, for Zarr, its read-ahead: the writer waits for the reads, which run
on the pool (the read-ahead, on the pool, could wait behind a read waiting for the writer).

Tasks must not submit work to the pool themselves (they would wait on a full pool).
"""

import os
import threading
from concurrent.futures import FIRST_COMPLETED, wait

from joblib import effective_n_jobs

from dks._config import ContextThreadPool

__all__ = ["executor", "n_threads", "run_threads"]

_lock = threading.Lock()
_pool = None
_pool_size = 0


def n_threads(n_jobs):
    """Threads for ``n_jobs`` (``None``: 1, or the :func:`joblib.parallel_config` value)."""
    return max(1, effective_n_jobs(n_jobs))


def executor(size):
    """The process's pool, with at least ``size`` threads (rebuilt larger if needed).

    For a scheduler that submits tasks itself (Dask's threaded one); others call
    :func:`run_threads`.
    """
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            # each task in a copy of its submitter's context: a dks.config_context holds there
            _pool = ContextThreadPool(max_workers=size, thread_name_prefix="dks")
            _pool_size = size
        return _pool


def _forget_pool():
    """In a forked child: the parent's threads are gone, start a new pool when needed."""
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run_threads(fn, tasks, n_jobs):
    """Call ``fn(*task)`` for every task on up to ``n_threads(n_jobs)`` threads.

    Yields the results in the order the tasks finish (in task order on one thread). The
    first exception of a task is raised once the running tasks have finished; the tasks
    not started yet are cancelled.

    Parameters
    ----------
    fn : callable
    tasks : list of tuple
        Arguments of each call.
    n_jobs : int or None
        As scikit-learn's ``n_jobs``.

    Yields
    ------
    result
        What ``fn`` returned, for each task.
    """
    size = min(n_threads(n_jobs), len(tasks))
    if size <= 1:
        for task in tasks:
            yield fn(*task)
        return
    # Run at most ``size`` tasks of this call at once, even on a larger pool.
    pending = list(reversed(tasks))
    running = set()
    pool = executor(size)
    try:
        while pending or running:
            while pending and len(running) < size:
                running.add(pool.submit(fn, *pending.pop()))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        for future in running:
            future.cancel()
        wait(running)
