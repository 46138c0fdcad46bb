"""The embedding store without torch: layout arithmetic, writer, resume, reader, RowView."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("zarr")

from dks import KSCharacterizer, _config
from dks._atomic import TMP_SUFFIX
from dks.store import (
    RowView,
    StoreWriter,
    chunk_rows_for,
    open_embedding,
    parse_shard,
)
from dks.store._layout import shard_chunks

N_ROWS, N_FEATURES, CHUNK = 10, 7, 3  # chunks: 0-2, 3-5, 6-8, 9


def manifest(**settings):
    names = [f"a_{i}" for i in range(4)] + [f"b_{i}" for i in range(3)]
    return {
        "settings": {"model": "m", "crops": "ten", **settings},
        "feature_names": names,
        "layer_slices": {"a": [0, 4], "b": [4, 7]},
    }


def images(n=N_ROWS):
    return [f"img{i}.png" for i in range(n)]


def data():
    return np.random.default_rng(0).random((N_ROWS, N_FEATURES), dtype=np.float32)


def writer(path, shard=None, **settings):
    return StoreWriter(path, manifest(**settings), images(), CHUNK, shard=shard)


def fill(w, chunks, values, skipped=()):
    for chunk in chunks:
        start, stop = w.chunk_range(chunk)
        block = values[start:stop].copy()
        mine = [s for s in skipped if start <= s[0] < stop]
        for row, _, _ in mine:
            block[row - start] = np.nan
        w.write_chunk(chunk, block, mine)


@pytest.mark.parametrize("n_features, batch", [(15, 2), (9600, 8), (9600, 1000), (1, 3)])
def test_chunk_rows_hold_whole_batches(n_features, batch):
    rows = chunk_rows_for(n_features, batch)
    assert rows % batch == 0 and rows >= batch
    assert rows <= max(batch, _config.STORE_MAX_CHUNK_ROWS)
    assert rows * n_features * 4 <= max(_config.STORE_CHUNK_BYTES, batch * n_features * 4)


@pytest.mark.parametrize("n_chunks", [1, 2, 7, 100])
@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_shards_split_the_chunks_into_contiguous_ranges(n_chunks, n):
    parts = [shard_chunks(n_chunks, (k, n)) for k in range(n)]
    assert [c for part in parts for c in part] == list(range(n_chunks))
    assert all(np.all(np.diff(part) == 1) for part in parts)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize("text, expected", [("0/1", (0, 1)), ("3/4", (3, 4)), ((1, 2), (1, 2))])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("bad", ["1/1", "-1/2", "1", "a/2", (2, 1), (0.5, 2), (0, 1, 2)])
def test_parse_shard_rejects(bad):
    with pytest.raises(ValueError, match="'shard' parameter"):
        parse_shard(bad)


def test_resume_computes_only_missing_chunks(tmp_path):
    path, values = tmp_path / "e.zarr", data()
    w = writer(path)
    assert w.pending == [0, 1, 2, 3] and w.resumed == 0
    fill(w, [0, 2], values)
    assert not w.finish()
    with pytest.raises(ValueError, match="incomplete: 4 of 10 rows"):
        open_embedding(path)
    partial = open_embedding(path, allow_incomplete=True)
    np.testing.assert_array_equal(partial.sample_indices, [0, 1, 2, 6, 7, 8])
    np.testing.assert_array_equal(np.asarray(partial.X), values[[0, 1, 2, 6, 7, 8]])

    again = writer(path)
    assert again.pending == [1, 3] and again.resumed == 2
    fill(again, again.pending, values)
    assert again.finish()
    store = open_embedding(path)
    assert store.complete and store.X is store.array
    np.testing.assert_array_equal(np.asarray(store.X), values)


def test_shards_fill_their_own_ranges(tmp_path):
    path, values = tmp_path / "e.zarr", data()
    shards = [writer(path, shard=(k, 3)) for k in range(3)]
    assert [s.pending for s in shards] == [[0], [1, 2], [3]]
    for s in shards:
        fill(s, s.pending, values)
    assert [s.finish() for s in shards] == [True, True, True]
    np.testing.assert_array_equal(np.asarray(open_embedding(path).X), values)


def test_other_settings_start_afresh_with_a_reason(tmp_path):
    path, values = tmp_path / "e.zarr", data()
    fill(writer(path), [0, 1], values)
    with pytest.warns(UserWarning, match=r"crops: 'ten' -> 'center'"):
        w = writer(path, crops="center")
    assert w.pending == [0, 1, 2, 3]
    with pytest.raises(
        ValueError, match=r"\(crops: 'center' -> 'ten'\). Shards cannot start it afresh"
    ):
        writer(path, shard=(0, 2))
    assert [e for e in os.listdir(tmp_path) if e.endswith(TMP_SUFFIX)] == []


def test_skipped_rows_and_labels(tmp_path):
    path, values = tmp_path / "e.zarr", data()
    w = writer(path)
    fill(w, w.pending, values, skipped=[(1, "img1.png", "empty"), (9, "img9.png", "bad")])
    w.finish()
    store = open_embedding(path)
    keep = [0, 2, 3, 4, 5, 6, 7, 8]
    assert [tuple(s) for s in store.skipped] == [(1, "img1.png", "empty"), (9, "img9.png", "bad")]
    assert isinstance(store.X, RowView) and store.X.shape == (8, N_FEATURES)
    np.testing.assert_array_equal(np.asarray(store.X), values[keep])
    assert np.isnan(store.array[1]).all()
    store.set_labels([f"c{i % 2}" for i in range(N_ROWS)])
    np.testing.assert_array_equal(store.y, [f"c{i % 2}" for i in keep])
    with pytest.raises(ValueError, match="one label per input"):
        store.set_labels(["x"])
    out = store.to_npy(tmp_path / "X.npy")
    np.testing.assert_array_equal(np.load(out), values[keep])


@pytest.mark.parametrize(
    "key",
    [
        (slice(None), slice(2, 5)),
        (slice(1, 6), slice(None)),
        (np.array([0, 3, 7]), slice(0, 3)),
        (slice(None, None, 2), slice(None)),
        3,
        -1,
        (2, 4),
        slice(5, 5),
        (slice(None), np.array([6, 0])),
    ],
)
def test_row_view_slices_like_numpy(tmp_path, key):
    import zarr

    values = data()
    z = zarr.create_array(tmp_path / "z.zarr", shape=values.shape, chunks=(3, 4), dtype="f4")
    z[:] = values
    rows = np.array([0, 2, 3, 4, 5, 6, 8, 9])
    np.testing.assert_array_equal(RowView(z, rows)[key], values[rows][key])


def test_estimators_take_the_store_array(tmp_path):
    path, values = tmp_path / "e.zarr", data()
    w = writer(path)
    fill(w, w.pending, values)
    w.finish()
    y = np.array([0, 1] * 5)
    expected = KSCharacterizer().fit(values, y).dks_
    np.testing.assert_array_equal(KSCharacterizer().fit(open_embedding(path).X, y).dks_, expected)


def test_stale_temporaries_are_removed(tmp_path):
    path, values = tmp_path / "e.zarr", data()
    w = writer(path)
    fill(w, [0], values)
    dead = 2**22 + 12345  # no such pid
    stale_store = tmp_path / f".e.zarr.{dead}.abcd{TMP_SUFFIX}"
    stale_store.mkdir()
    stale_marker = path / "done" / f".1.json.{dead}.abcd{TMP_SUFFIX}"
    stale_marker.write_text("{")
    partial = path / "X" / "c" / "0" / "0.0123abcd.partial"
    partial.write_bytes(b"x")
    w = writer(path)
    assert not stale_store.exists() and not stale_marker.exists()
    fill(w, w.pending, values)
    assert w.finish() and not partial.exists()


def test_not_a_store(tmp_path):
    (tmp_path / "e.zarr").mkdir()
    (tmp_path / "e.zarr" / "other").write_text("x")
    with pytest.raises(FileExistsError, match="not an embedding store"):
        writer(tmp_path / "e.zarr")
    with pytest.raises(FileNotFoundError, match="not an embedding store"):
        open_embedding(tmp_path / "e.zarr")
    w = writer(tmp_path / "f.zarr")
    with pytest.raises(ValueError, match=r"Chunk 0 holds rows 0:3 \(3 x 7\)"):
        w.write_chunk(0, np.zeros((2, 7)))


def test_relocate_keeps_the_rows_under_new_image_paths(tmp_path):
    from dks.store._writer import relocate

    path, values = tmp_path / "e.zarr", data()
    w = writer(path)
    fill(w, w.pending, values)
    assert w.finish()
    moved = [f"elsewhere/{name}" for name in images()]
    fingerprint = relocate(path, moved)
    # a writer with the new paths finds the store done: same fingerprint as a fresh one
    again = StoreWriter(path, manifest(), moved, CHUNK)
    assert again.fingerprint == fingerprint and again.pending == []
    store = open_embedding(path)
    assert store.images == moved and store.fingerprint == fingerprint and store.complete
    np.testing.assert_array_equal(np.asarray(store.X), values)
    with pytest.raises(ValueError, match="has 10 rows; got 9"):
        relocate(path, moved[:-1])


def write_files(folder, n=N_ROWS):
    """``n`` small files standing for images (the store only stats them)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img{i}.png"
        path.write_bytes(bytes([i]) * (10 + i))
        paths.append(str(path))
    return paths


def replace_file(path, content):
    """Write ``content`` over ``path``, one second later (as a later re-export would)."""
    before = os.stat(path).st_mtime_ns
    with open(path, "wb") as fh:
        fh.write(content)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def file_writer(path, files, shard=None):
    return StoreWriter(path, manifest(), images(), CHUNK, shard=shard, files=files)


def test_a_replaced_file_reopens_only_its_chunk(tmp_path):
    path, values = tmp_path / "e.zarr", data()
    files = write_files(tmp_path / "img")
    w = file_writer(path, files)
    fill(w, w.pending, values)
    assert w.finish()
    first = open_embedding(path)
    marker = (path / "done" / "1.json").read_text()
    assert first.revision and '"stamps"' in marker
    assert file_writer(path, files).pending == []  # nothing changed: nothing to do

    replace_file(files[5], b"another picture")
    again = file_writer(path, files)
    assert again.changed == [(1, 5)] and again.pending == [1] and again.resumed == 3
    assert not (path / "complete.json").exists() and not (path / "done" / "1.json").exists()
    assert (path / "done" / "0.json").exists() and (path / "done" / "2.json").exists()
    new_values = values.copy()
    new_values[3:6] += 1
    fill(again, again.pending, new_values)
    assert again.finish()
    store = open_embedding(path)
    assert store.complete and store.revision != first.revision
    np.testing.assert_array_equal(np.asarray(store.X), new_values)
    # A file that disappears is a change too (its row will be skipped by the embedder).
    os.unlink(files[9])
    assert file_writer(path, files).pending == [3]


def test_a_shard_reopens_only_chunks_of_its_range(tmp_path):
    path, values = tmp_path / "e.zarr", data()
    files = write_files(tmp_path / "img")
    w = file_writer(path, files)
    fill(w, w.pending, values)
    w.finish()
    replace_file(files[0], b"x")
    replace_file(files[9], b"y")
    assert file_writer(path, files, shard=(1, 2)).pending == [3]
    assert file_writer(path, files, shard=(0, 2)).pending == [0]


def test_a_store_without_stamps_is_trusted(tmp_path):
    """Markers of an older dks hold no stamps: their rows are reused, as before."""
    path, values = tmp_path / "e.zarr", data()
    files = write_files(tmp_path / "img")
    w = writer(path)  # no files: no stamps
    fill(w, w.pending, values)
    w.finish()
    assert '"stamps"' not in (path / "done" / "1.json").read_text()
    replace_file(files[5], b"another picture")
    again = file_writer(path, files)
    assert again.changed == [] and again.pending == []
    assert open_embedding(path).revision is not None


def test_relocate_takes_the_stamps_of_the_copies(tmp_path):
    import shutil

    from dks.store._writer import relocate

    path, values = tmp_path / "e.zarr", data()
    files = write_files(tmp_path / "img")
    w = StoreWriter(path, manifest(), files, CHUNK, files=files)
    fill(w, w.pending, values)
    w.finish()
    shutil.copytree(tmp_path / "img", tmp_path / "copy", copy_function=shutil.copyfile)
    copies = [str(tmp_path / "copy" / os.path.basename(f)) for f in files]
    for copy in copies:  # a copy without its modification time
        with open(copy, "rb") as fh:
            replace_file(copy, fh.read())
    relocate(path, copies)
    assert StoreWriter(path, manifest(), copies, CHUNK, files=copies).pending == []


def test_killed_chunk_write_is_cleaned_at_the_next_start(tmp_path):
    """SIGKILL while a chunk file is written: its temporary goes at the next start."""
    from tests.process_helpers import kill_when_ready

    path = tmp_path / "e.zarr"
    writer(path)  # the store exists; the killed writer resumes it
    code = f"""
import sys, time
sys.path.insert(0, {os.fspath(os.path.dirname(os.path.dirname(__file__)))!r})
import dks._atomic as atomic
from tests.test_store import writer, data
def stop(src, dst):
    print("ready", flush=True)
    time.sleep(600)
atomic.replace = stop
w = writer({os.fspath(path)!r})
w.write_chunk(0, data()[:3])
"""
    pid, returncode = kill_when_ready(code)
    assert returncode == -9
    chunk_dir = path / "X" / "c" / "0"
    [left] = os.listdir(chunk_dir)
    assert left.startswith(f".0.{pid}.") and left.endswith(TMP_SUFFIX)
    legacy = path / "X" / "c" / "1"  # what Zarr's own store (older dks) left behind
    legacy.mkdir()
    (legacy / "0.0123abcd.partial").write_bytes(b"x")
    done = path / "X" / "c" / "2"  # a done chunk's file is kept
    w = writer(path)
    fill(w, [2], data())
    w = writer(path)
    assert w.pending == [0, 1, 3]
    assert os.listdir(chunk_dir) == [] and os.listdir(legacy) == []
    assert os.listdir(done) == ["0"]


def test_stamps_in_threads_are_those_of_one_stat_each(tmp_path):
    from dks.store import _stamps

    paths = []
    for i in range(3 * _stamps._STAT_BATCH + 5):  # several batches, the last one short
        path = tmp_path / f"{i}.png"
        if i % 7:  # every 7th file missing
            path.write_bytes(b"x" * (i % 13))
        paths.append(str(path))
    paths.append(None)
    assert _stamps.stamps(paths) == [_stamps.stamp(p) for p in paths]
    assert _stamps.stamps(paths)[0] == _stamps.MISSING


def test_a_flipped_byte_of_a_chunk_fails_its_checksum(tmp_path):
    path, values = tmp_path / "e.zarr", data()
    w = writer(path)
    fill(w, w.pending, values)
    assert w.finish()
    chunk = path / "X" / "c" / "1" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[5] ^= 0x01  # in the values of rows 3 to 5, not in the shard's index
    chunk.write_bytes(bytes(raw))
    store = open_embedding(path)
    np.testing.assert_array_equal(np.asarray(store.array[:3]), values[:3])
    with pytest.raises(ValueError, match="checksum do not match"):
        np.asarray(store.array[3:6])


def test_a_store_written_without_checksums_reads_and_resumes(tmp_path, monkeypatch):
    import dks.store._writer as store_writer

    path, values = tmp_path / "e.zarr", data()
    with monkeypatch.context() as m:  # the codecs of dks before the checksum
        m.setattr(store_writer, "_chunk_codecs", lambda: None)
        w = writer(path)
        fill(w, [0, 2], values)
    codecs = json.loads((path / "X" / "zarr.json").read_text())["codecs"][0]
    assert [c["name"] for c in codecs["configuration"]["codecs"]] == ["bytes"]
    again = writer(path)
    assert again.pending == [1, 3]
    fill(again, again.pending, values)
    assert again.finish()
    np.testing.assert_array_equal(np.asarray(open_embedding(path).X), values)
    codecs = json.loads((path / "X" / "zarr.json").read_text())["codecs"][0]
    assert [c["name"] for c in codecs["configuration"]["codecs"]] == ["bytes"]  # as written
