"""The memory of a fit: what the statistics hold beside their input, within ``working_memory``.

``sklearn.set_config(working_memory=MiB)`` (or the environment variable
``SKLEARN_WORKING_MEMORY``, read when scikit-learn is imported) bounds the *temporaries* of
a fit, whatever the input. Counted in that budget:

- the feature blocks in flight, ``n_samples * width * itemsize`` bytes each: ``max(2,
  n_threads)`` of them for a memory map or a Zarr array (with one thread, a second one reads
  the next block meanwhile); per task of a Dask array, its band of columns (the pieces of
  the chunks it spans) and one block copied out of it;
- per computing thread, the kernel's buffers (:func:`kernel_bytes`): a group of up to
  ``max_cols`` columns, :data:`KERNEL_BYTES_PER_SAMPLE` bytes per sample, and the group's
  statistics, ``n_labelings * n_classes * 8`` bytes per column;
- per block handed to the caller one at a time (``NoiseThresholdSelector(keep_null=False)``),
  its statistics, ``n_labelings * n_classes * 8`` bytes per column;
- per thread reading a Zarr array, one row step of its block and the chunks that step
  decodes (at most zarr's ``async.concurrency`` at once, each counted twice: encoded and
  decoded); for a Dask array, two chunks of it per task (being read and sliced).

glibc keeps memory freed by a thread in that thread's heap (up to 64 MiB each, above its
adaptive mmap threshold), where a spill's row steps and zarr's decoded chunks leave it:
:func:`release_free_memory` gives it back after the spill and after the blocks.

The block width is the largest that fits (:func:`fit_width`); no other setting (not
``block_size``) makes it wider. Where not even one column fits, :func:`too_small` explains
how much memory is needed and which setting to raise.

Not counted, the fixed overhead of a fit (documented in :ref:`scaling`): the interpreter and
its libraries; the input when it is in memory; the results (``dks_`` and ``null_dks_``); the
labelings, ``(n_shuffles + 1) * n_samples`` class codes of 1 byte (up to 256 classes, 2 up
to 65,536, else 4), and the ``n_shuffles * n_samples`` permutations of
:class:`~dks.NoiseThresholdSelector` (4 bytes each); the page cache.
"""

import ctypes
import functools
import sys

import numpy as np
from sklearn import get_config

from dks._options import on_command_line

__all__ = [
    "KERNEL_BYTES_PER_SAMPLE",
    "budget",
    "fit_width",
    "kernel_bytes",
    "release_free_memory",
    "too_small",
    "zarr_concurrency",
]

#: Bytes per sample of the kernel's per-thread arrays (exact mode: the codes, the order and
#: its copy, the level starts and the radix keys and their copy).
KERNEL_BYTES_PER_SAMPLE = 36


def budget():
    """``working_memory`` in bytes."""
    return int(get_config()["working_memory"] * 2**20)


def kernel_bytes(n_samples, itemsize, n_cols, n_labelings, n_classes):
    """The buffers of one running kernel that prepares ``n_cols`` columns at a time."""
    per_col = n_samples * itemsize + n_labelings * n_classes * 8
    return n_cols * per_col + KERNEL_BYTES_PER_SAMPLE * n_samples


def zarr_concurrency():
    """How many chunks zarr decodes at once (its ``async.concurrency``; 10 by default)."""
    zarr = sys.modules.get("zarr")
    try:
        return max(1, int(zarr.config.get("async.concurrency")))
    except (AttributeError, KeyError, TypeError, ValueError):
        return 10


def fit_width(cost, n_features, *, align=1, what, n_threads=1):
    """The widest block (at most ``n_features``) whose ``cost(width)`` fits the budget.

    ``cost`` is increasing. The width is rounded down to a multiple of ``align`` (whole
    chunks) when at least ``align`` fits. Raises :func:`too_small` when one column does not.
    """
    limit = budget()
    if cost(1) > limit:
        raise too_small(cost(1), what, n_threads)
    lo, hi = 1, max(1, int(n_features))
    while lo < hi:  # the largest width with cost(width) <= limit
        mid = (lo + hi + 1) // 2
        if cost(mid) <= limit:
            lo = mid
        else:
            hi = mid - 1
    if lo >= align > 1:
        lo = (lo // align) * align
    return lo


def too_small(needed, what, n_threads=1):
    """The error for a ``working_memory`` below the ``needed`` bytes of the smallest block.

    ``what`` describes the input (``"X of shape (n, f) ..."``).
    """
    mib = needed / 2**20
    # The setting to suggest: whole MiB, or two decimals below 1 MiB.
    least = int(np.ceil(mib)) if mib >= 1 else float(np.ceil(mib * 100) / 100)
    have = get_config()["working_memory"]
    if on_command_line():
        how = f"set the environment variable SKLEARN_WORKING_MEMORY={least} (MiB)"
    else:
        how = f"sklearn.set_config(working_memory={least}) (MiB)"
    fewer = ", or use fewer threads (n_jobs)" if n_threads > 1 else ""
    return ValueError(
        f"working_memory={have:g} MiB is too small for the statistics of {what} with "
        f"{n_threads} thread(s): the smallest feature block needs {mib:.3g} MiB. Raise "
        f"it: {how}{fewer}."
    )


@functools.cache
def _malloc_trim():
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
        libc.gnu_get_libc_version  # noqa: B018 - glibc only
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return None
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return trim


def release_free_memory():
    """Give the allocator's free memory back to the OS (glibc's ``malloc_trim(0)``)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
