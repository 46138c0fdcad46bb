"""``dks validate RESULTS_DIR``: ablation and stability of a characterized results folder.

:func:`add_validate_command` adds the command to the parser of :mod:`dks.cli`; it runs
:func:`dks.pipeline.validate`.
"""

from dks.cli._wait import wait_parent

__all__ = ["add_validate_command"]


def add_validate_command(commands, common, epilog=None):
    """``dks validate RESULTS_DIR [--k K ...] [--splits N] [--bootstrap N] [--seed N]``."""
    cmd = commands.add_parser(
        "validate",
        parents=[wait_parent(), common],
        help="is relevance importance, and reproducible? ablation and stability",
        description="Ablation: for each class, the drop of a linear probe's AUC when its k "
        "most characteristic features are replaced by their mean, against k random features "
        "and k features of D_KS near 0. Stability: the agreement (Jaccard) of the pairs kept "
        "by two disjoint halves of every class, and bootstrap intervals of t+ and t-. Writes "
        "RESULTS_DIR/validity/ (ablation.csv, stability.csv, validity.json, validity.png|svg) "
        "and, when RESULTS_DIR has a report, its 'Validity' section.",
        epilog=epilog,
    )
    cmd.add_argument("results", metavar="RESULTS_DIR", help="folder written by `dks characterize`")
    cmd.add_argument(
        "--k",
        type=int,
        nargs="+",
        default=[5, 10, 20],
        metavar="K",
        help="numbers of features replaced in the ablation (default: 5 10 20)",
    )
    cmd.add_argument(
        "--splits",
        type=int,
        default=5,
        metavar="N",
        help="random splits of every class into two halves (default: %(default)s)",
    )
    cmd.add_argument(
        "--bootstrap",
        type=int,
        default=50,
        metavar="N",
        help="bootstrap fits for the intervals of t+ and t- (default: %(default)s; 0: none)",
    )
    cmd.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of every random choice (default: 0)"
    )
    cmd.add_argument(
        "--jobs", type=int, default=-1, metavar="N", help="threads computing D_KS (-1: all cores)"
    )
    cmd.set_defaults(run=_validate)


def _validate(args):
    from dks.pipeline import validate

    validate(
        args.results,
        k=args.k,
        splits=args.splits,
        bootstrap=args.bootstrap,
        seed=args.seed,
        jobs=args.jobs,
        verbose=not args.quiet,
        wait=args.wait,
    )
    return 0
