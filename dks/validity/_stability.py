"""Would another sample give the same verdict? :func:`stability` of the relevance.

*Halves.* For each of ``n_splits`` random splits, the samples of every class are split into
two disjoint halves of ``n_c // 2`` samples (one left out when ``n_c`` is odd); each half is
characterized and thresholded by a clone of ``selector``, and the two relevance arrays are
compared by the Jaccard index of the kept pairs, a pair kept with the same sign on both sides
counting as agreement::

    J = (|P_a & P_b| + |A_a & A_b|) / (|P_a | P_b| + |A_a | A_b|)

where ``P`` (``A``) are the pairs of relevance ``+1`` (``-1``) of a half. ``J`` is computed
over all pairs, over the pairs of each class and over those of each layer; it is NaN where
neither half keeps a pair. ``jaccard_chance`` is what two kept sets of the same sizes drawn
independently at random would give (``E|P_a & P_b| = |P_a| |P_b| / n_pairs``): a verdict at
chance level carries no information about the class. Each half has half the samples, so the
index measures the stability of a verdict on ``n_c / 2`` images: a lower bound for ``n_c``.

*Bootstrap.* ``n_bootstrap`` fits on samples drawn with replacement within every class (the
class sizes kept) give percentile intervals of ``t_plus_`` and ``t_minus_`` at level
``confidence``; one per class with ``thresholds="per_class"``.

Cost: ``2 * n_splits`` fits on half the data plus ``n_bootstrap + 1`` fits on all of it.
"""

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from dks.select import NoiseThresholdSelector
from dks.validity._common import check_inputs, read_table, resolve_groups, write_table

__all__ = ["STABILITY_COLUMNS", "UNSTABLE_JACCARD", "StabilityResult", "stability"]

#: Below this Jaccard index a verdict is called unstable: fewer than half of the pairs that
#: either half keeps are kept by both (:meth:`StabilityResult.unstable`).
UNSTABLE_JACCARD = 0.5

#: Columns of :attr:`StabilityResult.table` (and of ``stability.csv``), with their types.
STABILITY_COLUMNS = {
    "scope": str,
    "name": str,
    "size": int,
    "jaccard": float,
    "jaccard_min": float,
    "jaccard_max": float,
    "jaccard_chance": float,
    "kept": float,
    "t_plus": float,
    "t_plus_low": float,
    "t_plus_high": float,
    "t_minus": float,
    "t_minus_low": float,
    "t_minus_high": float,
}


@dataclass(frozen=True)
class StabilityResult:
    """What :func:`stability` measured.

    Attributes
    ----------
    table : dict of str to ndarray
        The columns of :data:`STABILITY_COLUMNS`, one row for all pairs (``scope="all"``,
        ``name="all"``), one per class (``scope="class"``) and one per layer
        (``scope="layer"``): ``size`` (samples of the class, features of the layer, all
        samples), ``jaccard`` (mean over splits, NaN where no split kept a pair),
        ``jaccard_min``, ``jaccard_max``, ``jaccard_chance`` (mean over splits), ``kept``
        (pairs kept by a half, mean over halves and splits), and the thresholds fitted on all
        the samples with their bootstrap interval (``t_plus``, ``t_plus_low``,
        ``t_plus_high``, the same for ``t_minus``): on the class rows, and on the ``all`` row
        when the thresholds are global; NaN elsewhere. ``pandas.DataFrame(result.table)``
        makes a data frame.
    jaccard : ndarray of shape (n_splits,) or None
        The index over all pairs of each split (``None`` when read from a file).
    t_plus_bootstrap, t_minus_bootstrap : ndarray of shape (n_bootstrap, n_classes) or None
        The thresholds of each bootstrap fit, per class (a global threshold repeated).
    """

    table: dict
    jaccard: np.ndarray | None = None
    t_plus_bootstrap: np.ndarray | None = None
    t_minus_bootstrap: np.ndarray | None = None

    def rows(self, scope):
        """The rows of one ``scope`` (``"all"``, ``"class"`` or ``"layer"``), as a table."""
        keep = self.table["scope"] == scope
        return {name: column[keep] for name, column in self.table.items()}

    def unstable(self, scope="class"):
        """Names of the rows of ``scope`` whose ``jaccard`` is below :data:`UNSTABLE_JACCARD`,
        or NaN (neither half kept a pair)."""
        rows = self.rows(scope)
        low = ~(rows["jaccard"] >= UNSTABLE_JACCARD)
        return rows["name"][low].tolist()

    def write_csv(self, path):
        """Write :attr:`table` as a CSV file (atomic, fsynced): ``stability.csv``."""
        write_table(path, self.table)

    @classmethod
    def read_csv(cls, path):
        """The result that :meth:`write_csv` wrote (without the per-split arrays)."""
        return cls(read_table(path, STABILITY_COLUMNS))


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "n_splits": [Interval(Integral, 1, None, closed="left")],
        "n_bootstrap": [Interval(Integral, 0, None, closed="left")],
        "confidence": [Interval(Real, 0, 1, closed="neither")],
        "selector": [HasMethods(["fit"]), None],
        "groups": [dict, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def stability(
    X,
    y,
    *,
    n_splits=5,
    n_bootstrap=50,
    confidence=0.95,
    selector=None,
    groups=None,
    random_state=None,
):
    """Agreement of the relevance of two disjoint halves; bootstrap intervals of t+ and t-.

    Read the module's description (:mod:`dks.validity`) and :ref:`validity`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Activations, finite.
    y : array-like of shape (n_samples,)
        Class labels; at least two classes, each with at least 4 samples.
    n_splits : int, default=5
        Random splits into halves.
    n_bootstrap : int, default=50
        Bootstrap fits for the threshold intervals; 0 for none (the interval columns are
        then NaN).
    confidence : float, default=0.95
        Level of the percentile intervals, in ``(0, 1)``.
    selector : estimator or None, default=None
        Fitted on each half and each bootstrap sample, as a clone; it has ``relevance_``,
        ``t_plus_`` and ``t_minus_`` after ``fit`` (a :class:`~dks.NoiseThresholdSelector`).
        ``None``: ``NoiseThresholdSelector(progress=False)``. Its ``random_state`` is set
        from ``random_state`` for each fit.
    groups : dict of str to column indices or None, default=None
        The layers (see :func:`dks.groups.check_groups`); ``None``: the layers of a data
        frame's column names (:func:`dks.groups.feature_groups`), or one layer.
    random_state : int, RandomState instance or None, default=None
        Seeds the halves, the bootstrap samples and the selectors' shuffles. Pass an int for
        reproducible results.

    Returns
    -------
    result : StabilityResult

    Examples
    --------
    >>> import numpy as np
    >>> from dks import NoiseThresholdSelector, stability
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 30))
    >>> y = np.repeat(["a", "b"], 200)
    >>> X[y == "a", :3] += 3.0  # features 0-2 characterize "a" (and "b" by absence)
    >>> fdr = NoiseThresholdSelector(method="fdr", n_shuffles=0, progress=False)
    >>> res = stability(X, y, n_splits=3, n_bootstrap=0, selector=fdr, random_state=0)
    >>> res.jaccard.round(2).tolist()
    [1.0, 1.0, 1.0]
    >>> paper = stability(X, y, n_splits=3, n_bootstrap=0, random_state=0)  # one shuffle
    >>> bool(paper.jaccard.max() < 1)  # the argmax rule lets noise pairs through
    True
    """
    X, y, names = check_inputs(
        X, y, min_per_class=4, purpose="two halves of 2 or more", name="stability"
    )
    layers = resolve_groups(groups, names, X.shape[1])
    rng = check_random_state(random_state)
    base = NoiseThresholdSelector(progress=False) if selector is None else selector
    classes, codes = np.unique(y, return_inverse=True)
    members = [np.flatnonzero(codes == c) for c in range(classes.shape[0])]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits, full, boots = _fits(base, X, y, members, layers, n_splits, n_bootstrap, rng)
    # The selector's warnings (a class too small to shuffle, ...) once each, not once a fit.
    for category, text in dict.fromkeys((w.category, str(w.message)) for w in caught):
        # stacklevel 3: past sklearn's validate_params wrapper, to the caller of stability
        warnings.warn(f"stability (fits of halves, bootstraps): {text}", category, stacklevel=3)
    n_classes = classes.shape[0]
    t_plus = np.array([_per_class(s.t_plus_, n_classes) for s in boots]).reshape(-1, n_classes)
    t_minus = np.array([_per_class(s.t_minus_, n_classes) for s in boots])
    t_minus = t_minus.reshape(-1, n_classes)
    thresholds = _intervals(full, t_plus, t_minus, confidence, n_classes)

    sizes = {"all": [X.shape[0]], "class": [i.shape[0] for i in members]}
    sizes["layer"] = [idx.shape[0] for idx in layers.values()]
    labels = {"all": ["all"], "class": [str(c) for c in classes], "layer": list(layers)}
    table = {name: [] for name in STABILITY_COLUMNS}
    for scope in ("all", "class", "layer"):
        counts = np.array([split[scope] for split in splits])  # (n_splits, 5, n_rows)
        jac = _ratio(counts[:, 0], counts[:, 1])
        chance = _ratio(counts[:, 2], counts[:, 3])
        for r, name in enumerate(labels[scope]):
            values = jac[:, r][~np.isnan(jac[:, r])]
            row = {"scope": scope, "name": name, "size": sizes[scope][r]}
            row["jaccard"] = values.mean() if values.size else np.nan
            row["jaccard_min"] = values.min() if values.size else np.nan
            row["jaccard_max"] = values.max() if values.size else np.nan
            row["jaccard_chance"] = _nanmean(chance[:, r])
            row["kept"] = counts[:, 4, r].mean()
            row.update(thresholds[scope](r))
            for column in STABILITY_COLUMNS:
                table[column].append(row[column])
    table = {name: np.asarray(values) for name, values in table.items()}
    overall = np.array([split["all"][:, 0] for split in splits])
    return StabilityResult(table, _ratio(overall[:, 0], overall[:, 1]), t_plus, t_minus)


def _fits(base, X, y, members, layers, n_splits, n_bootstrap, rng):
    """The fits: per split the agreement of its two halves; on all samples; per bootstrap."""
    splits = []
    for _ in range(n_splits):
        halves = ([], [])
        for idx in members:
            perm = rng.permutation(idx)
            half = idx.shape[0] // 2
            halves[0].append(perm[:half])
            halves[1].append(perm[half : 2 * half])
        a, b = (_fit(base, X, y, np.sort(np.concatenate(h)), rng) for h in halves)
        splits.append(_agreement(a.relevance_, b.relevance_, layers))
    full = _fit(base, X, y, np.arange(X.shape[0]), rng)
    boots = [
        _fit(base, X, y, np.concatenate([rng.choice(i, i.shape[0]) for i in members]), rng)
        for _ in range(n_bootstrap)
    ]
    return splits, full, boots


def _fit(base, X, y, rows, rng):
    selector = clone(base)
    if "random_state" in selector.get_params():
        selector.set_params(random_state=rng.randint(np.iinfo(np.int32).max))
    return selector.fit(X[rows], y[rows])


def _agreement(rel_a, rel_b, layers):
    """Per scope, an array of shape (5, n_rows): the intersection and the union of the kept
    pairs, their expectations for independent random sets of the same sizes, and the mean
    number kept by a half. The rows: ``all`` (1), ``class``, ``layer``."""
    views = {
        "all": [(slice(None), slice(None))],
        "class": [(c, slice(None)) for c in range(rel_a.shape[0])],
        "layer": [(slice(None), idx) for idx in layers.values()],
    }
    out = {}
    for scope, where in views.items():
        counts = np.zeros((5, len(where)))
        for r, (rows, cols) in enumerate(where):
            a, b = rel_a[rows, cols], rel_b[rows, cols]
            for side in (1, -1):
                na, nb = np.count_nonzero(a == side), np.count_nonzero(b == side)
                both = np.count_nonzero((a == side) & (b == side))
                expected = na * nb / max(a.size, 1)
                counts[:, r] += (both, na + nb - both, expected, na + nb - expected, 0)
            counts[4, r] = (np.count_nonzero(a) + np.count_nonzero(b)) / 2
        out[scope] = counts
    return out


def _nanmean(values):
    values = values[~np.isnan(values)]
    return values.mean() if values.size else np.nan


def _ratio(num, den):
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _per_class(t, n_classes):
    return np.broadcast_to(np.asarray(t, dtype=np.float64), (n_classes,))


def _intervals(full, t_plus, t_minus, confidence, n_classes):
    """Per scope, a function of the row giving the threshold columns."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    empty = t_plus.shape[0] == 0

    def bounds(samples, r):
        if empty:
            return np.nan, np.nan
        return tuple(np.percentile(samples[:, r], [tail, 100.0 - tail]))

    point_plus = _per_class(full.t_plus_, n_classes)
    point_minus = _per_class(full.t_minus_, n_classes)

    def of_class(r):
        (pl, ph), (ml, mh) = bounds(t_plus, r), bounds(t_minus, r)
        return {
            "t_plus": point_plus[r],
            "t_plus_low": pl,
            "t_plus_high": ph,
            "t_minus": point_minus[r],
            "t_minus_low": ml,
            "t_minus_high": mh,
        }

    nan = dict.fromkeys(("t_plus", "t_plus_low", "t_plus_high"), np.nan)
    nan.update(dict.fromkeys(("t_minus", "t_minus_low", "t_minus_high"), np.nan))
    scalar = np.ndim(full.t_plus_) == 0
    none = lambda r: nan  # noqa: E731
    return {"all": of_class if scalar else none, "class": of_class, "layer": none}
