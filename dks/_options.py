"""How a message names an option: as a Python parameter, or as a flag of the ``dks`` command.

Advice in a warning or an error must name what exists where the user is: ``thresholds=
'per_class'`` in Python, ``--thresholds per_class`` on the command line. The messages are
written once, with :func:`option`, and never rewritten afterwards; :func:`dks.cli.main`
runs its command (and its range checks) inside :func:`command_line`, which switches every
:func:`option` to the flag spelling. A context variable, not a global, so that threads and
nested calls see their own setting.

The command line spells a parameter as ``--`` and its name with dashes
(``max_noise_share`` -> ``--max-noise-share``), but for the few in :data:`CLI_SPELLINGS`
(``crop_size`` -> ``--crop``, ``cls`` -> ``--class``, the positional ``images`` ->
``IMAGES_DIR``). Values are shown with ``repr`` in Python and as typed on the command
line: ``None`` is ``none``, ``True`` of a switch is the bare flag.
"""

from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["CLI_SPELLINGS", "cli_flag", "command_line", "on_command_line", "option"]

_ON_COMMAND_LINE = ContextVar("dks_on_command_line", default=False)

#: Python parameter -> its spelling on the ``dks`` command line, where it is not ``--`` and
#: the name with dashes (a positional argument is spelled as its metavar).
CLI_SPELLINGS = {
    "crop_size": "--crop",
    "cls": "--class",
    "images": "IMAGES_DIR",
    "results": "RESULTS_DIR",
}

_NO_VALUE = object()


def on_command_line():
    """Whether the code runs inside :func:`command_line` (a ``dks`` command)."""
    return _ON_COMMAND_LINE.get()


def cli_flag(name):
    """The ``dks`` flag of the Python parameter ``name``: ``"crop_size"`` -> ``"--crop"``."""
    return CLI_SPELLINGS.get(name, "--" + name.replace("_", "-"))


def option(name, value=_NO_VALUE):
    """``name`` (with ``value``) as the user can type it where they are.

    Parameters
    ----------
    name : str
        The Python parameter (``"thresholds"``, ``"crop_size"``).
    value : object, optional
        A value to show with it. In Python it is shown with ``repr``; on the command line as
        typed: a string bare, ``None`` as ``none``, ``True`` (a switch) as the flag alone.

    Returns
    -------
    str

    Examples
    --------
    >>> option("thresholds", "per_class"), option("max_noise_share"), option("weights", None)
    ("thresholds='per_class'", 'max_noise_share', 'weights=None')
    >>> with command_line():
    ...     option("thresholds", "per_class"), option("crop_size"), option("weights", None)
    ('--thresholds per_class', '--crop', '--weights none')
    """
    if not on_command_line():
        return name if value is _NO_VALUE else f"{name}={value!r}"
    flag = cli_flag(name)
    if value is _NO_VALUE or value is True:
        return flag
    return f"{flag} {'none' if value is None else value}"


@contextmanager
def command_line():
    """Within this block, :func:`option` spells options as ``dks`` flags."""
    token = _ON_COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _ON_COMMAND_LINE.reset(token)
