"""Feature groups (layers) from feature names: :func:`feature_groups`."""

import re

import numpy as np

__all__ = ["feature_groups"]

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
