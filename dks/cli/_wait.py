"""``--wait``: the flag of the commands that write a results folder (one writer at a time,
:mod:`dks.results._lock`)."""

import argparse

__all__ = ["wait_parent"]


def wait_parent():
    """A parent parser with ``--wait``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--wait",
        action="store_true",
        help="if another process is writing RESULTS_DIR, wait for it to finish (default: "
        "stop at once, naming that process; the --shard processes of one run write together)",
    )
    return parent
