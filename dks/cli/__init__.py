"""The ``dks`` command line (``dks --help``; the commands: :doc:`/cli`).

:func:`main` parses and runs a command (:mod:`dks.cli._main`: ``analyze`` and its steps);
:mod:`dks.cli._study` adds ``compare``, ``visualize`` and ``datasets``,
:mod:`dks.cli._layers_command` adds ``layers``. :func:`run` is the program (the ``dks``
script, ``python -m dks``).
"""

import atexit
import contextlib
import os
import sys

from dks.cli._main import build_parser, main

__all__ = ["build_parser", "main", "run"]


def run(argv=None):
    """Run :func:`main` and end the process with its exit code, without the teardown.

    When a command has finished, the interpreter's own shutdown (freeing the objects of
    every module imported: torch, torchvision, scikit-learn, matplotlib) takes seconds and
    does nothing the user needs. Here the output streams are flushed and the ``atexit``
    functions run (temporary folders, worker processes, logging), then the process ends with
    :func:`os._exit`. An exception that :func:`main` lets through (``--debug``) ends the
    process the usual way.

    Parameters
    ----------
    argv : list of str, optional
        As for :func:`main`.
    """
    code = main(argv)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to show
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)
