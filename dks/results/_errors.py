"""The one exception of the pipeline, :class:`AnalysisError`, and :func:`disk_errors`."""

import contextlib
import errno
import os

__all__ = ["AnalysisError", "disk_errors"]


class AnalysisError(ValueError):
    """A problem with the inputs or the results folder, explained in one sentence."""


#: The errors of a full disk (or of a full quota).
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def disk_errors(out):
    """Turn a full disk while the results folder ``out`` is written into an AnalysisError.

    The message names the folder and says what to do; what was committed before (the
    finished chunks of the embedding store) stays, and the same command continues from it.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno not in _DISK_FULL:
            raise
        where = os.path.abspath(os.path.expanduser(os.fspath(out)))
        raise AnalysisError(
            f"The disk of the results folder {where!r} is full ({exc.strerror}"
            + (f", writing {exc.filename}" if exc.filename else "")
            + f"). Free some space there (df -h {where}) and rerun the same command: the "
            "results folder is as it was, but for the chunks of embedding.zarr already "
            "embedded, which the run continues from."
        ) from exc
