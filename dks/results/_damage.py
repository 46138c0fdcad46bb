"""Damaged results files, named: which file, what is wrong, the command that rebuilds it.

A results folder can be damaged after it was written (a disk error, a copy cut short, a
hand edit): a truncated ``dks.npy``, a ``thresholds.json`` that is no JSON, an array of
another shape than the embedding's, a chunk of ``embedding.zarr`` that fails its checksum.
The readers here turn each into an :class:`AnalysisError` that names the file, what is
wrong and the command that rebuilds it, instead of numpy's, json's or Zarr's own message
(or an ``IndexError`` far from the file).

A damaged chunk of the store is found by reading every chunk on its own
(:func:`store_damage`), only once a read has failed. A command that holds the writer's
lock of the folder (:mod:`dks.results._lock`) marks those chunks to be embedded again
(their done markers removed, as when their image files change), so that the next
``dks embed`` embeds those rows, and only those.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np

from dks.results._errors import AnalysisError

__all__ = [
    "damaged_store",
    "embedding_fix",
    "load_json",
    "load_npy",
    "stats_fix",
    "store_damage",
]


def stats_fix(folder):
    """The advice for a damaged statistics file of the results folder ``folder``."""
    return f"Rebuild the statistics with `dks characterize {folder}` (then `dks report {folder}`)."


def embedding_fix(folder):
    """The advice for a damaged ``embedding.json``."""
    return (
        f"Rebuild it with `dks embed IMAGES_DIR --out {folder}` and the options the embedding "
        "was made with (embedding.zarr/manifest.json lists them): the saved embedding is "
        "reused."
    )


def load_json(path, fix, shown=None):
    """The JSON object in the file ``path``; a damaged file raises an AnalysisError.

    ``shown``: the file's name in the message (its place in the results folder, when
    ``path`` is in a transaction's temporary folder); default ``path``.
    """
    shown = os.fspath(path if shown is None else shown)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise AnalysisError(f"{shown!r} is damaged: it is not valid JSON ({exc}). {fix}") from None
    if not isinstance(doc, dict):
        raise AnalysisError(
            f"{shown!r} is damaged: it holds a JSON {type(doc).__name__}, not the "
            f"object dks writes. {fix}"
        )
    return doc


def load_npy(path, shape, fix, shown=None):
    """The array in the ``.npy`` file ``path``, checked against ``shape`` (None: any size).

    A truncated file, a file that is not ``.npy`` and an array of another shape raise an
    AnalysisError naming the file (``shown``, as for :func:`load_json`) and ``fix``.
    """
    shown = os.fspath(path if shown is None else shown)
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, EOFError, OSError) as exc:
        raise AnalysisError(
            f"{shown!r} is damaged: it is truncated or not a .npy file ({exc}). {fix}"
        ) from None
    if len(array.shape) != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        want = " x ".join("any" if n is None else str(n) for n in shape)
        raise AnalysisError(
            f"{shown!r} is damaged: it holds an array of shape {array.shape}, where "
            f"the embedding of the results folder needs {want} (classes x features). {fix}"
        )
    return array


def store_damage(path):
    """The chunks of the embedding store ``path`` that cannot be read: ``[(chunk, rows,
    file, error)]``, by reading each chunk on its own, every column block of it (each
    carries a CRC32C checksum of its values, in the stores written since dks 0.2.0)."""
    from dks.store import ARRAY, open_embedding

    try:
        store = open_embedding(path, allow_incomplete=True)
    except (OSError, ValueError):
        return []
    chunk_rows, n_rows = store.manifest["chunk_rows"], store.manifest["n_rows"]
    damaged = []
    for chunk in range(store.n_chunks):
        start, stop = chunk * chunk_rows, min(n_rows, (chunk + 1) * chunk_rows)
        try:
            np.asarray(store.array[start:stop])
        except Exception as exc:
            file = Path(ARRAY, "c", str(chunk), "0").as_posix()
            damaged.append((chunk, (start, stop), file, f"{type(exc).__name__}: {exc}"))
    return damaged


@contextlib.contextmanager
def damaged_store(out, *, reopen):
    """Name the damaged chunks of ``out/embedding.zarr`` when a read inside fails.

    Parameters
    ----------
    out : pathlib.Path
        The results folder.
    reopen : bool
        Mark the damaged chunks to be embedded again (only under the writer's lock).
    """
    try:
        yield
    except AnalysisError:
        raise
    except (ValueError, OSError) as exc:
        store = Path(out) / "embedding.zarr"
        damaged = store_damage(store) if store.is_dir() else []
        if not damaged:
            raise
        if reopen:
            from dks.store import reopen_chunks

            reopen_chunks(store, [chunk for chunk, *_ in damaged], damaged=True)
        chunk, (start, stop), file, error = damaged[0]
        more = f" and {len(damaged) - 1} more chunk(s)" if len(damaged) > 1 else ""
        then = (
            "They are marked to be embedded again: rerun `dks embed` with the options the "
            "embedding was made with (embedding.zarr/manifest.json lists them), which embeds "
            "those rows only, then this command."
            if reopen
            else f"Remove their done markers (embedding.zarr/done/{chunk}.json) and rerun "
            "`dks embed` with the options the embedding was made with: it embeds those "
            "rows again."
        )
        raise AnalysisError(
            f"The embedding store {os.fspath(store)!r} is damaged: its chunk file {file} "
            f"(rows {start} to {stop - 1}){more} cannot be read ({error}). {then}"
        ) from exc
