"""The same few tiny images as a folder, a manifest, WebDataset shards and a saved dataset.

The images are digits of :func:`sklearn.datasets.load_digits` (8 x 8, grey), enlarged to
24 x 24 and saved as PNG; every kind lists them in the same order (class by class, as an
ImageFolder does), so that every kind must embed to the same rows with the same labels.
"""

import csv
import io
import tarfile
from pathlib import Path

import numpy as np

CLASSES = ["one", "three", "zero"]  # sorted, as ImageFolder orders them
DIGITS = {"one": 1, "three": 3, "zero": 0}
N_PER_CLASS = 4


def digit_images(n_per_class=N_PER_CLASS):
    """``[(class, name, png bytes)]`` class by class (names sorted within a class)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    out = []
    for cls in CLASSES:
        rows = np.flatnonzero(digits.target == DIGITS[cls])[:n_per_class]
        for i, row in enumerate(rows):
            pixels = (digits.images[row] * (255 / 16)).round().astype(np.uint8)
            image = Image.fromarray(np.kron(pixels, np.ones((3, 3), dtype=np.uint8)))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            out.append((cls, f"img_{i}.png", buffer.getvalue()))
    return out


def make_folder(root, images):
    root = Path(root)
    for cls, name, data in images:
        (root / cls).mkdir(parents=True, exist_ok=True)
        (root / cls / name).write_bytes(data)
    return root


def make_manifest(path, folder, images, *, path_column="path", label_column="label", sep=","):
    """A manifest of the files of :func:`make_folder`, paths relative to its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rel = Path(folder).relative_to(path.parent) if path.parent in Path(folder).parents else None
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=sep)
        writer.writerow([path_column, label_column])
        for cls, name, _ in images:
            where = (rel / cls / name) if rel is not None else (Path(folder) / cls / name)
            writer.writerow([where.as_posix(), cls])
    return path


def make_shards(folder, images, *, n_shards=2, index_labels=False, broken=()):
    """WebDataset shards ``shard-000000.tar`` ...; ``broken``: keys whose image is garbage.

    With ``index_labels``, ``.cls`` holds the class index and ``classes.txt`` the names.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    per_shard = -(-len(images) // n_shards)
    for s in range(n_shards):
        with tarfile.open(folder / f"shard-{s:06d}.tar", "w") as tar:
            for cls, name, data in images[s * per_shard : (s + 1) * per_shard]:
                key = f"{cls}/{Path(name).stem}"
                label = str(CLASSES.index(cls)) if index_labels else cls
                payload = b"not a png" if key in broken else data
                for ext, content in (("png", payload), ("cls", label.encode())):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(content)
                    tar.addfile(info, io.BytesIO(content))
    if index_labels:
        (folder / "classes.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")
    return folder / ("shard-{000000.." + f"{n_shards - 1:06d}" + "}.tar")


def make_hf_dataset(path, images, *, broken=(), class_label=True, splits=None):
    """A dataset saved with ``save_to_disk`` (a DatasetDict when ``splits`` are named)."""
    import datasets

    labels = [CLASSES.index(c) if class_label else c for c, _, _ in images]
    data = [
        {"bytes": b"not a png" if i in broken else d, "path": None}
        for i, (_, _, d) in enumerate(images)
    ]
    features = datasets.Features(
        image=datasets.Image(),
        label=datasets.ClassLabel(names=CLASSES) if class_label else datasets.Value("string"),
    )
    ds = datasets.Dataset.from_dict({"image": data, "label": labels}, features=features)
    if splits:
        ds = datasets.DatasetDict({s: ds for s in splits})
    ds.save_to_disk(str(path))
    return Path(path)
