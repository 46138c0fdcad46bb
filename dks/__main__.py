"""``python -m dks``: the ``dks`` command line."""

from dks.cli import run

run()
