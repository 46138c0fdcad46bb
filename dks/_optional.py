"""The one guard of the optional dependencies: import a module, or say what installs it.

Every part of dks that needs an optional package (matplotlib, torch, pillow, timm, ...)
imports it through :func:`import_optional` at the moment it is needed, so that ``import
dks`` and the torch-free statistics never need it, and a missing package is reported as
one clear :class:`ImportError`: what needs it and the ``pip`` command that installs it.
"""

import importlib

__all__ = ["import_optional"]


def import_optional(module, purpose, *, needs, extra=None, pip=None):
    """Import ``module``; if it cannot be imported, raise an ImportError saying what to do.

    Parameters
    ----------
    module : str
        The module to import (``"matplotlib.figure"``).
    purpose : str
        What needs it, the subject of the message (``"dks plotting"``).
    needs : str
        The package(s) named in the message (``"matplotlib"``).
    extra : str, optional
        The extra of dks that installs it: the message says ``pip install 'dks[extra]'``.
    pip : str, optional
        Instead, the argument of ``pip install`` (a package that no extra holds).

    Returns
    -------
    module
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        command = f"'dks[{extra}]'" if pip is None else pip
        raise ImportError(f"{purpose} needs {needs} (pip install {command}); {exc}") from exc
