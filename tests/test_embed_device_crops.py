"""Tests of the crops made on the device (dks/embed/_device_crops.py).

The oracle is the CPU path of dks/embed/_batching.py (the crops the workers make today): on
the CPU the device path gives the same batch and the same embedding to the bit; on CUDA the
same within floating-point tolerance.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skimage_data = pytest.importorskip("skimage.data")

from dks.embed import CNNEmbedder  # noqa: E402
from dks.embed._batching import Preprocess, _collate, _CropDataset, default_num_workers  # noqa: E402
from dks.embed._device_crops import (  # noqa: E402
    DeviceCrops,
    DeviceFeeder,
    ResizedImages,
    collate_resized,
)
from dks.sources import ImageReader, open_images  # noqa: E402
from tests.embed_helpers import TINY_LAYERS, tiny_cnn  # noqa: E402

pytestmark = pytest.mark.torch

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA device (none on this machine)")

MEAN = (0.31, 0.52, 0.47)
STD = (0.21, 0.19, 0.33)
BACKGROUND = ImageReader.checked((30, 200, 90))


def photos():
    """Real photos cut to odd sizes (and one RGBA image), so that resized sizes differ."""
    return [
        skimage_data.chelsea()[:299, :451],  # 299 x 451
        skimage_data.astronaut()[:333, :201],  # portrait
        skimage_data.logo()[:301, :413],  # RGBA: composited over the background
        skimage_data.coffee()[:397, :599],
        skimage_data.rocket()[:427, :639],
    ]


def cpu_batch(images, preprocess, reader=BACKGROUND):
    """Today's batch: the workers' crops, collated."""
    dataset = _CropDataset(open_images(images), preprocess, reader)
    return _collate([dataset[i] for i in range(len(dataset))])


def device_batch(images, preprocess, device="cpu", reader=BACKGROUND):
    dataset = ResizedImages(open_images(images), preprocess, reader)
    host = collate_resized([dataset[i] for i in range(len(dataset))])
    feeder = DeviceFeeder(iter([host]), DeviceCrops(preprocess, device), device)
    return next(feeder), feeder


@pytest.mark.parametrize(
    ("crops", "resize", "crop_size"),
    [
        ("ten", 97, (61, 53)),
        ("ten", (101, 89), (64, 64)),  # exact size: one group
        ("center", 83, (59, 71)),
        ("none", 67, (32, 32)),  # a group per size
    ],
)
@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_device_crops_equal_the_cpu_crops_to_the_bit(crops, resize, crop_size, interpolation):
    preprocess = Preprocess(crops, resize, crop_size, MEAN, STD, interpolation)
    images = photos()
    expected, expected_errors = cpu_batch(images, preprocess)
    (groups, errors), _ = device_batch(images, preprocess)
    assert errors == expected_errors == []
    assert len(groups) == len(expected)
    if crops == "none":
        assert len(groups) > 1  # the sizes did differ
    for (indices, x), (ref_indices, ref) in zip(groups, expected, strict=True):
        assert list(indices) == list(ref_indices)
        assert x.dtype == ref.dtype == torch.float32
        assert x.shape == ref.shape
        assert x.stride() == ref.stride()  # channels_last, as the CPU path
        assert torch.equal(x, ref)


def test_images_of_different_sizes_keep_the_input_order():
    preprocess = Preprocess("ten", 97, (61, 53), MEAN, STD)
    images = photos()
    dataset = ResizedImages(open_images(images), preprocess, BACKGROUND)
    host = collate_resized([dataset[i] for i in range(len(dataset))])
    assert len(host[0]) > 1  # several sizes in the batch
    (groups, _), _ = device_batch(images, preprocess)
    assert [list(i) for i, _ in groups] == [[0, 1, 2, 3, 4]]


def test_too_small_images_are_reported_as_on_the_cpu_path():
    preprocess = Preprocess("ten", None, (64, 64), MEAN, STD)
    images = [skimage_data.chelsea()[:80, :90], skimage_data.chelsea()[:50, :90]]
    expected, expected_errors = cpu_batch(images, preprocess)
    (groups, errors), _ = device_batch(images, preprocess)
    assert errors == expected_errors
    assert len(errors) == 1 and errors[0][0] == 1 and "smaller than" in errors[0][1]
    assert torch.equal(groups[0][1], expected[0][1])


def test_the_bytes_copied_are_the_resized_uint8_images():
    preprocess = Preprocess("ten", 256, (224, 224), MEAN, STD)
    images = [np.zeros((375, 500, 3), np.uint8), np.zeros((500, 375, 3), np.uint8)]
    (groups, _), feeder = device_batch(images, preprocess)
    assert feeder.images_copied == 2
    assert feeder.bytes_copied == 2 * 256 * 341 * 3  # not 10 crops x 3 x 224 x 224 x 4 B
    assert groups[0][1].shape == (20, 3, 224, 224)


def embedders(**params):
    params = {
        "layers": TINY_LAYERS,
        "resize": 97,
        "crop_size": (61, 53),
        "mean": MEAN,
        "std": STD,
        "background": (30, 200, 90),
        "batch_size": 3,
        "progress": False,
        "device": "cpu",
        **params,
    }
    images = photos()
    today = CNNEmbedder(tiny_cnn(), **params).fit(images)
    device = CNNEmbedder(tiny_cnn(), **params).fit(images)
    device._crop_on_device = True  # the CUDA path, on the CPU
    return images, today, device


@pytest.mark.parametrize("crops", ["ten", "center", "none"])
@pytest.mark.parametrize("num_workers", [0, 1])
def test_the_embedding_is_unchanged_to_the_bit_on_the_cpu(crops, num_workers):
    images, today, device = embedders(crops=crops, num_workers=num_workers)
    expected = today.transform(images)
    actual = device.transform(images)
    assert actual.dtype == expected.dtype == np.float32
    np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(device.sample_indices_, today.sample_indices_)


def test_skipped_inputs_are_the_same(tmp_path):
    images, today, device = embedders(crops="ten", on_error="skip", resize=None)
    images = [*photos(), skimage_data.chelsea()[:40, :40]]  # the last is too small
    with pytest.warns(UserWarning, match="Skipped 1 of 6"):
        expected = today.transform(images)
    with pytest.warns(UserWarning, match="Skipped 1 of 6"):
        actual = device.transform(images)
    np.testing.assert_array_equal(actual, expected)
    assert device.skipped_ == today.skipped_


def test_the_store_output_is_unchanged(tmp_path):
    from dks.store import open_embedding

    images, today, device = embedders(crops="ten")
    today.set_params(output=tmp_path / "today.zarr").transform(images)
    device.set_params(output=tmp_path / "device.zarr").transform(images)
    a = open_embedding(tmp_path / "today.zarr")
    b = open_embedding(tmp_path / "device.zarr")
    np.testing.assert_array_equal(np.asarray(b.X[:]), np.asarray(a.X[:]))


def test_an_embedder_fitted_by_an_older_version_still_embeds(tmp_path):
    """A pickle from before the device crops lacks ``_crop_on_device`` and ``precision_``."""
    from dks.store import open_embedding

    images, today, _ = embedders(crops="ten", precision="float32")
    expected = today.transform(images)
    older = CNNEmbedder(**{**today.get_params(deep=False), "model": tiny_cnn()})
    older.fit(images)
    del older._crop_on_device, older.precision_
    np.testing.assert_array_equal(older.transform(images), expected)
    older.set_params(output=tmp_path / "older.zarr").transform(images)
    store = open_embedding(tmp_path / "older.zarr")
    np.testing.assert_array_equal(np.asarray(store.X[:]), expected)
    assert store.settings["precision"] == "float32"


def test_precision_auto_is_float32_on_the_cpu():
    embedder = CNNEmbedder(tiny_cnn(), layers=TINY_LAYERS, device="cpu", progress=False)
    assert embedder.precision == "auto"
    embedder.fit(photos()[:1])
    assert embedder.precision_ == "float32"
    assert embedder._autocast_dtype is None
    assert not embedder._crop_on_device


@pytest.mark.parametrize(
    ("cores", "processes", "expected"),
    [(2, 1, 1), (32, 1, 31), (32, 4, 7), (8, 8, 1), (3, 8, 1)],
)
def test_gpu_workers_follow_the_cores_and_the_devices(monkeypatch, cores, processes, expected):
    from dks.embed import _batching

    monkeypatch.setattr(
        _batching.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False
    )
    assert default_num_workers(100, 8, "cuda", processes) == expected
    assert default_num_workers(8, 8, "cuda", processes) == 0  # a single batch


# --------------------------------------------------------------------------- CUDA


@needs_cuda
@pytest.mark.parametrize("crops", ["ten", "center", "none"])
def test_cuda_crops_equal_the_cpu_crops(crops):
    preprocess = Preprocess(crops, 97, (61, 53), MEAN, STD)
    images = photos()
    expected, _ = cpu_batch(images, preprocess)
    (groups, _), _ = device_batch(images, preprocess, device="cuda")
    for (indices, x), (ref_indices, ref) in zip(groups, expected, strict=True):
        assert list(indices) == list(ref_indices)
        assert x.is_cuda and x.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(x.cpu(), ref, rtol=1e-6, atol=1e-6)


@needs_cuda
@pytest.mark.parametrize("num_workers", [0, 2])
def test_cuda_embedding_equals_the_cpu_embedding(monkeypatch, num_workers):
    images, today, _ = embedders(crops="ten")
    expected = today.transform(images)
    cuda = CNNEmbedder(
        tiny_cnn(),
        **{
            **today.get_params(deep=False),
            "model": tiny_cnn(),
            "device": "cuda",
            "precision": "float32",
            "num_workers": num_workers,
        },
    ).fit(images)
    assert cuda._crop_on_device
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # float32 to the last bits
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    np.testing.assert_allclose(cuda.transform(images), expected, rtol=1e-4, atol=1e-5)


@needs_cuda
def test_cuda_precision_auto_is_bfloat16_where_supported():
    embedder = CNNEmbedder(tiny_cnn(), layers=TINY_LAYERS, device="cuda", progress=False)
    embedder.fit(photos()[:1])
    expected = "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    assert embedder.precision_ == expected


def test_shards_share_the_cores_of_the_machine(monkeypatch):
    from dks.embed import _embedder

    embedder = CNNEmbedder(tiny_cnn(), layers=TINY_LAYERS, device="cpu", progress=False)
    embedder.fit(photos()[:1])
    assert embedder._processes() == 1  # not on CUDA
    embedder.device_ = torch.device("cuda")  # what fit gives on a GPU machine
    assert embedder._processes() == 1  # no shard
    monkeypatch.setattr(_embedder, "machine_gpus", lambda: 4)
    embedder.set_params(shard=(1, 8))
    assert embedder._processes() == 4  # 8 shards, 4 GPUs: at most 4 on this machine
    embedder.set_params(shard="0/2")
    assert embedder._processes() == 2


def test_the_feeder_ends_once_and_for_all():
    from dks.embed._batching import Prefetcher

    preprocess = Preprocess("center", 67, (32, 32), MEAN, STD)
    dataset = ResizedImages(open_images(photos()[:2]), preprocess)
    batches = Prefetcher([collate_resized([dataset[0]]), collate_resized([dataset[1]])])
    feeder = DeviceFeeder(batches, DeviceCrops(preprocess, "cpu"), "cpu")
    assert [groups[0][0] for groups, _ in feeder] == [[0], [1]]
    with pytest.raises(StopIteration):
        next(feeder)  # not blocked on the finished thread
    feeder.close()
