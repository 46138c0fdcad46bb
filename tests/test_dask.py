"""Feature blocks as tasks on a dask.distributed cluster (optional dependency)."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn import config_context

from dks import KSCharacterizer, NoiseThresholdSelector

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from dks._engine._dask import as_dask_array, client_for  # noqa: E402
from tests.feature_helpers import TINY, make_source, relu_data  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # Threads in this process: light, yet the blocks go through the scheduler as tasks.
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.mark.parametrize("keep_null", [True, False])
@pytest.mark.parametrize("n_bins", [None, 10])
def test_distributed_fit_equals_in_memory(client, n_bins, keep_null):
    X, y = relu_data(seed=4)
    ref = NoiseThresholdSelector(KSCharacterizer(n_bins=n_bins), n_shuffles=3, random_state=0)
    ref.fit(X, y)
    char = KSCharacterizer(n_bins=n_bins, block_size=4)
    sel = NoiseThresholdSelector(char, n_shuffles=3, random_state=0, keep_null=keep_null)
    with config_context(working_memory=TINY), distributed.get_task_stream(client) as stream:
        sel.fit(da.from_array(X, chunks=(60, 37)), y)  # row chunks: rechunked to columns
    assert_array_equal(sel.dks_, ref.dks_)
    assert_array_equal(sel.d_avg_plus_, ref.d_avg_plus_)
    assert_array_equal(sel.relevance_, ref.relevance_)
    if keep_null:
        assert_array_equal(sel.null_dks_, ref.null_dks_)
    # The blocks ran as tasks on this client's workers: several blocks fit in TINY.
    keys = [str(task["key"]) for task in stream.data]
    assert 2 <= sum("band_task" in key for key in keys) <= 37


def test_zarr_store_as_dask_array(client, tmp_path):
    X, y = relu_data(seed=5)
    z = make_source("zarr_features", X, tmp_path)
    dx = as_dask_array(z)
    assert dx.chunks[1][0] == 8
    assert as_dask_array(dx) is dx
    with config_context(working_memory=TINY):
        got = KSCharacterizer(block_size=1).fit(dx, y).dks_
    assert_array_equal(got, KSCharacterizer().fit(X, y).dks_)


def test_client_for_arguments():
    with pytest.raises(ValueError, match="not both"):
        client_for("tcp://127.0.0.1:1", 2)
    with pytest.raises(ValueError, match="n_workers must be at least 1; got 0"):
        client_for(None, 0)


def test_a_store_view_without_skipped_rows_becomes_those_rows(tmp_path):
    zarr = pytest.importorskip("zarr")
    from dks.store import RowView

    values = np.arange(40, dtype=np.float32).reshape(10, 4)
    array = zarr.create_array(str(tmp_path / "x.zarr"), shape=(10, 4), chunks=(3, 4), dtype="f4")
    array[:] = values
    view = RowView(array, [0, 2, 3, 7, 9])
    assert_array_equal(as_dask_array(view).compute(), values[[0, 2, 3, 7, 9]])


def test_bands_lie_inside_chunk_columns_and_hold_their_blocks(monkeypatch):
    import dks._engine._dispatch as dispatch

    X, y = relu_data(seed=6)
    ref = KSCharacterizer().fit(X, y).dks_
    seen = []
    original = dispatch.dask_signed_dks

    def spy(*args, bounds, edges, **kwargs):
        seen.append((bounds, edges))
        return original(*args, bounds=bounds, edges=edges, **kwargs)

    monkeypatch.setattr(dispatch, "dask_signed_dks", spy)
    dx = da.from_array(X, chunks=(60, 16))
    for mib in (0.03, 0.04, 0.05, 0.06, 0.08, 0.2):
        with config_context(working_memory=mib):
            assert_array_equal(KSCharacterizer().fit(dx, y).dks_, ref)
    several = False
    for bounds, edges in seen:
        assert bounds[0] == 0 and bounds[-1] == X.shape[1]
        for f0, f1, e in zip(bounds, bounds[1:], edges, strict=False):
            assert e[0] == 0 and e[-1] == f1 - f0 and all(np.diff(e) > 0)
            # Whole chunk columns, or inside one: each chunk decoded once per band.
            whole = f0 % 16 == 0 and (f1 % 16 == 0 or f1 == X.shape[1])
            assert whole or f0 // 16 == (f1 - 1) // 16
            if len(e) > 2:
                several = True
                assert min(np.diff(e)) >= (f1 - f0) // 4
    assert several  # some band computed more than one block from one read
    assert any(len(b) > 3 for b, _ in seen)
