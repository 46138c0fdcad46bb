"""Feature groups (layers): :func:`feature_groups` from names, :func:`check_groups` for a
user's ``groups`` argument (the one validator of the selector and the figures)."""

import re
from collections.abc import Mapping

import numpy as np

__all__ = ["check_groups", "feature_groups"]

#: Group of the names that do not end in ``_<index>``.
DEFAULT_GROUP = "features"

_LAYER_INDEX = re.compile(r"^(.+)_([0-9]+)$")


def feature_groups(names):
    """Group feature columns by layer, from names of the form ``"<layer>_<index>"``.

    Each name is split at its *last* underscore: ``"conv1_1_0"`` belongs to ``"conv1_1"``,
    ``"blocks.3_17"`` to ``"blocks.3"``, ``"fc7_4095"`` to ``"fc7"``. Names that do not end in
    an underscore followed by decimal digits (``"x0"``, ``"age"``, ``"conv_a"``), and
    non-string names, go to the group ``"features"``.

    Parameters
    ----------
    names : array-like of str of shape (n_features,)
        Feature names, e.g. ``CNNEmbedder().get_feature_names_out()`` or the
        ``feature_names_in_`` of a fitted estimator.

    Returns
    -------
    groups : dict of str to ndarray of int
        Column indices of each group, in increasing order; groups appear in the order of
        their first column (first-seen order). Every column is in exactly one group.

    See Also
    --------
    NoiseThresholdSelector.layer_summary : Share of (class, feature) pairs kept per group.

    Notes
    -----
    If a layer is itself called ``"features"``, the names without an index join it.

    Examples
    --------
    >>> from dks.groups import feature_groups
    >>> groups = feature_groups(["conv1_1_0", "conv1_1_1", "fc7_0", "age"])
    >>> {name: idx.tolist() for name, idx in groups.items()}
    {'conv1_1': [0, 1], 'fc7': [2], 'features': [3]}
    """
    if isinstance(names, str):
        raise TypeError(
            f"names must be a sequence of feature names, not a single string ({names!r})."
        )
    names = np.asarray(names, dtype=object)
    if names.ndim != 1:
        raise ValueError(f"names must be one-dimensional; got an array of shape {names.shape}.")
    members = {}
    for index, name in enumerate(names.tolist()):
        match = _LAYER_INDEX.match(name) if isinstance(name, str) else None
        group = match.group(1) if match else DEFAULT_GROUP
        members.setdefault(group, []).append(index)
    return {group: np.asarray(idx, dtype=np.intp) for group, idx in members.items()}


def check_groups(groups, n_features):
    """Validate a ``groups`` argument: a dict mapping group names to columns.

    Parameters
    ----------
    groups : dict of str to column indices
        Each value is an array of column indices (negative ones count from the end), a
        boolean mask of length ``n_features`` or a ``slice`` (e.g.
        ``CNNEmbedder.layer_slices_``); e.g. the output of :func:`feature_groups`.
    n_features : int
        Number of columns the indices refer to.

    Returns
    -------
    groups : dict of str to ndarray of int
        The same names, in the same order, each with its column indices in ``[0, n_features)``
        (dtype ``intp``, possibly empty).

    Raises
    ------
    TypeError
        If ``groups`` is not a dict.
    ValueError
        If it is empty, or a group does not select columns among the ``n_features``.

    Examples
    --------
    >>> from dks.groups import check_groups
    >>> groups = check_groups({"a": slice(0, 2), "b": [-1]}, 3)
    >>> {name: idx.tolist() for name, idx in groups.items()}
    {'a': [0, 1], 'b': [2]}
    """
    if not isinstance(groups, Mapping):
        raise TypeError(
            "groups must be a non-empty dict mapping group names to column indices (e.g. the "
            f"output of dks.groups.feature_groups); got {type(groups).__name__}."
        )
    if not groups:
        raise ValueError(
            "groups must be a non-empty dict mapping group names to column indices; got {}."
        )
    columns = np.arange(n_features)
    checked = {}
    for name, where in groups.items():
        if isinstance(where, slice):
            checked[name] = columns[where]
            continue
        idx = np.atleast_1d(np.asarray(where))
        if idx.size == 0:
            idx = idx.astype(np.intp)
        if idx.ndim != 1:
            raise ValueError(
                f"Group {name!r} must be 1-D column indices, a mask or a slice; got an array "
                f"of shape {idx.shape}."
            )
        if idx.dtype == bool:
            if idx.shape[0] != n_features:
                raise ValueError(
                    f"Group {name!r} is a boolean mask of length {idx.shape[0]}; "
                    f"it must have one value per feature ({n_features})."
                )
            idx = np.flatnonzero(idx)
        elif not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(
                f"Group {name!r} must hold integer column indices (or be a mask or a slice); "
                f"got dtype {idx.dtype}."
            )
        outside = idx[(idx < -n_features) | (idx >= n_features)]
        if outside.size:
            raise ValueError(
                f"Group {name!r} has column indices outside [0, {n_features}) "
                f"({n_features} features), e.g. {int(outside[0])}."
            )
        checked[name] = columns[idx]
    return checked
