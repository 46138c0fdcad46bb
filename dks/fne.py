"""The full-network embedding of Garcia-Gasulla et al. (2018): :class:`FullNetworkEmbedding`.

"An out-of-the-box full-network embedding for convolutional neural networks" (arXiv
1705.07706) turns the activations of every layer of a pretrained CNN (spatially averaged,
which is what :class:`dks.embed.CNNEmbedder` returns) into a representation for a linear
classifier in two steps, both learned on the target dataset:

1. *feature standardization*: each feature becomes a z-score, ``z = (x - mean) / std``, with
   the mean and standard deviation of that feature over the target data;
2. *feature discretization*: ``z > 0.15`` becomes ``1`` (the feature is characteristically
   present), ``z < -0.25`` becomes ``-1`` (characteristically absent), anything between
   ``0``.

Complexity: ``fit`` reads each value once (plus one pass over each column block for the
variance, on the block in memory); ``transform`` one pass. An input too large for memory (a
memory map, a Zarr array, the rows of an embedding store) is read in the column blocks of
the statistics engine (:class:`dks._engine.FeatureSource`), within ``working_memory``.
"""

from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from dks._engine import FeatureSource, block_stats, lazy_kind, non_finite_error

__all__ = ["FullNetworkEmbedding", "pack_ternary", "unpack_ternary"]

#: Columns standardized at once for an in-memory ``X`` (bounds the float64 temporaries).
_COLUMNS = 512


class FullNetworkEmbedding(TransformerMixin, BaseEstimator):
    """Standardize every feature on the target data, then discretize it to -1, 0 or +1.

    The full-network embedding of Garcia-Gasulla et al. (arXiv 1705.07706): for every
    feature ``f`` kept (all of them, or those of ``selector``)::

        z = (x - mean_[f]) / scale_[f]             (0 where scale_[f] == 0)
        out = +1 if z > positive_threshold, -1 if z < negative_threshold, else 0

    with ``mean_`` and ``scale_`` (the standard deviation, ``ddof=0``) learned in
    :meth:`fit` on the target data. Comparisons are strict: a z-score equal to a
    threshold gives 0.

    Read more in the :ref:`User Guide <fne>`.

    Parameters
    ----------
    positive_threshold : float, default=0.15
        A z-score above it becomes ``+1`` (the published value); at least 0.
    negative_threshold : float, default=-0.25
        A z-score below it becomes ``-1`` (the published value); at most 0.
    discretize : bool, default=True
        ``True``: int8 output in ``{-1, 0, 1}`` (one byte per feature, the published
        embedding). ``False``: the standardized z-scores, float64 (float32 for float32
        input), for comparison.
    selector : estimator or None, default=None
        Chooses the features first, e.g. :class:`dks.NoiseThresholdSelector`; anything with
        ``fit(X, y)`` and ``get_support()``. It is cloned and fitted on the data of
        :meth:`fit` (which then needs ``y``). To use a selector already fitted, wrap it in
        :class:`sklearn.frozen.FrozenEstimator`: it is then used as is. Only its support
        is used (never its ``transform``), so an out-of-core ``X`` is not read into memory.

    Attributes
    ----------
    selector_ : estimator or None
        The fitted selector (``None`` without one).
    kept_features_ : ndarray of shape (n_kept,), int64
        Columns of ``X`` that the embedding keeps, increasing.
    mean_ : ndarray of shape (n_kept,), float64
        Mean of each kept feature on the data of :meth:`fit`.
    scale_ : ndarray of shape (n_kept,), float64
        Its standard deviation (``ddof=0``); exactly 0 for a feature that is constant on
        the data of :meth:`fit` (its minimum equals its maximum).
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when ``X`` has string column names.

    See Also
    --------
    NoiseThresholdSelector : The D_KS pruning to use as ``selector``.
    sklearn.preprocessing.StandardScaler : The standardization alone, in memory.

    Notes
    -----
    *Constant features.* A feature that takes one value on the data of :meth:`fit` has no
    spread to measure a departure against: its z-score is 0 for every input (so it is
    always ``0`` after discretization), also for inputs of :meth:`transform` where it
    varies. :class:`~sklearn.preprocessing.StandardScaler` divides by 1 instead, which
    makes the output depend on the feature's units; here such a feature carries nothing,
    as it carried nothing in the target data. Constant is tested exactly (minimum equal
    to maximum), not with a tolerance on the variance.

    *Precision.* Means and variances are computed in float64 (the variance by a second
    pass over each column block, not from the sum of squares), also for float32 input.

    Examples
    --------
    >>> import numpy as np
    >>> from dks import FullNetworkEmbedding
    >>> X = np.array([[0.0, 1.0, 5.0], [1.0, 1.0, 5.0], [2.0, 1.0, 6.0], [3.0, 1.0, 8.0]])
    >>> fne = FullNetworkEmbedding().fit(X)
    >>> fne.transform(X)
    array([[-1,  0, -1],
           [-1,  0, -1],
           [ 1,  0,  0],
           [ 1,  0,  1]], dtype=int8)
    >>> fne.scale_[1]  # feature 1 is constant: always 0
    np.float64(0.0)
    """

    _parameter_constraints: ClassVar[dict] = {
        "positive_threshold": [Interval(Real, 0, None, closed="left")],
        "negative_threshold": [Interval(Real, None, 0, closed="right")],
        "discretize": ["boolean"],
        "selector": [HasMethods(["fit", "get_support"]), None],
    }

    def __init__(
        self,
        *,
        positive_threshold=0.15,
        negative_threshold=-0.25,
        discretize=True,
        selector=None,
    ):
        self.positive_threshold = positive_threshold
        self.negative_threshold = negative_threshold
        self.discretize = discretize
        self.selector = selector

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the selector (if any), then learn the mean and scale of each kept feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), a memory map, a Zarr array or the
            ``X`` of an embedding store (:func:`dks.store.open_embedding`)
            The target data, finite. The last three are read in column blocks.
        y : array-like of shape (n_samples,) or None, default=None
            Labels, passed to ``selector``; needed only when the selector fits on labels.

        Returns
        -------
        self : FullNetworkEmbedding
            The fitted embedding.
        """
        lazy = _lazy(X, self)
        if lazy:
            n_features = _check_lazy_shape(self, X, reset=True)
        else:
            X_in = X
            X = validate_data(self, X, reset=True, dtype=[np.float64, np.float32])
            n_features = X.shape[1]
        self.selector_ = None
        kept = np.arange(n_features)
        if self.selector is not None:
            selector = clone(self.selector)
            frozen = isinstance(selector, FrozenEstimator)  # its fit does nothing
            if y is None and not frozen and get_tags(selector).target_tags.required:
                raise ValueError(
                    f"selector={type(selector).__name__}(...) is fitted on the labels: call "
                    "fit(X, y), or pass a selector fitted already, wrapped in "
                    "sklearn.frozen.FrozenEstimator(selector)."
                )
            # The original input, so that the selector sees its names (or reads it lazily).
            selector.fit(X if lazy else X_in, y)
            support = np.asarray(selector.get_support(), dtype=bool)
            if support.shape != (n_features,):
                raise ValueError(
                    f"selector.get_support() has shape {support.shape}; expected a mask of "
                    f"the {n_features} features of X."
                )
            self.selector_ = selector
            kept = np.flatnonzero(support)
        self.kept_features_ = kept.astype(np.int64)
        mean = np.zeros(kept.size)
        scale = np.zeros(kept.size)

        def learn(block, cols, out):
            mean[out] = block.mean(axis=0, dtype=np.float64)
            centered = block - mean[out]
            scale[out] = np.sqrt(np.mean(centered * centered, axis=0))
            # Exactly constant on the target data: no spread, z = 0 (see Notes).
            scale[out[block.min(axis=0) == block.max(axis=0)]] = 0.0

        _for_blocks(self, X, kept, learn, lazy)
        self.mean_, self.scale_ = mean, scale
        return self

    def transform(self, X):
        """The embedding of ``X``: discretized z-scores (int8) or the z-scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), a memory map, a Zarr array or
            the ``X`` of an embedding store
            Finite values; the last three are read in column blocks.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_kept)
            int8 in ``{-1, 0, 1}`` with ``discretize=True``; otherwise float64 (float32 for
            float32 input).
        """
        check_is_fitted(self, "scale_")
        lazy = _lazy(X, self)
        if lazy:
            _check_lazy_shape(self, X, reset=False)
            dtype = X.dtype
        else:
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
            dtype = X.dtype
        if self.discretize:
            out_dtype = np.int8
        else:
            out_dtype = np.float32 if np.dtype(dtype) == np.float32 else np.float64
        out = np.empty((X.shape[0], self.kept_features_.size), dtype=out_dtype)

        def embed(block, cols, where):
            z = _zscores(block, self.mean_[where], self.scale_[where])
            if self.discretize:
                z = np.subtract(
                    z > self.positive_threshold, z < self.negative_threshold, dtype=np.int8
                )
            out[:, where] = z

        _for_blocks(self, X, self.kept_features_, embed, lazy)
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the kept features, in the order of the output columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; by default ``feature_names_in_`` or ``x0 ... x{n-1}``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "scale_")
        return _check_feature_names_in(self, input_features)[self.kept_features_]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = [] if self.discretize else ["float64", "float32"]
        if self.selector is not None:
            tags.target_tags.required = get_tags(self.selector).target_tags.required
        return tags


def pack_ternary(codes):
    """Store values in ``{-1, 0, 1}`` in 2 bits each: four features per byte.

    The discretized embedding is int8 (one byte per feature) so that it goes straight to a
    classifier; stored or sent, it needs only 2 bits per feature (``log2(3) = 1.58`` at
    best). Code ``v + 1`` (0, 1 or 2) of feature ``4 * j + i`` goes to bits ``2 * i`` and
    ``2 * i + 1`` of byte ``j``; the last byte is padded with code 1 (value 0).

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_features), values in {-1, 0, 1}

    Returns
    -------
    packed : ndarray of shape (n_samples, ceil(n_features / 4)), uint8

    See Also
    --------
    unpack_ternary : The inverse.

    Examples
    --------
    >>> import numpy as np
    >>> from dks.fne import pack_ternary, unpack_ternary
    >>> codes = np.array([[1, 0, -1, 1, -1]], dtype=np.int8)
    >>> packed = pack_ternary(codes)
    >>> packed.shape, packed.dtype
    ((1, 2), dtype('uint8'))
    >>> unpack_ternary(packed, n_features=5)
    array([[ 1,  0, -1,  1, -1]], dtype=int8)
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be 2-D (n_samples, n_features); got shape {codes.shape}.")
    if codes.size and (codes.min() < -1 or codes.max() > 1):
        raise ValueError("codes must hold -1, 0 and 1 only (FullNetworkEmbedding's output).")
    n_samples, n_features = codes.shape
    padded = np.ones((n_samples, -(-n_features // 4) * 4), dtype=np.uint8)
    padded[:, :n_features] = codes + 1
    quads = padded.reshape(n_samples, -1, 4)
    return (quads[..., 0] | quads[..., 1] << 2 | quads[..., 2] << 4 | quads[..., 3] << 6).astype(
        np.uint8
    )


def unpack_ternary(packed, n_features):
    """The int8 codes in ``{-1, 0, 1}`` of :func:`pack_ternary`'s output.

    Parameters
    ----------
    packed : ndarray of shape (n_samples, ceil(n_features / 4)), uint8
    n_features : int
        Features before packing (the padding of the last byte is dropped).

    Returns
    -------
    codes : ndarray of shape (n_samples, n_features), int8
    """
    packed = np.asarray(packed, dtype=np.uint8)
    if packed.ndim != 2 or packed.shape[1] != -(-n_features // 4):
        raise ValueError(
            f"packed must have shape (n_samples, {-(-n_features // 4)}) for n_features="
            f"{n_features}; got {packed.shape}."
        )
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8)
    codes = (packed[..., None] >> shifts) & 3
    return codes.reshape(packed.shape[0], -1)[:, :n_features].astype(np.int8) - 1


def _zscores(block, mean, scale):
    """``(block - mean) / scale`` in float64, 0 where ``scale == 0``."""
    centered = np.subtract(block, mean, dtype=np.float64)
    return np.divide(centered, scale, out=np.zeros_like(centered), where=scale > 0)


def _lazy(X, estimator):
    """Whether ``X`` is read in column blocks (a memory map, a Zarr array or store rows)."""
    kind = lazy_kind(X)
    if kind == "dask":
        raise TypeError(
            f"{type(estimator).__name__} reads memory maps, Zarr arrays and embedding stores "
            "in blocks, not Dask arrays: write it to Zarr (X.to_zarr(path)) and pass "
            "zarr.open_array(path), or pass X.compute() if it fits in memory."
        )
    return kind is not None


def _check_lazy_shape(estimator, X, *, reset):
    shape = tuple(X.shape)
    name = type(estimator).__name__
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(
            f"{name} expects a 2-D array (n_samples, n_features) with at least one sample "
            f"and one feature; got shape {shape}."
        )
    if not np.issubdtype(np.dtype(X.dtype), np.number):
        raise ValueError(f"X must hold numbers for {name}; got dtype {X.dtype}.")
    if reset:
        estimator.n_features_in_ = shape[1]
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {shape[1]} features, but {name} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return shape[1]


def _for_blocks(estimator, X, kept, work, lazy):
    """Call ``work(block, cols, where)`` for blocks of the kept columns of ``X``.

    ``block`` holds the columns ``kept[where]`` of ``X`` (``cols``, their indices in
    ``X``). An in-memory ``X`` is cut in blocks of ``_COLUMNS`` kept columns; a lazy one is
    read in the column blocks of the statistics engine, each checked for non-finite values.
    """
    if not lazy:
        for k0 in range(0, kept.size, _COLUMNS):
            where = np.arange(k0, min(k0 + _COLUMNS, kept.size))
            work(np.asfortranarray(X[:, kept[where]]), kept[where], where)
        return

    def temporaries(width):  # the float64 z-scores (or centred values) of a block
        return 2 * X.shape[0] * width * 8

    with FeatureSource(X, n_threads=1, temporaries=temporaries) as source:
        for f0, f1, block in source.prefetched():
            lo, hi = np.searchsorted(kept, [f0, f1])
            if lo == hi:
                continue
            _, _, n_bad, first_bad = block_stats(block)
            if n_bad.any():
                raise non_finite_error(estimator, n_bad, first_bad, offset=f0)
            where = np.arange(lo, hi)
            work(block[:, kept[where] - f0], kept[where], where)
