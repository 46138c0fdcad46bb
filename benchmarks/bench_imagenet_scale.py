"""ImageNet scale in bounded memory: ``dks characterize`` and ``dks report`` at 1.28 M images.

Writes a results folder of ImageNet-train shape through the store's own writer
(:class:`dks.store.StoreWriter`, chunk by chunk, as ``dks embed`` does): ``--rows`` rows
(1,281,167) x ``--features`` (3,120: EfficientNet-Lite0's "paper" layers, with their
widths), ``--classes`` (1,000) classes of ImageNet-like sizes (732-1,300 images, most
1,300), post-ReLU-like activations (``max(0, z)``, ``z`` normal, about half zeros) with a
planted signal: each class has a few features shifted up on its images (present) and a
few set to zero on them (absent). Then runs, each as its own ``dks`` process in a memory
cgroup (v1) of ``--limit-mib`` (4 GiB, page cache included), ``dks characterize`` and
``dks report`` with global thresholds, then both again with per-class thresholds; and the
same at ``--small-rows`` (128,116, a tenth) in the same run, as the baseline.

Printed per size: the time to write the folder, each command's wall time and peak resident
memory (``ru_maxrss`` of the process), and whether it stayed in the limit. The last line::

    imagenet-scale: rows=R classes=C features=F wall_s=S peak_rss_mib=M
    memory_limit_mib=4096 scaling_10x=X

``wall_s``: the four commands at ``--rows``; ``peak_rss_mib``: the largest peak of them;
``scaling_10x``: ``wall_s`` / the same at ``--small-rows`` (10 for linear scaling). Goal on
2 cores: ``wall_s`` <= 600, ``scaling_10x`` <= 11.

The full run writes about 16 GB (check ``df -h``) under ``--dir`` and removes it after
(``--keep`` keeps it). Without a usable cgroup v1 memory controller (not root) the commands
run without a limit, and the line says ``memory_limit_mib=none``.

Usage::

    nice python benchmarks/bench_imagenet_scale.py --dir /work/tmp     # long
    python benchmarks/bench_imagenet_scale.py --quick                   # a small smoke run
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: EfficientNet-Lite0's "paper" layers and their widths (3,120 features in all).
LITE0_LAYERS = (
    [("conv_stem", 32), ("blocks.0.0", 16)]
    + [(f"blocks.1.{i}", 24) for i in range(2)]
    + [(f"blocks.2.{i}", 40) for i in range(2)]
    + [(f"blocks.3.{i}", 80) for i in range(3)]
    + [(f"blocks.4.{i}", 112) for i in range(3)]
    + [(f"blocks.5.{i}", 192) for i in range(4)]
    + [("blocks.6.0", 320), ("conv_head", 1280)]
)

#: Planted features per class: shifted up on the class (presence), zero on it (absence).
N_PRESENT, N_ABSENT = 6, 3


# ------------------------------------------------------------------------- the data
def class_sizes(n_rows, n_classes, seed=0):
    """ImageNet-like class sizes: most at the largest, some smaller, summing to ``n_rows``.

    ImageNet-train: 1,000 classes of 732 to 1,300 images (1,281,167 in all, 895 classes at
    1,300). Here the largest is ``ceil(1300 * n_rows / 1,281,167)`` and the smallest about
    56% of it, as there; the deficit is spread over random classes.
    """
    rng = np.random.default_rng(seed)
    top = max(2, int(np.ceil(1300 * n_rows / 1_281_167 * 1000 / n_classes)))
    low = max(1, round(top * 732 / 1300))
    sizes = np.full(n_classes, top, dtype=np.int64)
    deficit = int(sizes.sum() - n_rows)
    if deficit < 0:
        raise ValueError(f"{n_classes} classes of at most {top} cannot hold {n_rows} rows")
    order = rng.permutation(n_classes)
    sizes[order[0]] = low  # the smallest class, as ImageNet's 732
    deficit -= top - low
    for c in order[1:]:
        if deficit <= 0:
            break
        cut = min(deficit, int(rng.integers(1, top - low + 1)))
        sizes[c] -= cut
        deficit -= cut
    sizes[order[0]] -= min(deficit, 0)  # deficit < 0: give the rows back to the smallest
    assert sizes.sum() == n_rows and sizes.min() >= 1
    return sizes


def _layers(n_features):
    if n_features == sum(w for _, w in LITE0_LAYERS):
        layers = LITE0_LAYERS
    else:  # another width (--quick): two layers
        layers = [("low", n_features // 2), ("high", n_features - n_features // 2)]
    spans, start = {}, 0
    for name, width in layers:
        spans[name] = [start, start + width]
        start += width
    names = [f"{name}_{i}" for name, width in layers for i in range(width)]
    return spans, names


def _planted(n_classes, n_features, seed):
    """Per class: the columns shifted up on it and the columns zero on it."""
    rng = np.random.default_rng(seed + 1)
    cols = [rng.choice(n_features, N_PRESENT + N_ABSENT, replace=False) for _ in range(n_classes)]
    return np.array([c[:N_PRESENT] for c in cols]), np.array([c[N_PRESENT:] for c in cols])


def write_folder(out, n_rows, n_classes, n_features, seed=0):
    """Write ``out`` (embedding.zarr through StoreWriter, embedding.json); return seconds."""
    from dks.results._folder import FORMAT, STORE
    from dks.store import EmbeddingStore, StoreWriter, chunk_rows_for

    start = time.perf_counter()
    sizes = class_sizes(n_rows, n_classes, seed)
    classes = [f"n{c:08d}" for c in range(n_classes)]  # ImageNet's synset-like names
    codes = np.repeat(np.arange(n_classes), sizes)  # ImageFolder order: class by class
    images = [
        f"{classes[c]}/{classes[c]}_{i}.JPEG" for c in range(n_classes) for i in range(sizes[c])
    ]
    spans, names = _layers(n_features)
    present, absent = _planted(n_classes, n_features, seed)
    manifest = {
        "settings": {"model": "bench_imagenet_scale", "rows": n_rows, "seed": seed},
        "feature_names": names,
        "layer_slices": spans,
    }
    out.mkdir(parents=True)
    root = "/data/imagenet/train"
    writer = StoreWriter(
        out / STORE, manifest, [f"{root}/{p}" for p in images], chunk_rows_for(n_features, 8)
    )
    rng = np.random.default_rng(seed)
    base = rng.normal(-0.2, 0.3, n_features).astype(np.float32)  # per-feature offsets
    for chunk in writer.pending:
        first, stop = writer.chunk_range(chunk)
        block = np.random.default_rng([seed, chunk]).standard_normal(
            (stop - first, n_features), dtype=np.float32
        )
        block += base
        rows_class = codes[first:stop]
        r = np.arange(stop - first)[:, None]
        block[r, present[rows_class]] += 1.0
        np.maximum(block, 0.0, out=block)  # post-ReLU
        block[r, absent[rows_class]] = 0.0
        writer.write_chunk(chunk, block)
    writer.finish()
    labels = [classes[c] for c in codes]
    EmbeddingStore(out / STORE).set_labels(labels)
    meta = {
        "format": FORMAT,
        "store": STORE,
        "feature_names": names,
        "layers": spans,
        "images_root": root,
        "images": images,
        "labels": labels,
        "classes": classes,
        "dataset": f"ImageNet-train-shaped synthetic data ({n_rows} images)",
        "skipped": [],
        "settings": {"model": "bench_imagenet_scale", "weights": None, "seconds": None},
        "fingerprint": writer.fingerprint,
    }
    (out / "embedding.json").write_text(json.dumps(meta), encoding="utf-8")
    return time.perf_counter() - start


# --------------------------------------------------------------------- the commands
def setup_cgroup(limit_mib):
    """A cgroup v1 of ``limit_mib`` for the commands, or None (with a warning)."""
    path = f"/sys/fs/cgroup/memory/dksbench-imagenet-{os.getpid()}"
    try:
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "memory.limit_in_bytes"), "w") as f:
            f.write(str(limit_mib * 1024 * 1024))
        return path
    except OSError as exc:
        print(
            f"!! No cgroup v1 memory controller usable here ({exc}); the commands run "
            "WITHOUT a memory limit (run as root on a cgroup v1 machine)."
        )
        return None


def run_dks(args, cgroup):
    """Run ``dks ARGS`` (in ``cgroup``); return (seconds, peak RSS in MiB)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "dks", *map(str, args)]
    if cgroup:  # the shell joins the cgroup, then becomes dks
        cmd = ["sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec "$@"', "sh", *cmd]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        killed = proc.returncode == -signal.SIGKILL
        raise SystemExit(
            f"dks {args[0]} failed ({'killed: out of memory?' if killed else proc.returncode}) "
            f"after {seconds:.0f} s:\n" + "\n".join(err.strip().splitlines()[-5:])
        )
    return seconds, usage.ru_maxrss / 1024


def run_size(folder, n_rows, args, cgroup):
    """Write the folder of ``n_rows`` rows, run the commands; (wall, peak RSS MiB)."""
    out = Path(folder) / f"results-{n_rows}"
    if (out / "embedding.json").is_file():  # kept by an earlier run (--keep --dir)
        print(f"rows={n_rows}: reusing {out}", flush=True)
    else:
        shutil.rmtree(out, ignore_errors=True)
        written = write_folder(out, n_rows, args.classes, args.features)
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**30
        print(f"rows={n_rows}: folder written in {written:.1f} s ({size:.1f} GiB)", flush=True)
    wall, peak = 0.0, 0.0
    for thresholds in ("global", "per_class"):
        for command in (
            ["characterize", out, "--thresholds", thresholds, "--jobs", args.jobs],
            ["report", out],
        ):
            seconds, rss = run_dks([*command, "--no-progress", "-q"], cgroup)
            wall, peak = wall + seconds, max(peak, rss)
            print(
                f"rows={n_rows}: dks {command[0]} ({thresholds}): {seconds:.1f} s, peak RSS "
                f"{rss:.0f} MiB",
                flush=True,
            )
    if not args.keep:
        shutil.rmtree(out)
    return wall, peak


def parse_args(argv=None):
    """The options; ``--quick`` replaces the sizes by those of a small smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_281_167)
    parser.add_argument("--small-rows", type=int, default=128_116)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--features", type=int, default=3120)
    parser.add_argument("--limit-mib", type=int, default=4096)
    parser.add_argument("--jobs", type=int, default=-1, help="dks characterize --jobs")
    parser.add_argument("--dir", default=None, help="where to write (default: the temp dir)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the results folders (with --dir: in DIR/dks-imagenet-CxF/, reused by the "
        "next run with --keep, which then only runs the commands)",
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.small_rows, args.classes, args.features = 20_000, 2_000, 100, 312
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        print("--quick: a smoke run; the goal is for the full sizes")
    cgroup = setup_cgroup(args.limit_mib)
    if args.keep and args.dir:  # the folders stay in --dir, and a next run reuses them
        folder = os.path.join(args.dir, f"dks-imagenet-{args.classes}x{args.features}")
        os.makedirs(folder, exist_ok=True)
    else:
        folder = tempfile.mkdtemp(prefix="dks-imagenet-", dir=args.dir)
    try:
        small, _ = run_size(folder, args.small_rows, args, cgroup)
        wall, peak = run_size(folder, args.rows, args, cgroup)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        if cgroup:
            os.rmdir(cgroup)
    limit = args.limit_mib if cgroup else "none"
    print(
        f"imagenet-scale: rows={args.rows} classes={args.classes} features={args.features} "
        f"wall_s={wall:.0f} peak_rss_mib={peak:.0f} memory_limit_mib={limit} "
        f"scaling_10x={wall / small:.2f}"
    )


if __name__ == "__main__":
    main()
