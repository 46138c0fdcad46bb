"""Benchmark of the image sources: the read rate of shards (and a saved dataset) against a folder.

The same ``--n-images`` JPEG images (``--size`` pixels square, smooth random content, in
``--classes`` classes) are written as an ImageFolder, as WebDataset tar shards of
``--per-shard`` images and, when ``datasets`` is installed, as a Hugging Face dataset saved
to disk. Each is then listed and read as the embedder reads it, every image opened and
decoded to RGB (:meth:`dks.sources.ImageReader.read`), in one process. Printed, for each
source: the listing time, the read rate (images decoded per second) and its ratio to the folder's,
measured in the same run (best of ``--repeat`` alternating rounds, the files in the page
cache for every source alike). The ratio says what reading in place costs or saves against
a million small files: on a local disk with a warm cache the decoding dominates and the ratio
is near 1; shards save the per-file ``open`` and ``stat`` of a network file system, which
this benchmark does not have.

Usage::

    python benchmarks/bench_sources.py            # about a minute on 2 CPU cores
    python benchmarks/bench_sources.py --quick    # a small smoke run
"""

import argparse
import io
import os
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def make_images(n_images, size, n_classes, seed=0):
    """``[(class, name, jpeg bytes)]``, class by class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_images):
        cls = f"class_{i % n_classes:02d}"
        small = rng.integers(0, 256, (size // 16 + 1, size // 16 + 1, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((size, size), Image.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        out.append((cls, f"img_{i:06d}.jpg", buffer.getvalue()))
    out.sort(key=lambda item: (item[0], item[1]))
    return out


def write_folder(root, images):
    for cls, name, data in images:
        (root / cls).mkdir(parents=True, exist_ok=True)
        (root / cls / name).write_bytes(data)
    return root


def write_shards(root, images, per_shard):
    root.mkdir(parents=True)
    n_shards = -(-len(images) // per_shard)
    for s in range(n_shards):
        with tarfile.open(root / f"shard-{s:06d}.tar", "w") as tar:
            for cls, name, data in images[s * per_shard : (s + 1) * per_shard]:
                key = f"{cls}/{Path(name).stem}"
                for ext, content in (("jpg", data), ("cls", cls.encode())):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(content)
                    tar.addfile(info, io.BytesIO(content))
    return os.fspath(root / ("shard-{000000.." + f"{n_shards - 1:06d}" + "}.tar"))


def write_dataset(root, images):
    """A saved Hugging Face dataset, or None without ``datasets``."""
    try:
        import datasets
    except ImportError:
        return None
    classes = sorted({c for c, _, _ in images})
    features = datasets.Features(image=datasets.Image(), label=datasets.ClassLabel(names=classes))
    ds = datasets.Dataset.from_dict(
        {
            "image": [{"bytes": d, "path": None} for _, _, d in images],
            "label": [classes.index(c) for c, _, _ in images],
        },
        features=features,
    )
    datasets.disable_progress_bars()
    ds.save_to_disk(os.fspath(root))
    return os.fspath(root)


def list_source(kind, location):
    """``(seconds to list, a function that reads image i)``."""
    from dks.embed import image_folder
    from dks.sources import ImageReader, open_collection

    start = time.perf_counter()
    if kind == "folder":
        paths, _, _ = image_folder(location)
        elapsed = time.perf_counter() - start
        return elapsed, len(paths), lambda i: ImageReader().read(paths[i])
    collection = open_collection(location)
    elapsed = time.perf_counter() - start
    return elapsed, len(collection), lambda i: ImageReader().load(collection, i)


def read_rate(read, n):
    """Images decoded per second, every image read once in order."""
    start = time.perf_counter()
    for i in range(n):
        read(i).close()
    return n / (time.perf_counter() - start)


def parse_args(argv=None):
    """The options; ``--quick`` replaces the sizes by those of a small smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=3000)
    parser.add_argument("--size", type=int, default=160, help="side of the images, pixels")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--per-shard", type=int, default=500, help="images per tar shard")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is shown")
    parser.add_argument("--dir", default=None, help="where to write (the disk to measure)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_images, args.size, args.per_shard, args.repeat = 120, 64, 50, 1
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        print("--quick: a smoke run; the figures are for the full sizes")
    warnings.simplefilter("ignore")
    images = make_images(args.n_images, args.size, args.classes)
    mean_kb = np.mean([len(d) for _, _, d in images]) / 1024
    print(
        f"{len(images)} JPEG images of {args.size}x{args.size} pixels ({mean_kb:.1f} KiB each), "
        f"{args.classes} classes; shards of {args.per_shard} images"
    )
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        sources = {
            "folder": os.fspath(write_folder(tmp / "folder", images)),
            "webdataset": write_shards(tmp / "shards", images, args.per_shard),
        }
        saved = write_dataset(tmp / "hf", images)
        if saved is not None:
            sources["hf-dataset"] = saved
        best = {kind: (np.inf, 0.0) for kind in sources}
        for _ in range(args.repeat):
            for kind, location in sources.items():
                listing, n, read = list_source(kind, location)
                assert n == len(images), (kind, n)
                rate = read_rate(read, n)
                best[kind] = (min(best[kind][0], listing), max(best[kind][1], rate))
    baseline = best["folder"][1]
    print(f"{'source':<12} {'listing':>10} {'read rate':>14} {'/ folder':>9}")
    for kind, (listing, rate) in best.items():
        print(f"{kind:<12} {listing * 1000:>8.1f} ms {rate:>10.0f} img/s {rate / baseline:>8.2f}x")


if __name__ == "__main__":
    main()
