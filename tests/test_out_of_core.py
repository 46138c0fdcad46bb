"""Inputs larger than RAM: memory maps, Zarr and Dask arrays give the in-memory results."""

import os
import tempfile
import threading

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn import config_context

import dks
from dks import KSCharacterizer, NoiseThresholdSelector
from dks._engine._blocks import FeatureSource, block_stats, lazy_kind
from tests.feature_helpers import TINY, make_source, relu_data

KINDS = ["memmap_c", "memmap_f", "zarr_features", "zarr_rows", "dask"]


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("n_bins", [None, 10])
@pytest.mark.parametrize("kind", KINDS)
def test_lazy_sources_equal_in_memory(tmp_path, kind, n_bins, n_jobs):
    X, y = relu_data()
    source = make_source(kind, X, tmp_path)
    ref = NoiseThresholdSelector(KSCharacterizer(n_bins=n_bins), n_shuffles=3, random_state=0)
    ref.fit(X, y)
    char = KSCharacterizer(n_bins=n_bins, block_size=4)
    sel = NoiseThresholdSelector(char, n_shuffles=3, random_state=0, n_jobs=n_jobs)
    with config_context(working_memory=TINY):
        sel.fit(source, y)
    assert_array_equal(sel.dks_, ref.dks_)
    assert_array_equal(sel.null_dks_, ref.null_dks_)
    assert_array_equal(sel.relevance_, ref.relevance_)
    assert sel.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("kind", ["memmap_c", "zarr_features", "zarr_rows"])
def test_each_column_is_read_once(tmp_path, kind, monkeypatch):
    X, y = relu_data()
    source = make_source(kind, X, tmp_path)
    reads = []
    original = FeatureSource.read

    def spy(self, f0, f1):
        reads.append((f0, f1))
        return original(self, f0, f1)

    monkeypatch.setattr(FeatureSource, "read", spy)
    with config_context(working_memory=TINY):
        NoiseThresholdSelector(KSCharacterizer(block_size=1), n_shuffles=4).fit(source, y)
    covered = np.concatenate([np.arange(f0, f1) for f0, f1 in reads])
    assert len(reads) > 1
    assert_array_equal(np.sort(covered), np.arange(X.shape[1]))
    if kind == "zarr_features":  # whole chunks of 8 features
        assert all(f0 % 8 == 0 for f0, _ in reads)


def test_row_major_sources_are_spilled_by_feature_block_and_cleaned(tmp_path, monkeypatch):
    X, y = relu_data()
    source = make_source("memmap_c", X, tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen = []
    original = FeatureSource.read

    def spy(self, f0, f1):
        block = original(self, f0, f1)
        (spill,) = os.listdir(scratch)
        seen.append((f0, sorted(os.listdir(scratch / spill)), block.flags.f_contiguous))
        assert_array_equal(block, X[:, f0:f1])
        return block

    monkeypatch.setattr(FeatureSource, "read", spy)
    with config_context(working_memory=TINY):
        KSCharacterizer(block_size=1).fit(source, y)
    starts = sorted(f0 for f0, _, _ in seen)
    assert len(starts) > 1
    # Each block's file is removed once read: the ones not read yet are left.
    for k, (_, names, _) in enumerate(seen):
        assert names == sorted(f"{f0}.bin" for f0, _, _ in seen[k + 1 :])
    assert all(f_order for _, _, f_order in seen)
    assert os.listdir(scratch) == []  # the spill is gone
    # One block for everything: read directly, nothing spilled.
    monkeypatch.setattr(FeatureSource, "read", original)
    KSCharacterizer(block_size=1).fit(source, y)
    assert os.listdir(scratch) == []


@pytest.mark.parametrize("kind", ["zarr_features", "memmap_c", "dask"])
def test_non_finite_value_in_a_block_is_reported(tmp_path, kind):
    X, y = relu_data()
    X[17, 21] = np.nan
    X[30, 22] = np.inf
    source = make_source(kind, X, tmp_path)
    with (
        config_context(working_memory=TINY),
        pytest.raises(ValueError, match=r"NaN or infinity .* first is feature 21 \(row 17\)"),
    ):
        KSCharacterizer(block_size=1).fit(source, y)


def test_block_stats_matches_numpy():
    X, _ = relu_data()
    X[5, 2] = -np.inf
    X[9, 2] = np.nan
    X[7, 4] = np.nan
    mins, maxs, n_bad, first_bad = block_stats(np.asfortranarray(X))
    finite = np.where(np.isfinite(X), X, np.nan)
    assert_array_equal(mins, np.nanmin(finite, axis=0).astype(np.float64))
    assert_array_equal(maxs, np.nanmax(finite, axis=0).astype(np.float64))
    assert_array_equal(n_bad, (~np.isfinite(X)).sum(axis=0))
    expected = np.full(X.shape[1], -1)
    expected[[2, 4]] = [5, 7]
    assert_array_equal(first_bad, expected)
    # A finite block (two passes) and one infinity: the same statistics as numpy's.
    finite, _ = relu_data()
    for block in (finite, np.where(np.arange(37) == 6, np.inf, finite).astype(np.float32)):
        mins, maxs, n_bad, first_bad = block_stats(np.asfortranarray(block))
        bad = ~np.isfinite(block)
        assert_array_equal(mins, np.min(block, axis=0, initial=np.inf, where=~bad))
        assert_array_equal(maxs, np.max(block, axis=0, initial=-np.inf, where=~bad))
        assert_array_equal(n_bad, bad.sum(axis=0))
        assert_array_equal(first_bad, np.where(bad.any(axis=0), bad.argmax(axis=0), -1))
        assert mins.dtype == maxs.dtype == np.float64


def test_lazy_input_shape_errors(tmp_path):
    zarr = pytest.importorskip("zarr")
    X, y = relu_data()
    flat = zarr.create_array(str(tmp_path / "flat.zarr"), shape=(10,), dtype="float32")
    with pytest.raises(ValueError, match=r"2-D array .* shape \(10,\)"):
        KSCharacterizer().fit(flat, np.arange(10) % 2)
    source = make_source("zarr_features", X, tmp_path)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        KSCharacterizer().fit(source, y[:-1])


def test_lazy_kind_needs_no_import():
    X, _ = relu_data()
    assert lazy_kind(X) is None
    assert lazy_kind(X[:, :3]) is None


def test_feature_source_width_follows_working_memory(tmp_path):
    X, _ = relu_data()
    source = make_source("zarr_features", X, tmp_path)
    chunk = 64 * 8 * 4  # bytes of one chunk
    # Two blocks of 16 columns, one row step of 16 columns, its two chunks (encoded, decoded).
    enough = 2 * 240 * 4 * 16 + 64 * 16 * 4 + 2 * 2 * chunk
    with config_context(working_memory=enough / 2**20):
        fs = FeatureSource(source, n_threads=1)
    assert fs.blocks == [(0, 16), (16, 32), (32, 37)]  # whole chunks of 8
    with config_context(working_memory=(enough - 1) / 2**20):
        assert FeatureSource(source, n_threads=1).blocks[0] == (0, 8)
    with config_context(working_memory=enough / 2**20):  # two threads reading
        assert FeatureSource(source, n_threads=2).blocks[0] == (0, 8)
    # Less than half a chunk: spilled a chunk at a time, blocks of 2 inside the chunks of 8.
    # Two blocks and a row step of one, plus what the spill held: two row steps of a chunk
    # column (one written out, the next decoded meanwhile), its chunk (encoded and
    # decoded) and a row step of one block (transposed for writing).
    two = (2 * 240 * 4 * 2 + 64 * 2 * 4) + (2 * 64 * 8 * 4 + 2 * chunk + 64 * 2 * 4)
    with config_context(working_memory=two / 2**20), FeatureSource(source, n_threads=1) as fs:
        assert fs.blocks == [(f0, min(f0 + 2, 37)) for f0 in range(0, 37, 2)]
        assert fs.read(2, 4).flags.f_contiguous
        assert_array_equal(fs.read(34, 36), X[:, 34:36])
        assert_array_equal(fs.read(36, 37), X[:, 36:37])
        assert fs._tmpdir is not None
    with (
        config_context(working_memory=(two - 1) / 2**20),
        FeatureSource(source, n_threads=1) as fs,
    ):
        assert fs.blocks[0] == (0, 1)
    assert fs._tmpdir is None  # removed
    # The threads' temporaries count too.
    with config_context(working_memory=enough / 2**20):
        fs = FeatureSource(source, n_threads=1, temporaries=lambda width: 240 * 4 * width)
    assert fs.blocks[0] == (0, 8)


@pytest.mark.parametrize("kind", ["memmap_c", "zarr_rows", "zarr_features", "dask"])
def test_working_memory_too_small_says_what_is_needed(tmp_path, kind):
    from dks._options import command_line

    X, y = relu_data()
    source = make_source(kind, X, tmp_path)
    with config_context(working_memory=0.001), pytest.raises(ValueError) as info:
        KSCharacterizer().fit(source, y)
    message = str(info.value)
    assert "working_memory=0.001 MiB is too small" in message
    assert "X of shape (240, 37)" in message
    needed = float(message.split("smallest feature block needs ")[1].split(" MiB")[0])
    assert 0.001 < needed < TINY
    assert "sklearn.set_config(working_memory=" in message
    with (
        command_line(),
        config_context(working_memory=0.001),
        pytest.raises(ValueError, match=r"SKLEARN_WORKING_MEMORY=\d"),
    ):
        KSCharacterizer().fit(source, y)
    # The memory the message asks for is enough.
    least = float(message.split("working_memory=")[2].split(")")[0])
    with config_context(working_memory=least):
        got = KSCharacterizer().fit(source, y).dks_
    assert_array_equal(got, KSCharacterizer().fit(X, y).dks_)


def test_block_size_never_widens_a_block(tmp_path, monkeypatch):
    X, y = relu_data()
    source = make_source("zarr_features", X, tmp_path)
    widths = []
    original = FeatureSource.read

    def spy(self, f0, f1):
        widths.append(f1 - f0)
        return original(self, f0, f1)

    monkeypatch.setattr(FeatureSource, "read", spy)
    with config_context(working_memory=TINY):
        KSCharacterizer(block_size=256).fit(source, y)
    assert len(widths) > 1 and max(widths) < X.shape[1]


def test_rows_of_a_zarr_array_are_read_in_blocks(tmp_path, monkeypatch):
    from dks.store import RowView

    X, y = relu_data()
    source = make_source("zarr_features", X, tmp_path)
    rows = np.flatnonzero(np.arange(X.shape[0]) % 7 != 3)  # skipped inputs left out
    reads = []
    original = FeatureSource.read

    def spy(self, f0, f1):
        reads.append((f0, f1))
        return original(self, f0, f1)

    monkeypatch.setattr(FeatureSource, "read", spy)
    assert lazy_kind(RowView(source, rows)) == "zarr"
    with config_context(working_memory=TINY):
        got = KSCharacterizer().fit(RowView(source, rows), y[rows]).dks_
    assert len(reads) > 1
    assert_array_equal(got, KSCharacterizer().fit(X[rows], y[rows]).dks_)


@pytest.mark.parametrize("n_bins", [None, 10])
@pytest.mark.parametrize("kind", ["array", "zarr_features", "dask"])
def test_keep_null_false_gives_the_same_thresholds(tmp_path, kind, n_bins):
    X, y = relu_data(seed=1)
    source = X if kind == "array" else make_source(kind, X, tmp_path)
    char = KSCharacterizer(n_bins=n_bins, block_size=5)
    full = NoiseThresholdSelector(char, n_shuffles=6, random_state=2).fit(X, y)
    with config_context(working_memory=TINY):
        small = NoiseThresholdSelector(char, n_shuffles=6, random_state=2, keep_null=False)
        small.fit(source, y)
    assert small.null_dks_ is None
    assert_array_equal(small.dks_, full.dks_)
    assert_array_equal(small.d_avg_plus_, full.d_avg_plus_)
    assert_array_equal(small.d_avg_minus_, full.d_avg_minus_)
    assert (small.t_plus_, small.t_minus_) == (full.t_plus_, full.t_minus_)
    assert_array_equal(small.relevance_, full.relevance_)
    summary = small.layer_summary()
    assert np.isnan(summary["kept_shuffled"]).all()
    assert_array_equal(summary["kept"], full.layer_summary()["kept"])


def test_keep_null_false_with_a_characterizer_without_shared_null():
    from sklearn.base import BaseEstimator

    class Plain(BaseEstimator):
        """fit_null by one fit per labeling, handing each to on_null_block (the interface)."""

        def fit(self, X, y):
            char = KSCharacterizer(progress=False).fit(X, y)
            self.dks_, self.classes_ = char.dks_, char.classes_
            self.class_counts_ = char.class_counts_
            self.n_features_in_ = char.n_features_in_
            return self

        def fit_null(self, X, y, permutations, *, on_null_block=None):
            self.fit(X, y)
            null = np.stack(
                [KSCharacterizer(progress=False).fit(X, y[p]).dks_ for p in permutations]
            )
            if on_null_block is None:
                return null
            on_null_block(0, null.shape[-1], null)
            return np.empty((0, *null.shape[1:]))

    X, y = relu_data(seed=3)
    full = NoiseThresholdSelector(Plain(), n_shuffles=3, random_state=0).fit(X, y)
    small = NoiseThresholdSelector(Plain(), n_shuffles=3, random_state=0, keep_null=False)
    small.fit(X, y)
    assert_array_equal(small.d_avg_plus_, full.d_avg_plus_)
    assert_array_equal(small.d_avg_minus_, full.d_avg_minus_)
    assert small.null_dks_ is None


def test_fits_import_neither_zarr_nor_dask(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from dks import NoiseThresholdSelector\n"
        "np.save(sys.argv[1], np.random.default_rng(0).random((60, 5)))\n"
        "X = np.load(sys.argv[1], mmap_mode='r')\n"
        "NoiseThresholdSelector(n_shuffles=2, keep_null=False).fit(X, np.arange(60) % 3)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('zarr', 'dask')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "X.npy")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(dks.__file__))},
    )
    assert out.stdout.strip() == "[]"


def test_keep_null_false_refuses_per_class_thresholds():
    X, y = relu_data(seed=3)
    sel = NoiseThresholdSelector(n_shuffles=2, keep_null=False, thresholds="per_class")
    with pytest.raises(ValueError, match=r"thresholds='per_class'.*keep_null=False"):
        sel.fit(X, y)


@pytest.mark.parametrize(
    ("dtype", "memory"), [("float32", 0.05), ("int16", 0.06), ("float64", 0.08)]
)
def test_chunks_wider_than_blocks_are_spilled_column_after_column(tmp_path, dtype, memory):
    # Chunks of 70 x 30: blocks narrower than half a chunk are spilled a chunk column at a
    # time (row steps of 70, 70, 70, 30; uneven blocks at the chunk columns' edges) and read
    # back straight into Fortran-ordered blocks: every block equals the slice of X.
    zarr = pytest.importorskip("zarr")
    X, y = relu_data()
    X = (X * 10).astype(dtype)
    z = zarr.create_array(str(tmp_path / "X.zarr"), shape=X.shape, dtype=dtype, chunks=(70, 30))
    z[:] = X
    work = np.float32 if dtype == "float32" else np.float64
    with config_context(working_memory=memory), FeatureSource(z, n_threads=1) as source:
        assert source._tmpdir is not None  # spilled
        assert len(source.blocks) > 2
        assert not any(f0 < 30 < f1 for f0, f1 in source.blocks)  # inside chunk columns
        for f0, f1 in source.blocks:
            block = source.read(f0, f1)
            assert block.dtype == work and block.flags.f_contiguous
            assert_array_equal(block, X[:, f0:f1].astype(work))
    with config_context(working_memory=memory):
        lazy = KSCharacterizer(block_size=1).fit(z, y)
    assert_array_equal(lazy.dks_, KSCharacterizer().fit(X.astype(work), y).dks_)


def test_a_truncated_spill_file_is_an_error_naming_it(tmp_path, monkeypatch):
    zarr = pytest.importorskip("zarr")
    X, _ = relu_data()
    z = zarr.create_array(str(tmp_path / "X.zarr"), shape=X.shape, dtype=X.dtype, chunks=(70, 30))
    z[:] = X
    original = FeatureSource._spill

    def truncating(self, group):
        original(self, group)
        path = self._block_path(self.blocks[0][0])
        if group == 0:
            os.truncate(path, os.path.getsize(path) - 4)

    monkeypatch.setattr(FeatureSource, "_spill", truncating)
    with (
        config_context(working_memory=0.05),
        FeatureSource(z, n_threads=1) as source,
        pytest.raises(OSError, match=r"spill file .*0\.bin' ended early"),
    ):
        source.read(*source.blocks[0])


def _spilled_zarr(tmp_path, X, chunks):
    zarr = pytest.importorskip("zarr")
    z = zarr.create_array(str(tmp_path / "X.zarr"), shape=X.shape, dtype=X.dtype, chunks=chunks)
    z[:] = X
    return z


@pytest.mark.parametrize("rows", ["all", "range", "some"])
@pytest.mark.parametrize("n_bins", [None, 10])
def test_read_ahead_spill_equals_the_in_memory_fit(tmp_path, monkeypatch, rows, n_bins):
    # Odd chunks of 53 x 13 (row steps 53, ..., 28; chunk columns 13, 13, 11), blocks of
    # 5, 5 and 3 inside them, ties, ReLU zeros and constant columns: the read-ahead thread
    # decodes every row step of the spill straight into its buffers, and the statistics
    # are those of the in-memory fit.
    from dks.store import RowView

    X, y = relu_data()
    X[:, 20] = 0.0  # a constant column of zeros, in the second chunk column
    z = _spilled_zarr(tmp_path, X, (53, 13))
    keep = {
        "all": np.arange(240),
        "range": np.arange(17, 240),  # one range of rows: read as a slice
        "some": np.flatnonzero(np.arange(240) % 7 != 3),  # gaps: an orthogonal selection
    }[rows]
    source = z if rows == "all" else RowView(z, keep)
    threads = []
    original = FeatureSource._read_rows

    def spy(self, r0, r1, c0, c1, out):
        threads.append(threading.current_thread().name)
        return original(self, r0, r1, c0, c1, out)

    monkeypatch.setattr(FeatureSource, "_read_rows", spy)
    char = KSCharacterizer(n_bins=n_bins, block_size=1)
    sel = NoiseThresholdSelector(char, n_shuffles=2, random_state=0)
    with config_context(working_memory=0.03):
        sel.fit(source, y[keep])
    # Spilled by the read-ahead thread: each row step of each chunk column, once.
    assert len(threads) == 3 * -(-len(keep) // 53)
    assert all(name.startswith("dks-spill-read") for name in threads)
    ref = NoiseThresholdSelector(KSCharacterizer(n_bins=n_bins), n_shuffles=2, random_state=0)
    ref.fit(X[keep], y[keep])
    assert_array_equal(sel.dks_, ref.dks_)
    assert_array_equal(sel.null_dks_, ref.null_dks_)
    assert_array_equal(sel.dks_[:, 20], 0.0)


@pytest.mark.parametrize("failing_call", [0, 4])
def test_a_failure_of_the_read_ahead_is_raised_by_the_fit(tmp_path, monkeypatch, failing_call):
    # The read-ahead thread's error reaches the fit (not a hang), the spill is removed and
    # no thread of the spill is left running.
    X, y = relu_data()
    z = _spilled_zarr(tmp_path, X, (53, 13))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    calls = []
    original = FeatureSource._read_rows

    def failing(self, r0, r1, c0, c1, out):
        calls.append((r0, c0))
        if len(calls) > failing_call:
            raise OSError(f"chunk ({r0}, {c0}) of X.zarr could not be read")
        return original(self, r0, r1, c0, c1, out)

    monkeypatch.setattr(FeatureSource, "_read_rows", failing)
    raised = []

    def fit():
        try:
            with config_context(working_memory=0.03):
                KSCharacterizer(block_size=1, progress=False).fit(z, y)
        except OSError as exc:
            raised.append(exc)

    worker = threading.Thread(target=fit, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the fit hangs after the read-ahead failed"
    (exc,) = raised
    assert "could not be read" in str(exc)
    assert os.listdir(scratch) == []  # the spill is gone
    assert not [t for t in threading.enumerate() if t.name.startswith("dks-spill")]
