"""Benchmark: NoiseThresholdSelector with shuffles versus one KSCharacterizer fit.

The goal (issue 4): on N=6,000 samples, F=9,600 features and C=200 classes (float32,
binned statistic), ``NoiseThresholdSelector(n_shuffles=5).fit`` takes at most 3x the time of
one ``KSCharacterizer().fit`` in the same run, because the label-independent work is shared.

Run ``python benchmarks/bench_select.py`` (about 250 MB for X at full size), or shrink it::

    python benchmarks/bench_select.py --n-samples 1000 --n-features 2000 --n-classes 50
"""

import argparse
import time

import numpy as np

from dks import KSCharacterizer, NoiseThresholdSelector
from dks.thresholds import average_distance, threshold_grid


def make_data(n_samples, n_features, n_classes, seed):
    """ReLU-like float32 activations (many exact zeros) with a little class signal."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n_samples) % n_classes)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    shift = rng.normal(scale=0.3, size=(n_classes, n_features)).astype(np.float32)
    X += shift[y]
    np.maximum(X, 0.0, out=X)
    return X, y


def best_time(func, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=6000)
    parser.add_argument("--n-features", type=int, default=9600)
    parser.add_argument("--n-classes", type=int, default=200)
    parser.add_argument("--n-shuffles", type=int, default=5)
    parser.add_argument("--n-bins", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = make_data(args.n_samples, args.n_features, args.n_classes, args.seed)
    print(
        f"X: {X.shape[0]} x {X.shape[1]} float32 ({X.nbytes / 2**20:.0f} MiB), "
        f"{args.n_classes} classes, n_bins={args.n_bins}, n_jobs={args.n_jobs}"
    )
    # Compile (or load the cached) numba kernels outside the timings.
    small = np.ascontiguousarray(X[:50, :10])  # same dtype and memory layout as X
    NoiseThresholdSelector(n_shuffles=1, random_state=0).fit(small, y[:50] % 2)

    char = KSCharacterizer(n_bins=args.n_bins, n_jobs=args.n_jobs)
    t_char, _ = best_time(lambda: char.fit(X, y), args.repeat)
    sel = NoiseThresholdSelector(
        KSCharacterizer(n_bins=args.n_bins),
        n_shuffles=args.n_shuffles,
        random_state=args.seed,
        n_jobs=args.n_jobs,
    )
    t_sel, sel = best_time(lambda: sel.fit(X, y), args.repeat)
    perms = np.stack(
        [np.random.default_rng(s).permutation(y.size) for s in range(args.n_shuffles)]
    )
    t_null, _ = best_time(lambda: char._fit_with_null(X, y, perms), args.repeat)
    grid = threshold_grid(sel.resolution)
    t_eq4, _ = best_time(
        lambda: average_distance(sel.dks_, sel.null_dks_, grid, resolution=sel.resolution),
        args.repeat,
    )

    ratio = t_sel / t_char
    print(f"KSCharacterizer().fit:                    {t_char:8.2f} s")
    print(f"NoiseThresholdSelector(n_shuffles={args.n_shuffles}).fit: {t_sel:8.2f} s")
    print(f"  KSCharacterizer._fit_with_null alone:   {t_null:8.2f} s  ({t_null / t_char:.2f}x)")
    print(f"  Eq. 4 curves ({grid.size} grid points):       {t_eq4:8.2f} s")
    print(f"ratio selector / characterizer:           {ratio:8.2f}  (goal <= 3)")
    print(
        f"t_plus_={sel.t_plus_:.3f}  t_minus_={sel.t_minus_:.3f}  "
        f"features kept: {int(sel.get_support().sum())} / {X.shape[1]}"
    )
    return ratio


if __name__ == "__main__":
    main()
