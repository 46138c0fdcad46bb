"""The kernels' thread pool (dks._engine._threads): results, errors, n_jobs and fork."""

import multiprocessing
import threading
import time

import numpy as np
import pytest
from joblib import parallel_config

from dks import KSCharacterizer
from dks._engine._threads import n_threads, run_threads


def test_every_task_runs_once_and_one_thread_keeps_the_order():
    tasks = [(i,) for i in range(25)]
    assert list(run_threads(lambda i: i * i, tasks, 1)) == [i * i for i in range(25)]
    assert sorted(run_threads(lambda i: i * i, tasks, 2)) == [i * i for i in range(25)]
    assert list(run_threads(lambda i: i, [], 2)) == []


def test_threads_run_at_the_same_time():
    barrier = threading.Barrier(2, timeout=10)  # breaks (raises) if only one thread runs

    def task(i):
        barrier.wait()
        return i

    assert sorted(run_threads(task, [(0,), (1,)], 2)) == [0, 1]


def test_the_first_error_is_raised_and_later_tasks_do_not_start():
    started = []
    lock = threading.Lock()

    def task(i):
        with lock:
            started.append(i)
        if i == 0:
            raise ValueError("task 0 failed")
        time.sleep(0.01)
        return i

    with pytest.raises(ValueError, match="task 0 failed"):
        list(run_threads(task, [(i,) for i in range(50)], 2))
    assert 0 in started
    assert len(started) < 50


def test_n_jobs_follows_sklearn_and_joblib():
    assert n_threads(None) == 1
    assert n_threads(1) == 1
    assert n_threads(-1) >= 1
    with parallel_config(n_jobs=2):
        assert n_threads(None) == 2


def _fit_in_child(queue):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 40))
    y = np.arange(300) % 3
    queue.put(KSCharacterizer(n_jobs=2, block_size=8, progress=False).fit(X, y).dks_)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_a_forked_child_gets_its_own_threads():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 40))
    y = np.arange(300) % 3
    parent = (
        KSCharacterizer(n_jobs=2, block_size=8, progress=False).fit(X, y).dks_
    )  # the pool exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_fit_in_child, args=(queue,))
    child.start()
    try:
        result = queue.get(timeout=30)  # a child waiting on the parent's dead threads hangs
        child.join(timeout=30)
        assert child.exitcode == 0
    finally:
        child.kill()
        child.join()
    np.testing.assert_array_equal(result, parent)
