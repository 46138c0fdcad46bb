"""Benchmark of CNNEmbedder: allocator, speed against the bare model, memory.

Allocator. Crops per second of the bare forward pass (``--batch-size`` images x 10 crops per
batch) in three processes: glibc's default allocator (dks's tuning turned off), dks's
tuning (:mod:`dks.embed._allocator`, no environment variable), and the ``MALLOC_*_`` variables
that users set by hand; runs interleaved, medians, with system time and minor page faults.
The goal: dks's tuning as fast as the variables.

Speed. For each model, crops per second of

* ``embedder``: ``CNNEmbedder.transform`` on JPEG files (decoding, resizing, ten-cropping,
  in DataLoader workers if ``num_workers`` asks for them or its default finds free cores;
  hooks, in-hook pooling, crop averaging, copy to numpy), and
* ``bare``: the bare ``model(x)`` forward pass on crop tensors made beforehand (random,
  float32, channels_last), with the same number of crops per batch, in a subprocess whose
  allocator is tuned by the ``MALLOC_*_`` environment variables,

measured in the same run: ``--repeats`` pairs of runs made back to back (in alternating
order), each pair giving a ratio embedder / bare; the median ratio is reported (the goal is
at least 0.95: all that the embedder adds costs under 5 %), with the median crops/s of each.
Pairs make the ratio robust to the load of other processes on a shared machine. The bare
forward runs the whole network (VGG19 up to fc8), the embedder stops after the last layer it
needs (fc7). VGG19 uses random weights (``weights=None``): speed does not depend on the
values, and no download is needed. EfficientNet-Lite0 uses its packaged ImageNet weights.

Memory. ``--n-images`` small JPEG files (default 2000) are embedded to a
``.npy`` file, each run in a fresh process, and for comparison into an in-memory array;
reported: the peak resident memory (``ru_maxrss``) of the process (DataLoader workers, if
any, not included), and the peak of the memory that numpy allocates during the transform
(tracemalloc, which numpy reports to). With a file the latter stays at the size of a batch,
whatever the number of images. The memory runs use EfficientNet-Lite0 with centre crops by
default: 2000 images x 10 crops through VGG19 are 20,000 crops, about 40 minutes at the 8
crops/s of 2 CPU cores; and the output's size, not the model, is what grows with the number
of images (``--memory-model vgg19`` measures it anyway).

Usage::

    python benchmarks/bench_embed.py                 # a few minutes on 2 CPU cores
    python benchmarks/bench_embed.py --models vgg19 --vgg-images 16 --repeats 3
    python benchmarks/bench_embed.py --skip-speed --n-images 5000
    python benchmarks/bench_embed.py --quick         # a small smoke run (EfficientNet-Lite0)
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np


def make_images(folder, n, size=(375, 500), seed=0):
    """Write ``n`` JPEG photos-like images (smooth random colours) of ``size=(h, w)``."""
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


def build_embedder(model, batch_size, num_workers, crops="ten", output=None):
    from dks.embed import CNNEmbedder

    weights = None if model != "efficientnet_lite0" else "DEFAULT"
    embedder = CNNEmbedder(
        model,
        weights=weights,
        crops=crops,
        batch_size=batch_size,
        num_workers=num_workers,
        device="cpu",
        output=output,
        progress=False,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # weights=None: random weights
        return embedder.fit([np.zeros((8, 8, 3), np.uint8)])


# CNNEmbedder's default batch size: what users get, and where the allocator matters most
# (a batch frees its activations together; see dks.embed._allocator).
DEFAULT_BATCH_SIZE = 8

ALLOCATOR_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
    "MALLOC_TOP_PAD_": "1073741824",
}


def bare_worker(model, crops_per_batch, allocator):
    """Serve bare forward passes: read ``n_batches`` lines on stdin, print a JSON result.

    Runs in its own process, so that the allocator is the one asked for: ``"env"`` (the
    parent set the ``MALLOC_*_`` variables: the tuned baseline), ``"glibc"`` (glibc's
    defaults: dks's tuning turned off) or ``"dks"`` (:func:`dks.embed._allocator.tune_allocator`).
    """
    import torch

    from dks import _config
    from dks.embed import _allocator

    _config.TUNE_ALLOCATOR = allocator == "dks"
    if allocator == "dks" and not _allocator.tune_allocator():
        raise RuntimeError("tune_allocator() did not apply (not glibc?)")
    embedder = build_embedder(model, crops_per_batch // 10, 0)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(crops_per_batch, 3, 224, 224, generator=generator)
    x = x.contiguous(memory_format=torch.channels_last)
    net = embedder.model_.eval()
    with torch.inference_mode():
        net(x)  # warm up
        print("ready", flush=True)
        for line in sys.stdin:
            n_batches = int(line)
            before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            for _ in range(n_batches):
                net(x)
            seconds = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            result = {
                "seconds": seconds,
                "crops": n_batches * crops_per_batch,
                "system_s": after.ru_stime - before.ru_stime,
                "minor_faults": after.ru_minflt - before.ru_minflt,
            }
            print(json.dumps(result), flush=True)


class BareForward:
    """A :func:`bare_worker` subprocess; ``run(n_batches)`` returns its JSON result."""

    def __init__(self, model, crops_per_batch, allocator):
        env = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_ENV}
        if allocator == "env":
            env.update(ALLOCATOR_ENV)
        here = str(Path(__file__).resolve().parent)
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import bench_embed; "
            "bench_embed.bare_worker(sys.argv[2], int(sys.argv[3]), sys.argv[4])"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, here, model, str(crops_per_batch), allocator],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        if self.process.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError(f"the bare forward process ({allocator}) failed to start")

    def run(self, n_batches):
        self.process.stdin.write(f"{n_batches}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def bench_allocator(model, batch_size, n_batches, repeats):
    """Bare forward crops/s under glibc's defaults, under dks's tuning, and under the env."""
    crops_per_batch = 10 * batch_size
    workers = {name: BareForward(model, crops_per_batch, name) for name in ("glibc", "dks", "env")}
    runs = {name: [] for name in workers}
    try:
        for pair in range(repeats):
            names = list(workers) if pair % 2 == 0 else list(workers)[::-1]
            for name in names:
                runs[name].append(workers[name].run(n_batches))
    finally:
        for worker in workers.values():
            worker.close()
    speed = {n: [r["crops"] / r["seconds"] for r in rs] for n, rs in runs.items()}
    return {
        "model": model,
        "batch_crops": crops_per_batch,
        **{f"{n}_crops_per_s": float(np.median(v)) for n, v in speed.items()},
        **{
            f"{n}_minor_faults": int(np.median([r["minor_faults"] for r in rs]))
            for n, rs in runs.items()
        },
        **{
            f"{n}_system_s": float(np.median([r["system_s"] for r in rs]))
            for n, rs in runs.items()
        },
        "dks_vs_glibc": float(np.median(np.divide(speed["dks"], speed["glibc"]))),
        "dks_vs_env": float(np.median(np.divide(speed["dks"], speed["env"]))),
    }


def bench_speed(model, paths, batch_size, repeats, num_workers):
    """Crops per second of the embedder and of the bare forward pass, in interleaved pairs.

    Each pair times one ``transform`` of all ``paths`` (in this process, with dks's default
    allocator handling) and the bare forward pass over as many crops in batches of the same
    size (in a subprocess with the ``MALLOC_*_`` variables set: the tuned baseline), in
    alternating order (ABBA), so that both see the same load from other processes; the
    ratio of a pair compares like with like.
    """
    embedder = build_embedder(model, batch_size, num_workers)
    n_crops = 10 * len(paths)
    crops_per_batch = 10 * batch_size
    n_batches = -(-len(paths) // batch_size)
    bare = BareForward(model, crops_per_batch, "env")
    embedder.transform(paths[:batch_size])  # warm up
    times = {"bare": [], "embedder": []}
    try:
        for pair in range(repeats):
            for name in ("bare", "embedder") if pair % 2 == 0 else ("embedder", "bare"):
                if name == "bare":
                    times[name].append(bare.run(n_batches)["seconds"])
                else:
                    start = time.perf_counter()
                    embedder.transform(paths)
                    times[name].append(time.perf_counter() - start)
    finally:
        bare.close()
    bare_crops = n_batches * crops_per_batch
    ratios = [
        (n_crops / e) / (bare_crops / b)
        for b, e in zip(times["bare"], times["embedder"], strict=True)
    ]
    from dks.embed._batching import default_num_workers

    workers = num_workers
    if workers is None:
        workers = default_num_workers(len(paths), batch_size, "cpu")
    return {
        "model": model,
        "weights": embedder.weights_ or "random",
        "workers": workers,
        "images": len(paths),
        "batch_crops": crops_per_batch,
        "bare_crops_per_s": float(np.median([bare_crops / t for t in times["bare"]])),
        "embedder_crops_per_s": float(np.median([n_crops / t for t in times["embedder"]])),
        "ratio_median": float(np.median(ratios)),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "bare_runs_s": times["bare"],
        "embedder_runs_s": times["embedder"],
    }


def memory_child(spec):
    """Run one memory measurement (in a fresh process); print a JSON line."""
    paths = sorted(str(p) for p in Path(spec["folder"]).glob("*.jpg"))[: spec["n_images"]]
    output = spec["output"]
    embedder = build_embedder(
        spec["model"], spec["batch_size"], spec["num_workers"], spec["crops"], output
    )
    from dks.embed._batching import default_num_workers

    workers = spec["num_workers"]
    if workers is None:
        workers = default_num_workers(len(paths), spec["batch_size"], "cpu")
    rss_after_fit = _current_rss_mb()
    tracemalloc.start()
    start = time.perf_counter()
    X = embedder.transform(paths)
    seconds = time.perf_counter() - start
    _, numpy_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = {
        **spec,
        "shape": list(X.shape),
        "seconds": seconds,
        "rss_after_fit_mb": rss_after_fit,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "workers": workers,
        "traced_peak_mb": numpy_peak / 2**20,
        "output_mb": X.nbytes / 2**20,
    }
    print(json.dumps(result))


def _load():
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _current_rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_memory(folder, n_images, model, crops, batch_size, num_workers, out_dir, to_file):
    spec = {
        "folder": str(folder),
        "n_images": n_images,
        "model": model,
        "crops": crops,
        "batch_size": batch_size,
        "num_workers": num_workers,
        "output": str(out_dir / f"features_{n_images}.npy") if to_file else None,
    }
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import bench_embed; "
        "bench_embed.memory_child(json.loads(sys.argv[2]))"
    )
    here = str(Path(__file__).resolve().parent)
    done = subprocess.run(
        [sys.executable, "-c", code, here, json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"memory run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_args(argv=None):
    """The options; ``--quick`` replaces the sizes by those of a small smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["vgg19", "efficientnet_lite0"])
    parser.add_argument("--vgg-images", type=int, default=4, help="images for VGG speed")
    parser.add_argument("--lite0-images", type=int, default=32, help="images for Lite0 speed")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="images per batch (x10 crops); default: CNNEmbedder's own (8) for "
        "EfficientNet-Lite0, 2 for VGG19 (whose 80-crop batches take minutes on 2 cores)",
    )
    parser.add_argument("--repeats", type=int, default=4, help="pairs of speed runs (VGG19)")
    parser.add_argument(
        "--lite0-repeats",
        type=int,
        default=10,
        help="pairs of speed runs for EfficientNet-Lite0 (a few seconds each; the ratio of "
        "one pair varies by +-5%% on a shared 2-core machine)",
    )
    parser.add_argument("--num-workers", type=int, default=None, help="DataLoader workers")
    parser.add_argument("--n-images", type=int, default=2000, help="images for the memory runs")
    parser.add_argument("--memory-model", default="efficientnet_lite0")
    parser.add_argument("--memory-crops", default="center", choices=["ten", "center", "none"])
    parser.add_argument("--memory-batch-size", type=int, default=32)
    parser.add_argument("--allocator-batches", type=int, default=3, help="batches per run")
    parser.add_argument("--skip-allocator", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.models = ["efficientnet_lite0"]
        args.lite0_images, args.batch_size, args.repeats, args.lite0_repeats = 2, 1, 1, 1
        args.allocator_batches, args.n_images, args.memory_batch_size = 1, 20, 4
    return args


def batch_for(args, model):
    """Images per batch for ``model``: ``--batch-size``, else the default described there."""
    if args.batch_size is not None:
        return args.batch_size
    return 2 if model.startswith("vgg") else DEFAULT_BATCH_SIZE


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        print("--quick: a smoke run; the goals are for the full problem")

    import torch

    print(
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPU(s), {torch.get_num_threads()} torch threads, "
        f"load average {_load()}"
    )
    results = {"allocator": [], "speed": [], "memory": []}
    if not args.skip_allocator:
        print(
            f"\nAllocator: bare forward, {args.allocator_batches} batches per run, "
            f"{args.repeats} runs each, medians"
        )
        print(
            f"{'model':<20}{'crops/batch':>12}{'glibc':>8}{'dks':>8}{'env':>8}{'dks/glibc':>11}{'dks/env':>9}"
            f"{'sys s (glibc/dks/env)':>24}{'minor faults (glibc/dks/env)':>32}"
        )
        for model in args.models:
            size = batch_for(args, model)
            row = bench_allocator(model, size, args.allocator_batches, args.repeats)
            results["allocator"].append(row)
            system = "/".join(f"{row[f'{n}_system_s']:.1f}" for n in ("glibc", "dks", "env"))
            faults = "/".join(str(row[f"{n}_minor_faults"]) for n in ("glibc", "dks", "env"))
            print(
                f"{model:<20}{size * 10:>12}{row['glibc_crops_per_s']:>8.2f}"
                f"{row['dks_crops_per_s']:>8.2f}"
                f"{row['env_crops_per_s']:>8.2f}{row['dks_vs_glibc']:>11.2f}"
                f"{row['dks_vs_env']:>9.3f}{system:>24}{faults:>32}"
            )
        print(
            "(crops/s; glibc = default allocator, dks = dks.embed._allocator.tune_allocator(), "
            "env = MALLOC_*_ variables; goal dks/env >= 0.95)"
        )
    with tempfile.TemporaryDirectory(prefix="dks-bench-") as tmp:
        tmp = Path(tmp)
        if not args.skip_speed:
            n_speed = max(args.vgg_images, args.lite0_images)
            paths = make_images(tmp / "speed", n_speed)
            print("\nSpeed: ten 224x224 crops of 500x375 JPEGs")
            print(
                f"{'model':<20}{'weights':<46}{'batch':>6}{'workers':>8}{'bare':>8}{'embedder':>10}"
                f"{'ratio (median, min-max of pairs)':>36}"
            )
            for model in args.models:
                n = args.vgg_images if model.startswith("vgg") else args.lite0_images
                size = batch_for(args, model)
                repeats = args.repeats if model.startswith("vgg") else args.lite0_repeats
                row = bench_speed(model, paths[:n], size, repeats, args.num_workers)
                results["speed"].append(row)
                spread = f"{row['ratio_min']:.3f}-{row['ratio_max']:.3f}"
                print(
                    f"{model:<20}{row['weights']:<46}{size:>6}{row['workers']:>8}"
                    f"{row['bare_crops_per_s']:>8.2f}"
                    f"{row['embedder_crops_per_s']:>10.2f}{row['ratio_median']:>22.3f}"
                    f"{spread:>14}"
                )
            print(
                "(crops/s, median of runs; bare = subprocess with MALLOC_*_ variables; "
                "ratio = embedder / bare crops/s of runs made back to back; goal >= 0.95)"
            )
        if not args.skip_memory:
            print(
                f"\nMemory: {args.n_images} JPEGs (320x240), {args.memory_model}, "
                f"crops={args.memory_crops!r}, batch {args.memory_batch_size}"
            )
            paths = make_images(tmp / "memory", args.n_images, size=(240, 320), seed=1)
            small = max(1, args.n_images // 10)
            runs = [(small, True), (args.n_images, True), (small, False)]
            print(
                f"{'images':>7} {'output':<8}{'rows x cols':>14}{'MiB out':>9}{'RSS fit':>9}"
                f"{'peak RSS':>10}{'workers':>8}{'numpy peak':>12}{'img/s':>8}"
            )
            for n, to_file in runs:
                row = bench_memory(
                    tmp / "memory",
                    n,
                    args.memory_model,
                    args.memory_crops,
                    args.memory_batch_size,
                    args.num_workers,
                    tmp,
                    to_file,
                )
                results["memory"].append(row)
                shape = "x".join(map(str, row["shape"]))
                print(
                    f"{n:>7} {'.npy' if to_file else 'memory':<8}{shape:>14}"
                    f"{row['output_mb']:>9.1f}{row['rss_after_fit_mb']:>9.0f}"
                    f"{row['peak_rss_mb']:>10.0f}{row['workers']:>8}"
                    f"{row['traced_peak_mb']:>12.1f}{n / row['seconds']:>8.1f}"
                )
            print(
                "(MiB; RSS = resident memory of the main process, DataLoader workers not "
                "included; numpy peak = tracemalloc peak during transform)"
            )
    print(f"\nload average at the end: {_load()} (other processes slow the runs down)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
