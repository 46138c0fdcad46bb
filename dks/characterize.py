"""Signed Kolmogorov-Smirnov characterization of features by class: :class:`KSCharacterizer`."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from dks._engine import check_features, class_index, encode_labels, label_dtype, signed_dks
from dks._sign import check_sign, sign_code

__all__ = ["KSCharacterizer", "signed_ks_pvalues"]


class KSCharacterizer(BaseEstimator):
    """Signed two-sample Kolmogorov-Smirnov statistic of every (class, feature) pair.

    For a feature ``f`` and a class ``c``, the values of ``f`` on the samples of ``c``
    (intra) are compared with its values on all other samples (inter)::

        x* = argmax_x |F_intra(x) - F_inter(x)|
        D(f, c) = F_inter(x*) - F_intra(x*)

    where ``F`` are empirical distribution functions. ``D > 0`` when the class's values are
    higher (the feature characterizes the class by its *presence*), ``D < 0`` when they are
    lower (by its *absence*), as in Garcia-Gasulla et al. (2017), Eq. 3. ``|D|`` is the usual
    KS statistic. When the largest positive and negative gaps are equal the result is
    positive; a constant feature gives 0.

    Read more in the :ref:`User Guide <dks>`.

    Parameters
    ----------
    n_bins : int or None, default=100
        Number of equal-width bins per feature over its ``[min, max]``; the two EDFs are
        compared at the bin edges (the paper's discretization). A value ``x`` falls in bin
        ``min(floor((x - min) * n_bins / (max - min)), n_bins - 1)``, computed in float64.
        ``None`` computes the exact statistic over all sample values, ties included; it
        equals ``scipy.stats.ks_2samp(inter, intra)`` with its sign.
    n_jobs : int or None, default=None
        Threads working on feature blocks in parallel. ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context; ``-1`` uses all processors.
    block_size : int, default=256
        Features per work unit of an in-memory ``X``; memory beyond the input and the
        result is ``O(n_samples)`` per thread, whatever the block size. An ``X`` too large
        for RAM (a :class:`numpy.memmap`, e.g. ``np.load(path, mmap_mode="r")``, a
        :class:`zarr.Array` or a ``dask.array.Array``) is read in column blocks as wide as
        ``sklearn.set_config(working_memory=...)`` allows (default 1 GiB for all the blocks
        in flight and their temporaries; ``block_size`` does not widen them), each block
        once for all labelings; see :ref:`scaling`.
    progress : bool, default=True
        Show a tqdm progress bar over the feature blocks while fitting (as
        :class:`~dks.CNNEmbedder` does while embedding); ``False`` prints nothing.

    Attributes
    ----------
    dks_ : ndarray of shape (n_classes, n_features), float64
        Signed D_KS, rows in the order of ``classes_``.
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    class_counts_ : ndarray of shape (n_classes,), int64
        Samples per class.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when ``X`` has string column names.
    pvalues_ : ndarray of shape (n_classes, n_features), float64
        Asymptotic two-sided KS p-values of ``|dks_|`` (computed on first access); see
        :func:`signed_ks_pvalues`.

    See Also
    --------
    NoiseThresholdSelector : Learns which pairs are noise from shuffled labels.
    scipy.stats.ks_2samp : The same statistic for one pair of samples.

    Notes
    -----
    The work that does not depend on the labels (binning, or sorting in exact mode) is
    done once per feature and shared by all labelings evaluated together, which is what
    makes shuffled-label null distributions cheap (:meth:`fit_null`, used by
    :class:`NoiseThresholdSelector`). Each labeling then costs ``O(n_samples)`` per
    feature, whatever ``n_bins``.

    Examples
    --------
    >>> import numpy as np
    >>> from dks import KSCharacterizer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = np.repeat(["a", "b"], 100)
    >>> X[y == "a", 0] += 2.0  # feature 0 is higher on class "a"
    >>> char = KSCharacterizer().fit(X, y)
    >>> char.dks_.shape
    (2, 3)
    >>> bool(char.dks_[0, 0] > 0.5), bool(char.dks_[1, 0] < -0.5)
    (True, True)
    """

    _parameter_constraints: dict = {
        "n_bins": [Interval(Integral, 2, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "block_size": [Interval(Integral, 1, None, closed="left")],
        "progress": ["boolean"],
    }

    def __init__(self, n_bins=100, *, n_jobs=None, block_size=256, progress=True):
        self.n_bins = n_bins
        self.n_jobs = n_jobs
        self.block_size = block_size
        self.progress = progress

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Compute the signed D_KS of every (class, feature) pair.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Activations, finite. float32 is processed without a float64 copy.
        y : array-like of shape (n_samples,)
            Class labels; at least two classes.

        Returns
        -------
        self : KSCharacterizer
            The fitted estimator.
        """
        self._fit(X, y, permutations=None)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_null(self, X, y, permutations, *, on_null_block=None):
        """Fit on ``(X, y)`` and return the D_KS of shuffled labelings, in one pass.

        The null distribution of the statistic: for each row ``perm`` of ``permutations``,
        the signed D_KS of every (class, feature) pair with the labels ``y[perm]`` (the
        same class sizes, no relation to ``X``). The estimator is fitted on the true labels
        exactly as by :meth:`fit`. The work that does not depend on the labels (binning or
        sorting each feature) is done once and shared by all labelings, so each shuffle
        costs a fraction of a fit. This is the interface that
        :class:`NoiseThresholdSelector` calls; a characterizer of your own used there
        implements it too (see ``characterizer`` in :class:`NoiseThresholdSelector`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Activations, finite, as in :meth:`fit`.
        y : array-like of shape (n_samples,)
            Class labels; at least two classes.
        permutations : array-like of shape (n_shuffles, n_samples), int
            Each row a permutation of ``range(n_samples)``; ``n_shuffles`` may be 0.
        on_null_block : callable or None, default=None
            When given, ``on_null_block(f0, f1, null)`` receives the shuffled D_KS of columns
            ``f0:f1`` (float64 ``(n_shuffles, n_classes, f1 - f0)``, valid during the call
            only) as each feature block is done, one call at a time, and nothing of them is
            kept: the return value is then empty (``(0, n_classes, n_features)``). This is
            how :class:`NoiseThresholdSelector` with ``keep_null=False`` keeps only counts.

        Returns
        -------
        null_dks : ndarray of shape (n_shuffles, n_classes, n_features), float64
            ``null_dks[s]`` equals ``KSCharacterizer(...).fit(X, y[permutations[s]]).dks_``,
            rows in the order of ``classes_``.

        See Also
        --------
        NoiseThresholdSelector : Noise thresholds from these shuffled labelings.

        Examples
        --------
        >>> import numpy as np
        >>> from dks import KSCharacterizer
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 4))
        >>> y = np.repeat([0, 1], 50)
        >>> perms = np.stack([rng.permutation(100) for _ in range(3)])
        >>> char = KSCharacterizer(progress=False)
        >>> char.fit_null(X, y, perms).shape
        (3, 2, 4)
        >>> char.dks_.shape  # fitted on the true labels, as by fit
        (2, 4)
        """
        return self._fit(X, y, permutations=permutations, on_null_block=on_null_block)

    def _fit(self, X, y, permutations, on_null_block=None):
        X, y, mins, maxs = check_features(self, X, y, reset=True, n_jobs=self.n_jobs)
        classes, codes, counts = encode_labels(self, y)
        perms = () if permutations is None else _check_permutations(permutations, codes)
        # Filled a row at a time, in the kernels' integer type: no temporary of all rows.
        labelings = np.empty((1 + len(perms), codes.shape[0]), dtype=label_dtype(len(classes)))
        labelings[0] = codes
        for row, perm in zip(labelings[1:], perms, strict=True):
            row[:] = codes[perm]
        result = signed_dks(
            X,
            labelings,
            counts,
            n_bins=self.n_bins,
            mins=mins,
            maxs=maxs,
            n_jobs=self.n_jobs,
            block_size=self.block_size,
            progress=self.progress and _bar_label(labelings.shape[0] - 1),
            on_block=on_null_block,
            estimator=self,
        )
        self.classes_ = classes
        self.class_counts_ = counts
        self.dks_ = result[0]
        return result[1:] if on_null_block is None else np.empty((0, *result.shape[1:]))

    @property
    def pvalues_(self):
        """Asymptotic two-sided KS p-values of each pair (see :func:`signed_ks_pvalues`)."""
        check_is_fitted(self, "dks_")
        cached = self.__dict__.get("_pvalues")
        if cached is None or cached[0] is not self.dks_:
            cached = (self.dks_, signed_ks_pvalues(self.dks_, self.class_counts_))
            self.__dict__["_pvalues"] = cached
        return cached[1]

    def get_feature_names_out(self, input_features=None):
        """Names of the features that the columns of ``dks_`` refer to.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; by default ``feature_names_in_`` or ``x0 ... x{n-1}``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "dks_")
        return _check_feature_names_in(self, input_features)

    def top_features(self, cls, k=10, *, sign="presence"):
        """Indices of the ``k`` features that characterize a class most.

        Parameters
        ----------
        cls : label
            A class from ``classes_``.
        k : int, default=10
            How many features.
        sign : {"presence", "absence", "both"}, default="presence"
            ``"presence"``: highest D first; ``"absence"``: lowest D first; ``"both"``:
            largest ``|D|`` first (see :term:`sign`).

        Returns
        -------
        indices : ndarray of shape (k,), int
            Column indices, most characteristic first (stable on ties).
        """
        check_is_fitted(self, "dks_")
        row = self.dks_[class_index(self.classes_, cls)]
        code = sign_code(check_sign(sign))
        if not isinstance(k, Integral) or k < 1:
            raise ValueError(f"k must be a positive integer; got {k!r}.")
        key = -np.abs(row) if code == 0 else -code * row
        return np.argsort(key, kind="stable")[:k]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = False
        return tags


def _check_permutations(permutations, codes):
    """``permutations`` as an int array of shape (n_shuffles, n_samples), or a clear error."""
    n = codes.shape[0]
    perms = np.asarray(permutations)
    if perms.ndim != 2 or perms.shape[1] != n:
        raise ValueError(
            f"permutations must have shape (n_shuffles, {n}), one permutation of "
            f"range({n}) per row; got shape {perms.shape}."
        )
    if perms.size and not np.issubdtype(perms.dtype, np.integer):
        raise ValueError(f"permutations must hold integers; got dtype {perms.dtype}.")
    expected = np.arange(n)
    for k, row in enumerate(perms):  # a row at a time: no sorted copy of all of them
        if np.any(np.sort(row) != expected):
            raise ValueError(
                f"permutations[{k}] is not a permutation of range({n}): every sample "
                "index must appear exactly once (e.g. rng.permutation(n_samples))."
            )
    return perms


def _bar_label(n_shuffles):
    if n_shuffles == 0:
        return "KSCharacterizer"
    return f"KSCharacterizer (true + {n_shuffles} shuffled labelings)"


def signed_ks_pvalues(dks, class_counts):
    """Two-sided asymptotic p-values of signed D_KS values.

    The same as ``scipy.stats.ks_2samp(inter, intra, method="asymp").pvalue``: the
    Kolmogorov distribution ``kstwo`` with ``round(n * m / (n + m))`` samples at ``|D|``, for a
    class of ``n`` samples against the ``m`` others.

    Parameters
    ----------
    dks : ndarray of shape (..., n_classes, n_features)
    class_counts : ndarray of shape (n_classes,)

    Returns
    -------
    pvalues : ndarray, the shape of ``dks``

    Notes
    -----
    In exact mode (``n_bins=None``) these are the usual asymptotic p-values, conservative
    when the data have ties (ReLU zeros). In binned mode the statistic is taken over bin
    edges only, so it is never larger than the exact one and the p-values are larger
    (more conservative) than the exact ones; read them as an approximation.
    """
    from scipy.stats import kstwo

    counts = np.asarray(class_counts, dtype=np.float64)
    total = counts.sum()
    sizes = np.round(counts * (total - counts) / total)
    stat = np.abs(np.asarray(dks, dtype=np.float64))
    out = np.empty_like(stat)
    # kstwo.sf is slow (~0.2 ms a value) but D takes few distinct values per class size
    # (multiples of 1 / (n * m)), so it is evaluated once per distinct (size, |D|).
    for size in np.unique(sizes):
        rows = np.flatnonzero(sizes == size)
        values, inverse = np.unique(stat[..., rows, :], return_inverse=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # size 0 (N=2): NaN, as scipy
            sf = np.clip(kstwo.sf(values, size), 0.0, 1.0)
        out[..., rows, :] = sf[inverse].reshape(stat[..., rows, :].shape)
    return out
