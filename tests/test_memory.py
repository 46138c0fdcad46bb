"""The statistics stay within working_memory: fits in a memory cgroup (v1), never OOM-killed.

Each fit runs in a child process (:mod:`tests.memory_worker`) that loads its modules and
kernels first, then is moved into a memory cgroup limited to ``working_memory`` plus the
documented overhead (:data:`OVERHEAD_MIB`, see ``docs/scaling.rst``). Memory charged before
the move stays with the parent cgroup, so the limit bounds what the fit itself allocates
(the page cache of what it reads counts too, but can be reclaimed). With the old floor of
``block_size=256`` features a block, the same fits needed over twice the limit.
"""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from dks import NoiseThresholdSelector
from tests.memory_worker import labels

pytestmark = pytest.mark.slow

CGROUP_ROOT = Path("/sys/fs/cgroup/memory")
ROOT = Path(__file__).resolve().parent.parent

N_SAMPLES, N_FEATURES = 60_000, 500  # 120 MB of float32
# A foreign Zarr array in row bands: 20,000 rows x 50 features a chunk (4 MB).
BAND_CHUNKS = (20_000, 50)
WORKING_MEMORY_MIB = 32
#: The fixed overhead of a fit beyond working_memory (docs/scaling.rst): allocator and
#: interpreter slack, zarr's and Dask's bookkeeping; the results and labelings of this fit
#: are below 1 MiB.
OVERHEAD_MIB = 64


def cgroup_or_skip(name):
    if not CGROUP_ROOT.is_dir():
        pytest.skip("no cgroup v1 memory controller at /sys/fs/cgroup/memory")
    path = CGROUP_ROOT / name
    try:
        path.mkdir()
    except OSError as exc:
        pytest.skip(f"cannot create a memory cgroup ({exc}); run as root on cgroup v1")
    return path


def remove_cgroup(path):
    with contextlib.suppress(OSError):
        path.rmdir()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    zarr = pytest.importorskip("zarr")
    root = tmp_path_factory.mktemp("memory")
    rng = np.random.default_rng(0)
    y = labels(N_SAMPLES)
    X = np.empty((N_SAMPLES, N_FEATURES), dtype=np.float32)
    shift = rng.normal(size=(10, N_FEATURES)).astype(np.float32)
    for r0 in range(0, N_SAMPLES, 5000):
        noise = rng.normal(size=(5000, N_FEATURES)).astype(np.float32)
        X[r0 : r0 + 5000] = np.maximum(noise + shift[y[r0 : r0 + 5000]], 0).round(2)
    bands = zarr.create_array(
        str(root / "bands.zarr"), shape=X.shape, dtype=X.dtype, chunks=BAND_CHUNKS
    )
    bands[:] = X
    # As dks.store writes it: shards of whole rows, uncompressed, here one inner chunk of all
    # 500 features (a row-major source: spilled by feature block).
    store = zarr.create_array(
        str(root / "store.zarr"), shape=X.shape, dtype="<f4", shards=(1048, N_FEATURES),
        chunks=(1048, N_FEATURES), compressors=None, fill_value=np.float32(np.nan),
    )  # fmt: skip
    store[:] = X
    np.save(root / "X.npy", X)  # C order: spilled by feature block
    ref = NoiseThresholdSelector(n_shuffles=2, keep_null=False, random_state=0, progress=False)
    dks_ = ref.fit(X, y).dks_
    return root, dks_


def fit_in_cgroup(kind, path, working_memory, limit_mib, tmp_path):
    """Run the worker in a cgroup of ``limit_mib``; its exit status, stdout and stderr."""
    cgroup = cgroup_or_skip(f"dks-test-{os.getpid()}-{kind}-{working_memory:g}")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "tests.memory_worker", kind, str(path), str(working_memory)]
    cmd.append(str(tmp_path / "dks.npy"))
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "ready"
        limit = str(limit_mib * 2**20)
        (cgroup / "memory.limit_in_bytes").write_text(limit)
        swap = cgroup / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(limit)  # no escape to swap either
        (cgroup / "cgroup.procs").write_text(str(proc.pid))
        out, err = proc.communicate("go\n", timeout=600)
        peak = int((cgroup / "memory.max_usage_in_bytes").read_text()) / 2**20
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        remove_cgroup(cgroup)
    return proc.returncode, out, err, peak


SOURCES = {
    "array": "X.npy",
    "memmap": "X.npy",
    "zarr": "bands.zarr",
    "store": "store.zarr",
    "dask": "bands.zarr",
}


@pytest.mark.parametrize("kind", list(SOURCES))
def test_fit_stays_within_working_memory(data, kind, tmp_path):
    if kind == "dask":
        pytest.importorskip("dask.array")
    root, ref = data
    path = root / SOURCES[kind]
    limit = WORKING_MEMORY_MIB + OVERHEAD_MIB
    worker_kind = "zarr" if kind == "store" else kind
    code, out, err, peak = fit_in_cgroup(worker_kind, path, WORKING_MEMORY_MIB, limit, tmp_path)
    assert code == 0, (
        f"the fit ended with status {code} in a cgroup of {limit} MiB "
        f"(-9: killed by the OOM killer); peak {peak:.0f} MiB; stderr: {err[-2000:]}"
    )
    assert "anon_peak_mib=" in out
    assert_array_equal(np.load(tmp_path / "dks.npy"), ref)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("dks-feature-blocks-")]


def test_too_small_working_memory_is_a_clear_error_not_a_kill(data, tmp_path):
    root, _ = data
    # A row band chunk alone is 4 MB: 2 MiB cannot hold one block.
    code, _, err, _ = fit_in_cgroup("zarr", root / "bands.zarr", 2, OVERHEAD_MIB, tmp_path)
    assert code == 3, f"status {code} (-9: killed by the OOM killer); stderr: {err[-2000:]}"
    assert "working_memory=2 MiB is too small" in err
    assert f"X of shape ({N_SAMPLES}, {N_FEATURES})" in err
    assert "a Zarr array in chunks of 20000 x 50" in err
    needed = float(err.split("smallest feature block needs ")[1].split(" MiB")[0])
    assert 2 < needed < WORKING_MEMORY_MIB
    assert "sklearn.set_config(working_memory=" in err
