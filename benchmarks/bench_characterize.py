"""Benchmark: KSCharacterizer against the per-pair ``scipy.stats.ks_2samp`` loop.

The baseline is what a user would otherwise write::

    for c in classes:
        for f in range(n_features):
            r = ks_2samp(X[y != c, f], X[y == c, f])
            dks[c, f] = r.statistic * r.statistic_sign

It is timed on a random sample of pairs in the same run and scaled to all pairs. Ratios
are printed against that baseline; goals on a 2-core machine: binned >= 3000x, exact >= 1000x.
Peak memory is the process's resident high-water mark, before and after the fits.

Run: ``python benchmarks/bench_characterize.py`` (or ``nox -s bench``); ``--help`` for sizes.
"""

import argparse
import resource
import time

import numpy as np
from scipy.stats import ks_2samp

from dks import KSCharacterizer


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_data(n_samples, n_features, n_classes, seed=0):
    """ReLU-like float32 activations with class-dependent shifts on some features."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % n_classes
    shift = rng.standard_normal((n_classes, n_features), dtype=np.float32) * 0.5
    X = np.empty((n_samples, n_features), dtype=np.float32)
    for start in range(0, n_samples, 256):  # by chunks, so the memory peak is X itself
        stop = min(start + 256, n_samples)
        chunk = rng.standard_normal((stop - start, n_features), dtype=np.float32)
        chunk += shift[y[start:stop]]
        np.maximum(chunk, 0.0, out=X[start:stop])
    return X, y


def time_scipy_loop(X, y, n_pairs, seed=1):
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    pairs = [(rng.choice(classes), rng.integers(X.shape[1])) for _ in range(n_pairs)]
    start = time.perf_counter()
    for c, f in pairs:
        mask = y == c
        r = ks_2samp(X[~mask, f], X[mask, f])
        _ = r.statistic * r.statistic_sign
    return (time.perf_counter() - start) / n_pairs


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=6000)
    parser.add_argument("--n-features", type=int, default=9600)
    parser.add_argument("--n-classes", type=int, default=200)
    parser.add_argument("--n-pairs", type=int, default=400, help="scipy pairs timed")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=-1)
    args = parser.parse_args(argv)

    X, y = make_data(args.n_samples, args.n_features, args.n_classes)
    n_pairs_total = args.n_classes * args.n_features
    print(
        f"problem: N={args.n_samples} samples, F={args.n_features} features, "
        f"C={args.n_classes} classes, {X.dtype}, {n_pairs_total:,} pairs, n_jobs={args.n_jobs}"
    )
    rss_data = peak_rss_mib()
    # Compile once (cached on disk afterwards) outside the timings.
    for n_bins in (100, None):
        KSCharacterizer(n_bins=n_bins).fit(np.ascontiguousarray(X[:20, :4]), y[:20] % 2)

    per_pair = time_scipy_loop(X, y, args.n_pairs)
    baseline = per_pair * n_pairs_total
    print(
        f"baseline scipy ks_2samp loop: {per_pair * 1e3:.3f} ms/pair "
        f"({args.n_pairs} pairs timed) -> {baseline:.0f} s for all pairs"
    )
    results = {}
    for label, n_bins, goal in (("binned (100 bins)", 100, 3000), ("exact", None, 1000)):
        char = KSCharacterizer(n_bins=n_bins, n_jobs=args.n_jobs)
        seconds = best_of(lambda char=char: char.fit(X, y), args.repeat)
        ratio = baseline / seconds
        results[label] = ratio
        status = "meets" if ratio >= goal else "MISSES"
        print(f"{label:>18}: {seconds:.3f} s  speed-up x{ratio:,.0f}  ({status} goal x{goal:,})")
    rss_after = peak_rss_mib()
    print(
        f"peak RSS: {rss_data:.0f} MiB with the data ({X.nbytes / 2**20:.0f} MiB of X), "
        f"{rss_after:.0f} MiB after the fits (+{rss_after - rss_data:.0f} MiB; dks_ is "
        f"{args.n_classes * args.n_features * 8 / 2**20:.0f} MiB)"
    )
    return results


if __name__ == "__main__":
    main()
