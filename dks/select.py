"""Noise thresholds from shuffled labels (Garcia-Gasulla et al. 2017, §5.5):
:class:`NoiseThresholdSelector`."""

import difflib
import warnings
from collections.abc import Mapping
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.stats import false_discovery_control
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import _safe_indexing, check_random_state, get_tags
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
)
from sklearn.utils.validation import _check_feature_names_in, _num_samples, check_is_fitted

from dks.characterize import KSCharacterizer, signed_ks_pvalues
from dks.groups import feature_groups

__all__ = ["NoiseThresholdSelector", "threshold_grid"]

#: Classes with fewer samples than this get a warning when labels are shuffled.
MIN_CLASS_SIZE = 5

#: Smallest ``resolution`` (a grid of at most ten million thresholds).
MIN_RESOLUTION = 1e-7

# Values per chunk in the threshold counts (a few arrays of this size stay in cache).
_CHUNK = 1 << 15

_SIGN_CODES = {"both": 0, "presence": 1, "absence": -1, 0: 0, 1: 1, -1: -1}


class NoiseThresholdSelector(SelectorMixin, BaseEstimator):
    """Keep the features that characterize some class beyond what shuffled labels give.

    The signed Kolmogorov-Smirnov statistic ``D(c, f)`` of every (class, feature) pair is
    computed with the true labels and with ``n_shuffles`` random permutations of them
    (same class sizes, no relation to ``X``). For every ``x`` of :attr:`grid_`, the average
    number of features per class with ``D > x`` under the shuffled labels estimates how many
    such features chance alone produces; the difference with the true labels is the paper's
    average distance (Eq. 4)::

        d_avg_plus(x)  = mean_c #{f : D(c, f) > x}  - mean_{s, c} #{f : D_s(c, f) > x}
        d_avg_minus(x) = mean_c #{f : D(c, f) < -x} - mean_{s, c} #{f : D_s(c, f) < -x}

    The thresholds are where these peak: ``t_plus_ = argmax d_avg_plus`` and
    ``t_minus_ = -argmax d_avg_minus``. A pair with ``D > t_plus_`` characterizes the class
    by the feature's *presence* (relevance ``+1``), one with ``D < t_minus_`` by its
    *absence* (``-1``); the others are noise (``0``). The selector keeps the features that
    are relevant for at least one class.

    Read more in the :ref:`User Guide <dks>`.

    Parameters
    ----------
    characterizer : estimator or None, default=None
        Computes the statistic; ``None`` means :class:`KSCharacterizer` with its defaults.
        It is cloned, never modified. Its ``_fit_with_null`` method, when present, evaluates
        all labelings in one pass over the data; otherwise a clone is fitted per labeling.
    n_shuffles : int, default=1
        Random permutations of the labels. More shuffles give a smoother null curve and
        thresholds that vary less with ``random_state``; thanks to the shared work each one
        costs a fraction of a fit. Must be at least 1 for ``method="shuffle"``; may be 0 for
        ``method="fdr"`` (then no null curves are computed: they are NaN).
    resolution : float, default=0.001
        Step of the grid of candidate thresholds, in ``[1e-7, 1)``; see :attr:`grid_`.
    random_state : int, RandomState instance or None, default=None
        Seeds the permutations. Pass an int for reproducible results across calls.
    method : {"shuffle", "fdr"}, default="shuffle"
        How pairs are selected. ``"shuffle"``: the thresholds ``t_plus_`` and ``t_minus_``
        learned from the shuffled labels (the paper). ``"fdr"``: Benjamini-Hochberg on the
        KS p-values of all (class, feature) pairs (``characterizer_.pvalues_``) at level
        ``alpha``; the relevance sign is the sign of ``dks_``. See Notes.
    alpha : float, default=0.05
        False discovery rate for ``method="fdr"``; ignored otherwise.
    sign : {"both", "presence", "absence"}, default="both"
        Which relevance :meth:`get_support` (hence ``transform``) counts: features
        characteristic of some class by presence or absence, by presence only
        (relevance ``+1``), or by absence only (``-1``).
    n_jobs : int or None, default=None
        Passed to the characterizer's ``n_jobs`` when not ``None``.
    keep_null : bool, default=True
        Whether to keep every shuffled D_KS in ``null_dks_``: ``n_shuffles * n_classes *
        n_features * 8`` bytes (100 shuffles of 1,000 classes x 100,000 features: 80 GB).
        ``False`` keeps only what the thresholds need, the exceedance counts of the
        shuffled D_KS on the grid, accumulated feature block by feature block as the
        characterizer produces them: ``2 * n_grid * 8`` bytes, plus one block's temporary
        of ``(n_shuffles + 1) * n_classes * block_width * 8`` bytes per thread (see
        :ref:`scaling`). The thresholds and relevance are the same; ``null_dks_`` is then
        ``None`` and the ``"kept_shuffled"`` column of :meth:`layer_summary` is NaN.

    Attributes
    ----------
    characterizer_ : estimator
        The fitted clone of ``characterizer``.
    dks_ : ndarray of shape (n_classes, n_features), float64
        D_KS with the true labels (the array of ``characterizer_``, not a copy).
    null_dks_ : ndarray of shape (n_shuffles, n_classes, n_features), float64, or None
        D_KS with each shuffled labeling; ``None`` when ``keep_null=False``.
    classes_ : ndarray of shape (n_classes,)
        Class labels, in the row order of ``dks_``.
    grid_ : ndarray of shape (n_grid,), float64
        Candidate thresholds ``0, resolution, 2 * resolution, ..., 1`` (see
        :func:`threshold_grid`).
    d_avg_plus_, d_avg_minus_ : ndarray of shape (n_grid,), float64
        Average distance curves of Eq. 4 at each grid value, in features per class. NaN
        when ``n_shuffles=0``.
    t_plus_ : float
        Presence threshold, ``>= 0``. With ``method="fdr"``: the smallest positive D_KS of a
        selected pair, NaN if there is none.
    t_minus_ : float
        Absence threshold, ``<= 0``. With ``method="fdr"``: the negative D_KS of a selected
        pair closest to 0, NaN if there is none.
    relevance_ : ndarray of shape (n_classes, n_features), int8
        ``+1`` (characteristic by presence), ``-1`` (by absence) or ``0`` (noise).
    n_characteristic_ : dict of str to ndarray
        Per class: ``"class"`` (labels), ``"presence"`` and ``"absence"`` (number of
        features with relevance ``+1`` and ``-1``). A dict of columns, like ``cv_results_``:
        ``pandas.DataFrame(sel.n_characteristic_)`` makes a table.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when ``X`` has string column names.

    See Also
    --------
    KSCharacterizer : The signed D_KS statistic of every (class, feature) pair.
    dks.groups.feature_groups : Layers from feature names, for :meth:`layer_summary`.

    Notes
    -----
    *Grid.* The curves are evaluated at ``grid_``, built as
    ``np.round(np.arange(n + 1) * resolution, 12)`` with ``n = floor(1 / resolution)``
    (and ``1.0`` appended if ``1 / resolution`` is not an integer), so the grid values are
    the decimal numbers users expect (``0.123``, not ``0.12300000000000001``). Comparisons
    are strict: a pair with ``D`` exactly equal to ``t_plus_`` is noise. On ties of the
    maximum the smallest ``x`` wins. The counts use a binary search of each value in the
    grid, ``O(n_shuffles * n_classes * n_features * log(n_grid))``.

    *Shuffle or FDR.* The shuffle thresholds are one pair of numbers for all classes and
    features, which is what the paper studies (thresholds across datasets and layers),
    and they make no distributional assumption: features with ties, ReLU zeros or
    dependent columns are handled, since the null is the same statistic on the same data.
    They do not control an error rate, though: classes of very different sizes share one
    threshold although small classes give larger D_KS by chance. ``method="fdr"`` adapts to
    each class's size through the p-values and controls the expected share of false
    selections among all selected pairs (Benjamini-Hochberg, valid under independence or
    positive dependence of the tests), but the p-values are asymptotic and approximate
    (conservative with binned statistics and ties). Prefer ``"shuffle"`` to reproduce or
    compare with the paper, and ``"fdr"`` when an error rate statement matters or class
    sizes differ a lot. With ``"fdr"``, ``t_plus_`` and ``t_minus_`` only describe the
    selection (the smallest ``|D|`` kept on each side): a pair beyond them can still be
    noise if its class is small.

    Examples
    --------
    >>> import numpy as np
    >>> from dks import NoiseThresholdSelector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 20))
    >>> y = np.repeat([0, 1, 2], 100)
    >>> X[y == 0, 3] += 2.0  # feature 3 is high on class 0
    >>> X[y == 2, 7] -= 2.0  # feature 7 is low on class 2
    >>> sel = NoiseThresholdSelector(n_shuffles=20, random_state=0).fit(X, y)
    >>> int(sel.relevance_[0, 3]), int(sel.relevance_[2, 7])
    (1, -1)
    >>> bool(0.0 <= sel.t_plus_ < 0.5) and bool(-0.5 < sel.t_minus_ <= 0.0)
    True
    >>> sel.get_support()[[3, 7]]  # transform(X) keeps the columns where this is True
    array([ True,  True])
    >>> sel.transform(X).shape[1] == int(sel.get_support().sum())
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "characterizer": [HasMethods(["fit"]), None],
        "n_shuffles": [Interval(Integral, 0, None, closed="left")],
        "resolution": [Interval(Real, MIN_RESOLUTION, 1, closed="left")],
        "random_state": ["random_state"],
        "method": [StrOptions({"shuffle", "fdr"})],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "sign": [StrOptions({"both", "presence", "absence"})],
        "n_jobs": [Integral, None],
        "keep_null": ["boolean"],
    }

    def __init__(
        self,
        characterizer=None,
        *,
        n_shuffles=1,
        resolution=0.001,
        random_state=None,
        method="shuffle",
        alpha=0.05,
        sign="both",
        n_jobs=None,
        keep_null=True,
    ):
        self.characterizer = characterizer
        self.n_shuffles = n_shuffles
        self.resolution = resolution
        self.random_state = random_state
        self.method = method
        self.alpha = alpha
        self.sign = sign
        self.n_jobs = n_jobs
        self.keep_null = keep_null

    # ------------------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Compute D_KS with true and shuffled labels, the thresholds and the relevance.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Activations, validated by the characterizer (finite values).
        y : array-like of shape (n_samples,)
            Class labels; at least two classes.

        Returns
        -------
        self : NoiseThresholdSelector
            The fitted selector.

        Warns
        -----
        UserWarning
            When labels are shuffled and a class has fewer than 5 samples: its D_KS takes
            few, large values with any labeling, so the null says little about it.
        """
        if self.method == "shuffle" and self.n_shuffles < 1:
            raise InvalidParameterError(
                f"The 'n_shuffles' parameter of {type(self).__name__} must be an int in the "
                f"range [1, inf) when method='shuffle' (0 is allowed with method='fdr' only)."
                f" Got {self.n_shuffles!r} instead."
            )
        char = self._make_characterizer()
        n_samples = _num_samples(X)
        rng = check_random_state(self.random_state)
        permutations = np.empty((self.n_shuffles, n_samples), dtype=np.intp)
        for row in permutations:
            row[:] = rng.permutation(n_samples)

        grid = threshold_grid(self.resolution)
        # keep_null=False: exceedance counts accumulated block by block, nulls dropped.
        null_counts = (
            None if self.keep_null else _NullCounts(grid, self.resolution, self.n_shuffles)
        )
        null_dks = self._fit_characterizer(char, X, y, permutations, null_counts)

        counts = getattr(char, "class_counts_", None)
        if counts is None:
            counts = np.unique(np.asarray(y), return_counts=True)[1]
        if self.n_shuffles > 0:
            _warn_small_classes(char.classes_, counts)

        self.characterizer_ = char
        self.dks_ = char.dks_
        self.classes_ = char.classes_
        self.null_dks_ = null_dks if self.keep_null else None
        self.n_features_in_ = char.n_features_in_
        if hasattr(char, "feature_names_in_"):
            self.feature_names_in_ = char.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

        self.grid_ = grid
        self.d_avg_plus_, self.d_avg_minus_ = _average_distance(
            self.dks_, null_dks, self.grid_, self.resolution, null_counts
        )

        if self.method == "shuffle":
            self.t_plus_ = float(self.grid_[np.argmax(self.d_avg_plus_)])
            # "+ 0.0" turns -0.0 into 0.0.
            self.t_minus_ = float(-self.grid_[np.argmax(self.d_avg_minus_)] + 0.0)
            self.relevance_ = _relevance_from_thresholds(self.dks_, self.t_plus_, self.t_minus_)
        else:
            keep = _benjamini_hochberg(char.pvalues_, self.alpha)
            self.relevance_ = (keep * np.sign(self.dks_)).astype(np.int8)
            positive = self.dks_[self.relevance_ == 1]
            negative = self.dks_[self.relevance_ == -1]
            self.t_plus_ = float(positive.min()) if positive.size else float("nan")
            self.t_minus_ = float(negative.max()) if negative.size else float("nan")

        self.n_characteristic_ = {
            "class": self.classes_,
            "presence": np.count_nonzero(self.relevance_ == 1, axis=1).astype(np.int64),
            "absence": np.count_nonzero(self.relevance_ == -1, axis=1).astype(np.int64),
        }
        return self

    def _make_characterizer(self):
        char = KSCharacterizer() if self.characterizer is None else clone(self.characterizer)
        if self.n_jobs is not None:
            if "n_jobs" not in char.get_params(deep=False):
                raise ValueError(
                    f"n_jobs={self.n_jobs!r} cannot be passed to the characterizer "
                    f"{type(char).__name__}, which has no n_jobs parameter; leave n_jobs=None."
                )
            char.set_params(n_jobs=self.n_jobs)
        return char

    @staticmethod
    def _fit_characterizer(char, X, y, permutations, null_counts=None):
        """Fit ``char`` on ``(X, y)`` and return D_KS of each labeling ``y[perm]``.

        With ``null_counts``, the shuffled D_KS go to it block by block and none is
        returned (an empty array).
        """
        if hasattr(char, "_fit_with_null"):
            # One pass: the label-independent work is shared by all labelings.
            if null_counts is None:
                null_dks = char._fit_with_null(X, y, permutations)
            else:
                null_dks = char._fit_with_null(X, y, permutations, on_null_block=null_counts)
        else:
            char.fit(X, y)
            null_dks = []
            for perm in permutations:
                null = clone(char).fit(X, _safe_indexing(y, perm)).dks_
                if null_counts is None:
                    null_dks.append(null)
                else:
                    null_counts(0, null.shape[-1], null[None])
            if not null_dks:
                null_dks = np.empty((0, *np.shape(char.dks_)))
        return np.asarray(null_dks, dtype=np.float64)

    # ------------------------------------------------------------------------ selection
    def _get_support_mask(self):
        check_is_fitted(self, "relevance_")
        return self.feature_mask(self.sign)

    def feature_mask(self, sign="both"):
        """Features characteristic of at least one class.

        Parameters
        ----------
        sign : {"both", "presence", "absence"} or {0, 1, -1}, default="both"
            Count relevance of either sign, ``+1`` only (presence) or ``-1`` only
            (absence). ``0``, ``1`` and ``-1`` are synonyms, as in
            :meth:`KSCharacterizer.top_features`.

        Returns
        -------
        mask : ndarray of shape (n_features,), bool
            ``get_support()`` is ``feature_mask(self.sign)``.
        """
        check_is_fitted(self, "relevance_")
        code = _sign_code(sign)
        hits = self.relevance_ != 0 if code == 0 else self.relevance_ == code
        return hits.any(axis=0)

    def noise_features(self, sign="both"):
        """Indices of the features that are noise for every class.

        The paper's "features discarded for all classes" (§5.5); with ``sign="presence"`` or
        ``"absence"`` only one threshold is used.

        Parameters
        ----------
        sign : {"both", "presence", "absence"} or {0, 1, -1}, default="both"
            Which relevance counts as characteristic, see :meth:`feature_mask`.

        Returns
        -------
        indices : ndarray of int
            Column indices, increasing. Names: ``sel.feature_names_in_[indices]``.
        """
        return np.flatnonzero(~self.feature_mask(sign))

    def class_mask(self, cls, sign="both"):
        """Features that characterize one class.

        Parameters
        ----------
        cls : label
            A class from ``classes_``.
        sign : {"both", "presence", "absence"} or {0, 1, -1}, default="both"
            Relevance of either sign, ``+1`` only or ``-1`` only.

        Returns
        -------
        mask : ndarray of shape (n_features,), bool
        """
        check_is_fitted(self, "relevance_")
        row = self.relevance_[self._class_index(cls)]
        code = _sign_code(sign)
        return row != 0 if code == 0 else row == code

    def layer_summary(self, groups=None):
        """Share of (class, feature) pairs kept per group of features (the paper's Fig. 10).

        Parameters
        ----------
        groups : dict of str to indices, or None, default=None
            Columns of each group, as column indices, a boolean mask or a ``slice`` (e.g.
            ``CNNEmbedder.layer_slices_``). ``None`` groups the feature names by layer with
            :func:`dks.groups.feature_groups`.

        Returns
        -------
        summary : dict of str to ndarray
            One entry per group, in the order of ``groups``:

            - ``"group"``: group names.
            - ``"n_features"``: features in the group.
            - ``"kept"``: share of its (class, feature) pairs with non-zero relevance.
            - ``"kept_presence"``, ``"kept_absence"``: share with relevance ``+1``, ``-1``.
            - ``"kept_shuffled"``: the same share with shuffled labels, averaged over
              shuffles: the share of ``null_dks_`` outside ``[t_minus_, t_plus_]``
              (``method="fdr"``: kept by Benjamini-Hochberg on each shuffle's asymptotic KS
              p-values, :func:`dks.characterize.signed_ks_pvalues`, which costs about
              ``n_shuffles`` times ``characterizer_.pvalues_``). NaN when ``n_shuffles=0``.
            - ``"n_noise"``: features of the group that are noise for every class.

            Shares are NaN for an empty group. ``pandas.DataFrame(summary)`` makes a table.
        """
        check_is_fitted(self, "relevance_")
        n_features = self.n_features_in_
        if groups is None:
            groups = feature_groups(self._feature_names())
        if not isinstance(groups, Mapping):
            raise TypeError(
                "groups must be a dict mapping group names to column indices (e.g. the "
                f"output of dks.groups.feature_groups); got {type(groups).__name__}."
            )
        columns = np.arange(n_features)
        null_kept = self._null_kept()
        noise = ~self.feature_mask("both")
        names, sizes, kept, presence, absence, shuffled, n_noise = ([] for _ in range(7))
        for name, where in groups.items():
            try:
                idx = columns[where]
            except (IndexError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"Group {name!r} does not select columns among the {n_features} features: "
                    f"{exc}"
                ) from exc
            idx = np.atleast_1d(idx)
            rel = self.relevance_[:, idx]
            names.append(name)
            sizes.append(idx.size)
            kept.append(_share(rel != 0))
            presence.append(_share(rel == 1))
            absence.append(_share(rel == -1))
            shuffled.append(np.nan if null_kept is None else _share(null_kept[:, :, idx]))
            n_noise.append(int(np.count_nonzero(noise[idx])))
        return {
            "group": np.asarray(names, dtype=object),
            "n_features": np.asarray(sizes, dtype=np.int64),
            "kept": np.asarray(kept, dtype=np.float64),
            "kept_presence": np.asarray(presence, dtype=np.float64),
            "kept_absence": np.asarray(absence, dtype=np.float64),
            "kept_shuffled": np.asarray(shuffled, dtype=np.float64),
            "n_noise": np.asarray(n_noise, dtype=np.int64),
        }

    def _null_kept(self):
        """Bool (n_shuffles, n_classes, n_features): null pairs that would be selected."""
        null = self.null_dks_
        if null is None or null.shape[0] == 0:
            return None
        if self.method == "shuffle":
            return (null > self.t_plus_) | (null < self.t_minus_)
        counts = getattr(self.characterizer_, "class_counts_", None)
        if counts is None:
            return None
        pvalues = signed_ks_pvalues(null, counts)
        return np.stack([_benjamini_hochberg(p, self.alpha) for p in pvalues])

    def _feature_names(self):
        if hasattr(self.characterizer_, "get_feature_names_out"):
            return np.asarray(self.characterizer_.get_feature_names_out(), dtype=object)
        return _check_feature_names_in(self, None)

    def _class_index(self, cls):
        hits = [i for i, c in enumerate(self.classes_.tolist()) if _same_label(c, cls)]
        if len(hits) == 1:
            return hits[0]
        labels = [str(c) for c in self.classes_.tolist()]
        close = difflib.get_close_matches(str(cls), labels, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        shown = ", ".join(repr(c) for c in self.classes_.tolist()[:10])
        more = ", ..." if len(labels) > 10 else ""
        raise ValueError(
            f"{cls!r} is not one of the {len(labels)} classes seen in fit "
            f"(classes_: {shown}{more}).{hint}"
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        char = KSCharacterizer() if self.characterizer is None else self.characterizer
        char_tags = get_tags(char)
        tags.input_tags.allow_nan = char_tags.input_tags.allow_nan
        tags.input_tags.sparse = char_tags.input_tags.sparse
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# ------------------------------------------------------------------------------- helpers
def threshold_grid(resolution):
    """Candidate thresholds ``0, resolution, 2 * resolution, ..., 1``.

    Parameters
    ----------
    resolution : float
        Step, in ``(0, 1)``, at least ``1e-7``.

    Returns
    -------
    grid : ndarray of shape (n_grid,), float64
        ``np.round(np.arange(n + 1) * resolution, 12)`` with ``n = floor(1 / resolution)``
        (up to 1e-9), then ``1.0`` appended if the last value is below 1. Rounding makes
        ``grid[123]`` with ``resolution=0.001`` the float ``0.123`` exactly.

    Examples
    --------
    >>> from dks.select import threshold_grid
    >>> threshold_grid(0.25).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> threshold_grid(0.3).tolist()
    [0.0, 0.3, 0.6, 0.9, 1.0]
    """
    if not 0.0 < resolution < 1.0:
        raise ValueError(f"resolution must be in (0, 1); got {resolution!r}.")
    if resolution < MIN_RESOLUTION:
        raise ValueError(
            f"resolution={resolution!r} would make a grid of {1 / resolution:.3g} thresholds; "
            f"use a resolution of at least {MIN_RESOLUTION:g}."
        )
    n = int(np.floor(1.0 / resolution + 1e-9))
    grid = np.round(np.arange(n + 1) * resolution, 12)
    if grid[-1] < 1.0:
        grid = np.append(grid, 1.0)
    return grid


def _exceedance(values, grid, resolution):
    """Counts of ``values > grid[i]`` and of ``values < -grid[i]`` for every ``i``.

    ``grid`` is ``threshold_grid(resolution)``. Nothing is sorted: each ``|v|`` gets
    ``below = #{i : grid[i] < |v|}``, so that ``|v| > grid[i]`` if and only if ``below > i``,
    and a histogram of ``below`` (one for each sign of ``v``) gives all counts at once.
    The values are processed in chunks that stay in cache.
    """
    n_grid = grid.shape[0]
    padded = np.concatenate([[-np.inf], grid, [np.inf]])  # padded[j] = grid[j - 1]
    hist = np.zeros(2 * (n_grid + 1), dtype=np.int64)
    flat = np.ravel(values)
    for start in range(0, flat.shape[0], _CHUNK):
        v = flat[start : start + _CHUNK]
        a = np.abs(v)
        if a.max() <= 1.0:  # False for NaN: the general path below handles it.
            # ceil(|v| / resolution) is ``below`` up to one unit of rounding (grid values are
            # rounded to 12 decimals and resolution >= 1e-7); one step each way corrects it.
            below = np.multiply(a, 1.0 / resolution)
            np.ceil(below, out=below)
            below = below.astype(np.intp)
            below -= padded[below] >= a
            below += padded[below + 1] < a
        else:
            below = np.searchsorted(grid, a, side="left")
        # Negative values go to a second histogram, offset by n_grid + 1.
        below += (v < 0) * (n_grid + 1)
        hist += np.bincount(below, minlength=hist.shape[0])
    # at_least[j] = #{below >= j}; the count for grid[i] is at_least[i + 1].
    plus = np.cumsum(hist[n_grid::-1])[::-1][1:]
    minus = np.cumsum(hist[:n_grid:-1])[::-1][1:]
    return plus, minus


def _average_distance(dks, null_dks, grid, resolution, null_counts=None):
    """Eq. 4 of the paper for both signs: (d_avg_plus, d_avg_minus) on ``grid``.

    With ``null_counts`` (a :class:`_NullCounts` filled during the fit), the null
    exceedance counts come from it and ``null_dks`` is not read.
    """
    n_classes = dks.shape[0]
    n_shuffles = null_dks.shape[0] if null_counts is None else null_counts.n_shuffles
    true_plus, true_minus = _exceedance(dks, grid, resolution)
    if n_shuffles == 0:
        nan = np.full(grid.shape, np.nan)
        return nan, nan.copy()
    if null_counts is None:
        null_counts = _NullCounts(grid, resolution, n_shuffles)
        for null in null_dks:  # one labeling at a time keeps the temporaries small
            null_counts(0, null.shape[-1], null[None])
    null_plus, null_minus = null_counts.plus, null_counts.minus
    scale = n_classes * n_shuffles
    return (
        true_plus / n_classes - null_plus / scale,
        true_minus / n_classes - null_minus / scale,
    )


class _NullCounts:
    """Exceedance counts of shuffled D_KS on the grid, summed block by block.

    Called as ``counts(f0, f1, null)`` with ``null`` of shape ``(n_shuffles, n_classes,
    f1 - f0)``; ``plus[i]`` and ``minus[i]`` count the values ``> grid[i]`` and
    ``< -grid[i]`` of all blocks seen. Counts are integers, so the order of the blocks
    does not change the sums.
    """

    def __init__(self, grid, resolution, n_shuffles):
        self.grid = grid
        self.resolution = resolution
        self.n_shuffles = n_shuffles
        self.plus = np.zeros(grid.shape, dtype=np.int64)
        self.minus = np.zeros(grid.shape, dtype=np.int64)

    def __call__(self, f0, f1, null):
        plus, minus = _exceedance(null, self.grid, self.resolution)
        self.plus += plus
        self.minus += minus


def _relevance_from_thresholds(dks, t_plus, t_minus):
    relevance = np.zeros(dks.shape, dtype=np.int8)
    relevance[dks > t_plus] = 1
    relevance[dks < t_minus] = -1
    return relevance


def _benjamini_hochberg(pvalues, alpha):
    """Bool mask of the p-values rejected by Benjamini-Hochberg at level ``alpha``."""
    p = np.nan_to_num(np.asarray(pvalues, dtype=np.float64), nan=1.0)
    if p.size == 0:
        return np.zeros(p.shape, dtype=bool)
    adjusted = false_discovery_control(p.ravel(), method="bh")
    return (adjusted <= alpha).reshape(p.shape)


def _share(mask):
    return float(np.count_nonzero(mask) / mask.size) if mask.size else float("nan")


def _sign_code(sign):
    try:
        return _SIGN_CODES[sign]
    except (KeyError, TypeError):
        raise ValueError(
            f"sign must be 'both', 'presence' or 'absence' (or 0, 1, -1); got {sign!r}."
        ) from None


def _same_label(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _warn_small_classes(classes, counts):
    small = np.flatnonzero(np.asarray(counts) < MIN_CLASS_SIZE)
    if small.size == 0:
        return
    labels = np.asarray(classes).tolist()
    shown = ", ".join(f"{labels[i]!r} ({int(counts[i])})" for i in small[:5])
    more = f" and {small.size - 5} more" if small.size > 5 else ""
    warnings.warn(
        f"{small.size} class(es) have fewer than {MIN_CLASS_SIZE} samples: {shown}{more}. "
        "Shuffling the labels of so small a class is hardly meaningful: its D_KS takes few, "
        "large values with true and shuffled labels alike, and the thresholds are dominated "
        "by such noise. Merge or drop these classes, or collect more samples.",
        UserWarning,
        # Point at the caller of fit: this helper, fit, and the _fit_context wrapper.
        stacklevel=4,
    )
