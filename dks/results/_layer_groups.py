"""Which layer each column of a saved embedding belongs to, read from ``embedding.json``.

The embedder records its ``layer_slices_`` as ``"layers"`` (name -> ``[start, stop)``) in
``embedding.json`` (see :doc:`/results`); this is the one place the pipeline reads layer
membership from. :func:`dks.groups.feature_groups` stays for plain feature matrices that
come without such metadata.
"""

from __future__ import annotations

import numpy as np

from dks.results._errors import AnalysisError
from dks.results._records import EmbeddingRecord

__all__ = ["layer_groups", "layer_of_columns"]


def layer_groups(meta, where="the results folder"):
    """Layer name -> column indices, from the ``"layers"`` entry of ``embedding.json``.

    Parameters
    ----------
    meta : dict
        The contents of ``embedding.json``.
    where : str or path, optional
        The results folder, named in error messages.

    Returns
    -------
    dict of str to ndarray of int
        Columns of each layer, in the order saved; together they cover every feature once.
    """
    meta = EmbeddingRecord.from_dict(meta)
    layers = meta.layers
    n_features = len(meta.feature_names)
    if not isinstance(layers, dict) or not layers:
        raise AnalysisError(
            f"embedding.json of {str(where)!r} has no 'layers' entry (layer name -> [start, "
            "stop) columns); embed the images again with `dks embed`."
        )
    groups = {
        str(name): np.arange(start, stop, dtype=np.intp) for name, (start, stop) in layers.items()
    }
    covered = np.sort(np.concatenate(list(groups.values())))
    if not np.array_equal(covered, np.arange(n_features)):
        raise AnalysisError(
            f"The 'layers' of embedding.json in {str(where)!r} do not cover its "
            f"{n_features} feature_names exactly once; embed the images again with "
            "`dks embed`."
        )
    return groups


def layer_of_columns(groups, n_features):
    """The layer name of every column (object array of ``n_features``)."""
    layer_of = np.empty(n_features, dtype=object)
    for layer, idx in groups.items():
        layer_of[idx] = layer
    return layer_of
