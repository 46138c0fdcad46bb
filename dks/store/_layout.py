"""Names and arithmetic of the store's layout, shared by its writer and its reader.

::

    embedding.zarr/
        zarr.json          Zarr v3 group (attribute ``dks``)
        X/                 Zarr v3 array (n_rows, n_features) float32, NaN = not embedded
        manifest.json      settings, fingerprint, feature names, layer slices, layout
        images.json        one identity per row (file path, or content hash)
        done/<chunk>.json  one marker per finished chunk (its rows and skipped inputs)
        complete.json      written once every chunk is done: the skipped inputs
        labels.json        optional, one label per row (:meth:`EmbeddingStore.set_labels`)
"""

from __future__ import annotations

import json

import numpy as np

from dks._options import option

ARRAY = "X"
MANIFEST = "manifest.json"
IMAGES = "images.json"
DONE = "done"
COMPLETE = "complete.json"
LABELS = "labels.json"
FORMAT = "dks-embedding-store"
VERSION = 1


def read_json(path):
    """The JSON value stored in ``path``."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def chunk_range(chunk, chunk_rows, n_rows):
    """``(start, stop)``: the rows of ``chunk``."""
    start = chunk * chunk_rows
    return start, min(start + chunk_rows, n_rows)


def parse_shard(shard):
    """Validate ``shard``: None, ``(k, n)`` or ``"k/n"`` with ``0 <= k < n``; return a tuple."""
    if shard is None:
        return None
    value = shard
    if isinstance(shard, str):
        parts = shard.split("/")
        if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
            value = (int(parts[0]), int(parts[1]))
    try:
        k, n = (int(v) for v in value)
        valid = 0 <= k < n and (k, n) == tuple(value)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            f"The '{option('shard')}' parameter must be None, a pair (k, n) or a string 'k/n' "
            f"with 0 <= k < n (k counts from 0). Got {shard!r} instead."
        )
    return (k, n)


def shard_chunks(n_chunks, shard):
    """The chunks of ``shard = (k, n)``: the ``k``-th of ``n`` contiguous, near-equal ranges."""
    if shard is None:
        return list(range(n_chunks))
    k, n = shard
    bounds = np.linspace(0, n_chunks, n + 1).round().astype(int)
    return list(range(int(bounds[k]), int(bounds[k + 1])))


def describe_changes(old, new):
    """Say what differs between two manifests, for the message of a fresh start."""
    changes = []
    old_settings, new_settings = old.get("settings", {}), new.get("settings", {})
    for key in sorted(set(old_settings) | set(new_settings)):
        if old_settings.get(key) != new_settings.get(key):
            changes.append(
                f"{key}: {_short(old_settings.get(key))} -> {_short(new_settings.get(key))}"
            )
    if old.get("images_sha256") != new.get("images_sha256"):
        changes.append(f"image list: {old.get('n_rows')} -> {new.get('n_rows')} images, changed")
    for key in ("chunk_rows", "feature_block", "compression", "n_features", "version"):
        if old.get(key) != new.get(key):
            changes.append(f"{key}: {old.get(key)!r} -> {new.get(key)!r}")
    return "; ".join(changes) or "unknown format"


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
