"""The ``dks`` command line (``dks --help``; the commands: :doc:`/cli`).

:func:`main` parses and runs a command (:mod:`dks.cli._main`: ``analyze`` and its steps);
:mod:`dks.cli._study` adds ``compare``, ``visualize`` and ``datasets``, :mod:`dks.cli._layers`
adds ``layers``.
"""

from dks.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
