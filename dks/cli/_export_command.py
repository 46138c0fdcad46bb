"""``dks export RESULTS_DIR --format fne``: the pruned full-network embedding, to reuse.

:func:`add_export_command` adds the command to the parser of :mod:`dks.cli`; it runs
:func:`dks.pipeline.export_fne`.
"""

from dks.cli._wait import wait_parent

__all__ = ["add_export_command"]


def add_export_command(commands, common, epilog=None):
    """``dks export RESULTS_DIR --format fne [--out FILE] [--min-classes M] ...``."""
    cmd = commands.add_parser(
        "export",
        parents=[wait_parent(), common],
        help="what reusing the embedding needs: kept features, their mean and std, thresholds",
        description="Write the full-network embedding of a characterized results folder "
        "(Garcia-Gasulla et al., arXiv 1705.07706), pruned by its D_KS relevance: the kept "
        "features, the mean and standard deviation of each on the folder's images, the "
        "discretization thresholds and the CNN settings, as one JSON file "
        "(RESULTS_DIR/fne.json unless --out); dks.pipeline.load_fne reads it back as a "
        "fitted dks.FullNetworkEmbedding.",
        epilog=epilog,
    )
    cmd.add_argument("results", metavar="RESULTS_DIR", help="folder written by `dks characterize`")
    cmd.add_argument(
        "--format", choices=("fne",), default="fne", help="what to export (default: fne)"
    )
    cmd.add_argument("--out", "-o", default=None, metavar="FILE", help="the file to write")
    cmd.add_argument(
        "--min-classes",
        type=int,
        default=1,
        metavar="M",
        help="keep a feature relevant for at least M classes (default: %(default)s)",
    )
    cmd.add_argument(
        "--top-k-per-class",
        type=int,
        default=None,
        metavar="K",
        help="each class keeps its K relevant features of largest |D_KS| (default: all)",
    )
    cmd.add_argument(
        "--top-k-within",
        choices=("all", "layer"),
        default="all",
        help="count --top-k-per-class in the whole network or per layer (default: all)",
    )
    cmd.set_defaults(run=_export)


def _export(args):
    from dks.pipeline import export_fne

    export_fne(
        args.results,
        out=args.out,
        min_classes=args.min_classes,
        top_k_per_class=args.top_k_per_class,
        top_k_within=args.top_k_within,
        verbose=not args.quiet,
        wait=args.wait,
    )
    return 0
