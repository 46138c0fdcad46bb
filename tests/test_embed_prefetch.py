"""Prefetcher: the next batch made in a thread, in order, errors passed on, thread stopped."""

import threading

import numpy as np
import pytest

pytest.importorskip("torch")
import torch

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


@pytest.mark.parametrize(
    ("cores", "threads", "device", "expected"),
    [
        (2, 2, "cpu", False),  # torch's threads use every core: batches made in turn
        (4, 2, "cpu", True),
        (2, 2, "cuda", True),
    ],
)
def test_prefetch_only_when_a_core_is_free(monkeypatch, cores, threads, device, expected):
    from dks.embed import _batching

    monkeypatch.setattr(
        _batching.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False
    )
    monkeypatch.setattr(_batching.torch, "get_num_threads", lambda: threads)
    assert _batching.prefetch_helps(device) is expected


@pytest.mark.parametrize("spare_core", [False, True])
def test_embedder_batches_in_a_thread_only_with_a_spare_core(monkeypatch, spare_core):
    from dks.embed import CNNEmbedder, _batching, _embedder

    monkeypatch.setattr(_embedder, "prefetch_helps", lambda device_type: spare_core)
    images = [np.full((40, 40, 3), v, np.uint8) for v in (0, 90, 200)]
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.ReLU())
    embedder = CNNEmbedder(
        model, layers=["1"], crops="none", resize=None, batch_size=1, num_workers=0,
        progress=False,
    ).fit(images)  # fmt: skip
    iterator = embedder._batches(_embedder.as_source(images))
    try:
        assert isinstance(iterator, _batching.Prefetcher) is spare_core
        assert len(list(iterator)) == 3
    finally:
        _embedder._shutdown(iterator)
