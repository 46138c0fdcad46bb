"""Tuning constants of dks, in one place (as stumpy's ``config.py``).

Each constant says what it trades. They are module attributes so that an expert can change
them at run time (``dks._config.NAME = value``) before calling an estimator; the code reads them
at call time, not at import time.
"""

# ----------------------------------------------------------------------------- statistics


# ----------------------------------------------------------------------------- thresholds


# ----------------------------------------------------------------------------- embedding


# ----------------------------------------------------------------------------- store

#: Target size of one row chunk of an embedding store (all features of ``chunk_rows`` rows, one
#: shard file). Larger: fewer files and longer contiguous column reads; smaller: less work
#: recomputed after a kill (at most one chunk per writer) and less memory buffered.
STORE_CHUNK_BYTES = 8 * 1024 * 1024

#: Upper bound on the rows of a chunk (reached only by embeddings with few features), so that
#: a kill never costs more than this many images per writer.
STORE_MAX_CHUNK_ROWS = 4096

#: Target width of the inner chunks (columns read together): a block of columns is one
#: contiguous read per row chunk. The real width divides the features into equal blocks.
STORE_FEATURE_BLOCK = 512

#: Compression of the chunks: None, or ``"zstd"`` (smaller on sparse post-ReLU data, slower to
#: write and read; see the store's documentation for the measurements behind the default).
STORE_COMPRESSION = None


# ----------------------------------------------------------------------------- pipeline
