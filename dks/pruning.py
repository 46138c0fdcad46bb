"""Which features to keep, from the relevance of (class, feature) pairs: :func:`kept_features`.

"Relevant for some class" keeps a feature when a single class has it beyond the noise
thresholds; on real embeddings that is nearly every feature (3,038 of 3,120 on 210
Fashion-MNIST images), so it prunes almost nothing. Two stricter rules, which combine:

- ``top_k_per_class=k``: each class keeps only its ``k`` relevant features of largest
  ``|D_KS|`` (of largest ``D`` with ``sign="presence"``, of lowest with ``"absence"``), in the
  whole network or, with ``top_k_within="layer"``, in each layer: a class then contributes at
  most ``k * n_layers`` features, and no layer is left out;
- ``min_classes=m``: a feature is kept when at least ``m`` classes keep it (shared evidence,
  not one class's luck).

Selecting pairs: ``O(n_classes * n_features)``; the top ``k`` adds a sort of each class's row
(of each layer), ``O(n_classes * n_features * log n_features)``. Ties of ``|D_KS|`` at the
``k``-th place are broken by column order (the first columns win), so the result is
deterministic.
"""

import warnings
from numbers import Integral

import numpy as np

from dks._options import option
from dks._sign import check_sign, sign_code
from dks.groups import DEFAULT_GROUP, feature_groups

__all__ = ["TOP_K_WITHIN", "check_pruning", "count_table", "kept_features", "layers_from_names"]

#: Where ``top_k_per_class`` counts: the whole network, or each layer (group) apart.
TOP_K_WITHIN = ("all", "layer")


def check_pruning(min_classes, top_k_per_class, top_k_within, n_classes=None):
    """Validate the pruning options; errors name the parameter, the value and a fix.

    Parameters
    ----------
    min_classes : int
        At least 1 (and at most ``n_classes`` when that is given).
    top_k_per_class : int or None
        At least 1, or None.
    top_k_within : {"all", "layer"}
    n_classes : int or None, default=None
        Number of classes of the fitted selector.
    """
    if isinstance(min_classes, bool) or not isinstance(min_classes, Integral) or min_classes < 1:
        raise ValueError(
            f"{option('min_classes')} must be an int of at least 1 (1: relevant for some "
            f"class); got {min_classes!r}."
        )
    if n_classes is not None and min_classes > n_classes:
        raise ValueError(
            f"{option('min_classes', min_classes)} but the statistics have {n_classes} "
            f"classes: no feature can be relevant for more; use {option('min_classes')} "
            f"<= {n_classes}."
        )
    if top_k_per_class is not None and (
        isinstance(top_k_per_class, bool)
        or not isinstance(top_k_per_class, Integral)
        or top_k_per_class < 1
    ):
        raise ValueError(
            f"{option('top_k_per_class')} must be an int of at least 1, or None (no limit); "
            f"got {top_k_per_class!r}."
        )
    if top_k_within not in TOP_K_WITHIN:
        raise ValueError(
            f"{option('top_k_within')} must be 'all' or 'layer'; got {top_k_within!r}."
        )


def kept_features(
    relevance, dks, *, sign="both", min_classes=1, top_k_per_class=None, groups=None
):
    """Mask of the features kept by the pruning rules (see the module docstring).

    Parameters
    ----------
    relevance : ndarray of shape (n_classes, n_features), int8
        ``+1``, ``-1`` or ``0`` per pair (``NoiseThresholdSelector.relevance_``).
    dks : ndarray of shape (n_classes, n_features)
        The signed D_KS, which ranks the relevant pairs of a class for ``top_k_per_class``.
    sign : {"both", "presence", "absence"}, default="both"
        Which relevant pairs count: of either sign, ``+1`` only or ``-1`` only.
    min_classes : int, default=1
        Keep a feature when at least this many classes keep it.
    top_k_per_class : int or None, default=None
        Each class keeps at most this many of its relevant features (per group), those of
        largest ``|D_KS|`` on the ``sign`` side; None keeps them all.
    groups : dict of str to ndarray of int, or None, default=None
        Column indices of each layer, for a top ``k`` per layer; None: one group of all
        features.

    Returns
    -------
    mask : ndarray of shape (n_features,), bool

    Examples
    --------
    >>> import numpy as np
    >>> from dks.pruning import kept_features
    >>> dks = np.array([[0.9, 0.5, -0.4, 0.0], [0.1, 0.6, 0.0, -0.8]])
    >>> relevance = np.array([[1, 1, -1, 0], [0, 1, 0, -1]], dtype=np.int8)
    >>> kept_features(relevance, dks).astype(int).tolist()
    [1, 1, 1, 1]
    >>> kept_features(relevance, dks, min_classes=2).astype(int).tolist()
    [0, 1, 0, 0]
    >>> kept_features(relevance, dks, top_k_per_class=1).astype(int).tolist()
    [1, 0, 0, 1]
    """
    code = sign_code(check_sign(sign))
    pairs = relevance != 0 if code == 0 else relevance == code
    if top_k_per_class is not None:
        score = np.abs(dks) if code == 0 else code * np.asarray(dks)
        # Pairs that are not relevant never enter a top k (-inf sorts last).
        score = np.where(pairs, score, -np.inf)
        if groups is None:
            groups = {"all": np.arange(pairs.shape[1])}
        top = np.zeros_like(pairs)
        for idx in groups.values():
            idx = np.asarray(idx)
            if idx.size <= top_k_per_class:
                top[:, idx] = True
                continue
            order = np.argsort(-score[:, idx], axis=1, kind="stable")[:, :top_k_per_class]
            rows = np.arange(pairs.shape[0])[:, None]
            top[rows, idx[order]] = True
        pairs &= top
    return np.count_nonzero(pairs, axis=0) >= min_classes


def count_table(mask, min_classes, top_k_per_class, top_k_within):
    """Features kept by every combination of the pruning rules.

    Parameters
    ----------
    mask : callable
        ``mask(min_classes=..., top_k_per_class=..., top_k_within=...)`` returns the kept
        features' mask (e.g. ``NoiseThresholdSelector.feature_mask`` with its ``sign``).
    min_classes, top_k_per_class, top_k_within : sequence
        The values to combine, in this nesting order.

    Returns
    -------
    table : dict of str to ndarray
        Columns ``"min_classes"``, ``"top_k_per_class"`` (-1 for None), ``"top_k_within"``
        and ``"n_features"``.
    """
    rows = [
        (m, -1 if k is None else k, w,
         int(np.count_nonzero(mask(min_classes=m, top_k_per_class=k, top_k_within=w))))
        for m in min_classes
        for k in top_k_per_class
        for w in top_k_within
    ]  # fmt: skip
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    return {
        "min_classes": np.asarray(columns[0], dtype=np.int64),
        "top_k_per_class": np.asarray(columns[1], dtype=np.int64),
        "top_k_within": np.asarray(columns[2], dtype=object),
        "n_features": np.asarray(columns[3], dtype=np.int64),
    }


def layers_from_names(names):
    """The layers of :func:`dks.groups.feature_groups`, for ``top_k_within="layer"``.

    Warns (at the caller of the selector's method) when the names hold no layer (``x0``,
    ``x1``, ... of an array without column names): the top ``k`` is then counted over all
    features, as with ``top_k_within="all"``.
    """
    groups = feature_groups(names)
    if list(groups) == [DEFAULT_GROUP]:
        warnings.warn(
            f"{option('top_k_within', 'layer')} but the feature names hold no layer (e.g. "
            f"{names[0]!r}): the top k is counted over all features. Fit on a DataFrame "
            "whose columns are named '<layer>_<index>' (CNNEmbedder.get_feature_names_out()).",
            UserWarning,
            stacklevel=4,
        )
    return groups
