"""The embedding store: a chunked Zarr v3 array that survives kills and fills from many processes.

Torch-free: the statistics side reads a store without importing torch. Needs ``zarr>=3``
(``pip install dks[store]``).

* :func:`open_embedding`: open a store for reading; ``store.X`` goes to the estimators.
* :class:`EmbeddingStore`: the opened store (array, feature names, layers, skipped inputs).
* :class:`StoreWriter`: create or resume a store, write whole chunks, complete it (used by
  :class:`~dks.embed.CNNEmbedder` with ``output="....zarr"``).

Read more in the :ref:`User Guide <store>`.
"""

from dks.store._layout import ARRAY, MANIFEST, chunk_range, parse_shard, shard_chunks
from dks.store._reader import EmbeddingStore, RowView, SkippedRow, open_embedding
from dks.store._writer import (
    StoreRestartedWarning,
    StoreWriter,
    chunk_rows_for,
    relocate,
    reopen_chunks,
)

__all__ = [
    "ARRAY",
    "MANIFEST",
    "EmbeddingStore",
    "RowView",
    "SkippedRow",
    "StoreRestartedWarning",
    "StoreWriter",
    "chunk_range",
    "chunk_rows_for",
    "open_embedding",
    "parse_shard",
    "relocate",
    "reopen_chunks",
    "shard_chunks",
]
