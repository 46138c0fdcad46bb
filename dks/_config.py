"""Tuning constants of dks, in one place (as stumpy's ``config.py``).

Each constant says what it trades. They are module attributes so that an expert can change
them at run time (``dks._config.NAME = value``) before calling an estimator; the code reads them
at call time, not at import time.
"""

# ----------------------------------------------------------------------------- statistics


# ----------------------------------------------------------------------------- thresholds


# ----------------------------------------------------------------------------- embedding

#: Tune glibc's allocator when an embedding starts (see :mod:`dks._allocator`): large
#: blocks stay in the heap for the next batch instead of being unmapped and faulted in again
#: (up to 2.6x faster CPU forward passes). False leaves the allocator as it is. No effect
#: off glibc, or when ``MALLOC_*_`` variables or ``GLIBC_TUNABLES`` set it already.
TUNE_ALLOCATOR = True
#: Blocks larger than this (bytes) get their own mmap; above any activation buffer.
ALLOCATOR_MMAP_THRESHOLD = 1 << 30
#: Free memory at the top of the heap kept for reuse (bytes) rather than trimmed at once;
#: what is free is given back when a transform ends (``malloc_trim``).
ALLOCATOR_TRIM_THRESHOLD = 1 << 30
#: Extra bytes requested from the OS when the heap grows (virtual until touched).
ALLOCATOR_TOP_PAD = 64 << 20


# ----------------------------------------------------------------------------- store


# ----------------------------------------------------------------------------- pipeline
