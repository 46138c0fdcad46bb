"""Tuning constants of dks, in one place (as stumpy's ``config.py``).

Each constant says what it trades. Users change them with :func:`dks.set_config` or
:func:`dks.config_context` (keys: the lower-case names) and read them with
:func:`dks.get_config`, as in scikit-learn; the code reads them at call time
(``_config.NAME``), not at import time.

The values below are the defaults. The values in effect are context-local, as
scikit-learn's configuration is thread-local: they live in a :class:`contextvars.ContextVar`,
so that a :func:`config_context` in one thread (or asyncio task) changes nothing for another,
and a thread or task sees the values of the code that started it where dks starts the
thread (its thread pools and threads run their work in a copy of the submitting context:
:class:`ContextThreadPool`, :func:`carry_context`). ``_config.NAME`` reads the value in
effect; assigning ``_config.NAME = value`` sets it like :func:`set_config` (tests and worker
scripts do).
"""

import contextlib
import contextvars
import functools
import sys
import types
from concurrent.futures import ThreadPoolExecutor

# ----------------------------------------------------------------------------- statistics


# ----------------------------------------------------------------------------- thresholds

#: thresholds="per_class": classes whose effective sizes n (N - n) / N are within this factor
#: pool their shuffled nulls (rescaled by the 1 / sqrt(n_eff) law of the KS null). Larger:
#: more null samples per class, but a coarser approximation for small, discrete classes.
POOL_SIZE_RATIO = 1.25

#: class_noise_["mostly_noise"] flags classes whose expected noise share exceeds this.
MOSTLY_NOISE = 0.5

#: The report calls classes uneven, and says what thresholds="per_class" would keep, when the
#: largest class has at least this many times the images of the smallest.
REPORT_UNEVEN_RATIO = 2.0


# ----------------------------------------------------------------------------- embedding

#: Tune glibc's allocator when an embedding starts (see :mod:`dks.embed._allocator`): large
#: blocks stay in the heap for the next batch instead of being unmapped and faulted in again
#: (``benchmarks/`` measures the gain). False leaves the allocator as it is. No effect
#: off glibc, or when ``MALLOC_*_`` variables or ``GLIBC_TUNABLES`` set it already.
TUNE_ALLOCATOR = True
#: Blocks larger than this (bytes) get their own mmap: the largest value ``mallopt`` takes
#: (an int), above the activation buffers of any batch that fits in memory.
ALLOCATOR_MMAP_THRESHOLD = 2**31 - 1
#: Free memory at the top of the heap is never trimmed on the fly (-1): a batch frees
#: several times its activations at once (1 GiB and more for EfficientNet-Lite0 at the
#: default 8 images x 10 crops), and any fixed threshold below that would trim them at every
#: batch and fault them in again. What is free is given back after a long transform (see
#: ALLOCATOR_TRIM_AFTER_BATCHES, ``malloc_trim``).
ALLOCATOR_TRIM_THRESHOLD = -1
#: Extra bytes requested from the OS when the heap grows (virtual until touched).
ALLOCATOR_TOP_PAD = 64 << 20

#: On the CPU, the crops of a batch go through the network in parts (whole images, at least
#: one) whose activations, as estimated at fit time (the largest input + output of a layer),
#: stay under this many bytes: the peak memory of an embedding is that of one part, not of
#: the batch (EfficientNet-Lite0 at 8 images x 10 crops: 2 GB of resident memory). The
#: features are the same. 128 MiB: one image of ten crops for VGG19 and EfficientNet-Lite0.
#: Larger parts mean fewer, larger operations: faster when other processes compete for the
#: cores (each operation waits for both threads), no faster on free cores.
EMBED_CPU_FORWARD_BYTES = 128 << 20

#: An embedding of at least this many batches gives the allocator's free memory back to the
#: OS when it ends (``malloc_trim``). A shorter one keeps it for the next call: faulting the
#: activation buffers in again costs about one batch's forward pass, a large share of a short
#: call (one per folder or per chunk); what is kept is the peak of one batch, not a growing
#: amount.
ALLOCATOR_TRIM_AFTER_BATCHES = 32


# ----------------------------------------------------------------------------- store

#: Target size of one row chunk of an embedding store (all features of ``chunk_rows`` rows, one
#: shard file). Larger: fewer files and longer contiguous column reads; smaller: less work
#: recomputed after a kill (at most one chunk per writer) and less memory buffered. 2 MiB:
#: 48 rows of VGG19's 9,600 features, 168 of EfficientNet-Lite0's 3,120 (at batch_size=8),
#: i.e. about a minute of CPU embedding lost per kill, and 21,000 files for a million images.
STORE_CHUNK_BYTES = 2 * 1024 * 1024

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

#: Features listed per class and side in ``top_features.csv`` (more: longer tables).
PIPELINE_TOP_FEATURES = 10

#: Of those, the features per class and side kept in ``summary.json`` and the report.
PIPELINE_SUMMARY_TOP_FEATURES = 5

#: Images shown per feature in the ``top_images_<feature>`` figures, and per row.
PIPELINE_TOP_IMAGES = 12
PIPELINE_TOP_IMAGES_COLUMNS = 6

#: Classes highlighted in the ``feature_histograms_<feature>`` figures (Fig. 1).
PIPELINE_HISTOGRAM_CLASSES = 3

#: The report's "what a feature looks at" crops (paper's Fig. 2): for the first this many
#: classes, the top feature by presence and by absence, each with this many images (the network
#: runs again on them: more classes or images make `dks report` slower).
PIPELINE_CROP_CLASSES = 2
PIPELINE_CROP_IMAGES = 9

#: Noise features named in the printed summary before "...".
PIPELINE_SUMMARY_NOISE_SHOWN = 12

#: Skipped images listed in summary.json and the report (all of them are in skipped.csv).
PIPELINE_SKIPPED_LISTED = 100

#: Files of an image folder that are not read as images (their extension), named in
#: embedding.json, summary.json and the report; the others are only counted.
PIPELINE_NOT_IMAGES_LISTED = 100


# ----------------------------------------------------------------------------- explore

#: Memory the explorer gives to its sample of the embedding (whole row chunks, evenly spread,
#: all features), read once when it starts: the other classes' histograms (Fig. 1) and the
#: top-activating images come from it. An embedding that fits is read whole (exact views).
#: 128 MiB: 3,495 images of VGG19's 9,600 features.
EXPLORE_SAMPLE_BYTES = 128 << 20

#: Row chunks of one class read for its Fig. 1 histogram (evenly spread when it spans more);
#: each is one small read of the feature's column block.
EXPLORE_CLASS_CHUNKS = 64


# ----------------------------------------------------------------------------- public API

#: The keys of :func:`get_config`: the lower-case names of the constants above.
_KEYS = {
    name.lower(): name for name in dict(globals()) if name.isupper() and not name.startswith("_")
}
#: The defaults, by key; the module attributes go: ``_config.NAME`` reads the context's value.
_DEFAULTS = {key: globals().pop(name) for key, name in _KEYS.items()}
#: The values set in this context (by key); the others are the defaults.
_SET = contextvars.ContextVar("dks_config", default=types.MappingProxyType({}))


def _value(key):
    return _SET.get().get(key, _DEFAULTS[key])


def get_config():
    """The values of the tuning constants in effect here, as ``{key: value}`` (a copy).

    Returns
    -------
    dict
    """
    return {key: _value(key) for key in _KEYS}


def _check(key, value):
    if key not in _KEYS:
        valid = ", ".join(sorted(_KEYS))
        raise TypeError(f"{key!r} is not a dks configuration key; the valid keys: {valid}.")
    default = _DEFAULTS[key]
    if key == "store_compression":
        ok = value in (None, "zstd")
    elif isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    else:
        ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok:
        raise ValueError(
            f"The dks configuration key {key!r} must be like its default {default!r}; got "
            f"{value!r} instead."
        )


def _updated(values):
    for key, value in values.items():
        _check(key, value)
    return types.MappingProxyType({**_SET.get(), **values})


def set_config(**values):
    """Set tuning constants of dks (keys: :func:`get_config`'s) for the rest of this context.

    As :func:`sklearn.set_config`: the values hold in the calling thread (more exactly, its
    :mod:`contextvars` context) and in the threads that dks starts from it, not in other
    threads of the program.

    Parameters
    ----------
    **values
        ``key=value`` pairs; an unknown key or a value of the wrong kind raises, and then
        nothing is changed.
    """
    _SET.set(_updated(values))


@contextlib.contextmanager
def config_context(**values):
    """Set tuning constants inside a ``with`` block; the previous values come back after.

    The values hold in this thread (context) and in the work dks runs in its own threads
    meanwhile; another thread of the program keeps its own values.

    Parameters
    ----------
    **values
        As for :func:`set_config`.
    """
    token = _SET.set(_updated(values))
    try:
        yield
    finally:
        _SET.reset(token)


def carry_context(fn):
    """``fn``, to run in a copy of the calling context (for a thread that dks starts)."""
    return functools.partial(contextvars.copy_context().run, fn)


class ContextThreadPool(ThreadPoolExecutor):
    """A :class:`~concurrent.futures.ThreadPoolExecutor` whose tasks each run in a copy of
    the context that submitted them: the configuration set there (:func:`config_context`)
    is the one the task reads. (One copy per task: a context runs in one thread at a time.)
    """

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


class _ConfigModule(types.ModuleType):
    """This module: ``_config.NAME`` reads the value in effect, ``_config.NAME = v`` sets it."""

    def __getattr__(self, name):  # only for names that are not module attributes
        key = name.lower()
        if name.isupper() and key in _KEYS:
            return _value(key)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name.isupper() and name.lower() in _KEYS:
            set_config(**{name.lower(): value})
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name):  # monkeypatch.delattr, or its undo of a setattr
        if name.isupper() and name.lower() in _KEYS:
            _SET.set(types.MappingProxyType(
                {k: v for k, v in _SET.get().items() if k != name.lower()}
            ))  # fmt: skip
        else:
            super().__delattr__(name)


sys.modules[__name__].__class__ = _ConfigModule
