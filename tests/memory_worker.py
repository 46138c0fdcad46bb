"""Fit the statistics in a separate process, for the memory-cgroup tests.

``python -m tests.memory_worker KIND PATH WORKING_MEMORY_MIB OUT``: opens the source of
``KIND`` at ``PATH`` (see :func:`open_source`), warms the kernels up, prints ``ready`` and
waits for a line on stdin (the test then puts this process into a memory cgroup), then fits
``NoiseThresholdSelector(n_shuffles=2, keep_null=False)`` with ``working_memory`` set,
saves ``dks_`` to ``OUT`` and prints its anonymous resident memory before the fit and at
its peak (``anon_before_mib=B anon_peak_mib=P``). A ``ValueError`` (a working memory too
small) is printed to stderr with exit status 3.
"""

import sys
import threading

import numpy as np
from sklearn import config_context

from dks import KSCharacterizer, NoiseThresholdSelector

N_CLASSES = 10


def labels(n_samples):
    return np.arange(n_samples) % N_CLASSES


def open_source(kind, path):
    """``array`` (an .npy file read into memory), ``memmap`` (the same, mapped), ``zarr``
    (any Zarr array), ``dask`` (``dask.array.from_zarr`` of one)."""
    if kind == "array":
        return np.load(path)
    if kind == "memmap":
        return np.load(path, mmap_mode="r")
    import zarr

    z = zarr.open_array(path, mode="r")
    if kind == "dask":
        import dask.array as da

        return da.from_zarr(z)
    return z


def anon_mib():
    """Resident anonymous memory of this process (not the page cache nor mapped files)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakSampler(threading.Thread):
    """The largest :func:`anon_mib` seen, sampled every millisecond."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = anon_mib()
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.001):
            self.peak = max(self.peak, anon_mib())


def main(argv):
    kind, path, working_memory, out = argv
    X = open_source(kind, path)
    y = labels(X.shape[0])
    # Load the kernels (numba's cache) and the modules before the limit applies.
    warm = np.random.default_rng(0).random((64, 3)).astype(np.float32)
    KSCharacterizer(progress=False).fit(warm, np.arange(64) % 2)
    print("ready", flush=True)
    sys.stdin.readline()
    before = anon_mib()
    sampler = PeakSampler()
    sampler.start()
    try:
        with config_context(working_memory=float(working_memory)):
            sel = NoiseThresholdSelector(
                n_shuffles=2, keep_null=False, random_state=0, progress=False
            ).fit(X, y)
    except ValueError as exc:
        print(exc, file=sys.stderr, flush=True)
        return 3
    sampler.stop.set()
    sampler.join()
    np.save(out, sel.dks_)
    print(f"anon_before_mib={before:.0f} anon_peak_mib={max(sampler.peak, anon_mib()):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
