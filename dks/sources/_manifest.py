"""A manifest: a ``.csv``, ``.tsv`` or ``.parquet`` table of image paths and labels.

One row per image, with a path column (relative to the manifest's folder, or absolute) and a
label column. Paths are not checked when the manifest is read: a file that does not exist
is skipped when it is embedded and listed like an image that cannot be decoded, so that one
stale row of a large manifest never stops a run. An empty label stops it at once, naming the
row: the analysis needs the class of every image.
"""

import csv
import os
import warnings
from pathlib import Path

import numpy as np

from dks._optional import import_optional
from dks._options import option
from dks.sources._base import Collection, SourceError, check_labels

__all__ = ["MANIFEST_SUFFIXES", "Manifest"]

#: File suffixes read as manifests.
MANIFEST_SUFFIXES = (".csv", ".tsv", ".parquet")


class Manifest(Collection):
    """The images listed in a manifest file.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv``, ``.tsv`` (tab-separated) or ``.parquet`` file with a header.
    path_column : str, default="path"
        The column of image paths, relative to the manifest's folder or absolute.
    label_column : str, default="label"
        The column of class names.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    SourceError
        If a column is missing (the message lists those found), the manifest has no rows, or
        a row has an empty path or label.

    Examples
    --------
    >>> from dks.sources import Manifest
    >>> images = Manifest("val.csv", path_column="file")  # doctest: +SKIP
    >>> images.labels[:2], images.name  # doctest: +SKIP
    (array(['n01440764', 'n01443537'], dtype='<U9'), 'val')
    """

    kind = "manifest"

    def __init__(self, path, *, path_column="path", label_column="label"):
        path = Path(path).expanduser().absolute()
        if not path.is_file():
            raise FileNotFoundError(f"The manifest {str(path)!r} does not exist.")
        self.location = os.fspath(path)
        self.root = os.fspath(path.parent)
        self.name = path.stem
        self.options = {"path_column": path_column, "label_column": label_column}
        columns = _read_table(path)
        missing = [c for c in (path_column, label_column) if c not in columns]
        if missing:
            flags = {path_column: "path_column", label_column: "label_column"}
            raise SourceError(
                f"The manifest {self.location!r} has no column "
                f"{' or '.join(map(repr, missing))}; its columns are "
                f"{', '.join(map(repr, columns)) or 'none'}. Name yours with "
                f"{' and '.join(option(flags[c], '...') for c in missing)}."
            )
        paths = [("" if p is None else str(p)).strip() for p in columns[path_column]]
        if not paths:
            raise SourceError(f"The manifest {self.location!r} has no rows.")

        def where(i):  # the header is line 1 of a text manifest
            line = f"line {i + 2}" if path.suffix.lower() != ".parquet" else f"row {i}"
            return f"{line} of the manifest {self.location!r}"

        for i, p in enumerate(paths):
            if not p:
                raise SourceError(
                    f"{where(i)} has an empty {path_column!r}; give every row an image path."
                )
        labels = ["" if v is None else str(v) for v in columns[label_column]]
        self.labels = check_labels(labels, where)
        self.names = [os.path.normpath(p) for p in paths]
        _check_repeats(self.names, self.labels, self.root, where)
        self.files = self.identities
        self.rows = np.arange(len(paths), dtype=np.int64)
        self.classes = sorted(set(self.labels.tolist()))

    def _open(self, index):
        return os.path.join(self.root, self.names[index])


def _check_repeats(names, labels, root, where):
    """Refuse a file listed under two classes; warn about a file listed twice in one."""
    first, twice = {}, []
    for i, name in enumerate(names):
        key = os.path.normpath(os.path.join(root, name))
        j = first.setdefault(key, i)
        if j == i:
            continue
        if labels[j] != labels[i]:
            raise SourceError(
                f"{where(i)} lists the file {name!r} under the class {str(labels[i])!r}, and "
                f"{where(j).split(' of the manifest')[0]} under {str(labels[j])!r}: one file has "
                "one class. Remove one of the rows."
            )
        twice.append((i, j))
    if twice:
        i, j = twice[0]
        warnings.warn(
            f"{len(twice)} row(s) of the manifest list a file listed already in the same "
            f"class (the first: {where(i)} repeats {where(j).split(' of the manifest')[0]}, "
            f"{names[i]!r}); each row is embedded, so such a file counts twice in its class.",
            UserWarning,
            stacklevel=3,
        )


def _read_table(path):
    """``{column: list of values}`` of a manifest, in its column order."""
    if path.suffix.lower() == ".parquet":
        pq = import_optional(
            "pyarrow.parquet",
            f"Reading the Parquet manifest {str(path)!r} (or give a .csv manifest)",
            needs="pyarrow",
            extra="sources",
        )
        return pq.read_table(path).to_pydict()
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, [])
        header = [h.strip() for h in header]
        values = [[] for _ in header]
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) != len(header):
                raise SourceError(
                    f"Line {line} of the manifest {str(path)!r} has {len(row)} field(s); the "
                    f"header has {len(header)} ({', '.join(map(repr, header))})."
                    + (" Is it a .tsv named .csv?" if len(row) == 1 and len(header) == 1 else "")
                )
            for column, cell in zip(values, row, strict=True):
                column.append(cell)
    return dict(zip(header, values, strict=True))
