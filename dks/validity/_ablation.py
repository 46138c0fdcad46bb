"""Is relevance importance? :func:`ablation` of the relevant features of every class.

For each class ``c`` a one-vs-rest linear probe is trained on a training split; D_KS is
computed on the training split too, so that nothing of the test split chooses the features.
On the test split, the probe's AUC for ``c`` is measured, then again with ``k`` features
replaced by their training mean (a constant carries no information; through the probe's
standardization it is a zero), for four sets of ``k`` features:

- ``presence``: the ``k`` highest D_KS of ``c`` (the features most characteristic of ``c`` by
  their presence), and ``absence``: the ``k`` lowest;
- ``random``: ``k`` features drawn uniformly, ``n_random`` times (their mean drop);
- ``null``: for each side, as many features of each layer as that side took from it, those of
  the layer with D_KS closest to 0 for ``c`` (the least characteristic of the same layers).

The *ratio* of a side is its drop over the drop of the control (``random`` or ``null``), the
control's drop floored at ``min_drop`` so that a control that changes nothing does not make
it infinite. A ratio of 2 or more says that the relevant features matter at least twice as
much to the probe as the control features.

Cost: one probe fit per class; ``n_classes * n_k * (4 + n_random)`` evaluations of the probe
on the test split, each with ``k`` columns of one working copy replaced and then restored.
"""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, validate_params

from dks._options import option
from dks.characterize import KSCharacterizer
from dks.validity._common import check_inputs, read_table, resolve_groups, write_table

__all__ = ["ABLATION_COLUMNS", "AblationResult", "ablation"]

#: Sides of the relevant features: highest D_KS (presence), lowest (absence).
SIDES = ("presence", "absence")

#: Columns of :attr:`AblationResult.table` (and of ``ablation.csv``), with their types.
ABLATION_COLUMNS = {
    "class": str,
    "k": int,
    "side": str,
    "auc": float,
    "drop": float,
    "drop_random": float,
    "drop_null": float,
    "ratio_random": float,
    "ratio_null": float,
}


@dataclass(frozen=True)
class AblationResult:
    """What :func:`ablation` measured.

    Attributes
    ----------
    table : dict of str to ndarray
        One row per (class, k, side), the columns of :data:`ABLATION_COLUMNS`: ``auc`` (the
        probe's one-vs-rest test AUC, nothing replaced), ``drop`` (its decrease when the
        ``k`` relevant features of ``side`` are replaced), ``drop_random`` (the mean over
        ``n_random`` draws of ``k`` random features), ``drop_null`` (``k`` features of D_KS
        closest to 0 from the same layers), ``ratio_random`` = ``drop / max(drop_random,
        min_drop)`` and ``ratio_null`` likewise. ``pandas.DataFrame(result.table)`` makes a
        data frame.
    min_drop : float
        The floor of the control drops in the ratios.
    train_index, test_index : ndarray of int or None
        The rows of ``X`` in each split (``None`` for a result read from a file).
    """

    table: dict
    min_drop: float
    train_index: np.ndarray | None = None
    test_index: np.ndarray | None = None

    def summary(self):
        """Per (k, side), over classes: the median ratios and the share of ratios >= 2.

        Returns
        -------
        summary : dict of str to ndarray
            Columns ``k``, ``side``, ``n_classes``, ``ratio_median`` (``ratio_random``),
            ``share_ge_2`` (share of classes with ``ratio_random >= 2``),
            ``ratio_null_median``, ``share_null_ge_2``, ``drop_median``,
            ``drop_random_median``, ``drop_null_median``.
        """
        t = self.table
        keys = sorted({(int(k), str(s)) for k, s in zip(t["k"], t["side"], strict=True)})
        keys.sort(key=lambda ks: (ks[0], SIDES.index(ks[1]) if ks[1] in SIDES else 9))
        out = {name: [] for name in _SUMMARY}
        for k, side in keys:
            rows = (t["k"] == k) & (t["side"] == side)
            out["k"].append(k)
            out["side"].append(side)
            out["n_classes"].append(int(rows.sum()))
            for name, column, share in _SUMMARY_OF.values():
                values = t[column][rows]
                out[name].append(np.mean(values >= 2.0) if share else np.median(values))
        return {name: np.asarray(values) for name, values in out.items()}

    def write_csv(self, path):
        """Write :attr:`table` as a CSV file (atomic, fsynced): ``ablation.csv``."""
        write_table(path, self.table)

    @classmethod
    def read_csv(cls, path, *, min_drop=1e-3):
        """The result that :meth:`write_csv` wrote (without the split indices)."""
        return cls(read_table(path, ABLATION_COLUMNS), min_drop)


_SUMMARY_OF = {
    "ratio_median": ("ratio_median", "ratio_random", False),
    "share_ge_2": ("share_ge_2", "ratio_random", True),
    "ratio_null_median": ("ratio_null_median", "ratio_null", False),
    "share_null_ge_2": ("share_null_ge_2", "ratio_null", True),
    "drop_median": ("drop_median", "drop", False),
    "drop_random_median": ("drop_random_median", "drop_random", False),
    "drop_null_median": ("drop_null_median", "drop_null", False),
}
_SUMMARY = ("k", "side", "n_classes", *_SUMMARY_OF)


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "k": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "groups": [dict, None],
        "test_size": [Interval(RealNotInt, 0, 1, closed="neither")],
        "n_random": [Interval(Integral, 1, None, closed="left")],
        "min_drop": [Interval(Real, 0, None, closed="neither")],
        "probe": [HasMethods(["fit"]), None],
        "characterizer": [HasMethods(["fit"]), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def ablation(
    X,
    y,
    *,
    k=(5, 10, 20),
    groups=None,
    test_size=0.3,
    n_random=5,
    min_drop=1e-3,
    probe=None,
    characterizer=None,
    random_state=None,
):
    """Drop of each class's probe AUC when its relevant features are replaced, vs controls.

    Read the module's description (:mod:`dks.validity`) and :ref:`validity`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Activations (a results folder's embedding, say), finite.
    y : array-like of shape (n_samples,)
        Class labels; at least two classes, each with at least 4 samples.
    k : int or array-like of int, default=(5, 10, 20)
        How many features are replaced; each at most ``n_features // 2``.
    groups : dict of str to column indices or None, default=None
        The layers, for the ``null`` control (see :func:`dks.groups.check_groups`);
        ``None``: the layers of a data frame's column names
        (:func:`dks.groups.feature_groups`), or one layer for an array.
    test_size : float, default=0.3
        Share of each class's samples in the test split (stratified), in ``(0, 1)``.
    n_random : int, default=5
        Draws of ``k`` random features, whose drops are averaged.
    min_drop : float, default=1e-3
        Floor of the control drop in the ratios (an AUC difference), > 0.
    probe : classifier or None, default=None
        Cloned for each class and fitted on the training split with the labels "is this
        class" (``True``/``False``); scored with ``decision_function``, else the second
        column of ``predict_proba``. ``None``: ``StandardScaler`` then
        ``LogisticRegression(max_iter=1000)``.
    characterizer : estimator or None, default=None
        Computes ``dks_`` on the training split; ``None``:
        ``KSCharacterizer(progress=False)``. Cloned.
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the random features and the probe (when it has a
        ``random_state``). Pass an int for reproducible results.

    Returns
    -------
    result : AblationResult
        ``result.table`` per (class, k, side); ``result.summary()`` over classes.

    Examples
    --------
    >>> import numpy as np
    >>> from dks import ablation
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 40))
    >>> y = np.repeat(["a", "b", "c"], 100)
    >>> X[y == "a", :3] += 2.0  # features 0-2 characterize "a"
    >>> res = ablation(X, y, k=3, random_state=0)
    >>> row = (res.table["class"] == "a") & (res.table["side"] == "presence")
    >>> bool(res.table["ratio_random"][row][0] >= 2)
    True
    """
    X, y, names = check_inputs(
        X, y, min_per_class=4, purpose="a training and a test split", name="ablation"
    )
    n_features = X.shape[1]
    ks = _check_k(k, n_features)
    layers = resolve_groups(groups, names, n_features)
    layer_of = np.full(n_features, -1, dtype=np.intp)
    for code, idx in enumerate(layers.values()):
        layer_of[idx] = code
    rng = check_random_state(random_state)
    train, test = train_test_split(
        np.arange(X.shape[0]), test_size=test_size, stratify=y, random_state=rng
    )
    char = clone(KSCharacterizer(progress=False) if characterizer is None else characterizer)
    X_train, y_train = X[train], y[train]  # one copy of the training rows for every fit
    char.fit(X_train, y_train)
    classes, dks = char.classes_, np.asarray(char.dks_)
    mean = X_train.mean(axis=0)
    original = X[test]
    work = original.copy()
    probe = (
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        if probe is None
        else probe
    )
    rows = {name: [] for name in ABLATION_COLUMNS}
    for c, cls in enumerate(classes):
        model = _fit_probe(probe, X_train, y_train == cls, rng)
        truth = y[test] == cls
        auc = _auc(model, work, truth)

        def drop(features, model=model, truth=truth, auc=auc):
            return auc - _ablated_auc(model, work, truth, features, mean, original)

        for kk in ks:
            randoms = [rng.choice(n_features, kk, replace=False) for _ in range(n_random)]
            d_random = float(np.mean([drop(f) for f in randoms]))
            for side in SIDES:
                order = np.argsort(-dks[c] if side == "presence" else dks[c], kind="stable")
                top = order[:kk]
                d_side = drop(top)
                d_null = drop(_null_features(dks[c], top, layer_of))
                for name, value in (
                    ("class", str(cls)),
                    ("k", kk),
                    ("side", side),
                    ("auc", auc),
                    ("drop", d_side),
                    ("drop_random", d_random),
                    ("drop_null", d_null),
                    ("ratio_random", d_side / max(d_random, min_drop)),
                    ("ratio_null", d_side / max(d_null, min_drop)),
                ):
                    rows[name].append(value)
    table = {name: np.asarray(rows[name]) for name in ABLATION_COLUMNS}
    return AblationResult(table, float(min_drop), np.sort(train), np.sort(test))


def _check_k(k, n_features):
    ks = np.unique(np.atleast_1d(np.asarray(k)))
    if ks.ndim != 1 or ks.size == 0 or not np.issubdtype(ks.dtype, np.integer):
        raise ValueError(f"{option('k')} must be a positive integer or a list of them; got {k!r}.")
    if ks[0] < 1 or ks[-1] > n_features // 2:
        raise ValueError(
            f"Every {option('k')} must be in [1, n_features // 2 = {n_features // 2}] (the "
            f"relevant features and as many controls); got {option('k', k)}."
        )
    return [int(v) for v in ks]


def _fit_probe(probe, X, target, rng):
    model = clone(probe)
    seeds = {
        name: rng.randint(np.iinfo(np.int32).max)
        for name in model.get_params()
        if name == "random_state" or name.endswith("__random_state")
    }
    return model.set_params(**seeds).fit(X, target)


def _auc(model, X, truth):
    if hasattr(model, "decision_function"):
        score = model.decision_function(X)
    else:
        score = model.predict_proba(X)[:, 1]
    return float(roc_auc_score(truth, score))


def _ablated_auc(model, work, truth, features, mean, original):
    """The AUC with ``features`` of ``work`` set to ``mean``; ``work`` is restored after."""
    work[:, features] = mean[features]
    try:
        return _auc(model, work, truth)
    finally:
        work[:, features] = original[:, features]


def _null_features(row, top, layer_of):
    """For each layer, as many features as ``top`` took from it, those with |D| closest to 0.

    A layer with too few features left gives what it has; the rest come from all the others
    (closest to 0 first).
    """
    taken = np.zeros(row.shape[0], dtype=bool)
    taken[top] = True
    by_size = np.argsort(np.abs(row), kind="stable")
    chosen = []
    for code, count in zip(*np.unique(layer_of[top], return_counts=True), strict=True):
        pool = by_size[(layer_of[by_size] == code) & ~taken[by_size]][:count]
        taken[pool] = True
        chosen.append(pool)
    missing = top.shape[0] - sum(p.shape[0] for p in chosen)
    if missing:
        chosen.append(by_size[~taken[by_size]][:missing])
    return np.concatenate(chosen)
