"""CNNEmbedder into a store: equal values, skipped inputs, resume, shards, kill -9."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("zarr")

import dks  # noqa: E402
from dks import _config  # noqa: E402
from dks._atomic import TMP_SUFFIX  # noqa: E402
from dks.embed import CNNEmbedder  # noqa: E402
from dks.store import open_embedding  # noqa: E402
from tests import store_worker  # noqa: E402
from tests.embed_helpers import TINY_LAYERS, random_images, tiny_cnn, write_images  # noqa: E402

pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parents[1]


def tiny(**params):
    defaults = dict(
        layers=TINY_LAYERS,
        crops="center",
        resize=16,
        crop_size=16,
        batch_size=2,
        num_workers=0,
        progress=False,
    )
    return CNNEmbedder(tiny_cnn(), **{**defaults, **params})


@pytest.fixture
def small_chunks():
    """Chunks of 4 rows for the 15 features of the tiny CNN."""
    with dks.config_context(store_chunk_bytes=4 * 15 * 4):
        yield


def leftovers(folder):
    """Temporary entries (dks's or Zarr's) anywhere under ``folder``."""
    found = []
    for _, dirs, files in os.walk(folder):
        found += [n for n in dirs + files if n.endswith((TMP_SUFFIX, ".partial"))]
    return found


def test_store_equals_in_memory_embedding(tmp_path, small_chunks):
    images = random_images(11, size=(20, 24))
    expected = tiny().fit_transform(images)
    embedder = tiny(output=tmp_path / "e.zarr")
    X = embedder.fit_transform(images)
    np.testing.assert_array_equal(np.asarray(X), expected)
    np.testing.assert_array_equal(embedder.sample_indices_, np.arange(11))
    store = open_embedding(tmp_path / "e.zarr")
    assert store.complete and store.array.chunks == (4, 15)
    np.testing.assert_array_equal(store.X[:, 4:10], expected[:, 4:10])
    assert list(store.feature_names) == list(embedder.get_feature_names_out())
    assert store.layer_slices == embedder.layer_slices_
    assert store.settings["crops"] == "center"
    # A rerun finds every chunk done and computes nothing.
    embedder.model_.forward = None  # would fail if called
    np.testing.assert_array_equal(np.asarray(embedder.transform(images)), expected)


def test_skipped_file_is_a_nan_row_and_listed(tmp_path, small_chunks):
    paths = write_images(tmp_path / "img", random_images(6, size=(20, 24)))
    Path(paths[2]).write_bytes(b"")
    with pytest.warns(UserWarning, match="Skipped 1 of 6"):
        expected = tiny(on_error="skip").fit_transform(paths)
    embedder = tiny(on_error="skip", output=tmp_path / "e.zarr")
    with pytest.warns(UserWarning, match="Skipped 1 of 6"):
        X = embedder.fit_transform(paths)
    np.testing.assert_array_equal(np.asarray(X), expected)
    np.testing.assert_array_equal(embedder.sample_indices_, [0, 1, 3, 4, 5])
    store = open_embedding(tmp_path / "e.zarr")
    assert np.isnan(store.array[2]).all() and not np.isnan(store.array[3]).any()
    [skipped] = store.skipped
    assert skipped.index == 2 and paths[2] in skipped.description and skipped.error
    assert store.images == paths
    np.testing.assert_array_equal(store.sample_indices, [0, 1, 3, 4, 5])


def test_changed_setting_starts_afresh_and_says_why(tmp_path, small_chunks):
    images = random_images(5, size=(20, 24))
    tiny(output=tmp_path / "e.zarr").fit_transform(images)
    with pytest.warns(UserWarning, match=r"other settings \(crops: 'center' -> 'none'"):
        X = tiny(output=tmp_path / "e.zarr", crops="none").fit_transform(images)
    np.testing.assert_array_equal(np.asarray(X), tiny(crops="none").fit_transform(images))
    with pytest.warns(UserWarning, match="image list: 5 -> 4 images"):
        tiny(output=tmp_path / "e.zarr", crops="none").fit_transform(images[:4])
    with pytest.raises(ValueError, match="Shards cannot start it afresh"):
        tiny(output=tmp_path / "e.zarr", shard=(0, 2)).fit_transform(images[:4])
    assert leftovers(tmp_path) == []


def test_a_replaced_image_is_embedded_again_on_resume(tmp_path, small_chunks):
    """An image file overwritten by another picture under the same name gets a new row;
    only its chunk (4 rows) is computed again, the other rows are read from the store."""
    paths = write_images(tmp_path / "img", random_images(10, size=(20, 24)))
    out = tmp_path / "e.zarr"
    before = np.asarray(tiny(output=out).fit_transform(paths))
    revision = open_embedding(out).revision
    old_mtime = os.stat(paths[5]).st_mtime_ns
    write_images(tmp_path / "new", random_images(1, size=(20, 24), seed=7))
    os.replace(tmp_path / "new" / "img000.png", paths[5])
    os.utime(paths[5], ns=(old_mtime + 10**9, old_mtime + 10**9))  # a later re-export

    embedder = tiny(output=out).fit(paths)
    forward, seen = embedder.model_.forward, []
    embedder.model_.forward = lambda x: seen.append(len(x)) or forward(x)
    after = np.asarray(embedder.transform(paths))
    assert sum(seen) == 4  # the chunk of rows 4-7 only
    np.testing.assert_array_equal(after, tiny().fit_transform(paths))
    assert not np.array_equal(after[5], before[5])
    keep = [0, 1, 2, 3, 4, 6, 7, 8, 9]
    np.testing.assert_array_equal(after[keep], before[keep])
    store = open_embedding(out)
    assert store.complete and store.revision != revision
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "shard, output", [((2, 2), "e.zarr"), ("1/0", "e.zarr"), ("a/b", "e.zarr"), ((0, 2), "e.npy")]
)
def test_bad_shard(tmp_path, shard, output):
    with pytest.raises(ValueError, match="shard"):
        tiny(output=tmp_path / output, shard=shard).fit(random_images(1))


def _worker(output, *args, sleep=0.0):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.store_worker", str(output), *args]
    cmd += ["--sleep", str(sleep)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)


def _reference(tmp_path):
    saved = _config.STORE_CHUNK_BYTES  # store_worker.embedder sets it for its process
    try:
        return np.asarray(
            store_worker.embedder(tmp_path / "ref.zarr").fit_transform(store_worker.images())
        )
    finally:
        _config.STORE_CHUNK_BYTES = saved


@pytest.mark.slow
def test_two_shard_processes_fill_one_store(tmp_path):
    out = tmp_path / "e.zarr"
    workers = [_worker(out, "--shard", f"{k}/2") for k in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    store = open_embedding(out)
    assert store.complete
    np.testing.assert_array_equal(np.asarray(store.X), _reference(tmp_path))
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_kill_9_then_rerun_is_bit_identical(tmp_path):
    out = tmp_path / "e.zarr"
    worker = _worker(out, sleep=0.3)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = out / "done"
        if done.is_dir() and sum(n.endswith(".json") for n in os.listdir(done)) >= 3:
            break
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=60)
    n_done = len([n for n in os.listdir(out / "done") if n.endswith(".json")])
    n_chunks = store_worker.N_IMAGES // store_worker.CHUNK_ROWS
    assert 3 <= n_done < n_chunks, "the writer was not killed mid-run"
    assert not (out / "complete.json").exists()
    with pytest.raises(ValueError, match="is incomplete"):
        open_embedding(out)

    rerun = _worker(out)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"resuming, {n_done} chunk(s)" in err
    np.testing.assert_array_equal(np.asarray(open_embedding(out).X), _reference(tmp_path))
    assert leftovers(tmp_path) == []
