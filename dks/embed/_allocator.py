"""Keep glibc's allocator from returning torch's activation buffers to the OS at every batch.

Why. A forward pass allocates large activation buffers (megabytes each) and frees them when
the next layer is done. With glibc's defaults, a block above ``M_MMAP_THRESHOLD`` (128 KiB at
start, adjusted dynamically up to 32 MiB) is its own ``mmap``, and ``free`` unmaps it; the
top of the heap is trimmed back to the OS once more than ``M_TRIM_THRESHOLD`` is free. The
next batch maps the same memory again and the kernel zero-fills it page by page: minor page
faults, and more system time than user time on a CPU forward pass. The cure users apply by
hand is ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` / ``MALLOC_TOP_PAD_`` in the
environment; glibc reads those only when the process starts, so a library cannot set them.

What. :func:`tune_allocator` sets the same three parameters with ``mallopt`` (through
:mod:`ctypes`) in the running process: large blocks then come from the heap and go back to
it, to be reused by the next batch. The heap is not trimmed on the fly at all: a batch
frees its activations together, over 1 GiB at the default batch size of
EfficientNet-Lite0, and a fixed trim threshold below that would give them back at every
batch. :func:`release_memory` (``malloc_trim(0)``) gives the free memory back to the OS at
the end of a long step instead, so the process does not keep the peak of the embedding
after it.

Scope. The settings are process-global and are not restored: glibc has no getter for them,
and "restoring" the defaults would also undo settings of the user. They are applied once per
process, only on glibc (``gnu_get_libc_version`` present; musl, macOS and Windows are left
alone, silently), and not at all when the user has chosen allocator settings in the
environment (``MALLOC_*_`` variables or ``glibc.malloc`` tunables in ``GLIBC_TUNABLES``),
or opted out with ``dks.set_config(tune_allocator=False)``. Resident memory does not grow
with the number of batches: freed blocks are reused, and :func:`release_memory` trims them.
"""

import ctypes
import os
import threading

from dks import _config

__all__ = ["release_memory", "tune_allocator"]

# mallopt parameter numbers of glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

_USER_VARIABLES = (
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_ARENA_MAX",
)

_lock = threading.Lock()
_state = {"done": False, "applied": False}


def _glibc():
    """The C library if it is glibc, else None."""
    try:
        libc = ctypes.CDLL(None)
        version = libc.gnu_get_libc_version
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return None
    version.restype = ctypes.c_char_p
    if not version():
        return None
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.mallopt.restype = ctypes.c_int
    libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    libc.malloc_trim.restype = ctypes.c_int
    return libc


def _user_chose(environ):
    if any(name in environ for name in _USER_VARIABLES):
        return True
    return "glibc.malloc." in environ.get("GLIBC_TUNABLES", "")


def tune_allocator():
    """Raise glibc's mmap threshold and turn off its trimming for this process, once.

    Returns
    -------
    applied : bool
        Whether the settings are in effect (set now or by an earlier call). False on a
        C library other than glibc, when the environment already sets glibc's allocator,
        or when ``dks._config.TUNE_ALLOCATOR`` is False.
    """
    with _lock:
        if _state["done"]:
            return _state["applied"]
        if not _config.TUNE_ALLOCATOR or _user_chose(os.environ):
            return False
        _state["done"] = True
        libc = _glibc()
        if libc is None:
            return False
        settings = (
            (_M_MMAP_THRESHOLD, _config.ALLOCATOR_MMAP_THRESHOLD),
            (_M_TRIM_THRESHOLD, _config.ALLOCATOR_TRIM_THRESHOLD),
            (_M_TOP_PAD, _config.ALLOCATOR_TOP_PAD),
        )
        _state["applied"] = all(libc.mallopt(param, value) == 1 for param, value in settings)
        return _state["applied"]


def release_memory():
    """Return the allocator's free memory to the OS (``malloc_trim(0)``) if tuned."""
    with _lock:
        if not _state["applied"]:
            return
        libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
