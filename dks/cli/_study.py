"""The ``dks`` commands of the paper's whole study: ``compare``, ``visualize``, ``datasets``,
and the evidence about a results folder, ``validate`` (:mod:`dks.cli._validate_command`), and its
export, ``export`` (:mod:`dks.cli._export_command`).

:func:`add_commands` adds them to the parser of :mod:`dks.cli._main`; each sets ``run``, the
function that :func:`dks.cli.main` calls with the parsed arguments. Errors name the
command-line flags, not the Python parameters (:func:`dks._options.option`).
"""

from __future__ import annotations

from pathlib import Path

from dks.cli._export_command import add_export_command
from dks.cli._pixels import add_max_image_pixels
from dks.cli._validate_command import add_validate_command

__all__ = ["add_commands"]

#: The paper's datasets: --split choices and the default (the paper's split) of each builder.
_SPLITS = {
    "flowers102": (("test", "train", "val"), "test"),
    "cub200": (("train", "test"), "train"),
    "mit67": (("train", "test"), "train"),
    "imagenet_val": (("val",), "val"),
}


def _compare(args):
    from dks.pipeline import compare

    result = compare(
        args.results,
        args.out,
        names=args.names,
        reference=args.reference,
        only_layer_independent=args.only_layer_independent,
        verbose=not args.quiet,
    )
    if not args.quiet:
        for sentence in result["text"]:
            print(f"- {sentence}")
        print(f"report: {result['report']}")


def _visualize(args):
    from dks.pipeline import visualize

    feature = args.feature
    out = args.out
    if out is None:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in feature)
        out = Path(args.results) / "figures" / f"crops_{args.sign}_{safe}.png"
    visualize(
        args.results,
        feature,
        k=args.k,
        sign=args.sign,
        cls=args.cls,
        out=out,
        max_image_pixels=args.max_image_pixels,
    )
    if not args.quiet:
        print(f"figure: {out}")


def _datasets(args):
    from dks import datasets

    splits, default = _SPLITS[args.name]
    split = default if args.split is None else args.split
    if split not in splits:
        raise ValueError(
            f"--split {split!r} is not a split of {args.name}; choose one of {splits}."
        )
    if args.download and args.name != "flowers102":
        raise ValueError(
            f"--download works for flowers102 only (torchvision downloads it); get {args.name} "
            f"from {datasets.PAPER_DATASETS[args.name][1]} and extract it into ROOT."
        )
    builder = getattr(datasets, f"make_{args.name}")
    if args.n_classes is not None and args.name != "imagenet_val":
        raise ValueError("--n-classes works for imagenet_val only.")
    if args.name == "imagenet_val":
        n_classes = 500 if args.n_classes is None else args.n_classes
        out = builder(args.root, args.out, n_classes=n_classes, link=args.link)
    elif args.name == "flowers102":
        out = builder(args.root, args.out, split=split, download=args.download, link=args.link)
    else:
        out = builder(args.root, args.out, split=split, link=args.link)
    if not args.quiet:
        print(
            f"{args.name} ({split} split) -> {out}; analyze it with `dks analyze {out} --out ...`"
        )


def add_commands(commands, common):
    """Add ``compare``, ``visualize``, ``datasets``, ``validate``
    (:mod:`dks.cli._validate_command`) and ``export`` (:mod:`dks.cli._export_command`) to the
    subparsers ``commands``."""
    cmp = commands.add_parser(
        "compare",
        parents=[common],
        help="several results folders side by side: Table 4, Figs. 5, 6/8, 9, 10",
        description="Compare characterized results folders (one per dataset) in one "
        "report: the thresholds (the paper's Table 4, with the paper's rows), the per-layer "
        "D_KS modes (Fig. 5), histograms (Figs. 6/8), per-class curves (Fig. 9), pairs kept "
        "per layer (Fig. 10) and a comparison in words. Writes OUT/report.html, "
        "OUT/comparison.json and OUT/figures/.",
    )
    cmp.add_argument("results", nargs="+", metavar="RESULTS_DIR", help="two or more folders")
    cmp.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    cmp.add_argument(
        "--names",
        nargs="+",
        metavar="NAME",
        help="one name per folder (default: the dataset's name, else the folder's)",
    )
    cmp.add_argument(
        "--reference",
        metavar="NAME",
        help="dataset drawn as the reference in the histograms (the paper's ImageNet, Fig. 8)",
    )
    cmp.add_argument(
        "--only-layer-independent",
        action="store_true",
        help="compare only Table 4 and Fig. 9: for folders embedded with different models, "
        "weights or layers",
    )
    cmp.set_defaults(run=_compare)

    vis = commands.add_parser(
        "visualize",
        parents=[common],
        help="what a feature looks at: its top images cropped to where it fires (Fig. 2)",
        description="Show the K images with the highest value of FEATURE, each cropped to the "
        "receptive field of the position where the filter responds most (the paper's Fig. 2). "
        "The network is rebuilt from RESULTS_DIR/embedding.json and runs on those K images "
        "only; needs torch and the embedded images.",
    )
    vis.add_argument("results", metavar="RESULTS_DIR", help="a results folder")
    vis.add_argument("feature", metavar="FEATURE", help="feature name (e.g. fc7_1946) or column")
    vis.add_argument("--k", type=int, default=9, metavar="K", help="images (default: %(default)s)")
    vis.add_argument(
        "--sign",
        choices=("presence", "absence"),
        default="presence",
        help="absence: add the images where FEATURE is lowest and images of the class "
        "(the paper's Figs. 3, 4) (default: %(default)s)",
    )
    vis.add_argument(
        "--class",
        dest="cls",
        metavar="NAME",
        help="--sign absence: the class shown (default: where FEATURE's D_KS is lowest)",
    )
    vis.add_argument(
        "--out",
        "-o",
        metavar="FILE",
        help="image file (.png, .svg, .pdf; default RESULTS_DIR/figures/crops_<sign>_"
        "<feature>.png)",
    )
    add_max_image_pixels(vis, embedding=False)
    vis.set_defaults(run=_visualize)

    ds = commands.add_parser(
        "datasets",
        parents=[common],
        help="the paper's datasets as image folders for `dks analyze`, by links",
        description="Turn the official files of one of the paper's datasets (extracted in "
        "ROOT) into the ImageFolder layout `dks analyze` reads, made of links (no copy), with "
        "the paper's split: flowers102 (test), cub200 (train), mit67 (train), imagenet_val "
        "(500 classes x 50 validation images, seed 0).",
    )
    ds.add_argument("name", choices=tuple(_SPLITS), metavar="NAME", help=", ".join(_SPLITS))
    ds.add_argument("root", metavar="ROOT", help="folder with the extracted official files")
    ds.add_argument("--out", "-o", required=True, metavar="DIR", help="new image folder")
    ds.add_argument("--split", metavar="S", help="another split (default: the paper's)")
    ds.add_argument(
        "--download", action="store_true", help="flowers102: download it with torchvision"
    )
    ds.add_argument(
        "--n-classes",
        type=int,
        metavar="N",
        help="imagenet_val: classes drawn with seed 0 (default: the paper's 500)",
    )
    ds.add_argument(
        "--link",
        choices=("symlink", "hardlink"),
        default="symlink",
        help="kind of links (default: %(default)s)",
    )
    ds.set_defaults(run=_datasets)
    add_validate_command(commands, common)
    add_export_command(commands, common)
