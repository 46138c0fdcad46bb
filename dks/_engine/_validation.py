"""Input checks shared by the dks estimators: clear errors before any kernel runs.

The feature matrix and its labels (:func:`check_features`, :func:`encode_labels`), the
non-finite values found while the statistics read a lazy input (:func:`non_finite_error`),
and a class label given to a fitted estimator (:func:`class_index`).
"""

import difflib
import warnings

import numpy as np
from sklearn import get_config
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import validate_data

from dks._engine._blocks import lazy_kind
from dks._engine._kernels import column_stats
from dks._engine._threads import n_threads, run_threads


def check_features(estimator, X, y, *, reset=True, n_jobs=None):
    """Validate an activation matrix and its labels for a D_KS fit.

    Parameters
    ----------
    estimator : estimator instance
        Receives ``n_features_in_`` and ``feature_names_in_`` (when ``reset``).
    X : array-like of shape (n_samples, n_features)
        Activations. float32 stays float32; other numeric types become float64.
    y : array-like of shape (n_samples,)
        Class labels (any hashable values).
    reset : bool, default=True
        Whether to set the feature attributes of ``estimator``.
    n_jobs : int or None, default=None
        Threads scanning row chunks of ``X``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    y : ndarray of shape (n_samples,)
    mins, maxs : ndarray of shape (n_features,), float64, or None
        Column minima and maxima; ``None`` when ``X`` is a Dask array, or a memory map or a
        Zarr array larger than half of sklearn's ``working_memory``, which is not read here (see
        :mod:`dks._engine._blocks`: the values are checked block by block as the statistics read
        them). A smaller memory map or Zarr array is read into memory at once.
    """
    check_label_types(type(estimator).__name__, y)
    kind = lazy_kind(X)
    if kind in ("memmap", "zarr") and _fits_working_memory(X):
        X = np.asarray(X)  # small: one read, then the in-memory path (fewer, wider passes)
    elif kind is not None:
        return X, check_lazy(estimator, X, y, reset=reset), None, None
    X, y = validate_data(
        estimator,
        X,
        y,
        reset=reset,
        dtype=[np.float64, np.float32],
        ensure_all_finite=False,
        ensure_min_samples=2,
        y_numeric=False,
    )
    mins, maxs, n_bad, first_bad = _column_stats(X, n_jobs)
    if n_bad.any():
        raise non_finite_error(estimator, n_bad, first_bad)
    return X, y, mins, maxs


def check_lazy(estimator, X, y, *, reset=True):
    """Check the shape of a lazy ``X`` and its labels without reading ``X``.

    Sets ``n_features_in_`` (and removes ``feature_names_in_``) when ``reset``; the values
    are checked block by block later (:func:`dks._engine._blocks.block_stats`).

    Returns
    -------
    y : ndarray of shape (n_samples,)
    """
    name = type(estimator).__name__
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(
            f"Expected a 2-D array of activations (n_samples, n_features) for {name}; got an "
            f"array of shape {shape}."
        )
    n_samples, n_features = shape
    if n_samples < 2 or n_features < 1:
        raise ValueError(f"{name} needs at least 2 samples and 1 feature; got X of shape {shape}.")
    if not np.issubdtype(np.dtype(X.dtype), np.number):
        raise ValueError(f"X must hold numbers for {name}; got dtype {X.dtype}.")
    y = column_or_1d(np.asarray(y), warn=True)
    check_consistent_length(np.empty((n_samples, 0)), y)
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {name} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return y


def _fits_working_memory(X):
    """Whether ``X`` takes at most half of ``working_memory`` (a Dask array is never read).

    The other half is for the temporaries of the in-memory statistics (see
    :mod:`dks._engine._memory`).
    """
    if len(X.shape) != 2:
        return False  # the lazy checks explain the shape
    itemsize = 4 if np.dtype(X.dtype) == np.float32 else 8
    return 2 * X.shape[0] * X.shape[1] * itemsize <= get_config()["working_memory"] * 2**20


def non_finite_error(estimator, n_bad, first_bad, offset=0):
    """The ValueError for non-finite values in features ``offset, offset + 1, ...``.

    ``n_bad`` and ``first_bad`` count the non-finite values of each of those features and
    give the first row holding one.
    """
    name = type(estimator).__name__
    total_bad = int(n_bad.sum())
    feature = int(np.flatnonzero(n_bad)[0])
    label = _feature_label(estimator, feature + offset)
    where = (
        ""
        if offset == 0 and len(n_bad) == estimator.n_features_in_
        else (f" of the block of features {offset}:{offset + len(n_bad)}")
    )
    return ValueError(
        f"Input X contains {total_bad} NaN or infinity value(s) in "
        f"{np.count_nonzero(n_bad)} feature(s){where}; the first is feature {label} "
        f"(row {int(first_bad[feature])}). {name} needs finite activations: drop or impute "
        "those values first (e.g. sklearn.impute.SimpleImputer)."
    )


def _column_stats(X, n_jobs):
    """Column minima, maxima, non-finite counts and first non-finite rows, by row chunks."""
    n_samples, n_features = X.shape
    n_chunks = min(n_threads(n_jobs), max(1, n_samples // 1024))
    bounds = np.linspace(0, n_samples, n_chunks + 1).astype(int)
    stats = np.empty((n_chunks, 4, n_features))

    def run(k):
        lo, hi = bounds[k], bounds[k + 1]
        mins, maxs = stats[k, 0], stats[k, 1]
        n_bad = np.empty(n_features, dtype=np.int64)
        first_bad = np.empty(n_features, dtype=np.int64)
        column_stats(X[lo:hi], mins, maxs, n_bad, first_bad)
        stats[k, 2] = n_bad
        stats[k, 3] = np.where(first_bad >= 0, first_bad + lo, n_samples)

    for _ in run_threads(run, [(k,) for k in range(n_chunks)], n_chunks):
        pass
    first = stats[:, 3].min(axis=0).astype(np.int64)
    return stats[:, 0].min(axis=0), stats[:, 1].max(axis=0), stats[:, 2].sum(axis=0), first


def _feature_label(estimator, index):
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and index < len(names):
        return f"{index} ({names[index]!r})"
    return str(index)


def encode_labels(estimator, y):
    """Check that ``y`` holds class labels and encode them.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        Sorted unique labels.
    codes : ndarray of shape (n_samples,), int32
        Index of each sample's class in ``classes``.
    counts : ndarray of shape (n_classes,), int64
    """
    name = type(estimator).__name__
    check_label_types(name, y)
    kind = type_of_target(y, input_name="y", raise_unknown=True)
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"{name} needs class labels in y (binary or multiclass), got target type "
            f"{kind!r}. D_KS compares each class with the rest; for a continuous target, "
            "bin it into classes first (e.g. sklearn.preprocessing.KBinsDiscretizer)."
        )
    classes, codes = np.unique(y, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(
            f"{name} needs at least 2 classes in y; got 1 class ({_show(classes[0])}). "
            "D_KS compares the images of a class with all the others."
        )
    counts = np.bincount(codes, minlength=classes.shape[0]).astype(np.int64)
    single = classes[counts == 1]
    if single.shape[0]:
        warnings.warn(
            f"{single.shape[0]} class(es) have a single sample (e.g. {_show(single[0])}); their "
            "D_KS compares one value with the rest and is very noisy.",
            UserWarning,
            stacklevel=3,
        )
    return classes, codes.astype(np.int32).ravel(), counts


def check_label_types(name, y):
    """Refuse labels that mix strings with other values (``[1, "cat"]``).

    They cannot be sorted into classes, and numpy's own error (a ``UFuncTypeError``) does not
    say why. ``y`` is checked as given: a list, tuple or data frame column, which
    :func:`numpy.asarray` would turn into strings (``1`` and ``"1"`` one class), is read as
    objects. ``name`` (the estimator or function) starts the message.
    """
    y = y if isinstance(y, np.ndarray) else np.asarray(y, dtype=object)
    if y.dtype != object or y.size == 0:
        return
    flat = y.ravel()
    is_str = np.fromiter((isinstance(v, str) for v in flat), dtype=bool, count=flat.size)
    if is_str.any() and not is_str.all():
        text, other = flat[np.argmax(is_str)], flat[np.argmin(is_str)]
        raise ValueError(
            f"{name} got labels in y that mix types: strings (e.g. {text!r}) and "
            f"{type(other).__name__} values (e.g. {_show(other)}). Give every label one "
            "type, e.g. y = np.asarray(y).astype(str)."
        )


def _show(value):
    """``repr`` of a label without numpy's type wrapper: ``1.0``, not ``np.float64(1.0)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def class_index(classes, cls):
    """Row of the class ``cls`` in a fitted estimator's ``classes_``, or a clear error.

    A label equals ``cls`` when ``label == cls`` (so ``1`` finds ``1.0``); a label that
    cannot be compared counts as different. The error lists the first classes and, for a
    near miss of a string label, the closest one.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        ``classes_`` of the estimator.
    cls : label
        The class asked for.

    Returns
    -------
    index : int
    """
    labels = classes.tolist()
    hits = [i for i, c in enumerate(labels) if _same_label(c, cls)]
    if len(hits) == 1:
        return hits[0]
    close = difflib.get_close_matches(str(cls), [str(c) for c in labels], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(repr(c) for c in labels[:10])
    more = ", ..." if len(labels) > 10 else ""
    raise ValueError(
        f"{cls!r} is not one of the {len(labels)} classes seen in fit "
        f"(classes_: {shown}{more}).{hint}"
    )


def _same_label(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False
