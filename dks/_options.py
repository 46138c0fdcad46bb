"""How a message names an option: as a Python parameter, or as a flag of the ``dks`` command.

Advice in a warning or an error must name what exists where the user is: ``thresholds=
'per_class'`` in Python, ``--thresholds per_class`` on the command line. The messages are
written once, with :func:`option`; :func:`dks.cli.main` runs its command inside
:func:`command_line`, which switches every :func:`option` to the flag spelling. A context
variable, not a global, so that threads and nested calls see their own setting.
"""

from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["command_line", "on_command_line", "option"]

_ON_COMMAND_LINE = ContextVar("dks_on_command_line", default=False)


def on_command_line():
    """Whether the code runs inside :func:`command_line` (a ``dks`` command)."""
    return _ON_COMMAND_LINE.get()


def option(name, value=None):
    """``name`` (with ``value``) as the user can type it where they are.

    ``option("thresholds", "per_class")`` is ``thresholds='per_class'`` in Python and
    ``--thresholds per_class`` on the command line; ``option("max_noise_share")`` is
    ``max_noise_share`` or ``--max-noise-share``.
    """
    if on_command_line():
        flag = "--" + name.replace("_", "-")
        return flag if value is None else f"{flag} {value}"
    return name if value is None else f"{name}={value!r}"


@contextmanager
def command_line():
    """Within this block, :func:`option` spells options as ``dks`` flags."""
    token = _ON_COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _ON_COMMAND_LINE.reset(token)
