"""The paper's datasets, from their official files to the ImageFolder layout, by links.

Garcia-Gasulla et al. study three datasets (flowers102, cub200, mit67) and compare them with
ImageNet. Each builder here reads a dataset's *official* files — the archives as their
authors publish them, extracted — picks the paper's split, and writes an ImageFolder
(``out/<class>/<file>``, one sub-folder per class) made of links to the original images, so
that ``dks analyze OUT`` reads it and no image is copied. ``out/dataset.json`` records what
the folder holds (name, split, source, counts, seed).

The builders need no torch: they parse the label files with numpy and scipy. Only
``download=True`` (flowers102) uses torchvision, the dataset's one official downloader.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from dks._atomic import atomic_dir, atomic_open
from dks._options import option
from dks.datasets._folders import folder_name

__all__ = [
    "PAPER_DATASETS",
    "PAPER_TABLE4",
    "make_cub200",
    "make_flowers102",
    "make_imagenet_val",
    "make_mit67",
]

#: The paper's datasets: builder name -> (split the paper used, where the files come from).
PAPER_DATASETS = {
    "flowers102": ("test", "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/"),
    "cub200": ("train", "https://www.vision.caltech.edu/datasets/cub_200_2011/"),
    "mit67": ("train", "https://web.mit.edu/torralba/www/indoor.html"),
    "imagenet_val": ("val", "https://image-net.org/challenges/LSVRC/2012/"),
}

#: The paper's Table 4 (VGG19 embedding): dataset -> (t+, d_avg(t+), t-, d_avg(t-)).
PAPER_TABLE4 = {
    "mit67": (0.123, 2742, -0.114, 3027),
    "cub200": (0.183, 1833, -0.165, 1864),
    "flowers102": (0.169, 2264, -0.147, 2515),
}

_LINKS = ("symlink", "hardlink")


def _find(root, *candidates, what):
    """The first of ``root/<candidate>`` that exists, else an error listing what was looked for."""
    root = Path(root).expanduser()
    for candidate in candidates:
        path = root / candidate
        if path.exists():
            return path
    looked = ", ".join(str(root / c) for c in candidates)
    raise FileNotFoundError(f"{what} not found: looked for {looked}.")


def _lines(path):
    with open(path, encoding="utf-8") as fh:
        return [line.split() for line in fh if line.strip()]


def _link_folder(out, items, *, link, info):
    """Write ``out/<class>/<name>`` links to ``items`` (pairs of class folder, source file)."""
    if link not in _LINKS:
        raise ValueError(f"link must be one of {_LINKS}; got {link!r}.")
    if not items:
        raise ValueError(f"No images selected for {info['name']!r} ({info['split']} split).")
    missing = [src for _, src in items if not Path(src).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} image(s) listed by the {info['name']} files are missing, "
            f"e.g. {missing[0]}. Extract the whole image archive into the same folder."
        )
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{str(out)!r} exists and is not an empty folder.")
    counts = {}
    with atomic_dir(out) as tmp:
        for folder, src in items:
            src = Path(src).resolve()
            dst = tmp / folder / src.name
            dst.parent.mkdir(exist_ok=True)
            if link == "symlink":
                os.symlink(src, dst)
            else:
                os.link(src, dst)
            counts[folder] = counts.get(folder, 0) + 1
        info = {**info, "n_images": len(items), "n_classes": len(counts), "per_class": counts}
        with atomic_open(tmp / "dataset.json", "w") as fh:
            json.dump(info, fh, indent=1)
    return out


def make_flowers102(root, out, *, split="test", download=False, link="symlink"):
    """Oxford 102 Flowers as an ImageFolder; the paper uses the test split (6,149 images).

    Parameters
    ----------
    root : path-like
        The folder holding ``flowers-102/`` as :class:`torchvision.datasets.Flowers102` lays
        it out (``jpg/image_00001.jpg`` ..., ``imagelabels.mat``, ``setid.mat``), or that
        ``flowers-102`` folder itself.
    out : path-like
        The ImageFolder to create (absent or empty).
    split : {"test", "train", "val"}, default="test"
    download : bool, default=False
        Fetch the files into ``root`` with torchvision first (needs network and torchvision).
    link : {"symlink", "hardlink"}, default="symlink"
        How the images are placed in ``out`` (``hardlink`` needs one filesystem).

    Returns
    -------
    pathlib.Path
        ``out``. Class folders are torchvision's class names (``"pink primrose"``, ...).
    """
    from scipy.io import loadmat

    sets = {"train": "trnid", "val": "valid", "test": "tstid"}
    if split not in sets:
        raise ValueError(f"split must be one of {tuple(sets)}; got {split!r}.")
    root = Path(root).expanduser()
    if download:
        from torchvision.datasets import Flowers102

        Flowers102(root, split=split, download=True)
    base = root if (root / "setid.mat").exists() else root / "flowers-102"
    labels = loadmat(_find(base, "imagelabels.mat", what="flowers102 labels"), squeeze_me=True)
    ids = loadmat(_find(base, "setid.mat", what="flowers102 splits"), squeeze_me=True)
    names = _flowers_classes()
    images = _find(base, "jpg", what="flowers102 images (jpg/)")
    items = []
    for image_id in np.sort(np.atleast_1d(ids[sets[split]])).tolist():
        label = int(np.atleast_1d(labels["labels"])[image_id - 1])
        items.append((folder_name(names[label - 1]), images / f"image_{image_id:05d}.jpg"))
    info = {"name": "flowers102", "split": split, "source": str(base.resolve())}
    return _link_folder(out, items, link=link, info=info)


def _flowers_classes():
    try:
        from torchvision.datasets import Flowers102
    except ImportError:  # pragma: no cover - depends on the environment
        return [f"{i:03d}" for i in range(1, 103)]
    return list(Flowers102.classes)


def make_cub200(root, out, *, split="train", link="symlink"):
    """CUB-200-2011 as an ImageFolder; the paper uses the train split (5,994 images).

    Parameters
    ----------
    root : path-like
        The extracted ``CUB_200_2011`` folder (``images.txt``, ``image_class_labels.txt``,
        ``train_test_split.txt``, ``classes.txt``, ``images/``) or its parent.
    out : path-like
        The ImageFolder to create (absent or empty).
    split : {"train", "test"}, default="train"
        From ``train_test_split.txt`` (1 = train).
    link : {"symlink", "hardlink"}, default="symlink"

    Returns
    -------
    pathlib.Path
        ``out``. Class folders keep the official names (``001.Black_footed_Albatross``).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    root = Path(root).expanduser()
    base = root if (root / "images.txt").exists() else root / "CUB_200_2011"
    paths = {i: p for i, p in _lines(_find(base, "images.txt", what="cub200 images.txt"))}
    is_train = dict(_lines(_find(base, "train_test_split.txt", what="cub200 split file")))
    wanted = "1" if split == "train" else "0"
    items = [
        (Path(path).parent.name, base / "images" / path)
        for image_id, path in sorted(paths.items(), key=lambda kv: int(kv[0]))
        if is_train.get(image_id) == wanted
    ]
    info = {"name": "cub200", "split": split, "source": str(base.resolve())}
    return _link_folder(out, items, link=link, info=info)


def make_mit67(root, out, *, split="train", link="symlink"):
    """MIT Indoor 67 as an ImageFolder; the paper uses the train split (5,360 images).

    Parameters
    ----------
    root : path-like
        The folder with ``Images/<class>/...`` (from ``indoorCVPR_09.tar``) and the official
        ``TrainImages.txt`` / ``TestImages.txt`` lists (``<class>/<file>`` per line).
    out : path-like
        The ImageFolder to create (absent or empty).
    split : {"train", "test"}, default="train"
    link : {"symlink", "hardlink"}, default="symlink"

    Returns
    -------
    pathlib.Path
        ``out``. Class folders are the official class names (``airport_inside``, ...).
    """
    lists = {"train": "TrainImages.txt", "test": "TestImages.txt"}
    if split not in lists:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    root = Path(root).expanduser()
    listing = _find(root, lists[split], what=f"mit67 {lists[split]}")
    images = _find(root, "Images", what="mit67 images (Images/)")
    with open(listing, encoding="utf-8") as fh:
        entries = [line.strip() for line in fh if line.strip()]
    items = [(entry.split("/", 1)[0], images / entry) for entry in entries]
    info = {"name": "mit67", "split": split, "source": str(root.resolve())}
    return _link_folder(out, items, link=link, info=info)


def make_imagenet_val(root, out, *, n_classes=500, random_state=0, link="symlink"):
    """A class subset of the ImageNet validation set (the paper's reference: 500 x 50 images).

    Parameters
    ----------
    root : path-like
        Either the layout :class:`torchvision.datasets.ImageNet` prepares (``val/<wnid>/``),
        or the official files extracted: ``ILSVRC2012_img_val/`` (the 50,000 flat JPEGs)
        and ``ILSVRC2012_devkit_t12/`` (``data/meta.mat`` and
        ``data/ILSVRC2012_validation_ground_truth.txt``).
    out : path-like
        The ImageFolder to create (absent or empty).
    n_classes : int, default=500
        Classes drawn at random (all 50 validation images of each are kept).
    random_state : int, default=0
        Seed of the draw: ``numpy.random.default_rng(random_state).choice`` over the sorted
        WordNet ids, without replacement. The default reproduces the subset dks documents.
    link : {"symlink", "hardlink"}, default="symlink"

    Returns
    -------
    pathlib.Path
        ``out``. Class folders are WordNet ids (``n01440764``, ...).
    """
    root = Path(root).expanduser()
    by_class = _imagenet_val_files(root)
    wnids = sorted(by_class)
    if not 1 <= n_classes <= len(wnids):
        raise ValueError(f"{option('n_classes')} must be in 1..{len(wnids)}; got {n_classes!r}.")
    rng = np.random.default_rng(random_state)
    chosen = sorted(rng.choice(wnids, size=n_classes, replace=False).tolist())
    items = [(wnid, path) for wnid in chosen for path in sorted(by_class[wnid])]
    info = {
        "name": "imagenet_val",
        "split": "val",
        "source": str(root.resolve()),
        "seed": random_state,
    }
    return _link_folder(out, items, link=link, info=info)


def _imagenet_val_files(root):
    """WordNet id -> validation image paths, from either supported layout."""
    val = root / "val"
    if val.is_dir():
        return {d.name: list(d.iterdir()) for d in val.iterdir() if d.is_dir()}
    from scipy.io import loadmat

    devkit = _find(root, "ILSVRC2012_devkit_t12", what="ImageNet devkit") / "data"
    meta = loadmat(devkit / "meta.mat", squeeze_me=True)["synsets"]
    leaf = {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in meta if int(s["num_children"]) == 0}
    truth = devkit / "ILSVRC2012_validation_ground_truth.txt"
    labels = [int(row[0]) for row in _lines(truth)]
    images = _find(root, "ILSVRC2012_img_val", what="ImageNet validation images")
    by_class = {}
    for index, label in enumerate(labels, start=1):
        path = images / f"ILSVRC2012_val_{index:08d}.JPEG"
        by_class.setdefault(leaf[label], []).append(path)
    return by_class
