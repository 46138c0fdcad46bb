"""A Hugging Face dataset on disk: a ``Dataset.save_to_disk`` folder, or a folder of its Parquet.

Three layouts are read, with :mod:`pyarrow` alone (``datasets`` is not needed to read):

* a ``Dataset`` saved with ``save_to_disk``: ``state.json`` (its Arrow files, its split),
  ``dataset_info.json`` (its features) and ``data-*.arrow``;
* a ``DatasetDict`` saved so: ``dataset_dict.json`` (its splits) and one such folder per
  split (``--split`` chooses one when there are several);
* a folder of Parquet files as the Hub keeps them (``data/train-00000-of-00002.parquet``):
  the split is the file name up to its first ``-``.

The image column holds ``{"bytes", "path"}`` structs (the ``Image`` feature): the bytes are
decoded, or else the file at ``path`` (relative to the dataset's folder). The label column
is a ``ClassLabel`` (its class names are the feature's), or a column of class names. By
default the first column of each feature type is taken.

Listing reads the label column only (Arrow files are memory-mapped); an image is read when
it is embedded: one row of an Arrow file, or one row group of a Parquet file (the last one
read is kept per file, so that reading in order decodes each group once). An image is
identified by its split and row, ``<split>#<row>`` (see :mod:`dks.sources._base`).
"""

import io
import json
import os
from pathlib import Path

import numpy as np

from dks._optional import import_optional
from dks._options import option
from dks.sources._base import Collection, SourceError, check_labels

__all__ = ["HFDataset", "is_hf_dataset"]

_MARKERS = ("dataset_dict.json", "state.json", "dataset_info.json")


def is_hf_dataset(path):
    """Whether the folder ``path`` holds a Hugging Face dataset (not an ImageFolder).

    A ``save_to_disk`` folder has ``dataset_dict.json`` or ``state.json``; a folder of Parquet
    files holds them at its top or in ``data/`` (the Hub's layout). Only those places are
    looked at: telling a folder of a million images apart must not walk it.
    """
    path = Path(path)
    if not path.is_dir():
        return False
    if any((path / m).is_file() for m in _MARKERS):
        return True
    places = (path, path / "data")
    return any(
        any(p.glob(f"*.{ext}")) for p in places if p.is_dir() for ext in ("parquet", "arrow")
    )


def _pyarrow():
    return import_optional(
        "pyarrow.parquet", "Reading a Hugging Face dataset", needs="pyarrow", extra="sources"
    )


class HFDataset(Collection):
    """The images and labels of one split of a Hugging Face dataset on disk.

    Parameters
    ----------
    path : str or os.PathLike
        A folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``, or a
        folder of the dataset's Parquet files.
    image_column : str or None, default=None
        The column of images; None: the first ``Image`` feature (else ``"image"``).
    label_column : str or None, default=None
        The column of classes; None: the first ``ClassLabel`` feature (else ``"label"``).
    split : str or None, default=None
        The split to read; None: the only one (an error lists them when there are several).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a folder.
    ImportError
        If pyarrow is not installed (``pip install 'dks[sources]'``).
    SourceError
        If the split or a column does not exist (the message lists those found), the label
        column is neither a ``ClassLabel`` nor class names, or a row has no label.

    Examples
    --------
    >>> from dks.sources import HFDataset
    >>> food = HFDataset("food101", split="validation")  # doctest: +SKIP
    >>> food.name, len(food), food.classes[:2]  # doctest: +SKIP
    ('food101', 25250, ['apple_pie', 'baby_back_ribs'])
    """

    kind = "hf-dataset"

    def __init__(self, path, *, image_column=None, label_column=None, split=None):
        pq = _pyarrow()
        root = Path(path).expanduser().absolute()
        if not root.is_dir():
            raise FileNotFoundError(
                f"The Hugging Face dataset folder {str(root)!r} does not exist."
            )
        self.location = self.root = os.fspath(root)
        files, self.split, info = _layout(root, split)
        self.parquet = files[0].suffix == ".parquet"
        self.shards = [os.fspath(f) for f in files]
        schema = _schema(files[0], self.parquet, pq)
        features = info.get("features") or _schema_features(schema)
        columns = list(schema.names)
        self.image_column = _column(
            self, columns, features, image_column, "Image", "image", "image_column", "images"
        )
        self.label_column = _column(
            self, columns, features, label_column, "ClassLabel", "label", "label_column", "classes"
        )
        self.name = _dataset_name(root, info)
        self.options = {
            "image_column": self.image_column,
            "label_column": self.label_column,
            "split": self.split,
        }
        feature = features.get(self.label_column) or {}
        names_of = feature.get("names") if feature.get("_type") == "ClassLabel" else None
        labels, rows, n_files = [], [], []
        for number, file in enumerate(files):
            values, groups = _labels_of(file, self.label_column, self.parquet, pq)
            rows.extend((number, g, r) for g, r in groups)
            labels.extend(values)
            n_files.append(len(values))
        if not labels:
            raise SourceError(f"The split {self.split!r} of {self.location!r} has no rows.")
        self.labels = check_labels(
            [self._label(v, i, names_of) for i, v in enumerate(labels)],
            lambda i: f"Row {i} of the split {self.split!r} of {self.location!r}",
        )
        self.names = [f"{self.split}#{i}" for i in range(len(labels))]
        self.files = [self.shards[number] for number, _, _ in rows]
        self.rows = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        present = set(self.labels.tolist())
        if names_of is not None:
            self.classes = [c for c in names_of if c in present]
        else:
            self.classes = sorted(present)
        self._reset()

    def _label(self, value, row, names_of):
        if value is None:
            return ""
        if names_of is None:
            return str(value)
        index = int(value)
        if index == -1:  # ClassLabel's "no label"
            return ""
        if not 0 <= index < len(names_of):
            raise SourceError(
                f"Row {row} of the split {self.split!r} of {self.location!r} has class index "
                f"{index}, but the ClassLabel {self.label_column!r} names {len(names_of)} "
                "classes."
            )
        return names_of[index]

    def _reset(self):
        self._handles = {}

    def _open(self, index):
        number, group, row = (int(v) for v in self.rows[index])
        pid = os.getpid()  # a DataLoader worker opens its own files
        if self._handles.get("pid") != pid:
            self._handles = {"pid": pid}
        key = (number, group) if self.parquet else number
        table = self._handles.get(key)
        if table is None:
            if self.parquet:  # one row group per file at a time: memory stays flat
                for old in [k for k in self._handles if isinstance(k, tuple) and k[0] == number]:
                    del self._handles[old]
                table = (
                    _pyarrow()
                    .ParquetFile(self.shards[number])
                    .read_row_group(group, columns=[self.image_column])
                )
            else:
                table = _read_arrow(self.shards[number]).select([self.image_column])
            self._handles[key] = table
        value = table.column(0)[row].as_py()
        if isinstance(value, dict):
            data, path = value.get("bytes"), value.get("path")
        elif isinstance(value, bytes):
            data, path = value, None
        else:
            data, path = None, value
        if data:
            return io.BytesIO(data)
        if path:
            return os.path.join(self.root, path)
        raise OSError(f"the row holds no image (column {self.image_column!r} is empty)")

    def describe(self, index):
        return f"row {self.names[index].rsplit('#', 1)[1]} of the split {self.split!r} of " + (
            f"{self.location!r}"
        )


def _read_arrow(path):
    import pyarrow as pa

    source = pa.memory_map(path)
    try:
        return pa.ipc.open_stream(source).read_all()
    except pa.ArrowInvalid:  # the random-access format
        return pa.ipc.open_file(source).read_all()


def _schema(file, parquet, pq):
    if parquet:
        return pq.read_schema(file)
    import pyarrow as pa

    with pa.memory_map(os.fspath(file)) as source:
        try:
            return pa.ipc.open_stream(source).schema
        except pa.ArrowInvalid:
            return pa.ipc.open_file(source).schema


def _schema_features(schema):
    """The ``datasets`` features recorded in an Arrow or Parquet schema, or {}."""
    raw = (schema.metadata or {}).get(b"huggingface")
    if not raw:
        return {}
    try:
        return json.loads(raw).get("info", {}).get("features") or {}
    except ValueError:
        return {}


def _labels_of(file, column, parquet, pq):
    """The label column's values, and ``(row group, row in group)`` of each row."""
    if parquet:
        meta = pq.ParquetFile(file).metadata
        groups = [
            (g, r) for g in range(meta.num_row_groups) for r in range(meta.row_group(g).num_rows)
        ]
        return pq.read_table(file, columns=[column]).column(0).to_pylist(), groups
    values = _read_arrow(os.fspath(file)).column(column).to_pylist()
    return values, [(0, r) for r in range(len(values))]


def _column(collection, columns, features, given, feature_type, default, parameter, what):
    """The column holding the ``what``: ``given``, else the first of ``feature_type``."""
    found = ", ".join(map(repr, columns)) or "none"
    if given is not None:
        if given not in columns:
            raise SourceError(
                f"The split {collection.split!r} of {collection.location!r} has no column "
                f"{given!r}; its columns are {found}. Name the column of {what} with "
                f"{option(parameter, '...')}."
            )
        return given
    for name in columns:
        if (features.get(name) or {}).get("_type") == feature_type:
            return name
    if default in columns:
        return default
    raise SourceError(
        f"The split {collection.split!r} of {collection.location!r} has no {feature_type} "
        f"column and no {default!r} column; its columns are {found}. Name the column of "
        f"{what} with {option(parameter, '...')}."
    )


def _read_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _choose(splits, split, where):
    if split is None:
        if len(splits) == 1:
            return splits[0]
        raise SourceError(
            f"{where} has the splits {', '.join(map(repr, splits))}; choose one with "
            f"{option('split', splits[0])}."
        )
    if split not in splits:
        raise SourceError(
            f"{where} has no split {split!r}; its splits are {', '.join(map(repr, splits))}."
        )
    return split


def _saved(folder):
    """The Arrow files and the split of a ``save_to_disk`` folder of one ``Dataset``."""
    state = _read_json(folder / "state.json")
    files = [folder / f["filename"] for f in state.get("_data_files", [])]
    missing = [f for f in files if not f.is_file()]
    if not files or missing:
        raise SourceError(
            f"The dataset {os.fspath(folder)!r} lists no Arrow file in state.json, or lists "
            f"missing ones ({', '.join(os.fspath(f.name) for f in missing)}); save it again "
            "with Dataset.save_to_disk."
        )
    info = (
        _read_json(folder / "dataset_info.json")
        if (folder / "dataset_info.json").is_file()
        else {}
    )
    return files, state.get("_split"), info


def _layout(root, split):
    """``(files, split, info)`` of the split to read."""
    where = f"The Hugging Face dataset {os.fspath(root)!r}"
    if (root / "dataset_dict.json").is_file():
        splits = list(_read_json(root / "dataset_dict.json").get("splits", []))
        split = _choose(splits, split, where)
        files, _, info = _saved(root / split)
        return files, split, info
    if (root / "state.json").is_file():
        files, recorded, info = _saved(root)
        if split is not None and recorded is not None and split != recorded:
            raise SourceError(f"{where} is the split {recorded!r}, not {split!r}.")
        if split is not None and recorded is None:
            raise SourceError(
                f"{where} is a single Dataset without splits; leave out {option('split')}."
            )
        return files, recorded or "train", info
    found = sorted(root.rglob("*.parquet")) or sorted(root.glob("*.arrow"))
    if not found:
        raise SourceError(
            f"{str(root)!r} holds no Hugging Face dataset (no dataset_dict.json, state.json, "
            ".parquet or .arrow file); write one with Dataset.save_to_disk(path)."
        )
    by_split = {}
    for file in found:
        by_split.setdefault(file.stem.split("-", 1)[0], []).append(file)
    split = _choose(sorted(by_split), split, where)
    return by_split[split], split, {}


def _dataset_name(root, info):
    """The dataset's own name (``dataset_info.json``), else its folder's."""
    generic = {None, "", "parquet", "arrow", "imagefolder", "json", "csv", "generator"}
    for key in ("dataset_name", "builder_name"):
        if info.get(key) not in generic:
            return str(info[key])
    return root.name
