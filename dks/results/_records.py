"""The metadata of a results folder as typed values: ``embedding.json``.

:class:`EmbeddingRecord` is what ``embedding.json`` holds (described in :doc:`/results`),
one field per key; :meth:`EmbeddingRecord.from_dict` reads any version written before
(missing keys take their defaults, unknown keys are kept and written back) and
:meth:`EmbeddingRecord.to_dict` gives the JSON object. Code reads the fields, not string
keys: a renamed or missing key is then an error where it is read, not a silent ``None``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

__all__ = ["EmbeddingRecord"]


@dataclass
class EmbeddingRecord:
    """``embedding.json``: the images, labels and features of the embedding, and its settings.

    Attributes
    ----------
    feature_names : list of str
        One per column of the embedding.
    labels : list of str
        The class of each row.
    classes : list of str
        The class names, sorted.
    images : list of str
        Each row's image, relative to ``images_root`` (a collection's names).
    images_root : str or None
        Where the images are: relative to the results folder (the default dataset) or
        absolute.
    layers : dict or None
        Layer name -> ``[start, stop)`` of its columns.
    dataset, dataset_name : str or None
        The images described for people, and the dataset's short name.
    source : dict
        The kind of the images, where they are and the options that listed them.
    skipped : list of dict
        The images that could not be embedded (``path``, ``class``, ``reason``).
    settings : dict
        The embedding settings (those of the store's manifest completed from it when read,
        see :func:`~dks.results.read_embedding_meta`).
    fingerprint : str or None
        The store's fingerprint when the folder was committed.
    store : str or None
        The store's folder, relative to the results folder (None: folders made before it).
    format : str or None
        The results folder's format.
    extra : dict
        Keys this version does not know, written back as they were.
    """

    feature_names: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    classes: list = field(default_factory=list)
    images: list = field(default_factory=list)
    images_root: str | None = None
    layers: dict | None = None
    dataset: str | None = None
    dataset_name: str | None = None
    source: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    fingerprint: str | None = None
    store: str | None = None
    format: str | None = None
    extra: dict = field(default_factory=dict)

    #: The order of the keys in the file.
    _ORDER = (
        "format",
        "store",
        "feature_names",
        "layers",
        "images_root",
        "images",
        "labels",
        "classes",
        "dataset",
        "dataset_name",
        "source",
        "skipped",
        "settings",
        "fingerprint",
    )

    @classmethod
    def from_dict(cls, data):
        """The record of a parsed ``embedding.json`` (any version; a record is returned as is)."""
        if isinstance(data, cls):
            return data
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**values, extra=extra)

    def to_dict(self):
        """The JSON object of ``embedding.json`` (a key that was absent and is None stays out)."""
        out = {}
        for key in self._ORDER:
            value = getattr(self, key)
            if value is None and key in ("store", "format"):
                continue
            out[key] = value
        out.update(self.extra)
        return out

    # For code written against the parsed JSON object: the record reads as it.
    def __getitem__(self, key):
        return self.to_dict()[key]

    def __contains__(self, key):
        return key in self.to_dict()

    def get(self, key, default=None):
        """The value of ``key`` in :meth:`to_dict`, or ``default``."""
        return self.to_dict().get(key, default)
