"""The embedding step: fill (or resume, or reuse) ``embedding.zarr``, then commit its metadata.

The store is written in place, at ``<results>/embedding.zarr``, not through the results
folder's transaction: a ``kill -9`` must leave its finished chunks where the next run finds
them (:mod:`dks.store`). Only the small files made from it (``embedding.json``,
``skipped.csv``, the optional ``embedding.npy``) are committed by the transaction, once the
store is complete. Whether the saved embedding can be reused, resumed or must start afresh
is the store's decision alone: its fingerprint (a hash of the settings its manifest records,
:func:`dks.results._settings.manifest_settings`, with the image list; see :doc:`/store`),
and its revision, which changes when chunks of images replaced since are computed again.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
import warnings

import numpy as np

from dks._options import option
from dks.results import (
    EXPORT_FILES,
    FORMAT,
    IMAGES_DIR,
    REPORT_FILES,
    STATS_FILES,
    STORE,
    VALIDITY_DIR,
    AnalysisError,
    EmbeddingRecord,
    format_seconds,
    read_json,
    transaction,
    write_csv,
    write_json,
)

__all__ = ["check_shard_images", "embedding_step", "now"]


def now():
    """The local time, ISO 8601 to the second."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _saved_state(out):
    """``(fingerprint, complete, meta, revision)`` of the store ``embedding.json`` describes,
    or None."""
    try:
        meta = EmbeddingRecord.from_dict(read_json(out / "embedding.json"))
        from dks.store import open_embedding

        store = open_embedding(out / STORE, allow_incomplete=True)
    except (OSError, ValueError):
        return None
    if meta.fingerprint != store.fingerprint:
        return None
    return store.fingerprint, store.complete, meta, store.revision


def _follow_move(out, images, saved, log):
    """Keep the embedding of a results folder that was moved with its images inside.

    The store names its images by path; when the results folder holds them (the default
    dataset, ``images_root`` relative) and was moved or copied, the same files have new
    paths: the store is told so (:func:`dks.store._writer.relocate`) instead of being
    computed again. Returns the saved state, with the new fingerprint.
    """
    if saved is None or images.source.get("kind") != "default":
        return saved
    from dks.store import open_embedding, relocate

    store = open_embedding(out / STORE, allow_incomplete=True)
    old, new = store.images, images.paths
    if old == new or len(old) != len(new) or not old:
        return saved
    suffix = os.sep + images.relative[0]
    if not old[0].endswith(suffix):
        return saved
    old_root = old[0][: -len(suffix)]
    if old != [os.path.join(old_root, rel) for rel in images.relative]:
        return saved
    log(f"embedding: the results folder moved from {os.path.dirname(old_root)}; keeping it")
    return relocate(out / STORE, new), *saved[1:]


def _make_embedder(out, model, settings):
    from dks.embed import CNNEmbedder

    return CNNEmbedder(model, output=out / STORE, **settings.embedder_parameters())


class _LogHandler(logging.Handler):
    """The embedder's log records (``resuming, N chunk(s) ...``) as lines of the Log."""

    def __init__(self, log):
        super().__init__(logging.INFO)
        self.log = log

    def emit(self, record):
        self.log(f"embed: {record.getMessage()}")


def _fill(embedder, inputs, out, log):
    """Run the embedder into the store; the store's warnings and log become log lines."""
    logger = logging.getLogger("dks")
    handler, level = _LogHandler(log), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            embedder.transform(inputs)
            elapsed = time.perf_counter() - start
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    from dks.embed import SkippedInputsWarning
    from dks.store import StoreRestartedWarning

    for warning in caught:
        if issubclass(warning.category, StoreRestartedWarning):
            log(f"embedding: settings changed ({warning.message.why}); recomputing it")
        elif issubclass(warning.category, SkippedInputsWarning):
            pass  # said below, with the file names in skipped.csv
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return elapsed


def embedding_step(out, images, settings, log, *, defer=False):
    """Fill ``out/embedding.zarr`` and commit ``embedding.json`` + ``skipped.csv``.

    Parameters
    ----------
    out : pathlib.Path
        The results folder (created if needed; the store is written in it in place).
    images : Images
        The images, at their final place (the default dataset is committed before).
    settings : EmbedSettings
    log : Log
    defer : bool, default=False
        Do not commit: return the writer of the embedding's files instead, for the
        transaction that also writes the statistics, figures and report (:func:`analyze`:
        the previous ones stay until the new ones are complete). Not for shards, which
        commit the embedding when the last one completes the store.

    Returns
    -------
    reused : bool
        Whether the saved embedding was complete and unchanged (nothing computed).
    complete : bool
        False when this run was a shard and other shards still have chunks to fill.
    commit : callable or None
        With ``defer``: ``commit(stage)`` writes the embedding's files into the
        :class:`~dks.results._folder.Transaction` ``stage``.
    """
    from dks.store import open_embedding

    model = settings.model_name(images.dataset is not None)
    inputs = images.collection
    embedder = _make_embedder(out, model, settings)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)  # the embedder checks the store's folder
    try:
        embedder.fit(inputs)  # an unknown model or weights file fails here, before any write
    except BaseException:
        if created:
            out.rmdir()
        raise
    shard = settings.shard
    log(
        f"embed: {len(inputs)} images, model {model} ({embedder.weights_ or 'random weights'}), "
        f"{len(embedder.layers_)} layers, {len(embedder.get_feature_names_out())} features, "
        f"crops={settings.crops!r}, device {embedder.device_}"
        + (f", shard {shard[0]}/{shard[1]}" if shard else "")
    )
    saved = _follow_move(out, images, _saved_state(out), log)
    elapsed = _fill(embedder, inputs, out, log)
    store = open_embedding(out / STORE, allow_incomplete=True)
    reused = saved is not None and (saved[0], saved[1], saved[3]) == (
        store.fingerprint,
        True,
        store.revision,
    )
    if reused:
        log(
            f"embedding: reusing the saved embedding {out / STORE} (same model, weights, "
            "layers, crops and images)"
        )
    else:
        log.timings["embed"] = log.timings.get("embed", 0.0) + elapsed
        log(f"embed: done in {format_seconds(elapsed)}")
    if not store.complete:
        log(
            f"embed: shard {shard[0]}/{shard[1]} done; {store.n_chunks_done} of "
            f"{store.n_chunks} chunks of the "
            f"store are done. The last shard to finish completes {out}."
        )
        return reused, False, None
    labels = np.asarray(images.labels).tolist()
    relabeled = store.labels is None or store.labels.tolist() != labels
    if relabeled:
        store.set_labels(labels)
    if reused and relabeled:  # the same images under other classes (--class-depth, say)
        log(
            f"embed: the images' classes changed ({len(images.classes)} classes now); the "
            "statistics and report made with the old ones are removed"
        )
    if store.skipped:
        first = store.skipped[0]
        said = (
            f"skipped {len(store.skipped)} of {len(inputs)} images that could not be "
            f"read (listed in {out / 'skipped.csv'}); the first: {first.description}: "
            f"{first.error}"
        )
        if log.verbose:
            log(f"embed: {said}")
        else:  # quiet: still one line (a warning), never silence about images left out
            warnings.warn(said[0].upper() + said[1:], UserWarning, stacklevel=2)
    seconds = saved[2].settings.get("seconds") if reused else elapsed
    meta = _meta(images, store, settings, model, embedder, seconds)
    if defer and shard is None:
        return reused, True, lambda stage: _write(stage, meta, store, settings, log)
    _commit(out, meta, store, settings, reused and not relabeled, log)
    return reused, True, None


def _meta(images, store, settings, model, embedder, seconds):
    import torch

    from dks import __version__

    rows = store.sample_indices
    labels = np.asarray(images.labels)
    paths = images.paths if store.skipped else None  # once: a list of every image
    skipped = [
        {"path": paths[s.index], "class": str(labels[s.index]), "reason": s.error}
        for s in store.skipped
    ]
    return EmbeddingRecord(
        format=FORMAT,
        store=STORE,
        feature_names=store.feature_names.tolist(),
        layers={k: [s.start, s.stop] for k, s in store.layer_slices.items()},
        images_root=images.root_record,
        images=[images.relative[i] for i in rows],
        labels=labels[rows].tolist(),
        classes=images.classes,
        dataset=images.description,
        dataset_name=images.name,
        source=images.source,
        skipped=skipped,
        settings={
            "model": model,
            "weights": embedder.weights_,
            "weights_argument": None if settings.weights is None else os.fspath(settings.weights),
            "layers": settings.layers,
            # the others: in the store's manifest only (their one record; load_results reads
            # them from there, see dks.results._settings.STORE_SETTINGS)
            "device": str(embedder.device_),
            "on_error": settings.on_error,
            # not in the manifest (it changes which images are read, not their values); the
            # report's thumbnails and crops read the images with it too (embedding_reader)
            "max_image_pixels": settings.max_image_pixels,
            "seconds": None if seconds is None else round(seconds, 3),
            "dks": __version__,
            "torch": torch.__version__,
            "created": now(),
        },
        fingerprint=store.fingerprint,
    )


def _write(stage, meta, store, settings, log):
    """The embedding's files in the transaction ``stage`` (the store as hard links)."""
    stage.reuse(STORE, IMAGES_DIR)
    write_json(stage.path / "embedding.json", meta.to_dict())
    write_csv(
        stage.path / "skipped.csv",
        ("path", "class", "reason"),
        ((s["path"], s["class"], s["reason"]) for s in meta.skipped),
    )
    if settings.export_npy:
        store.to_npy(stage.path / "embedding.npy")
        log(f"embed: exported {stage.out / 'embedding.npy'}")


def _commit(out, meta, store, settings, reused, log):
    """The transaction of the embedding's metadata (the store is carried over as hard links).

    With shards, two may complete the store at the same moment and both commit the same
    files: a commit that loses that race finds the folder committed and stops there.
    """
    for attempt in range(3):
        try:
            with transaction(out) as stage:
                _write(stage, meta, store, settings, log)
                if reused:
                    stage.reuse(*STATS_FILES, *REPORT_FILES, VALIDITY_DIR, *EXPORT_FILES)
                elif any(stage.has_old(n) for n in (*STATS_FILES, *REPORT_FILES, *EXPORT_FILES)):
                    log(
                        "embed: the statistics, report and exports of the previous embedding "
                        "were removed"
                    )
            return
        except OSError:  # another shard swapped the folder while this one read it
            if settings.shard is None or attempt == 2:
                raise
            try:
                if read_json(out / "embedding.json").get("fingerprint") == store.fingerprint:
                    return
            except (OSError, ValueError):
                pass


def check_shard_images(images, shard):
    """Shards need the user's images: the default dataset is exported by one process."""
    if shard is not None and images is None:
        raise AnalysisError(
            f"{option('shard')} needs an {option('images')} folder, manifest, shards or "
            "dataset: the default dataset (500 "
            "images) is embedded by one process."
        )
