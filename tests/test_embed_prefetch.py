"""Prefetcher: the next batch made in a thread, in order, errors passed on, thread stopped."""

import threading

import pytest

pytest.importorskip("torch")
from dks.embed._batching import Prefetcher

pytestmark = pytest.mark.torch


def test_items_in_order_and_thread_ends():
    prefetcher = Prefetcher(iter(range(50)))
    assert list(prefetcher) == list(range(50))
    assert not prefetcher._thread.is_alive()


def test_runs_ahead_in_another_thread():
    made_in = []
    ready = threading.Event()

    def items():
        made_in.append(threading.get_ident())
        yield 0
        made_in.append(threading.get_ident())
        ready.set()
        yield 1

    prefetcher = Prefetcher(items())
    assert ready.wait(10)  # the second item is made before the first is taken
    assert list(prefetcher) == [0, 1]
    assert threading.get_ident() not in made_in


def test_error_is_raised_in_the_consumer_after_the_good_items():
    def items():
        yield 1
        raise OSError("disk gone")

    prefetcher = Prefetcher(items())
    assert next(prefetcher) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(prefetcher)
    assert not prefetcher._thread.is_alive()


def test_close_stops_an_endless_producer():
    made = []

    def endless():
        while True:
            made.append(1)
            yield len(made)

    prefetcher = Prefetcher(endless())
    assert next(prefetcher) == 1
    prefetcher.close()
    assert not prefetcher._thread.is_alive()
    count = len(made)
    assert count <= 4  # at most the queue and the item in the making
