"""Tests of dks.datasets: IDX parsing, class-balanced subsets, ImageFolder export."""

import gzip
import struct

import numpy as np
import pytest

from dks import datasets
from dks.datasets import (
    FASHION_MNIST_CLASSES,
    export_image_folder,
    folder_name,
    load_fashion_mnist,
)

N_PER_CLASS = 7  # images per class in the fake files


def _write_idx(path, array, *, compress=True):
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(
        struct.pack(">I", n) for n in array.shape
    )
    data = header + array.tobytes()
    if compress:
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


@pytest.fixture
def fake_home(tmp_path, monkeypatch):
    """A data_home with small fake Fashion-MNIST files; the Debian folder hidden."""
    monkeypatch.setattr(datasets._fashion_mnist, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    rng = np.random.default_rng(0)
    y = rng.permutation(np.repeat(np.arange(10), N_PER_CLASS))
    # Each image encodes its row index, so subsets can be traced back.
    images = np.zeros((y.size, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = np.arange(y.size)
    images[:, 1, :] = y[:, None] * 20
    home = tmp_path / "home"
    home.mkdir()
    _write_idx(home / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(home / "t10k-labels-idx1-ubyte.gz", y)
    # The train split uncompressed, in torchvision's layout.
    raw = home / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw / "train-images-idx3-ubyte", images[:20], compress=False)
    _write_idx(raw / "train-labels-idx1-ubyte", y[:20], compress=False)
    return home, images, y


def test_load_all(fake_home):
    home, images, y = fake_home
    got, got_y, names = load_fashion_mnist(data_home=home)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(got_y, y)
    assert got.dtype == np.uint8 and got_y.dtype == np.int64
    assert names == list(FASHION_MNIST_CLASSES)


def test_load_train_uncompressed_torchvision_layout(fake_home):
    home, images, y = fake_home
    got, got_y, _ = load_fashion_mnist("train", data_home=home)
    np.testing.assert_array_equal(got, images[:20])
    np.testing.assert_array_equal(got_y, y[:20])


def test_subset_is_balanced_and_deterministic(fake_home):
    home, images, y = fake_home
    a, ya, _ = load_fashion_mnist(n_per_class=3, random_state=1, data_home=home)
    b, yb, _ = load_fashion_mnist(n_per_class=3, random_state=1, data_home=home)
    c, _, _ = load_fashion_mnist(n_per_class=3, random_state=2, data_home=home)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(np.bincount(ya, minlength=10), np.full(10, 3))
    rows = a[:, 0, 0].astype(int)  # the original row of each image
    assert np.all(np.diff(rows) > 0), "the subset keeps the dataset's order"
    np.testing.assert_array_equal(y[rows], ya)
    np.testing.assert_array_equal(images[rows], a)


def test_subset_too_large(fake_home):
    home, _, _ = fake_home
    with pytest.raises(ValueError, match=f"has only {N_PER_CLASS} images"):
        load_fashion_mnist(n_per_class=N_PER_CLASS + 1, data_home=home)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_bad_n_per_class(fake_home, bad):
    with pytest.raises(ValueError, match="n_per_class must be a positive int"):
        load_fashion_mnist(n_per_class=bad, data_home=fake_home[0])


def test_bad_split(fake_home):
    with pytest.raises(ValueError, match="split must be 'test' or 'train'"):
        load_fashion_mnist("validation", data_home=fake_home[0])


def test_missing_files_explain_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets._fashion_mnist, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist") as info:
        load_fashion_mnist(data_home=tmp_path / "empty")
    assert "download=True" in str(info.value)


def test_corrupt_files(fake_home):
    home, _, _ = fake_home
    (home / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="Cannot read"):
        load_fashion_mnist(data_home=home)
    _write_idx(home / "t10k-labels-idx1-ubyte.gz", np.zeros((2, 2)))  # 2-D: wrong magic
    with pytest.raises(ValueError, match="magic number"):
        load_fashion_mnist(data_home=home)


def test_truncated_file(fake_home):
    home, _, _ = fake_home
    path = home / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path) as fh:
        data = fh.read()
    with gzip.open(path, "wb") as fh:
        fh.write(data[:-5])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_fashion_mnist(data_home=home)


@pytest.mark.skipif(
    not (datasets.DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_debian_files():
    images, y, names = load_fashion_mnist(n_per_class=2)
    assert images.shape == (20, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 2))
    assert names[0] == "T-shirt/top"


def test_folder_name():
    assert folder_name("T-shirt/top") == "T-shirt-top"
    assert folder_name("Ankle boot") == "Ankle boot"
    assert folder_name(".hidden.") == "hidden"
    assert folder_name('a:b*c?"d<e>f|g\\h') == "a-b-c-d-e-f-g-h"
    with pytest.raises(ValueError, match="cannot be made into a folder name"):
        folder_name("...")


def test_export_image_folder_round_trip(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    y = np.array([0, 1, 2] * 4)
    names = ["T-shirt/top", "Trouser", "Bag"]
    paths = export_image_folder(images, y, names, tmp_path / "out")
    assert len(paths) == 12
    folders = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert folders == ["Bag", "T-shirt-top", "Trouser"]
    for i, path in enumerate(paths):
        assert f"/{folder_name(names[y[i]])}/" in path
        np.testing.assert_array_equal(np.asarray(PIL.open(path)), images[i])
    # Sorted file names keep the order of the rows within a class.
    files = sorted((tmp_path / "out" / "Trouser").iterdir())
    assert [str(f) for f in files] == [paths[i] for i in np.flatnonzero(y == 1)]


def test_export_rgb_and_string_labels(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    images = np.zeros((2, 5, 6, 3), dtype=np.uint8)
    images[1, ..., 0] = 255
    paths = export_image_folder(images, ["red", "black"], None, tmp_path / "rgb")
    assert np.asarray(PIL.open(paths[1])).shape == (5, 6, 3)
    assert paths[0].endswith("red/0.png")


def test_export_refuses_bad_input(tmp_path):
    images = np.zeros((2, 4, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match="uint8 array"):
        export_image_folder(images.astype(float), [0, 1], ["a", "b"], tmp_path / "x")
    with pytest.raises(ValueError, match=r"integer labels in 0\.\.1"):
        export_image_folder(images, [0, 2], ["a", "b"], tmp_path / "x")
    with pytest.raises(ValueError, match="would share the folder"):
        export_image_folder(images, [0, 1], ["a/b", "a:b"], tmp_path / "x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        export_image_folder(images, [0, 1], ["a", "b"], tmp_path / "full")
