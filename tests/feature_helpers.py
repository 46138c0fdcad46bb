"""Feature matrices for the engine's tests: ReLU-like data and the same matrix as every
kind of out-of-core source (memory maps, Zarr, Dask)."""

import numpy as np
import pytest

# working_memory (MiB) small enough that the 240 x 37 test arrays make several blocks, for
# every kind of source and one or two threads (the blocks, the kernels' buffers and the
# decoded chunks all count, see dks._engine._memory).
TINY = 0.05


def relu_data(seed=0, n_samples=240, n_features=37, n_classes=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n_samples)
    X = np.maximum(rng.normal(size=(n_samples, n_features)) + (y[:, None] % 2), 0.0)
    X = X.round(1).astype(np.float32)  # ties and ReLU zeros
    X[:, 3] = 1.5  # a constant feature
    return X, y


def make_source(kind, X, tmp_path):
    if kind == "memmap_c":
        np.save(tmp_path / "X.npy", X)
        return np.load(tmp_path / "X.npy", mmap_mode="r")
    if kind == "memmap_f":
        np.save(tmp_path / "X.npy", np.asfortranarray(X))
        return np.load(tmp_path / "X.npy", mmap_mode="r")
    if kind == "dask":
        da = pytest.importorskip("dask.array")
        return da.from_array(X, chunks=(100, 10))
    zarr = pytest.importorskip("zarr")
    chunks = (64, 8) if kind == "zarr_features" else (50, X.shape[1])
    z = zarr.create_array(
        str(tmp_path / f"{kind}.zarr"), shape=X.shape, dtype=X.dtype, chunks=chunks
    )
    z[:] = X
    return z
