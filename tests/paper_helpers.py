"""Tiny fakes of the paper's datasets' official files (nothing downloads)."""

import numpy as np
from PIL import Image
from scipy.io import savemat


def jpeg(path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 3), (value, 0, 0)).save(path, format="JPEG")
    return path


def read_folder(out):
    """Class folder -> sorted file names (what an ImageFolder reader sees)."""
    return {
        d.name: sorted(f.name for f in d.iterdir()) for d in sorted(out.iterdir()) if d.is_dir()
    }


def fake_devkit(root, n_classes, per_class):
    wnids = [f"n{1000 + i:08d}" for i in range(n_classes)]
    synsets = np.zeros(
        n_classes + 1,
        dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("num_children", "O")],
    )
    for i, wnid in enumerate(wnids):
        synsets[i] = (i + 1, wnid, f"thing {i}", 0)
    synsets[n_classes] = (n_classes + 1, "n99999999", "an inner node", 3)
    data = root / "ILSVRC2012_devkit_t12" / "data"
    data.mkdir(parents=True)
    savemat(data / "meta.mat", {"synsets": synsets})
    labels = np.tile(np.arange(1, n_classes + 1), per_class)
    (data / "ILSVRC2012_validation_ground_truth.txt").write_text(
        "".join(f"{label}\n" for label in labels)
    )
    for index in range(1, labels.size + 1):
        jpeg(root / "ILSVRC2012_img_val" / f"ILSVRC2012_val_{index:08d}.JPEG")
    return wnids, labels


def fake_flowers(tmp_path):
    """Flowers-102's official files for 6 images of 3 classes, under ``tmp_path/src``."""
    base = tmp_path / "src" / "flowers-102"
    labels = np.array([1, 1, 2, 3, 2, 3])  # image i+1 has labels[i] (1-based classes)
    for i in range(1, 7):
        jpeg(base / "jpg" / f"image_{i:05d}.jpg", i)
    savemat(base / "imagelabels.mat", {"labels": labels})
    savemat(
        base / "setid.mat",
        {"trnid": np.array([1, 3]), "valid": np.array([5]), "tstid": np.array([6, 2, 4])},
    )
    return tmp_path / "src"
