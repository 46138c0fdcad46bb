"""Benchmark: NoiseThresholdSelector with five shuffles versus one KSCharacterizer fit.

The goal: on N=6,000 samples, F=9,600 features and C=200 classes (float32,
binned statistic, one thread), ``NoiseThresholdSelector(n_shuffles=5).fit`` takes at most
2.5x the time of one ``KSCharacterizer().fit`` in the same run, because the
label-independent work is shared by the six labelings. Each repetition times both one after
the other; the ratio is the median over repetitions, in CPU time (robust to other processes
on a shared machine; the wall-time ratio is printed too).

Run ``python benchmarks/bench_select.py`` (about 250 MB for X at full size); ``--quick`` for
a small smoke run.
"""

import argparse
import os
import time

import numpy as np

from dks import KSCharacterizer, NoiseThresholdSelector
from dks.thresholds import average_distance, threshold_grid

GOAL = 2.5


def make_data(n_samples, n_features, n_classes, seed):
    """ReLU-like float32 activations (many exact zeros) with a little class signal."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n_samples) % n_classes)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    shift = rng.normal(scale=0.3, size=(n_classes, n_features)).astype(np.float32)
    X += shift[y]
    np.maximum(X, 0.0, out=X)
    return X, y


def timed(fn):
    """(wall seconds, CPU seconds of the process) of one call; its result is dropped.

    Keeping results would make each call allocate memory the process never had: on a
    virtual machine whose memory the host maps in on first touch, that costs system time
    (about 2 ms per MB here) that a real run pays once, not once per call.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def parse_args(argv=None):
    """The options; ``--quick`` replaces the sizes by those of a small smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=6000)
    parser.add_argument("--n-features", type=int, default=9600)
    parser.add_argument("--n-classes", type=int, default=200)
    parser.add_argument("--n-shuffles", type=int, default=5)
    parser.add_argument("--n-bins", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5, help="medians over this many runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.n_features, args.n_classes, args.repeat = 1000, 480, 20, 2
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        print("--quick: a smoke run; the goal is for the full problem")

    X, y = make_data(args.n_samples, args.n_features, args.n_classes, args.seed)
    print(
        f"X: {X.shape[0]} x {X.shape[1]} float32 ({X.nbytes / 2**20:.0f} MiB), "
        f"{args.n_classes} classes, n_bins={args.n_bins}, one thread; load average "
        + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    )
    # Compile (or load the cached) numba kernels outside the timings.
    small = np.ascontiguousarray(X[:50, :10])  # same dtype and memory layout as X
    NoiseThresholdSelector(n_shuffles=1, random_state=0, progress=False).fit(small, y[:50] % 2)

    char = KSCharacterizer(n_bins=args.n_bins, progress=False)
    sel = NoiseThresholdSelector(
        KSCharacterizer(n_bins=args.n_bins, progress=False),
        n_shuffles=args.n_shuffles,
        random_state=args.seed,
        progress=False,
    )
    perms = np.stack(
        [np.random.default_rng(s).permutation(y.size) for s in range(args.n_shuffles)]
    )
    runs = {"fit": [], "selector": [], "fit_null": [], "eq4": []}
    grid = threshold_grid(sel.resolution)
    for _ in range(args.repeat):
        runs["fit"].append(timed(lambda: char.fit(X, y)))
        runs["selector"].append(timed(lambda: sel.fit(X, y)))
        runs["fit_null"].append(timed(lambda: char.fit_null(X, y, perms)))
        runs["eq4"].append(
            timed(
                lambda: average_distance(sel.dks_, sel.null_dks_, grid, resolution=sel.resolution)
            )
        )
    wall = {k: np.median([r[0] for r in v]) for k, v in runs.items()}
    cpu = {k: np.median([r[1] for r in v]) for k, v in runs.items()}
    ratio = cpu["selector"] / cpu["fit"]
    status = "meets" if ratio <= GOAL else "MISSES"
    n = args.n_shuffles
    print(
        f"KSCharacterizer().fit:                     {cpu['fit']:7.3f} s CPU "
        f"{wall['fit']:7.3f} s wall"
    )
    print(
        f"NoiseThresholdSelector(n_shuffles={n}).fit:  {cpu['selector']:7.3f} s CPU "
        f"{wall['selector']:7.3f} s wall"
    )
    print(
        f"  KSCharacterizer.fit_null alone:          {cpu['fit_null']:7.3f} s CPU "
        f"({cpu['fit_null'] / cpu['fit']:.2f}x)"
    )
    print(f"  Eq. 4 curves ({grid.size} grid points):        {cpu['eq4']:7.3f} s CPU")
    print(
        f"ratio selector / characterizer: x{ratio:.2f} CPU, x{wall['selector'] / wall['fit']:.2f}"
        f" wall ({status} goal <= x{GOAL})"
    )
    print(
        f"t_plus_={sel.t_plus_:.3f}  t_minus_={sel.t_minus_:.3f}  "
        f"features kept: {int(sel.get_support().sum())} / {X.shape[1]}; load average "
        + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    )
    return ratio


if __name__ == "__main__":
    main()
