"""The embedding step: compute ``embedding.npy`` + ``embedding.json``, or reuse the saved ones.

A re-run reuses the saved embedding when its *fingerprint* is unchanged: the model, weights,
layers, crops, sizes, normalization, precision and the images' relative paths, labels,
sizes and modification times (see :doc:`/results`).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dks.pipeline._folder import EMBEDDING_FILES, FORMAT
from dks.pipeline._io import read_json, write_json

__all__ = ["EmbedSettings", "embedding_step", "now"]

#: Model used with the default dataset (offline ImageNet weights).
DEFAULT_DATASET_MODEL = "efficientnet_lite0"

#: Model used with a folder of images (the paper's).
DEFAULT_MODEL = "vgg19"


@dataclass
class EmbedSettings:
    """The embedding parameters of :func:`~dks.pipeline.embed`."""

    model: str | None
    weights: str | None
    layers: str | list
    crops: str
    resize: int | None
    crop_size: int
    device: str
    batch_size: int
    workers: int | None
    progress: bool
    seed: int

    def model_name(self, default_dataset):
        """The model asked for, or the default for this kind of images."""
        if self.model is not None:
            return self.model
        return DEFAULT_DATASET_MODEL if default_dataset else DEFAULT_MODEL


def now():
    """The local time, ISO 8601 to the second."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _images_digest(images):
    """Hash of the images' relative paths, labels, sizes and modification times."""
    digest = hashlib.sha256()
    for rel, label in zip(images.relative, images.labels.tolist(), strict=True):
        st = os.stat(images.root / rel)
        digest.update(f"{rel}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _weights_id(weights):
    """Weights as they enter the fingerprint: files by absolute path, size and mtime."""
    if weights is None or weights == "DEFAULT":
        return weights
    path = Path(weights).expanduser()
    if path.is_file():
        st = path.stat()
        return f"file:{path.absolute()}:{st.st_size}:{st.st_mtime_ns}"
    return str(weights)


def _fingerprint(model, settings, images):
    fp = {
        "model": model,
        "weights": _weights_id(settings.weights),
        "layers": settings.layers,
        "crops": settings.crops,
        "resize": settings.resize,
        "crop_size": settings.crop_size,
        "mean": None,
        "std": None,
        "precision": "float32",
        "n_images": len(images.relative),
        "images": _images_digest(images),
    }
    return json.loads(json.dumps(fp))


def _fingerprint_changes(old, new):
    if not isinstance(old, dict):
        return ["no fingerprint"]
    changes = []
    for key in new:
        if old.get(key) != new[key]:
            if key == "images":
                changes.append("the images (files, labels, sizes or dates)")
            else:
                changes.append(f"{key}: {old.get(key)!r} -> {new[key]!r}")
    return changes


def _saved_embedding_ok(stage, fingerprint, log):
    """Whether the previous run's embedding can be reused (and say why, or why not)."""
    if not stage.has_old("embedding.json") or not stage.has_old("embedding.npy"):
        return False
    try:
        meta = read_json(stage.old / "embedding.json")
        shape = np.load(stage.old / "embedding.npy", mmap_mode="r").shape
    except (OSError, ValueError) as exc:
        log(f"embedding: the saved embedding cannot be read ({exc}); recomputing it")
        return False
    changes = _fingerprint_changes(meta.get("fingerprint"), fingerprint)
    if changes:
        log(f"embedding: settings changed ({'; '.join(changes)}); recomputing it")
        return False
    if shape != (fingerprint["n_images"], len(meta.get("feature_names", []))):
        log("embedding: the saved embedding has an unexpected shape; recomputing it")
        return False
    return True


def _compute_embedding(stage, model, settings, images, log):
    from dks.embed import CNNEmbedder

    embedder = CNNEmbedder(
        model,
        weights=settings.weights,
        layers=settings.layers,
        crops=settings.crops,
        resize=settings.resize,
        crop_size=settings.crop_size,
        batch_size=settings.batch_size,
        device=settings.device,
        num_workers=settings.workers,
        output=stage.path / "embedding.npy",
        progress=settings.progress,
        random_state=settings.seed,
    )
    paths = images.paths
    embedder.fit(paths)
    log(
        f"embed: {len(paths)} images, model {model} ({embedder.weights_ or 'random weights'}), "
        f"{len(embedder.layers_)} layers, {len(embedder.get_feature_names_out())} features, "
        f"crops={settings.crops!r}, device {embedder.device_}"
    )
    start = time.perf_counter()
    embedder.transform(paths)
    elapsed = time.perf_counter() - start
    return embedder, elapsed


def embedding_step(stage, images, settings, log):
    """Reuse or compute ``embedding.npy`` + ``embedding.json`` in the stage; True if reused."""
    model = settings.model_name(images.dataset is not None)
    fingerprint = _fingerprint(model, settings, images)
    if _saved_embedding_ok(stage, fingerprint, log):
        stage.reuse(*EMBEDDING_FILES)
        log(
            f"embedding: reusing the saved embedding {stage.out / 'embedding.npy'} (same model, "
            "weights, layers, crops and images)"
        )
        return True
    with log.stage("embed"):
        embedder, elapsed = _compute_embedding(stage, model, settings, images, log)
    import torch

    from dks import __version__

    meta = {
        "format": FORMAT,
        "feature_names": embedder.get_feature_names_out().tolist(),
        "layers": {k: [s.start, s.stop] for k, s in embedder.layer_slices_.items()},
        "images_root": images.root_record,
        "images": images.relative,
        "labels": images.labels.tolist(),
        "classes": images.classes,
        "dataset": images.description,
        "settings": {
            "model": model,
            "weights": embedder.weights_,
            "layers": settings.layers,
            "crops": settings.crops,
            "resize": settings.resize,
            "crop_size": settings.crop_size,
            "mean": embedder.mean_,
            "std": embedder.std_,
            "precision": "float32",
            "device": str(embedder.device_),
            "batch_size": settings.batch_size,
            "seconds": round(elapsed, 3),
            "dks": __version__,
            "torch": torch.__version__,
            "created": now(),
        },
        "fingerprint": fingerprint,
    }
    write_json(stage.path / "embedding.json", meta)
    return False
