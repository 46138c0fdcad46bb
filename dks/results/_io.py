"""Reading and writing the files of a results folder; :func:`load_results`.

The files and their formats are described in the docs page "The results folder"
(``docs/results.rst``). Every writer here goes through :func:`dks._atomic.atomic_open`: a
file appears whole, fsynced, or not at all.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dks._atomic import atomic_open
from dks.report import SummaryRecord
from dks.results._damage import embedding_fix, load_json, load_npy, stats_fix
from dks.results._errors import AnalysisError
from dks.results._layer_groups import layer_groups
from dks.results._records import EmbeddingRecord
from dks.results._settings import STORE_SETTINGS

__all__ = [
    "CLASS_NOISE_COLUMNS",
    "csv_cell",
    "embedding_reader",
    "jsonable",
    "load_results",
    "read_class_noise",
    "read_embedding",
    "read_embedding_meta",
    "read_json",
    "read_validity",
    "save_npy",
    "write_csv",
    "write_json",
]

#: Columns of ``class_noise.csv``: ``NoiseThresholdSelector.class_noise_`` and the thresholds.
CLASS_NOISE_COLUMNS = (
    "class",
    "n_samples",
    "kept",
    "kept_shuffled",
    "noise_share",
    "mostly_noise",
    "t_plus",
    "t_minus",
)


def read_json(path):
    """The JSON document at ``path``."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_json(path, obj):
    """Write ``obj`` (made JSON-friendly by :func:`jsonable`) as indented UTF-8 JSON.

    A string that UTF-8 cannot hold (a file name that is not UTF-8, held with lone
    surrogates by :func:`os.fsdecode`) makes the whole document ASCII with ``\\u``
    escapes, which :func:`read_json` reads back to the same string.
    """
    obj = jsonable(obj)
    text = json.dumps(obj, indent=1, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, indent=1, allow_nan=False)
    with atomic_open(path, "w") as fh:
        fh.write(text + "\n")


def jsonable(obj):
    """numpy scalars/arrays to Python, NaN and infinities to None, tuples to lists, mappings
    (a :class:`~dks.report.SummaryRecord`) to dicts."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return os.fspath(obj)
    return obj


def save_npy(path, array):
    """Write ``array`` as a C-ordered ``.npy`` file (no pickles).

    Through the file object's ``write`` only: numpy writes a real file with ``tofile``, whose
    short write on a full disk is an OSError without ``errno`` ("N requested and M
    written"), which :func:`~dks.results._errors.disk_errors` could not tell from others.
    """
    with atomic_open(path) as fh:
        np.save(_Stream(fh), np.ascontiguousarray(array), allow_pickle=False)


class _Stream:
    """A writable stream that numpy does not take for a real file."""

    def __init__(self, fh):
        self.write = fh.write


def write_csv(path, header, rows):
    """Write a CSV file: one ``header`` line, then ``rows``.

    A file name that is not UTF-8 (a str with lone surrogates, from :func:`os.fsdecode`) is
    written as the bytes of the name on disk ("surrogateescape"), so nothing is lost.
    """
    with atomic_open(path, "w", newline="", errors="surrogateescape") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def csv_cell(value):
    """A number for a CSV cell: shortest exact repr of floats, empty for NaN."""
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(value) else repr(float(value))
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_embedding(path, meta, shown=None):
    """The embedding of the results folder ``path``: its rows follow ``meta.images``.

    The store ``embedding.zarr`` (its ``X``: a Zarr array, or a lazy row view without the
    skipped images), or ``embedding.npy`` (read-only memmap) in folders written before the
    store, or exported without it.

    Parameters
    ----------
    path : pathlib.Path
        The results folder.
    meta : dict
        Its ``embedding.json``.
    shown : pathlib.Path, optional
        The results folder in messages, when ``path`` is a transaction's temporary folder;
        default ``path``.

    Returns
    -------
    array-like of shape (n_images, n_features)
        What ``np.asarray``, slicing (``X[:, j]``) and the estimators take.
    """
    from dks.results._folder import STORE

    if "store" not in meta:  # a results folder written before the store: embedding.npy only
        return np.load(path / "embedding.npy", mmap_mode="r")
    from dks.store import open_embedding

    store = open_embedding(path / STORE, allow_incomplete=True)
    if store.fingerprint != EmbeddingRecord.from_dict(meta).fingerprint or not store.complete:
        shown = Path(path if shown is None else shown)
        raise AnalysisError(
            f"The embedding store {str(shown / STORE)!r} is not the one "
            f"{str(shown / 'embedding.json')!r} describes (a later `dks embed` is filling it, "
            "or was interrupted); rerun that command (every --shard) to complete it."
        )
    return store.X


def read_embedding_meta(path, shown=None):
    """``embedding.json`` of the results folder ``path``, its settings completed from the store.

    The settings of :data:`~dks.results._settings.STORE_SETTINGS` (crops, sizes, tokens,
    background, normalization, ...) are read from the store's manifest, their one record;
    a folder without a store keeps them in ``embedding.json``, read as it is (a store gone
    missing is reported by :func:`read_embedding`).

    Parameters
    ----------
    path : pathlib.Path
        The results folder.

    Returns
    -------
    meta : dict
    """
    shown = path if shown is None else Path(shown)
    meta = EmbeddingRecord.from_dict(
        load_json(path / "embedding.json", embedding_fix(shown), shown / "embedding.json")
    )
    from dks.store import MANIFEST

    if meta.store is not None and (path / meta.store / MANIFEST).is_file():
        manifest = read_json(path / meta.store / MANIFEST)["settings"]
        settings = dict(meta.settings)
        settings.update((k, manifest[k]) for k in STORE_SETTINGS if k in manifest)
        meta.settings = settings
    return meta


def embedding_reader(meta, limit="auto"):
    """The :class:`~dks.sources.ImageReader` the embedding read its images with.

    Its background as recorded (see :func:`read_embedding_meta`; white for folders made
    before ``background`` existed, when it was always white). Its pixel limit is ``limit``,
    the ``max_image_pixels`` given to :func:`~dks.pipeline.report` or
    :func:`~dks.pipeline.visualize`; ``"auto"`` takes the one recorded in
    ``embedding.json`` (so that the images the embedding accepted are shown), PIL's own
    (``"auto"``) where none was recorded.
    """
    from dks.sources import WHITE, ImageReader, check_max_image_pixels

    settings = EmbeddingRecord.from_dict(meta).settings
    background = tuple(int(c) for c in settings.get("background", WHITE))
    limit = check_max_image_pixels(limit)
    if limit == "auto":
        limit = check_max_image_pixels(settings.get("max_image_pixels", "auto"))
    return ImageReader(background, limit)


def load_results(path, *, shown=None):
    """Read a results folder back.

    The files are described in :doc:`/results`.

    Parameters
    ----------
    path : str or os.PathLike
        A folder written by :func:`~dks.pipeline.analyze` (or the step functions).
    shown : str or os.PathLike, optional
        The folder named in the messages about damaged files (the results folder, when
        ``path`` is the temporary folder of a command rewriting it); default ``path``.

    Returns
    -------
    results : dict
        ``"embedding"`` (the store's ``X``, see :func:`read_embedding`: ``np.asarray``
        and slicing read it; one row per entry of its ``images``),
        ``"embedding_meta"`` (``embedding.json``, its settings completed from the store's
        manifest: :func:`read_embedding_meta`),
        ``"layers"`` (layer name -> column indices, read from ``embedding.json``), and when
        present ``"dks"``, ``"null_dks"``, ``"relevance"``, ``"thresholds"``,
        ``"summary"`` (a :class:`~dks.report.SummaryRecord`, which reads as the JSON
        object too), the curves ``"grid"``, ``"d_avg_plus"``, ``"d_avg_minus"``, and
        ``"class_noise"`` (``class_noise.csv`` as a dict of columns, like
        ``NoiseThresholdSelector.class_noise_`` plus ``"t_plus"`` and ``"t_minus"``:
        ``"class"`` str, ``"n_samples"`` int, ``"mostly_noise"`` bool, the others float
        with NaN for empty cells), and after ``dks validate`` ``"ablation"`` and
        ``"stability"`` (``validity/ablation.csv`` and ``validity/stability.csv``: the
        ``table`` of :class:`dks.validity.AblationResult` and
        :class:`dks.validity.StabilityResult`). In ``"thresholds"``, ``"t_plus"`` and
        ``"t_minus"`` are lists (one per class) when the thresholds were learned per class.

    Examples
    --------
    >>> from dks import load_results
    >>> res = load_results("dks_results")  # doctest: +SKIP
    >>> res["dks"].shape, res["thresholds"]["t_plus"]  # doctest: +SKIP
    ((10, 3120), 0.151)
    """
    path = Path(path)
    shown = path if shown is None else Path(shown)
    meta = read_embedding_meta(path, shown)
    results = {
        "embedding": read_embedding(path, meta, shown),
        "embedding_meta": meta,
        "layers": layer_groups(meta, path),
    }
    fix = stats_fix(shown)
    pairs = (len(meta.classes), len(meta.feature_names))
    shapes = {"dks": pairs, "null_dks": (None, *pairs), "relevance": pairs}
    for name, shape in shapes.items():
        if (path / f"{name}.npy").is_file():
            results[name] = load_npy(path / f"{name}.npy", shape, fix, shown / f"{name}.npy")
    for name in ("thresholds", "summary"):
        if (path / f"{name}.json").is_file():
            results[name] = load_json(path / f"{name}.json", fix, shown / f"{name}.json")
    if "summary" in results:  # typed; written by any version
        results["summary"] = SummaryRecord.from_dict(results["summary"])
    for name in ("curves.csv", "class_noise.csv"):
        if not (path / name).is_file():
            continue
        try:
            if name == "curves.csv":
                curves = np.loadtxt(path / name, delimiter=",", skiprows=1, ndmin=2)
                results["grid"], results["d_avg_plus"], results["d_avg_minus"] = curves.T
            else:
                results["class_noise"] = read_class_noise(path / name)
        except (ValueError, KeyError, IndexError) as exc:
            raise AnalysisError(
                f"{str(shown / name)!r} is damaged: it is not the table dks writes "
                f"({type(exc).__name__}: {exc}). {fix}"
            ) from None
    results.update(read_validity(path))
    return results


def read_validity(path):
    """The tables of ``validity/`` in the results folder ``path`` that exist, by name:
    ``"ablation"`` and ``"stability"`` (dicts of columns, see :func:`load_results`)."""
    from dks.results._folder import VALIDITY_DIR
    from dks.validity import AblationResult, StabilityResult

    found = {}
    for name, kind in (("ablation", AblationResult), ("stability", StabilityResult)):
        file = path / VALIDITY_DIR / f"{name}.csv"
        if file.is_file():
            found[name] = kind.read_csv(file).table
    return found


def read_class_noise(path):
    """``class_noise.csv`` as a dict of columns (see :func:`load_results`)."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    columns = {name: [row[name] for row in rows] for name in CLASS_NOISE_COLUMNS}
    table = {"class": np.asarray(columns.pop("class"), dtype=str)}
    table["n_samples"] = np.asarray(columns.pop("n_samples"), dtype=np.int64)
    table["mostly_noise"] = np.asarray(columns.pop("mostly_noise"), dtype=np.int64) != 0
    for name, cells in columns.items():
        table[name] = np.asarray([float(c) if c else np.nan for c in cells], dtype=np.float64)
    return {name: table[name] for name in CLASS_NOISE_COLUMNS}
