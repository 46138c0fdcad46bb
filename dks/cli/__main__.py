"""``python -m dks.cli``: the ``dks`` command line."""

from dks.cli import run

run()
