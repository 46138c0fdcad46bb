"""Tests of CNNEmbedder's inputs (dks/sources/_open.py, _inputs.py; dks/embed/_batching.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402
from torch.utils.data import Dataset, IterableDataset  # noqa: E402
from torchvision.transforms import InterpolationMode  # noqa: E402
from torchvision.transforms import functional as TF  # noqa: E402

from dks.embed import CNNEmbedder, image_folder  # noqa: E402
from dks.embed._batching import Preprocess  # noqa: E402
from tests.embed_helpers import (  # noqa: E402
    TINY_LAYERS,
    assert_close,
    random_images,
    reference_embedding,
    tiny_cnn,
    write_images,
)

pytestmark = pytest.mark.torch

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def tiny(**params):
    params = {
        "layers": TINY_LAYERS,
        "resize": 40,
        "crop_size": 32,
        "num_workers": 0,
        "progress": False,
        **params,
    }
    return CNNEmbedder(tiny_cnn(), **params)


class ListDataset(Dataset):
    def __init__(self, items, with_target=True):
        self.items = items
        self.with_target = with_target

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        item = self.items[index]
        return (item, index % 2) if self.with_target else item


@pytest.fixture(scope="module")
def images():
    return random_images(5, size=(41, 53), seed=11)


@pytest.fixture(scope="module")
def expected(images):
    return tiny().fit_transform(images)


# --------------------------------------------------------------------------- input kinds


def test_every_input_kind_gives_the_same_features(tmp_path, images, expected):
    paths = write_images(tmp_path / "cls", images)  # PNG is lossless
    pils = [Image.fromarray(im) for im in images]
    kinds = {
        "paths": paths,
        "pathlib": [tmp_path / "cls" / p.rsplit("/", 1)[1] for p in paths],
        "path array": np.asarray(paths),
        "folder": str(tmp_path),
        "pil": pils,
        "uint8 tensors": [torch.from_numpy(im).permute(2, 0, 1) for im in images],
        "float tensors": [torch.from_numpy(im).permute(2, 0, 1) / 255.0 for im in images],
        "4-D array": np.stack(images),
        "dataset (image, target)": ListDataset(pils),
        "dataset of arrays": ListDataset(images, with_target=False),
        "mixed": [
            paths[0],
            pils[1],
            images[2],
            torch.from_numpy(images[3]).permute(2, 0, 1),
            pils[4],
        ],
    }
    for kind, X in kinds.items():
        np.testing.assert_array_equal(tiny().fit_transform(X), expected, err_msg=kind)


def test_grey_images_are_replicated_to_rgb(images):
    grey = [im[:, :, 0] for im in images]
    rgb = [np.repeat(g[:, :, None], 3, axis=2) for g in grey]
    X_rgb = tiny().fit_transform(rgb)
    np.testing.assert_array_equal(tiny().fit_transform(grey), X_rgb)
    np.testing.assert_array_equal(tiny().fit_transform([g[:, :, None] for g in grey]), X_rgb)
    np.testing.assert_array_equal(tiny().fit_transform([Image.fromarray(g) for g in grey]), X_rgb)
    np.testing.assert_array_equal(tiny().fit_transform(np.stack(grey)[..., None]), X_rgb)


def test_rgba_arrays_are_composited_over_the_background(images):
    def with_alpha(value):
        return [np.dstack([im, np.full(im.shape[:2], value, np.uint8)]) for im in images]

    opaque = tiny().fit_transform(with_alpha(255))
    np.testing.assert_array_equal(opaque, tiny().fit_transform(images))
    white = [np.full_like(im, 255) for im in images]
    np.testing.assert_array_equal(tiny().fit_transform(with_alpha(0)), tiny().fit_transform(white))
    grey = [np.full_like(im, 50) for im in images]
    np.testing.assert_array_equal(
        tiny(background=(50, 50, 50)).fit_transform(with_alpha(0)), tiny().fit_transform(grey)
    )


def test_jpeg_files(tmp_path, images):
    paths = write_images(tmp_path, images, fmt="jpg")
    decoded = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    np.testing.assert_array_equal(tiny().fit_transform(paths), tiny().fit_transform(decoded))


def test_workers_give_the_same_result(tmp_path, images, expected):
    paths = write_images(tmp_path, images)
    X = tiny(num_workers=2, batch_size=2).fit_transform(paths)
    np.testing.assert_array_equal(X, expected)


def test_default_workers_run(tmp_path, images, expected):
    paths = write_images(tmp_path, images)
    X = tiny(num_workers=None, batch_size=2).fit_transform(paths)
    np.testing.assert_array_equal(X, expected)


@pytest.mark.parametrize(
    ("cores", "threads", "device", "n_images", "expected"),
    [
        (2, 2, "cpu", 100, 0),  # torch's threads use every core: decode in the main process
        (8, 4, "cpu", 100, 4),
        (6, 4, "cpu", 100, 2),
        (2, 2, "cuda", 100, 1),
        (16, 8, "cuda", 100, 15),  # a GPU takes what the cores decode: all but one
        (16, 8, "cuda", 8, 0),  # a single batch
    ],
)
def test_default_number_of_workers(monkeypatch, cores, threads, device, n_images, expected):
    from dks.embed import _batching as _images

    monkeypatch.setattr(
        _images.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False
    )
    monkeypatch.setattr(_images.torch, "get_num_threads", lambda: threads)
    assert _images.default_num_workers(n_images, 8, device) == expected


def test_batch_size_does_not_change_the_result(images, expected):
    for batch_size in (1, 2, 7):
        assert_close(tiny(batch_size=batch_size).fit_transform(images), expected, rtol=1e-5)


def test_crops_none_runs_images_of_different_sizes():
    model = tiny_cnn()
    modules = dict(model.named_modules())
    images = [*random_images(2, size=(40, 60), seed=1), *random_images(2, size=(50, 40), seed=2)]
    images = [images[0], images[2], images[1], images[3]]  # sizes interleaved in a batch
    embedder = CNNEmbedder(
        model, layers=TINY_LAYERS, crops="none", resize=40, batch_size=4, progress=False
    )
    X = embedder.fit_transform(images)
    expected = reference_embedding(
        model, [modules[n] for n in TINY_LAYERS], images, resize=40, crop=None, crops="none"
    )
    assert_close(X, expected)


# --------------------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("size", [(64, 64), (67, 71), (80, 57)])
@pytest.mark.parametrize("crop", [(56, 56), (48, 40)])
def test_ten_crop_equals_torchvision(size, crop):
    image = Image.fromarray(random_images(1, size=size, seed=sum(size))[0])
    ours = Preprocess("ten", 60, crop, MEAN, STD)(image).permute(0, 3, 1, 2)
    x = TF.normalize(TF.to_tensor(TF.resize(image, 60)), MEAN, STD)
    theirs = torch.stack(TF.ten_crop(x, list(crop)))
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    center = Preprocess("center", [60, 61], crop, MEAN, STD)(image).permute(0, 3, 1, 2)
    x = TF.normalize(TF.to_tensor(TF.resize(image, [60, 61])), MEAN, STD)
    torch.testing.assert_close(center[0], TF.center_crop(x, list(crop)), rtol=0, atol=0)


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(1, 90),
    width=st.integers(1, 90),
    resize=st.one_of(
        st.integers(1, 70), st.tuples(st.integers(1, 70), st.integers(1, 70)).map(list)
    ),
    interpolation=st.sampled_from(["bilinear", "bicubic", "nearest"]),
)
def test_resize_equals_torchvision(height, width, resize, interpolation):
    """dks resizes with PIL itself (torchvision is not imported for EfficientNet-Lite0):
    the same size rule and the same pixels as torchvision's resize, an image already of the
    size included."""
    image = Image.fromarray(random_images(1, size=(height, width), seed=height + width)[0])
    ours = Preprocess("none", resize, (1, 1), MEAN, STD, interpolation).resized(image)
    theirs = TF.resize(image, resize, interpolation=InterpolationMode(interpolation))
    assert ours.size == theirs.size
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_resize_to_the_same_size_returns_the_image():
    image = Image.fromarray(random_images(1, size=(30, 40), seed=0)[0])
    assert Preprocess("none", 30, (1, 1), MEAN, STD).resized(image) is image
    assert Preprocess("none", (30, 40), (1, 1), MEAN, STD).resized(image) is image


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(8, 30),
    width=st.integers(8, 30),
    crop_h=st.integers(1, 8),
    crop_w=st.integers(1, 8),
    mode=st.sampled_from(["ten", "center"]),
)
def test_crops_equal_torchvision_for_any_size(height, width, crop_h, crop_w, mode):
    image = Image.fromarray(random_images(1, size=(height, width), seed=height * width)[0])
    ours = Preprocess(mode, None, (crop_h, crop_w), MEAN, STD)(image).permute(0, 3, 1, 2)
    x = TF.normalize(TF.to_tensor(image), MEAN, STD)
    if mode == "ten":
        theirs = torch.stack(TF.ten_crop(x, [crop_h, crop_w]))
    else:
        theirs = TF.center_crop(x, [crop_h, crop_w]).unsqueeze(0)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_batches_are_channels_last(images):
    from dks.embed._batching import _collate

    preprocess = Preprocess("ten", 40, (32, 32), MEAN, STD)
    items = [(i, preprocess(Image.fromarray(im)), None) for i, im in enumerate(images[:2])]
    groups, errors = _collate([*items, (2, None, "bad")])
    assert errors == [(2, "bad")]
    ((indices, batch),) = groups
    assert indices == [0, 1]
    assert tuple(batch.shape) == (20, 3, 32, 32)
    assert batch.is_contiguous(memory_format=torch.channels_last)


def test_no_resize():
    image = random_images(1, size=(40, 40))[0]
    X = tiny(resize=None, crops="center").fit_transform([image])
    assert X.shape == (1, 15)


# --------------------------------------------------------------------------- image_folder


def test_image_folder(tmp_path):
    images = random_images(5, size=(8, 8))
    write_images(tmp_path / "tulip", images[:2])
    write_images(tmp_path / "daisy" / "nested", images[2:3], fmt="jpg")
    write_images(tmp_path / "daisy", images[3:], fmt="PNG", prefix="A")
    (tmp_path / "daisy" / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match=r"1 file\(s\) .* not read as images .*notes\.txt"):
        paths, y, classes = image_folder(tmp_path)
    assert classes == ["daisy", "tulip"]
    assert [p.replace(str(tmp_path), "") for p in paths] == [
        "/daisy/A000.PNG",
        "/daisy/A001.PNG",
        "/daisy/nested/img000.jpg",
        "/tulip/img000.png",
        "/tulip/img001.png",
    ]
    assert isinstance(y, np.ndarray)
    assert y.tolist() == ["daisy"] * 3 + ["tulip"] * 2
    dataset = torchvision.datasets.ImageFolder(tmp_path)
    assert [s for s, _ in dataset.samples] == paths  # the order of torchvision
    assert classes == dataset.classes
    (tmp_path / ".ipynb_checkpoints").mkdir()  # hidden entries are ignored
    (tmp_path / "tulip" / ".hidden.png").write_bytes(b"")
    (tmp_path / "daisy" / "notes.txt").unlink()
    again = image_folder(tmp_path)
    assert again[0] == paths and again[2] == classes


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_folder(tmp_path / "missing")
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        image_folder(tmp_path / "file.png")
    with pytest.raises(ValueError, match=r"no class folders.*1 image file\(s\) directly"):
        image_folder(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        image_folder(tmp_path)
    write_images(tmp_path / "a", random_images(1, size=(8, 8)))
    with pytest.raises(ValueError, match=r"class folder.*hold no image files.*'b'"):
        image_folder(tmp_path)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        ([], ValueError, "X is empty"),
        (np.zeros((0, 8, 8, 3), np.uint8), ValueError, "empty image array"),
        (ListDataset([]), ValueError, "empty Dataset"),
        ([np.zeros((8, 8, 3))], TypeError, r"Input 0 of X: .*dtype uint8.*float64"),
        ([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 2), np.uint8)], ValueError, "Input 1"),
        ([np.zeros(8, np.uint8)], ValueError, r"\(H, W\) or \(H, W, C\)"),
        (np.zeros((2, 8, 8, 3), np.float32), TypeError, "dtype uint8"),
        (np.zeros((8, 8, 3), np.uint8), ValueError, "3-D array is ambiguous"),
        ([torch.zeros(3, 8, 8, dtype=torch.int64)], TypeError, "uint8 or a float"),
        ([torch.full((3, 8, 8), 2.0)], ValueError, r"\[0, 1\].*already normalized"),
        ([3], TypeError, "Input 0 of X is a int"),
        (Image.new("RGB", (8, 8)), TypeError, "single PIL image"),
        (42, TypeError, "X must be a list of images"),
    ],
)
def test_bad_input_is_a_clear_error(X, error, match):
    with pytest.raises(error, match=match):
        tiny().fit(X)


def test_single_file_and_missing_path(tmp_path):
    path = write_images(tmp_path, random_images(1))[0]
    with pytest.raises(TypeError, match=r"single file path.*\[path\]"):
        tiny().fit(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tiny().fit(str(tmp_path / "nope"))


def test_iterable_dataset_is_rejected():
    class Stream(IterableDataset):
        def __iter__(self):
            yield from random_images(2)

    with pytest.raises(TypeError, match="map-style Dataset"):
        tiny().fit(Stream())


def test_unreadable_file_names_the_file(tmp_path):
    paths = write_images(tmp_path, random_images(3))
    with open(paths[0], "rb") as file:
        good = file.read()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    for name in ("truncated.png", "missing.png"):
        X = [*paths, str(tmp_path / name)]
        with pytest.raises(ValueError, match=rf"input 3 \(file '.*{name}'\).*on_error='skip'"):
            tiny(batch_size=2).fit_transform(X)


def test_skip_unreadable_files(tmp_path, images, expected):
    paths = write_images(tmp_path, images)
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    X = [str(tmp_path / "bad.jpg"), *paths[:3], str(tmp_path / "missing.png"), *paths[3:]]
    embedder = tiny(on_error="skip", batch_size=2)
    with pytest.warns(UserWarning, match=r"Skipped 2 of 7 inputs.*bad\.jpg"):
        result = embedder.fit_transform(X)
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(embedder.sample_indices_, [1, 2, 3, 5, 6])
    assert [s.index for s in embedder.skipped_] == [0, 4]
    assert "bad.jpg" in embedder.skipped_[0].description
    assert "missing.png" in embedder.skipped_[1].description
    assert "FileNotFoundError" in embedder.skipped_[1].error


def test_all_inputs_unreadable(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    embedder = tiny(on_error="skip")
    with pytest.raises(ValueError, match=r"None of the 1 inputs could be embedded.*a\.png"):
        embedder.fit_transform([str(tmp_path / "a.png")])


def test_image_too_small_for_the_crop():
    small = random_images(1, size=(20, 60))[0]
    with pytest.raises(ValueError, match=r"input 1 .*60x20.*smaller than the 32x32 crop"):
        tiny(resize=None).fit_transform([random_images(1, size=(40, 40))[0], small])
    embedder = tiny(resize=None, on_error="skip")
    with pytest.warns(UserWarning, match="Skipped 1 of 2"):
        X = embedder.fit_transform([random_images(1, size=(40, 40))[0], small])
    assert X.shape == (1, 15)


def test_bad_dataset_items_are_reported_per_item():
    class Mixed(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            if index == 1:
                return {"image": None}
            if index == 2:
                raise OSError("disk on fire")
            return random_images(1)[0], 0

    with pytest.raises(ValueError, match=r"input 1 \(item 1 of the Mixed\).*not an image"):
        tiny().fit_transform(Mixed())
    embedder = tiny(on_error="skip")
    with pytest.warns(UserWarning, match="Skipped 2 of 3"):
        X = embedder.fit_transform(Mixed())
    assert X.shape == (1, 15)
    assert "disk on fire" in embedder.skipped_[1].error


@pytest.mark.parametrize(("n_images", "trims"), [(4, 0), (5, 1), (9, 1)])
def test_free_memory_given_back_after_long_transforms_only(monkeypatch, n_images, trims):
    from dks import _config
    from dks.embed import _embedder

    calls = []
    monkeypatch.setattr(_embedder, "release_memory", lambda: calls.append(1))
    monkeypatch.setattr(_config, "ALLOCATOR_TRIM_AFTER_BATCHES", 3)
    images = random_images(n_images)
    embedder = tiny(batch_size=2).fit(images)
    assert embedder.transform(images).shape[0] == n_images
    assert len(calls) == trims  # 2, 3 and 5 batches of up to 2 images
