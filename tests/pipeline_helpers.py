"""A results folder made with numpy alone (no torch): what ``dks embed`` would have written."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import dks

#: Layers of the fake embedding: name -> (start, stop). The names do not follow the
#: ``<layer>_<index>`` pattern, so that only the saved ``layers`` can group them right.
LAYERS = {"low": (0, 4), "high": (4, 7)}
FEATURES = ["a_0", "a_1", "b_0", "b_1", "c", "d", "e"]
CLASSES = ["cat", "dog", "eel"]
N_PER_CLASS = 12
REPO = Path(dks.__file__).resolve().parent.parent


#: The statistics files of a results folder, as docs/results.rst lists them (the contract
#: the pipeline's tests check, written out rather than read from dks.results._folder).
STATS = (
    "dks.npy",
    "null_dks.npy",
    "relevance.npy",
    "thresholds.json",
    "curves.csv",
    "layers.csv",
    "class_noise.csv",
    "top_features.csv",
    "summary.json",
)


#: The figures every report holds (their file stems), whatever the data.
FIGURES = (
    "layer_distribution",
    "dks_histograms",
    "class_curves",
    "class_curves_negative",
    "davg",
    "layer_kept",
)  # and "class_noise" where the classes have several sizes


def make_results(out, seed=0):
    """Write ``embedding.npy`` + ``embedding.json`` of 3 classes x 12 images x 7 features.

    Feature 0 is higher on "cat", feature 5 lower on "eel"; the rest is noise.
    """
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    labels = np.repeat(CLASSES, N_PER_CLASS)
    X = rng.normal(size=(labels.size, len(FEATURES))).astype(np.float32)
    X[labels == "cat", 0] += 3.0
    X[labels == "eel", 5] -= 3.0
    np.save(out / "embedding.npy", X)
    meta = {
        "format": "dks-results/1",
        "feature_names": FEATURES,
        "layers": {name: list(span) for name, span in LAYERS.items()},
        "images_root": "images",
        "images": [f"{c}/{i}.png" for c in CLASSES for i in range(N_PER_CLASS)],
        "labels": labels.tolist(),
        "classes": CLASSES,
        "dataset": "fake",
        "settings": {"model": "fake", "weights": None, "crops": "none", "seconds": 1.5},
        "fingerprint": {},
    }
    (out / "embedding.json").write_text(json.dumps(meta), encoding="utf-8")
    return out


def characterized_pair(root):
    """Two characterized results folders under ``root`` (``alpha``, ``beta``: seeds 0, 1) of
    the same fake embedding layout, as :func:`make_results` writes them."""
    from dks.pipeline import characterize

    out = []
    for seed, name in ((0, "alpha"), (1, "beta")):
        path = make_results(root / name, seed=seed)
        characterize(path, shuffles=2, jobs=1, verbose=False)
        out.append(path)
    return out


def run_python(code, timeout=300):
    """Run ``code`` in a fresh interpreter that imports this checkout of dks."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


#: Classes of uneven sizes for the per-class thresholds: name -> images.
UNEVEN = {"ant": 4, "bee": 8, "cow": 16, "doe": 40, "elk": 100}


def make_uneven_results(out, seed=0, n_features=120, n_planted=6):
    """Like :func:`make_results`, with the classes of :data:`UNEVEN` and ``n_features``
    features in two layers; each class has ``n_planted`` features shifted up on it (class
    ``i``: columns ``i * n_planted`` onwards), the others are noise."""
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    labels = np.repeat(list(UNEVEN), list(UNEVEN.values()))
    X = rng.normal(size=(labels.size, n_features)).astype(np.float32)
    for i, name in enumerate(UNEVEN):
        X[np.ix_(labels == name, np.arange(i * n_planted, (i + 1) * n_planted))] += 2.5
    np.save(out / "embedding.npy", X)
    half = n_features // 2
    meta = {
        "format": "dks-results/1",
        "feature_names": [f"f{j}" for j in range(n_features)],
        "layers": {"low": [0, half], "high": [half, n_features]},
        "images_root": "images",
        "images": [f"{c}/{i}.png" for c, n in UNEVEN.items() for i in range(n)],
        "labels": labels.tolist(),
        "classes": list(UNEVEN),
        "dataset": "uneven",
        "settings": {"model": "fake", "weights": None, "crops": "none", "seconds": 1.0},
        "fingerprint": {},
    }
    (out / "embedding.json").write_text(json.dumps(meta), encoding="utf-8")
    return out


#: A small real embedding: a randomly initialized SqueezeNet 1.1 on small images.
EMBED_SETTINGS = dict(
    model="squeezenet1_1",
    weights=None,
    layers=["features.0", "features.3"],
    crops="none",
    resize=32,
    workers=0,
    progress=False,
    verbose=False,
)
