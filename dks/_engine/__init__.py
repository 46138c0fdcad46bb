"""How D_KS is computed: the engine under :class:`dks.KSCharacterizer` (private).

Nothing here imports from the rest of :mod:`dks`; the estimators and the pipeline call the
names below. The modules, from the bottom up:

- ``_kernels``: the numba kernels (the only jitted code), on clean arrays;
- ``_threads``: the one thread pool of the process, used by every path;
- ``_memory``: what a fit holds, and the block width that keeps it within
  ``working_memory`` (or the error that says how much is needed);
- ``_blocks``: feature blocks read once from a memory map or a Zarr array;
- ``_validation``: the input checks and their messages (before any kernel runs);
- ``_dask``: feature blocks as tasks of a Dask graph, and the ``distributed`` client;
- ``_dispatch``: :func:`signed_dks`, which chooses in memory, blocks or Dask, once.
"""

from dks._engine._blocks import FeatureSource, block_stats, lazy_kind
from dks._engine._dask import as_dask_array, client_for
from dks._engine._dispatch import label_dtype, signed_dks
from dks._engine._kernels import exceedance_histogram
from dks._engine._threads import n_threads, run_threads
from dks._engine._validation import (
    check_features,
    check_label_types,
    class_index,
    encode_labels,
    non_finite_error,
)

__all__ = [
    "FeatureSource",
    "as_dask_array",
    "block_stats",
    "check_features",
    "check_label_types",
    "class_index",
    "client_for",
    "encode_labels",
    "exceedance_histogram",
    "label_dtype",
    "lazy_kind",
    "n_threads",
    "non_finite_error",
    "run_threads",
    "signed_dks",
]
