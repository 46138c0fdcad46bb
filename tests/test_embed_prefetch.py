"""Prefetcher: the next batch made in a thread, in order, errors passed on, thread stopped."""

import threading
import time

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
    assert next(prefetcher) == 0
    assert ready.wait(10)  # the second item is made while the consumer holds the first
    assert list(prefetcher) == [1]
    assert threading.get_ident() not in made_in


def test_makes_at_most_one_item_the_consumer_has_not_taken():
    """Two batches live at once, the consumer's and the next, not three."""
    made, taken = [], []

    def items():
        for i in range(6):
            made.append(i)
            yield i

    prefetcher = Prefetcher(items())
    for item in prefetcher:
        taken.append(item)
        time.sleep(0.05)  # the consumer works; the thread could run ahead meanwhile
        assert len(made) <= len(taken) + 1, (made, taken)
    assert taken == list(range(6))


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
