"""``dks explore RESULTS_DIR``: the results folder in an interactive explorer in the browser.

:func:`add_explore_command` adds the command to the parser of :mod:`dks.cli`.
"""

import sys

__all__ = ["add_explore_command"]


def add_explore_command(commands, common, epilog):
    """``dks explore RESULTS_DIR [--port N] [--host HOST] [--open]``."""
    cmd = commands.add_parser(
        "explore",
        parents=[common],
        help="browse a results folder in an interactive explorer (local web server)",
        description="Serve the results folder RESULTS_DIR on a local web server and print its "
        "URL: overview, class, feature (the paper's Fig. 1) and two-class views, until Ctrl-C. "
        "Nothing is written to RESULTS_DIR.",
        epilog=epilog,
    )
    cmd.add_argument(
        "results", metavar="RESULTS_DIR", help="a results folder (dks characterize done)"
    )
    cmd.add_argument(
        "--port",
        type=int,
        default=8765,
        metavar="N",
        help="TCP port (default: %(default)s; 0: any free port)",
    )
    cmd.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="HOST",
        help="address to bind (default: %(default)s, this machine only; another address "
        "makes the explorer reachable from the network)",
    )
    cmd.add_argument("--open", action="store_true", help="open the URL in the web browser")
    cmd.set_defaults(run=_explore)


def _explore(args):
    from dks.explore import explore

    if not 0 <= args.port <= 65535:
        args.usage_error(f"argument --port: expected 0..65535 (0: any free port), got {args.port}")
    # NotAResultsFolder, a port taken: ValueError / OSError, one line from dks.cli.main
    server = explore(args.results, port=args.port, host=args.host, open_browser=args.open)
    print(f"dks explore: serving {server.views.path} at {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        print("dks explore: stopped", file=sys.stderr)
        return 130
    finally:
        server.stop()
    return 0
