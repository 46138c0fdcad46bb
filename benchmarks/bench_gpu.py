"""Benchmark of CNNEmbedder's input path for a GPU: bytes to the device, loader, speed.

On every machine:

* ``h2d_bytes_per_image``: the bytes of the host tensors that the embedder's CUDA path
  copies to the device per image, for VGG19 ten crops on JPEG photos of 500 x 375: measured
  on the tensors themselves (``DeviceFeeder.bytes_copied``, the sum of their ``nbytes``), with
  the bytes of the float32 crops that the CPU path's batch holds for comparison. Goal:
  at most 300,000 (one resized uint8 image, 341 x 256 x 3, instead of 6.0 MB of crops).
* ``loader_images_per_s_per_worker``: what one decoding worker does on those JPEGs: decode,
  resize (VGG19's: shorter side 256) and collate in one process, as a DataLoader worker
  does; with the CPU path's (crops and normalization in the worker) for comparison. A GPU
  needs ``its images/s / this`` workers.

With CUDA, for VGG19 and ResNet50 (random weights: speed does not depend on the values, and
nothing is downloaded), ten crops and one (centre), float32 and bfloat16:

* ``bare``: the whole model's forward pass on crop tensors made beforehand on the device
  (``channels_last``, under autocast for bfloat16), synchronized: the ceiling;
* ``embedder``: ``CNNEmbedder.transform`` on the JPEG files, default workers;
* ``loader``: the embedder's loader alone (decode and resize in the workers, pinned), no
  device work: what the cores can feed.

It prints images/s for each and the ratio embedder / bare (goal: at least 0.9 at bfloat16,
VGG19 ten crops). Without CUDA it prints ``gpu: skipped (...)`` and exits 0. A full run is
sized for a few minutes on one GPU; ``--budget`` (default 300 s) bounds the CUDA part: the
configurations not started by then are listed as skipped (on a slow GPU, the last ones).

Usage::

    python benchmarks/bench_gpu.py            # the full run
    python benchmarks/bench_gpu.py --quick    # a small smoke run
"""

import argparse
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def make_images(folder, n, size=(375, 500), seed=0):
    """Write ``n`` photo-like JPEG images (smooth random colours + noise) of ``size=(h, w)``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        small = rng.integers(0, 256, (size[0] // 16 + 1, size[1] // 16 + 1, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((size[1], size[0]), Image.BICUBIC)
        noise = rng.integers(-12, 13, (size[0], size[1], 3))
        pixels = np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
        path = folder / f"img{i:05d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(str(path))
    return paths


def parse_args(argv=None):
    """The options; ``--quick`` replaces the sizes by those of a small smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=768, help="JPEGs for the GPU runs")
    parser.add_argument("--loader-images", type=int, default=96, help="JPEGs per loader run")
    parser.add_argument("--models", nargs="+", default=["vgg19", "resnet50"])
    parser.add_argument("--batch-ten", type=int, default=32, help="images per batch, 10 crops")
    parser.add_argument("--batch-one", type=int, default=128, help="images per batch, 1 crop")
    parser.add_argument("--num-workers", type=int, default=None, help="default: the embedder's")
    parser.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="seconds for the CUDA runs: the configurations not started by then are skipped",
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_images, args.loader_images, args.batch_ten, args.batch_one = 64, 16, 8, 32
    return args


def vgg19_preprocess():
    """VGG19's preprocessing as CNNEmbedder resolves it (random weights, nothing downloaded)."""
    from dks.embed import CNNEmbedder
    from dks.embed._batching import Preprocess

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights
        embedder = CNNEmbedder(
            "vgg19", weights=None, layers=["conv1_1"], device="cpu", progress=False
        )
        embedder.fit(["unused.jpg"])
    return Preprocess(
        "ten",
        embedder.resize_,
        embedder.crop_size_,
        embedder.mean_,
        embedder.std_,
        embedder.interpolation_,
    )


def h2d_bytes(paths, preprocess, device):
    """Bytes per image that the device path copies, and those of the CPU path's crops."""
    import torch

    from dks.embed._batching import make_loader
    from dks.embed._device_crops import DeviceCrops, DeviceFeeder
    from dks.sources import open_images

    source = open_images(paths)
    loader = make_loader(
        source,
        preprocess,
        batch_size=8,
        num_workers=0,
        pin_memory=device.type == "cuda",
        resized=True,
    )
    feeder = DeviceFeeder(iter(loader), DeviceCrops(preprocess, device), device)
    with torch.inference_mode():
        for _ in feeder:
            pass
    ours = feeder.bytes_copied / feeder.images_copied
    cpu_bytes = cpu_images = 0
    for groups, _ in make_loader(
        source, preprocess, batch_size=8, num_workers=0, pin_memory=False
    ):
        for indices, crops in groups:
            cpu_bytes += crops.nbytes
            cpu_images += len(indices)
    return ours, cpu_bytes / cpu_images


def loader_rate(paths, preprocess, device_crops):
    """Images/s of one worker's work (decode, resize[, crop, normalize], collate)."""
    from dks.embed._batching import make_loader
    from dks.sources import open_images

    loader = make_loader(
        open_images(paths),
        preprocess,
        batch_size=8,
        num_workers=0,
        pin_memory=False,
        resized=device_crops,
    )
    start = time.perf_counter()
    n = sum(sum(len(i) for i, _ in groups) for groups, _ in loader)
    return n / (time.perf_counter() - start)


def crop_rates(preprocess, device, batch, repeats):
    """Images/s of DeviceCrops on ``device`` for a batch of one size and of 8 sizes.

    The second is what photos of mixed aspect ratios give: a group per size, each cropped
    at once and scattered into the batch in input order.
    """
    import torch

    from dks.embed._device_crops import DeviceCrops

    crops = DeviceCrops(preprocess, device)
    widths = [341 + 23 * (i % 8) for i in range(batch)]
    same = [(list(range(batch)), torch.zeros((batch, 256, 341, 3), dtype=torch.uint8))]
    mixed = {}
    for i, w in enumerate(widths):
        mixed.setdefault(w, []).append(i)
    mixed = [(ix, torch.zeros((len(ix), 256, w, 3), dtype=torch.uint8)) for w, ix in mixed.items()]
    rates = []
    for groups in (same, mixed):
        groups = [(i, g.to(device)) for i, g in groups]
        with torch.inference_mode():
            crops(groups)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            for _ in range(repeats):
                crops(groups)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        rates.append(repeats * batch / (time.perf_counter() - start))
    return rates


def _model(name):
    import torchvision

    return torchvision.models.get_model(name, weights=None).eval()


def bare_rate(name, n_crops, batch, precision, n_images, device):
    """Images/s of the whole model's forward pass on crops ready on the device."""
    import torch

    model = _model(name).to(device).to(memory_format=torch.channels_last)
    x = torch.randn(batch * n_crops, 3, 224, 224, device=device)
    x = x.contiguous(memory_format=torch.channels_last)
    dtype = {"bfloat16": torch.bfloat16, "float32": None}[precision]
    autocast = torch.autocast("cuda", dtype=dtype, enabled=dtype is not None)
    with torch.inference_mode(), autocast:
        for _ in range(3):
            model(x)
        torch.cuda.synchronize(device)
        steps = max(3, n_images // batch)
        start = time.perf_counter()
        for _ in range(steps):
            model(x)
        torch.cuda.synchronize(device)
    return steps * batch / (time.perf_counter() - start)


def embedder_rate(name, crops, batch, precision, paths, num_workers, device):
    """Images/s of CNNEmbedder.transform on the JPEG files (after a warm-up run)."""
    from dks.embed import CNNEmbedder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights
        embedder = CNNEmbedder(
            name,
            weights=None,
            crops=crops,
            precision=precision,
            batch_size=batch,
            num_workers=num_workers,
            device=device,
            progress=False,
        ).fit(paths[:1])
    embedder.transform(paths[: 2 * batch])
    start = time.perf_counter()
    embedder.transform(paths)
    return len(paths) / (time.perf_counter() - start), embedder


def loader_alone_rate(paths, preprocess, batch, num_workers):
    """Images/s of the embedder's host loader alone (workers, pinned memory), no GPU work."""
    from dks.embed._batching import default_num_workers, make_loader
    from dks.sources import open_images

    if num_workers is None:
        num_workers = default_num_workers(len(paths), batch, "cuda")
    loader = make_loader(
        open_images(paths),
        preprocess,
        batch_size=batch,
        num_workers=num_workers,
        pin_memory=True,
        resized=True,
    )
    start = time.perf_counter()
    n = sum(sum(len(i) for i, _ in groups) + len(errors) for groups, errors in loader)
    return n / (time.perf_counter() - start)


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        print("--quick: a smoke run; the goals are for the full problem")

    import torch

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPU(s), "
        + (f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}" if cuda else "no GPU")
    )
    with tempfile.TemporaryDirectory(prefix="dks-bench-gpu-") as tmp:
        n_jpegs = max(args.loader_images, args.n_images if cuda else 0)
        paths = make_images(Path(tmp) / "jpegs", n_jpegs)
        preprocess = vgg19_preprocess()

        ours, cpu = h2d_bytes(paths[: args.loader_images], preprocess, device)
        print(
            f"h2d_bytes_per_image={round(ours)}  (VGG19 ten crops, 500x375 JPEGs; goal <= 300000)"
        )
        print(f"  the CPU path's float32 crops: {round(cpu)} B per image ({cpu / ours:.1f}x)")

        loader_paths = paths[: args.loader_images]
        loader_rate(loader_paths[:8], preprocess, True)  # warm-up (imports, caches)
        device_rate = loader_rate(loader_paths, preprocess, True)
        crops_rate = loader_rate(loader_paths, preprocess, False)
        print(
            f"loader_images_per_s_per_worker={device_rate:.0f}  (decode + resize, 500x375 JPEGs)"
        )
        print(f"  with the CPU path's ten crops and normalization in the worker: {crops_rate:.0f}")

        same, mixed = crop_rates(preprocess, device, args.batch_ten, 3 if args.quick else 10)
        print(
            f"device crops on {device.type} (VGG19 ten crops, {args.batch_ten} images): "
            f"{same:.0f} images/s for one size, {mixed:.0f} for 8 sizes in the batch"
        )

        if not cuda:
            print("gpu: skipped (no CUDA device: torch.cuda.is_available() is False)")
            return 0

        gpu_paths = paths[: args.n_images]
        started = time.perf_counter()
        header = "model      crops  precision   bare img/s  embedder img/s  ratio  loader img/s"
        print("\n" + header)
        for name in args.models:
            for crops, n_crops, batch in (
                ("ten", 10, args.batch_ten),
                ("center", 1, args.batch_one),
            ):
                for precision in ("float32", "bfloat16"):
                    if time.perf_counter() - started > args.budget:
                        print(f"{name:<10} {crops:<6} {precision:<9}  (skipped: --budget spent)")
                        continue
                    if precision == "bfloat16" and not torch.cuda.is_bf16_supported():
                        print(f"{name:<10} {crops:<6} {precision:<9}  (bfloat16 not supported)")
                        continue
                    bare = bare_rate(name, n_crops, batch, precision, len(gpu_paths), device)
                    rate, embedder = embedder_rate(
                        name, crops, batch, precision, gpu_paths, args.num_workers, device
                    )
                    loader = loader_alone_rate(
                        gpu_paths, embedder._preprocess, batch, args.num_workers
                    )
                    goal = (
                        "  (goal >= 0.9)"
                        if (name, crops, precision) == ("vgg19", "ten", "bfloat16")
                        else ""
                    )
                    print(
                        f"{name:<10} {crops:<6} {precision:<9} {bare:>11.0f} {rate:>15.0f} "
                        f"{rate / bare:>6.2f} {loader:>13.0f}{goal}"
                    )
                    del embedder
                    torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
