"""Filling an embedding store chunk by chunk, from one process or many, resumably.

A chunk (``chunk_rows`` rows, all features; one shard file of the Zarr array) counts as done
only when its marker ``done/<chunk>.json`` exists. The marker is written with
:func:`dks._atomic.atomic_open` *after* the chunk's file is ``fsync``-ed, so that a kill at any
moment leaves every marked chunk complete on disk; an unmarked chunk is simply computed again
(each chunk file is written under a temporary name and renamed, so a half-written chunk file
is never visible). Writers never touch the same chunk: shard ``k`` of ``n`` owns a
contiguous range of whole chunks. No lock is needed: the only shared files are created once
(atomically, first writer wins) or rewritten whole, atomically, by whichever writer completes
the store (the completion record: the same skipped inputs from every writer; the last one's
revision stays).

Chunk files are written through :class:`dks.store._durable.DurableLocalStore`, whose
temporaries carry the writer's pid, so that the next start removes those of killed writers.
A marker also holds the stamps of its rows' files (:mod:`dks.store._stamps`); a chunk whose
files changed since is computed again.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
import warnings
from pathlib import Path

import numpy as np

from dks import _config
from dks._atomic import (
    TMP_SUFFIX,
    atomic_dir,
    atomic_open,
    fsync_dir,
    remove_stale,
    replace,
    temporary_name,
)
from dks.store._layout import (
    ARRAY,
    COMPLETE,
    DONE,
    FORMAT,
    IMAGES,
    MANIFEST,
    VERSION,
    chunk_range,
    describe_changes,
    read_json,
    shard_chunks,
)
from dks.store._stamps import changed_rows, stamp, stamps

__all__ = [
    "StoreRestartedWarning",
    "StoreWriter",
    "chunk_rows_for",
    "relocate",
    "reopen_chunks",
]


class StoreRestartedWarning(UserWarning):
    """A store written with other settings is started afresh; ``why`` says what changed."""

    def __init__(self, message, why):
        super().__init__(message)
        self.why = why


def chunk_rows_for(n_features, batch_size):
    """Rows per chunk: a multiple of ``batch_size`` near :data:`STORE_CHUNK_BYTES`.

    Parameters
    ----------
    n_features : int
        Columns of the embedding.
    batch_size : int
        Rows written at once by the embedder; a chunk holds whole batches, so that a resumed or
        sharded run forms exactly the same batches as an uninterrupted one.

    Returns
    -------
    int
    """
    row_bytes = 4 * max(int(n_features), 1)
    rows = max(1, _config.STORE_CHUNK_BYTES // row_bytes)
    rows = min(rows, _config.STORE_MAX_CHUNK_ROWS)
    return max(1, rows // batch_size) * batch_size


def _feature_block(n_features):
    """Inner chunk width: ``n_features`` cut into equal blocks near the configured width."""
    n_blocks = -(-n_features // max(1, _config.STORE_FEATURE_BLOCK))
    return -(-n_features // n_blocks)


def _chunk_codecs():
    """The bytes-to-bytes codecs of each inner chunk: the compression, then a CRC32C checksum.

    The shard index carries a checksum of its own (Zarr's default), but not the data: without
    one, a flipped byte of a chunk reads back as another value, silently. With it, the read
    fails and :mod:`dks.results` names the chunk to embed again. Stores written before keep
    the codecs their metadata records.
    """
    from zarr.codecs import Crc32cCodec, ZstdCodec

    choice = _config.STORE_COMPRESSION
    if choice is None:
        return [Crc32cCodec()]
    if choice == "zstd":
        return [ZstdCodec(level=1), Crc32cCodec()]
    raise ValueError(
        f"dks._config.STORE_COMPRESSION must be None or 'zstd'; got {choice!r} instead."
    )


class StoreWriter:
    """Create or resume an embedding store at ``path``; write its chunks; complete it.

    Parameters
    ----------
    path : path-like
        The store folder (``*.zarr``).
    manifest : dict
        JSON-serializable description: ``settings`` (dict; what determines the values),
        ``feature_names`` (list of str), ``layer_slices`` (dict of ``[start, stop]``). The
        fingerprint is computed here from the settings, the image list and the layout.
    images : list of str
        One identity per input row (file path, or a content hash for in-memory images).
    chunk_rows : int
        Rows per chunk.
    shard : (int, int) or None
        ``(k, n)``: this writer fills the ``k``-th of ``n`` contiguous chunk ranges.
        A store at ``path`` made with another fingerprint is started afresh with a warning
        that says what changed; with ``shard`` that is an error instead (another shard may
        already be writing the store with the new settings).
    files : list of (str or None), optional
        The image file of each row (None for inputs that are not files). Their size and
        modification time are recorded with each chunk, and a done chunk of this writer's
        range whose files changed since is computed again (listed in ``changed``).
    retry : callable or None, optional
        ``retry((row, description, reason)) -> bool``, asked of each input skipped in a done
        chunk of this writer's range: a chunk with one it answers True for is computed
        again (listed in ``changed``); e.g. an image refused as too large that a higher
        limit now admits.

    Attributes
    ----------
    array : zarr.Array
        The ``(n_rows, n_features)`` float32 array, NaN where nothing was written yet.
    pending : list of int
        The chunks this writer still has to compute, in order.
    resumed : int
        Chunks of this writer's range found done when opening.
    changed : list of (int, int)
        ``(chunk, row)``: the done chunks whose files changed or that hold an input to
        ``retry`` (and the first such row); they are in ``pending`` again.
    """

    def __init__(self, path, manifest, images, chunk_rows, *, shard=None, files=None, retry=None):
        import zarr

        self.path = Path(path)
        manifest = json.loads(json.dumps(manifest))  # tuples -> lists, as read back
        self.n_rows = len(images)
        self.n_features = len(manifest["feature_names"])
        self.chunk_rows = int(chunk_rows)
        self.n_chunks = -(-self.n_rows // self.chunk_rows)
        if files is not None and len(files) != self.n_rows:
            raise ValueError(
                f"files must name one file (or None) per image ({self.n_rows}); got {len(files)}."
            )
        self.files = (
            None if files is None else [None if f is None else os.fspath(f) for f in files]
        )
        layout = {
            "n_rows": self.n_rows,
            "n_features": self.n_features,
            "chunk_rows": self.chunk_rows,
            "feature_block": _feature_block(self.n_features),
            "compression": _config.STORE_COMPRESSION,
        }
        full = {"format": FORMAT, "version": VERSION, **layout, **manifest}
        full["images_sha256"] = _sha256_json(images)
        full["fingerprint"] = _fingerprint(full)
        self.manifest = full
        self.fingerprint = full["fingerprint"]

        remove_stale(self.path)
        self._open_or_create(full, images, sharded=shard is not None)
        from dks.store._durable import DurableLocalStore

        self.array = zarr.open_array(DurableLocalStore(self.path / ARRAY), mode="r+")
        mine = shard_chunks(self.n_chunks, shard)
        done = self.done_chunks()
        self.changed = self._changed_chunks([c for c in mine if c in done], retry)
        self._reopen([c for c, _ in self.changed])
        redo = {c for c, _ in self.changed}
        self.pending = [c for c in mine if c not in done or c in redo]
        self.resumed = len(mine) - len(self.pending)
        self._clean_done_temporaries()
        self._clean_chunk_temporaries(self.pending)

    # ------------------------------------------------------------------ creation
    def _open_or_create(self, full, images, sharded):
        if (self.path / MANIFEST).is_file():
            old = read_json(self.path / MANIFEST)
            if old.get("fingerprint") == self.fingerprint:
                return
            why = describe_changes(old, full)
            if sharded:
                raise ValueError(
                    f"The store {os.fspath(self.path)!r} was written with other settings "
                    f"({why}). Shards cannot start it afresh (another shard may be writing "
                    "it): remove the store, or rerun with the settings it was made with."
                )
            warnings.warn(
                StoreRestartedWarning(
                    f"The store {os.fspath(self.path)!r} was written with other settings "
                    f"({why}); starting it afresh.",
                    why,
                ),
                stacklevel=4,
            )
            self._discard()
        elif self.path.exists():
            if self.path.is_dir() and not any(self.path.iterdir()):
                self.path.rmdir()
            else:
                raise FileExistsError(
                    f"{os.fspath(self.path)!r} exists and is not an embedding store (no "
                    f"{MANIFEST}); choose another output path or remove it."
                )
        self._create(full, images)

    def _discard(self):
        """Remove the old store: renamed away first, so a kill leaves only a stale temporary."""
        trash = temporary_name(self.path)
        replace(self.path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def _create(self, full, images):
        import zarr

        try:
            with atomic_dir(self.path, overwrite=False) as tmp:
                group = zarr.open_group(tmp, mode="w", attributes={"dks": FORMAT})
                block = full["feature_block"]
                width = -(-self.n_features // block) * block
                group.create_array(
                    ARRAY,
                    shape=(self.n_rows, self.n_features),
                    dtype="<f4",
                    shards=(self.chunk_rows, width),
                    chunks=(self.chunk_rows, block),
                    fill_value=np.float32(np.nan),
                    compressors=_chunk_codecs(),
                    dimension_names=("image", "feature"),
                )
                (tmp / DONE).mkdir()
                _write_json(tmp / IMAGES, images, atomic=False)
                _write_json(tmp / MANIFEST, full, atomic=False)
        except (FileExistsError, OSError):
            # Another shard created it between our check and our rename: use theirs.
            if not (self.path / MANIFEST).is_file():
                raise
            old = read_json(self.path / MANIFEST)
            if old.get("fingerprint") != self.fingerprint:
                raise ValueError(
                    f"Another writer created the store {os.fspath(self.path)!r} at the same "
                    f"time with other settings ({describe_changes(old, full)}); run all "
                    "shards with the same settings."
                ) from None

    # ------------------------------------------------------------------ changed files
    def stamps(self, chunk):
        """The stamps of ``chunk``'s files now (None without ``files``); take them before
        reading the files, and give them to :meth:`write_chunk`."""
        if self.files is None:
            return None
        start, stop = self.chunk_range(chunk)
        return [stamp(f) for f in self.files[start:stop]]

    def _changed_chunks(self, done, retry=None):
        if self.files is None and retry is None:
            return []
        records = {}
        for chunk in done:
            try:
                records[chunk] = read_json(self.path / DONE / f"{chunk}.json")
            except (OSError, ValueError):
                continue  # removed meanwhile by another writer reopening it
        now = {}  # the stamps of the done chunks' files, taken at once, by several threads
        if self.files is not None:
            checked = [c for c, r in records.items() if r.get("stamps") is not None]
            spans = [self.chunk_range(c) for c in checked]
            taken = iter(stamps(f for a, b in spans for f in self.files[a:b]))
            for chunk, (a, b) in zip(checked, spans, strict=True):
                now[chunk] = [next(taken) for _ in range(b - a)]
        changed = []
        for chunk, record in records.items():
            start, stop = self.chunk_range(chunk)
            rows = []
            if chunk in now:
                files = self.files[start:stop]
                offsets = changed_rows(record["stamps"], files, now[chunk])
                rows = [start + i for i in offsets]
            if retry is not None:
                rows += [int(s[0]) for s in record.get("skipped", ()) if retry(tuple(s))]
            if rows:
                changed.append((chunk, min(rows)))
        return changed

    def _reopen(self, chunks):
        """Undo the completion, then the markers of ``chunks`` (a kill in between leaves
        markers whose stamps still differ, so the next run reopens them again)."""
        reopen_chunks(self.path, chunks)

    # ------------------------------------------------------------------ chunks
    def done_chunks(self):
        """Set of the chunks marked done (by any writer)."""
        done = set()
        for name in os.listdir(self.path / DONE):
            stem, _, ext = name.partition(".")
            if ext == "json" and stem.isdigit():
                done.add(int(stem))
        return done

    def chunk_range(self, chunk):
        """``(start, stop)`` rows of ``chunk``."""
        return chunk_range(chunk, self.chunk_rows, self.n_rows)

    def write_chunk(self, chunk, rows, skipped=(), stamps=None):
        """Write a chunk's rows, make them durable, then mark the chunk done.

        Parameters
        ----------
        chunk : int
            Chunk index.
        rows : ndarray of shape (stop - start, n_features)
            The chunk's rows; rows of skipped inputs are NaN.
        skipped : sequence of (int, str, str)
            ``(row, description, reason)`` of each skipped input of the chunk.
        stamps : list, optional
            :meth:`stamps` of the chunk, taken before its files were read; by default they
            are taken now.
        """
        start, stop = self.chunk_range(chunk)
        rows = np.asarray(rows, dtype=np.float32)
        if rows.shape != (stop - start, self.n_features):
            raise ValueError(
                f"Chunk {chunk} holds rows {start}:{stop} ({stop - start} x "
                f"{self.n_features}); got an array of shape {rows.shape}."
            )
        if stamps is None:
            stamps = self.stamps(chunk)
        # The store writes the chunk file atomically and fsyncs it and its folder; absent
        # when every row is NaN (the fill value).
        self.array[start:stop, :] = rows
        chunk_dir = self.path / ARRAY / "c" / str(chunk)
        if chunk_dir.is_dir():
            fsync_dir(chunk_dir.parent)
        record = {
            "chunk": chunk,
            "rows": [start, stop],
            "skipped": [[int(i), str(d), str(e)] for i, d, e in skipped],
        }
        if stamps is not None:
            record["stamps"] = stamps
        _write_json(self.path / DONE / f"{chunk}.json", record)

    # ------------------------------------------------------------------ completion
    def finish(self):
        """Complete the store if every chunk is done (whichever writer gets here last).

        Returns
        -------
        bool
            Whether the store is complete.
        """
        if (self.path / COMPLETE).is_file() and not self.changed:
            return True
        done = self.done_chunks()
        if len(done) < self.n_chunks:
            return False
        skipped = []
        for chunk in sorted(done):
            skipped.extend(read_json(self.path / DONE / f"{chunk}.json")["skipped"])
        _remove_partial_chunks(self.path / ARRAY)
        record = {
            "fingerprint": self.fingerprint,
            "n_rows": self.n_rows,
            "n_valid": self.n_rows - len(skipped),
            "skipped": skipped,
            "revision": secrets.token_hex(8),
            "completed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        _write_json(self.path / COMPLETE, record)
        return True

    def _clean_chunk_temporaries(self, chunks):
        """Remove the temporaries of killed writers of ``chunks`` (this writer's to compute):
        dks's whose writer is gone, and Zarr's ``*.partial`` (left by an older dks, whose
        writers used Zarr's own store; only the writer of a chunk makes them)."""
        root = self.path / ARRAY / "c"
        if not root.is_dir() or not chunks:
            return
        present = {name for name in os.listdir(root) if name.isdigit()}
        for chunk in chunks:
            if str(chunk) not in present:
                continue
            folder = root / str(chunk)
            remove_stale(folder / "0")
            for name in os.listdir(folder):
                if name.endswith(".partial"):
                    (folder / name).unlink(missing_ok=True)

    def _clean_done_temporaries(self):
        for name in os.listdir(self.path / DONE):
            if name.endswith(TMP_SUFFIX) and name.startswith("."):
                target = name[1:].split(".json.", 1)[0] + ".json"
                remove_stale(self.path / DONE / target)


_LAYOUT_KEYS = ("n_rows", "n_features", "chunk_rows", "feature_block", "compression")


def _fingerprint(full):
    """SHA-256 of what determines the values: settings, image list, layout, feature names."""
    layout = {key: full[key] for key in _LAYOUT_KEYS}
    return _sha256_json([full["settings"], full["images_sha256"], layout, full["feature_names"]])


def relocate(path, images):
    """Give the inputs of the store ``path`` new identities (their files moved), keeping rows.

    For image files moved together (a results folder holding its images, moved or copied
    elsewhere): the same files under new paths. The done markers get the stamps of the files
    at their new paths (a copy may have new modification times). ``images.json`` and the
    fingerprint in ``manifest.json`` and ``complete.json`` are rewritten, each atomically; a
    kill in between leaves a store whose fingerprint no longer matches, which the next run
    starts afresh.

    Parameters
    ----------
    path : path-like
        The store.
    images : list of str
        The new identity of every row, in row order.

    Returns
    -------
    str
        The new fingerprint.
    """
    path = Path(path)
    full = read_json(path / MANIFEST)
    if len(images) != full["n_rows"]:
        raise ValueError(
            f"The store {os.fspath(path)!r} has {full['n_rows']} rows; got {len(images)} "
            "image identities."
        )
    for name in os.listdir(path / DONE):
        stem, _, ext = name.partition(".")
        if ext != "json" or not stem.isdigit():
            continue
        record = read_json(path / DONE / name)
        if record.get("stamps") is not None:
            start = record["rows"][0]
            record["stamps"] = [
                None if old is None else stamp(images[start + i])
                for i, old in enumerate(record["stamps"])
            ]
            _write_json(path / DONE / name, record)
    full["images_sha256"] = _sha256_json(list(images))
    full["fingerprint"] = _fingerprint(full)
    _write_json(path / IMAGES, list(images))
    _write_json(path / MANIFEST, full)
    if (path / COMPLETE).is_file():
        record = read_json(path / COMPLETE)
        record["fingerprint"] = full["fingerprint"]
        _write_json(path / COMPLETE, record)
    return full["fingerprint"]


def reopen_chunks(path, chunks, *, damaged=False):
    """Mark ``chunks`` of the store ``path`` to be embedded again by the next writer.

    The completion is undone first, then the chunks' done markers are removed (a kill in
    between leaves a store that is incomplete, whose writer checks every chunk's marker).
    For chunks whose images changed, and for ``damaged`` chunks
    (:mod:`dks.results._damage`), whose files are removed too: a write that does not
    cover a whole shard would read the damaged one first.
    """
    if not chunks:
        return
    path = Path(path)
    (path / COMPLETE).unlink(missing_ok=True)
    fsync_dir(path)
    for chunk in chunks:
        (path / DONE / f"{chunk}.json").unlink(missing_ok=True)
    fsync_dir(path / DONE)
    if damaged:
        for chunk in chunks:
            shutil.rmtree(path / ARRAY / "c" / str(chunk), ignore_errors=True)


def _remove_partial_chunks(array_dir):
    """Remove the temporary chunk files (``*.partial``) that killed Zarr writes left behind.

    Called only when every chunk is done, so that no writer of this store is mid-write.
    """
    for folder, _, files in os.walk(array_dir):
        for name in files:
            if name.endswith(".partial"):
                os.unlink(os.path.join(folder, name))


def _sha256_json(value):
    import hashlib

    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # A file name that is not UTF-8 is a str with lone surrogates (os.fsdecode): hash its
    # code points as they are ("surrogatepass"), so that every name has one hash.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _write_json(path, value, *, atomic=True):
    if not atomic:
        Path(path).write_text(json.dumps(value), encoding="utf-8")
        return
    with atomic_open(path, "w") as fh:
        json.dump(value, fh)
