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


#: Set for OpenMP (torch's threads) before torch is loaded, unless the user set either.
_OPENMP_WAIT = {"OMP_WAIT_POLICY": "PASSIVE"}
_OPENMP_USER = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


def _wait_passively(environ):
    """Let torch's threads sleep, not spin, while they wait for each other (OpenMP).

    With OpenMP's default, a thread that finishes its share of an operation first spins
    until the others are done. When other processes compete for the cores, the thread it
    waits for is often not running, and the spinning takes the core it needs: the forward
    passes of a few crops at a time (:data:`dks._config.EMBED_CPU_FORWARD_BYTES`) then take
    several times as long (figures: the user guide, "Forward passes in parts"). Read by
    OpenMP when torch is loaded (``import dks.cli`` does not load it), so set here, for the ``dks``
    program only; a user's own setting wins.
    """
    if not any(name in environ for name in _OPENMP_USER):
        environ.update(_OPENMP_WAIT)


def run(argv=None):
    """Run :func:`main` and end the process with its exit code, without the teardown.

    Before, torch's threads are set to wait passively (:func:`_wait_passively`). When a
    command has finished, the interpreter's own shutdown (freeing the objects of every
    module imported: torch, torchvision, scikit-learn, matplotlib) takes seconds and does
    nothing the user needs. Here the output streams are flushed and the ``atexit`` functions
    run (temporary folders, worker processes, logging), then the process ends with
    :func:`os._exit`. An exception that :func:`main` lets through (``--debug``) ends the
    process the usual way.

    Parameters
    ----------
    argv : list of str, optional
        As for :func:`main`.
    """
    _wait_passively(os.environ)
    code = main(argv)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to show
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)
