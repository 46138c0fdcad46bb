"""What the ablation and the stability share: the input checks, the layers, the CSV tables.

A *table* here is a dict of equal-length numpy columns, like ``cv_results_``:
``pandas.DataFrame(table)`` makes a data frame of it, :func:`write_table` a CSV file (written
atomically and fsynced, through :func:`dks._atomic.atomic_open`) and :func:`read_table` reads
that file back.
"""

import csv
import math

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d

from dks._atomic import atomic_open
from dks._engine import check_label_types
from dks.groups import DEFAULT_GROUP, check_groups, feature_groups

__all__ = ["check_inputs", "read_table", "resolve_groups", "write_table"]


def check_inputs(X, y, *, min_per_class, purpose, name):
    """``X`` as a finite 2-D float array, ``y`` as labels, each class with enough samples.

    Parameters
    ----------
    X, y : array-like
        Features and labels.
    min_per_class : int
        Samples each class needs.
    purpose : str
        Why, for the message (e.g. ``"a training and a test split"``).
    name : str
        The function checking, for the message.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    names : ndarray of str or None
        The column names of a data frame ``X``.
    """
    names = getattr(X, "columns", None)
    names = None if names is None else np.asarray(names, dtype=object)
    X = check_array(X, dtype=(np.float64, np.float32), ensure_min_samples=2)
    check_label_types(name, y)
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"X and y must have the same number of samples; got {X.shape[0]} rows in X and "
            f"{y.shape[0]} labels in y."
        )
    classes, counts = np.unique(y, return_counts=True)
    if classes.shape[0] < 2:
        raise ValueError(f"y must hold at least two classes; got {classes.tolist()!r}.")
    small = classes[counts < min_per_class]
    if small.size:
        raise ValueError(
            f"Every class needs at least {min_per_class} samples for {purpose}; class "
            f"{_python(small[0])!r} has {int(counts[classes == small[0]][0])}. Drop the class "
            "or add samples."
        )
    return X, y, names


def resolve_groups(groups, names, n_features):
    """``groups`` checked (:func:`dks.groups.check_groups`), or layers read from ``names``.

    ``None`` groups the columns of a data frame by layer (:func:`dks.groups.feature_groups`),
    and puts all the columns of an array in one group, ``"features"``.
    """
    if groups is None:
        if names is not None:
            return feature_groups(names)
        return {DEFAULT_GROUP: np.arange(n_features)}
    return check_groups(groups, n_features)


def write_table(path, table):
    """Write a dict of columns as a CSV file: a header line, floats as shortest ``repr``,
    NaN as an empty cell, booleans as 0/1; atomic and fsynced."""
    columns = list(table)
    with atomic_open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in zip(*(table[c].tolist() for c in columns), strict=True):
            writer.writerow([_cell(v) for v in row])


def read_table(path, types):
    """A CSV file of :func:`write_table` as a dict of columns.

    Parameters
    ----------
    path : path-like
    types : dict of str to type
        ``str``, ``int``, ``float`` (empty cells are NaN) or ``bool`` per column; the columns
        of the file not named here are left out, a column named here but missing is an error.
    """
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = rows[0].keys() if rows else types.keys()
    missing = [c for c in types if c not in header]
    if missing:
        raise ValueError(f"{path}: the columns {missing} are missing; rewrite it.")
    table = {}
    for name, kind in types.items():
        cells = [row[name] for row in rows]
        if kind is float:
            table[name] = np.asarray([float(c) if c else np.nan for c in cells], np.float64)
        elif kind is bool:
            table[name] = np.asarray([c == "1" for c in cells], dtype=bool)
        elif kind is int:
            table[name] = np.asarray([int(c) for c in cells], dtype=np.int64)
        else:
            table[name] = np.asarray(cells, dtype=str)
    return table


def _python(value):
    return value.item() if isinstance(value, np.generic) else value


def _cell(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(value)
    return value
