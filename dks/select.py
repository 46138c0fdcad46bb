"""Noise thresholds from shuffled labels (Garcia-Gasulla et al. 2017, §5.5):
:class:`NoiseThresholdSelector`."""

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
)
from sklearn.utils.validation import _check_feature_names_in, _num_samples, check_is_fitted

from dks import pruning
from dks._engine import check_label_types, class_index
from dks._options import option
from dks._sign import SIGNS, check_sign, sign_code
from dks.characterize import KSCharacterizer, signed_ks_pvalues
from dks.groups import check_groups, feature_groups
from dks.thresholds import (
    MIN_RESOLUTION,
    NullCounts,
    argmax_threshold,
    average_distance,
    benjamini_hochberg,
    class_noise_table,
    per_class_thresholds,
    relevance_from_thresholds,
    threshold_grid,
    warn_small_classes,
    warn_unresolved,
)

__all__ = ["NoiseThresholdSelector", "threshold_grid"]


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
    are relevant for at least one class, or, stricter, for at least ``min_classes`` classes
    and among the ``top_k_per_class`` of a class (:mod:`dks.pruning`).

    Read more in the :ref:`User Guide <dks>`.

    Parameters
    ----------
    characterizer : estimator or None, default=None
        Computes the statistic; ``None`` means :class:`KSCharacterizer` with its defaults.
        It is cloned, never modified. The selector calls its
        :meth:`~KSCharacterizer.fit_null` ``(X, y, permutations)``, which fits it on the
        true labels (setting ``dks_``, ``classes_``, ``class_counts_`` and
        ``n_features_in_``) and returns the statistic of each shuffled labeling
        ``y[permutations[s]]`` as an array of shape (n_shuffles, n_classes, n_features).
        A characterizer of your own implements that method.
    n_shuffles : int, default=1
        Random permutations of the labels. More shuffles give a smoother null curve and
        thresholds that vary less with ``random_state``; thanks to the shared work each one
        costs a fraction of a fit. Must be at least 1 for ``method="shuffle"``; may be 0 for
        ``method="fdr"`` (then no null curves are computed: they are NaN). ``dks analyze``
        uses 5 (``--shuffles``); the docs' *Command line*, *Defaults*, says why they differ.
    resolution : float, default=0.001
        Step of the grid of candidate thresholds, in ``[1e-7, 1)``; see :attr:`grid_`.
    random_state : int, RandomState instance or None, default=None
        Seeds the permutations. Pass an int for reproducible results across calls
        (``dks analyze`` seeds 0, ``--seed``).
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
    thresholds : {"global", "per_class"}, default="global"
        ``"global"``: one ``t_plus_`` and one ``t_minus_`` for all classes, Eq. 4 (the paper).
        ``"per_class"`` (``method="shuffle"`` only): one pair per class, the smallest
        thresholds at which the class's kept pairs are at most ``max_noise_share`` noise by
        its shuffled null, pooled over classes of similar size; see Notes and
        :ref:`the user guide <per-class-thresholds>`.
    max_noise_share : float, default=0.05
        Bound on the expected share of noise among the kept pairs of each class and side,
        in ``(0, 1)``; used with ``thresholds="per_class"`` only.
    progress : bool, default=True
        Show a tqdm progress bar over the feature blocks while the true and shuffled
        labelings are evaluated (passed to the characterizer's ``progress`` when it has
        that parameter); ``False`` prints nothing.
    min_classes : int, default=1
        Keep a feature when at least this many classes have it beyond the thresholds (on
        the ``sign`` side). 1: relevant for some class (the paper's rule, which on real
        embeddings keeps nearly every feature). Read when the support is asked for, like
        ``k`` of :class:`~sklearn.feature_selection.SelectKBest`: changing it needs no refit.
    top_k_per_class : int or None, default=None
        Each class keeps at most this many of its relevant features, those of largest
        ``|D_KS|`` (largest ``D`` with ``sign="presence"``, lowest with ``"absence"``; ties
        to the first column); the pairs left count for ``min_classes``. None: no limit.
    top_k_within : {"all", "layer"}, default="all"
        Where ``top_k_per_class`` counts: in the whole network, or in each layer (groups
        of the feature names, :func:`dks.groups.feature_groups`; without layer names one
        group), so that every layer keeps features. See :meth:`kept_counts`.
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
    t_plus_ : float or ndarray of shape (n_classes,)
        Presence threshold, ``>= 0``; one per class (float64 array) with
        ``thresholds="per_class"``, ``1.0`` for a class where none reaches the bound.
        With ``method="fdr"``: the smallest positive D_KS of a selected pair, NaN if there
        is none.
    t_minus_ : float or ndarray of shape (n_classes,)
        Absence threshold, ``<= 0``; one per class with ``thresholds="per_class"``.
        With ``method="fdr"``: the negative D_KS of a selected pair closest to 0, NaN if
        there is none.
    relevance_ : ndarray of shape (n_classes, n_features), int8
        ``+1`` (characteristic by presence), ``-1`` (by absence) or ``0`` (noise).
    n_characteristic_ : dict of str to ndarray
        Per class: ``"class"`` (labels), ``"presence"`` and ``"absence"`` (number of
        features with relevance ``+1`` and ``-1``). A dict of columns, like ``cv_results_``:
        ``pandas.DataFrame(sel.n_characteristic_)`` makes a table.
    class_noise_ : dict of str to ndarray
        The noise rate of each class, a dict of columns: ``"class"``, ``"n_samples"``,
        ``"kept"`` (share of the class's pairs kept), ``"kept_shuffled"`` (the same with
        shuffled labels and the class's thresholds, averaged over shuffles; NaN without
        shuffles), ``"noise_share"`` (``kept_shuffled / kept``: the expected share of the
        kept pairs that are noise; NaN when nothing is kept) and ``"mostly_noise"`` (bool,
        ``noise_share > 0.5``).
    unresolved_classes_ : ndarray
        With ``thresholds="per_class"``: the classes for which no threshold on either side
        reaches ``max_noise_share`` (nothing is kept for them; fit warns). Empty otherwise.
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

    *Per-class thresholds.* The null of ``|D|`` for a class of ``n`` samples among ``N``
    scales as ``1 / sqrt(n_eff)``, ``n_eff = n (N - n) / N``. ``thresholds="per_class"`` uses
    the two counts of Eq. 4 per class, ``T_c(x) = #{f : D(c, f) > x}`` and the same count
    ``N_c(x)`` under shuffled labels (pooled over classes of similar ``n_eff``, rescaled),
    and takes the smallest ``x`` with ``N_c(x) <= max_noise_share * T_c(x)``; ``class_noise_``
    reports the resulting noise share of every class in either mode, which shows what one
    global threshold costs in small classes.

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
        "characterizer": [HasMethods(["fit", "fit_null"]), None],
        "n_shuffles": [Interval(Integral, 0, None, closed="left")],
        "resolution": [Interval(Real, MIN_RESOLUTION, 1, closed="left")],
        "random_state": ["random_state"],
        "method": [StrOptions({"shuffle", "fdr"})],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "sign": [StrOptions(set(SIGNS))],
        "n_jobs": [Integral, None],
        "thresholds": [StrOptions({"global", "per_class"})],
        "max_noise_share": [Interval(Real, 0, 1, closed="neither")],
        "progress": ["boolean"],
        "keep_null": ["boolean"],
        "min_classes": [Interval(Integral, 1, None, closed="left")],
        "top_k_per_class": [Interval(Integral, 1, None, closed="left"), None],
        "top_k_within": [StrOptions(set(pruning.TOP_K_WITHIN))],
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
        thresholds="global",
        max_noise_share=0.05,
        progress=True,
        keep_null=True,
        min_classes=1,
        top_k_per_class=None,
        top_k_within="all",
    ):
        self.characterizer = characterizer
        self.n_shuffles = n_shuffles
        self.resolution = resolution
        self.random_state = random_state
        self.method = method
        self.alpha = alpha
        self.sign = sign
        self.n_jobs = n_jobs
        self.thresholds = thresholds
        self.max_noise_share = max_noise_share
        self.progress = progress
        self.keep_null = keep_null
        self.min_classes = min_classes
        self.top_k_per_class = top_k_per_class
        self.top_k_within = top_k_within

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
            few, large values with any labeling, so the null says little about it. With
            ``thresholds="per_class"``, when some classes are unresolved (named).
        """
        if self.thresholds == "per_class" and self.method != "shuffle":
            raise ValueError(
                f"{option('thresholds', 'per_class')} needs method='shuffle'; got "
                f"method={self.method!r}. method='fdr' already adapts to class sizes: use "
                f"{option('thresholds', 'global')} with it."
            )
        if self.method == "shuffle" and self.n_shuffles < 1:
            raise InvalidParameterError(
                f"The 'n_shuffles' parameter of {type(self).__name__} must be an int in the "
                f"range [1, inf) when method='shuffle' (0 is allowed with method='fdr' only)."
                f" Got {self.n_shuffles!r} instead."
            )
        if not self.keep_null and self.thresholds == "per_class":
            raise ValueError(
                f"{option('thresholds', 'per_class')} learns each class's thresholds from its "
                "own shuffled D_KS, which keep_null=False drops; use keep_null=True or "
                f"{option('thresholds', 'global')}."
            )
        check_label_types(type(self).__name__, y)
        char = self._make_characterizer()
        pruning.check_pruning(self.min_classes, self.top_k_per_class, self.top_k_within)
        n_samples = _num_samples(X)
        rng = check_random_state(self.random_state)
        # int32 while it holds every index: half the memory of intp, the same permutations.
        index_type = np.int32 if n_samples <= np.iinfo(np.int32).max else np.intp
        permutations = np.empty((self.n_shuffles, n_samples), dtype=index_type)
        for row in permutations:
            row[:] = rng.permutation(n_samples)

        grid = threshold_grid(self.resolution)
        # keep_null=False: exceedance counts accumulated block by block, nulls dropped.
        null_counts = None
        if not self.keep_null:
            null_counts = NullCounts(grid, self.resolution, self.n_shuffles)
        # One pass: the label-independent work is shared by all labelings.
        if null_counts is None:
            null_dks = char.fit_null(X, y, permutations)
        else:
            null_dks = char.fit_null(X, y, permutations, on_null_block=null_counts)
        null_dks = np.asarray(null_dks, dtype=np.float64)
        counts = char.class_counts_
        if self.n_shuffles > 0:
            warn_small_classes(char.classes_, counts, self.thresholds)

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
        self.d_avg_plus_, self.d_avg_minus_ = average_distance(
            self.dks_, null_dks, self.grid_, resolution=self.resolution, null_counts=null_counts
        )

        if self.method == "shuffle":
            self.t_plus_ = argmax_threshold(self.grid_, self.d_avg_plus_, sign="presence")
            self.t_minus_ = argmax_threshold(self.grid_, self.d_avg_minus_, sign="absence")
            self.unresolved_classes_ = self.classes_[:0]
            if self.thresholds == "per_class":
                t_plus, t_minus, ok_plus, ok_minus = per_class_thresholds(
                    self.dks_, null_dks, counts, self.grid_, self.resolution, self.max_noise_share
                )
                self.t_plus_, self.t_minus_ = t_plus, t_minus
                self.unresolved_classes_ = self.classes_[~(ok_plus | ok_minus)]
                warn_unresolved(self.classes_, counts, ~(ok_plus | ok_minus), self.max_noise_share)
            self.relevance_ = relevance_from_thresholds(self.dks_, self.t_plus_, self.t_minus_)
        else:
            self.unresolved_classes_ = self.classes_[:0]
            keep = benjamini_hochberg(char.pvalues_, self.alpha)
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
        self.class_noise_ = class_noise_table(
            self.classes_, counts, self.relevance_, self._null_kept()
        )
        pruning.check_pruning(self.min_classes, None, "all", n_classes=len(self.classes_))
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
        if "progress" in char.get_params(deep=False):
            char.set_params(progress=self.progress)
        return char

    def _get_support_mask(self):
        check_is_fitted(self, "relevance_")
        return self.feature_mask(
            self.sign,
            min_classes=self.min_classes,
            top_k_per_class=self.top_k_per_class,
            top_k_within=self.top_k_within,
        )

    def feature_mask(
        self, sign="both", *, min_classes=1, top_k_per_class=None, top_k_within="all"
    ):
        """Features characteristic of at least one class (or ``min_classes`` classes).

        Parameters
        ----------
        sign : {"both", "presence", "absence"}, default="both"
            Count relevance of either sign, ``+1`` only (presence) or ``-1`` only
            (absence); see :term:`sign`.
        min_classes, top_k_per_class, top_k_within
            The pruning rules, as the parameters of the same names; the defaults keep
            every feature relevant for some class.

        Returns
        -------
        mask : ndarray of shape (n_features,), bool
            ``get_support()`` is this mask with the selector's own parameters.
        """
        check_is_fitted(self, "relevance_")
        pruning.check_pruning(min_classes, top_k_per_class, top_k_within, len(self.classes_))
        per_layer = top_k_per_class is not None and top_k_within == "layer"
        groups = pruning.layers_from_names(self._feature_names()) if per_layer else None
        return pruning.kept_features(
            self.relevance_, self.dks_, sign=sign, min_classes=min_classes,
            top_k_per_class=top_k_per_class, groups=groups,
        )  # fmt: skip

    def kept_counts(self, min_classes=(1,), top_k_per_class=(None,), top_k_within=("all",)):
        """How many features each combination of pruning rules keeps, without refitting.

        Parameters
        ----------
        min_classes, top_k_per_class, top_k_within : sequence, default=(1,), (None,), ("all",)
            Values of the parameters of the same names, all combined (in this nesting
            order); ``sign`` is the selector's.

        Returns
        -------
        table : dict of str to ndarray
            Columns ``"min_classes"``, ``"top_k_per_class"`` (-1 for None), ``"top_k_within"``,
            ``"n_features"`` (kept); see :func:`dks.pruning.count_table`.
        """

        rules = (min_classes, top_k_per_class, top_k_within)
        return pruning.count_table(lambda **kw: self.feature_mask(self.sign, **kw), *rules)

    def noise_features(self, sign="both"):
        """Indices of the features that are noise for every class.

        The paper's "features discarded for all classes" (§5.5); with ``sign="presence"`` or
        ``"absence"`` only one threshold is used.

        Parameters
        ----------
        sign : {"both", "presence", "absence"}, default="both"
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
        sign : {"both", "presence", "absence"}, default="both"
            Relevance of either sign, ``+1`` only or ``-1`` only.

        Returns
        -------
        mask : ndarray of shape (n_features,), bool
        """
        check_is_fitted(self, "relevance_")
        row = self.relevance_[class_index(self.classes_, cls)]
        code = sign_code(check_sign(sign))
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
        if groups is None:
            groups = feature_groups(self._feature_names())
        groups = check_groups(groups, self.n_features_in_)
        null_kept = self._null_kept()
        noise = ~self.feature_mask("both")
        names, sizes, kept, presence, absence, shuffled, n_noise = ([] for _ in range(7))
        for name, idx in groups.items():
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
            # Scalars, or one threshold per class (rows of each shuffle) with "per_class".
            t_plus = np.reshape(self.t_plus_, (-1, 1))
            t_minus = np.reshape(self.t_minus_, (-1, 1))
            return (null > t_plus) | (null < t_minus)
        counts = getattr(self.characterizer_, "class_counts_", None)
        if counts is None:
            return None
        pvalues = signed_ks_pvalues(null, counts)
        return np.stack([benjamini_hochberg(p, self.alpha) for p in pvalues])

    def _feature_names(self):
        if hasattr(self.characterizer_, "get_feature_names_out"):
            return np.asarray(self.characterizer_.get_feature_names_out(), dtype=object)
        return _check_feature_names_in(self, None)

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
def _share(mask):
    return float(np.count_nonzero(mask) / mask.size) if mask.size else float("nan")
