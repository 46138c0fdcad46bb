"""Embedding into a store (``CNNEmbedder(output="....zarr")``): resumable and shardable.

Row ``i`` of the store is input ``i``, whatever was skipped or sharded; the rows of a skipped
input stay NaN and the input is listed in its chunk's marker. Rows are buffered until their
chunk is whole, then the chunk is written and marked done (:class:`dks.store.StoreWriter`).
Only the chunks not yet done, and of this writer's shard, are read and computed. Chunks hold
whole batches, so that a resumed or sharded run forms the same batches as one uninterrupted
run, and gives bit-identical values on the CPU.
"""

import contextlib
import hashlib
import logging
import os

import numpy as np
import torch

from dks.embed._output import SkippedInput, check_output_path
from dks.sources import ImageTooLargeError, describe_input
from dks.store import (
    EmbeddingStore,
    RowView,
    StoreWriter,
    chunk_range,
    chunk_rows_for,
    parse_shard,
)

__all__ = ["check_output", "embed_into_store", "is_store_path"]

logger = logging.getLogger("dks")


def is_store_path(path):
    """Whether ``output`` names a store (a ``.zarr`` folder) rather than a ``.npy`` file."""
    return path is not None and os.fspath(path).rstrip("/\\").endswith(".zarr")


def check_output(output, shard):
    """Validate CNNEmbedder's ``output`` and ``shard`` together; return the output path."""
    path = check_output_path(output)
    parse_shard(shard)
    if shard is not None and not is_store_path(path):
        raise ValueError(
            f"The 'shard' parameter of CNNEmbedder needs a store output (a path ending in "
            f"'.zarr'); got shard={shard!r} with output={output!r}."
        )
    return path


class _Subset:
    """The inputs ``indices`` of ``source``, in that order."""

    def __init__(self, source, indices):
        self.source = source
        self.indices = indices

    def __len__(self):
        return len(self.indices)

    def open(self, index):
        return self.source.open(int(self.indices[index]))

    def describe(self, index):
        return self.source.describe(int(self.indices[index]))


def embed_into_store(embedder, source, output, shard, *, batches):
    """Fill the store ``output`` with the embedding of ``source`` (all, or one shard).

    Parameters
    ----------
    embedder : CNNEmbedder
        Fitted.
    source : Collection or in-memory images
        As :func:`dks.sources.open_images` returns them.
    output : path-like
        The store folder.
    shard : None, (int, int) or str
        See ``CNNEmbedder(shard=...)``.
    batches : callable
        ``batches(images)`` embeds images batch by batch, yielding ``(indices, features,
        skipped)`` (the embedder's loop, which the store does not reach into).

    Returns
    -------
    X : zarr.Array or dks.store.RowView
        The rows embedded (this shard's, with ``shard``), in input order.
    sample_indices : ndarray of int64
    skipped : list of (int, str, str)
    """
    shard = parse_shard(shard)
    n_images = len(source)
    n_features = len(embedder.get_feature_names_out())
    chunk_rows = chunk_rows_for(n_features, embedder.batch_size)
    files = source.files
    writer = StoreWriter(
        output,
        _manifest(embedder),
        source.identities,
        chunk_rows,
        shard=shard,
        files=files,
        retry=_admitted_now(files, embedder.image_reader_),
    )
    if writer.changed:
        row = writer.changed[0][1]
        logger.info(
            "%s: %d chunk(s) of %d rows hold images changed since they were embedded, or "
            "refused as too large and admitted by the limit now (the first: %s); embedding "
            "them again.",
            os.fspath(output),
            len(writer.changed),
            chunk_rows,
            describe_input(source, row),
        )
    if writer.resumed and writer.pending:
        logger.info(
            "%s: resuming, %d chunk(s) of %d rows already done.",
            os.fspath(output),
            writer.resumed,
            chunk_rows,
        )
    elif writer.resumed:  # complete: dks analyze says once that it reuses the store
        logger.debug("%s: all %d chunk(s) already done.", os.fspath(output), writer.resumed)
    todo = [np.arange(*writer.chunk_range(c)) for c in writer.pending]
    todo = np.concatenate(todo) if todo else np.empty(0, dtype=np.int64)
    if todo.size:
        _fill(batches, source, writer, todo)
    writer.finish()

    store = EmbeddingStore(output, allow_incomplete=True)
    first, last = _shard_rows(writer, shard)
    rows = store.sample_indices[(store.sample_indices >= first) & (store.sample_indices < last)]
    skipped = [SkippedInput(*s) for s in store.skipped if first <= s.index < last]
    if shard is None and not rows.size:
        raise ValueError(
            f"None of the {n_images} inputs could be embedded; the first: "
            f"{skipped[0].description}: {skipped[0].error}"
        )
    if shard is None and store.complete:
        return store.X, rows, skipped
    return RowView(store.array, rows), rows, skipped


def _admitted_now(files, reader):
    """``retry`` of :class:`~dks.store.StoreWriter`: an image skipped as too large (more
    pixels than ``max_image_pixels``) that the limit of this run admits (its header read)."""
    prefix = ImageTooLargeError.__name__ + ":"

    def retry(entry):
        row, _, reason = entry
        path = files[int(row)]
        return reason.startswith(prefix) and path is not None and reader.admits(path)

    return retry


def _fill(batches, source, writer, todo):
    """Embed the inputs ``todo`` and write each chunk as soon as it is whole."""
    buffers = {}
    # The files' stamps are taken before any is read: one replaced during the run differs
    # from its stamp at the next run, which computes it again.
    stamps = {chunk: writer.stamps(chunk) for chunk in writer.pending}

    def place(rows, values, skipped):
        for chunk in np.unique(rows // writer.chunk_rows):
            start, stop = writer.chunk_range(int(chunk))
            if chunk not in buffers:
                block = np.full((stop - start, writer.n_features), np.nan, dtype=np.float32)
                buffers[chunk] = [block, 0, []]
            entry = buffers[chunk]
            mine = (rows >= start) & (rows < stop)
            if values is not None:
                entry[0][rows[mine] - start] = values[mine]
            entry[1] += int(mine.sum())
            entry[2].extend(s for s in skipped if start <= s[0] < stop)
            if entry[1] == stop - start:
                writer.write_chunk(int(chunk), entry[0], entry[2], stamps[int(chunk)])
                del buffers[chunk]

    subset = _Subset(source, todo)
    with contextlib.closing(batches(subset)) as embedded:
        for indices, features, bad in embedded:
            if bad:
                bad = [(int(todo[s.index]), s.description, s.error) for s in bad]
                place(np.asarray([b[0] for b in bad], dtype=np.int64), None, bad)
            if indices.size:
                place(todo[indices], features, ())


def _shard_rows(writer, shard):
    """First and last (exclusive) row of this writer's chunks."""
    from dks.store import shard_chunks

    chunks = shard_chunks(writer.n_chunks, shard)
    if not chunks:
        return 0, 0
    return (
        chunk_range(chunks[0], writer.chunk_rows, writer.n_rows)[0],
        chunk_range(chunks[-1], writer.chunk_rows, writer.n_rows)[1],
    )


def _manifest(embedder):
    """Settings (all that determines the values), feature names and layer slices."""
    model = embedder.model
    settings = {
        "model": model if isinstance(model, str) else type(model).__name__,
        "weights": None if embedder.weights_ is None else str(embedder.weights_),
        "parameters_sha256": _state_hash(embedder.model_),
        "layers": list(embedder.layers_),
        "crops": embedder.crops,
        "resize": embedder.resize_,
        "crop_size": list(embedder.crop_size_),
        "interpolation": str(embedder.interpolation_),
        "tokens": embedder.tokens,
        "background": list(embedder.image_reader_.background),
        "mean": list(embedder.mean_),
        "std": list(embedder.std_),
        "precision": getattr(embedder, "precision_", embedder.precision),  # older pickles
        "batch_size": int(embedder.batch_size),
        "device": embedder.device_.type,
    }
    return {
        "settings": settings,
        "feature_names": [str(n) for n in embedder.get_feature_names_out()],
        "layer_slices": {k: [s.start, s.stop] for k, s in embedder.layer_slices_.items()},
    }


def _state_hash(module):
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        data = tensor.detach().cpu().contiguous()
        digest.update(str(data.dtype).encode() + str(tuple(data.shape)).encode())
        if data.numel():
            digest.update(data.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()
