"""The one exception of the pipeline, :class:`AnalysisError`, and :func:`disk_errors`."""

import contextlib
import errno
import json
import os

__all__ = ["AnalysisError", "disk_errors"]


class AnalysisError(ValueError):
    """A problem with the inputs or the results folder, explained in one sentence."""


#: The errors of a full disk (or of a full quota).
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def disk_errors(out, step="embedding"):
    """Turn a full disk while the results folder ``out`` is written into an AnalysisError.

    The message names the folder, says what to do, and what the folder holds now, as found
    on disk (:func:`_what_stays`): nothing it calls kept may be gone.

    Parameters
    ----------
    out : path-like
        The results folder.
    step : {"embedding", "results"}, default="embedding"
        What was being written: the embedding store (filled in place, chunk by chunk), or
        a transaction of the folder's files (swapped in only once complete).
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
            + f"). Free some space there (df -h {where}) and rerun the same command: "
            + _what_stays(where, step)
        ) from exc


def _fingerprint(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def _what_stays(out, step):
    """What the results folder ``out`` holds after a failure in ``step``, said truly."""
    committed = _fingerprint(os.path.join(out, "embedding.json"))
    stored = _fingerprint(os.path.join(out, "embedding.zarr", "manifest.json"))
    kept = [n for n in ("embedding.json", "dks.npy", "thresholds.json", "figures", "report.html")
            if os.path.exists(os.path.join(out, n))]  # fmt: skip
    files = f" ({', '.join(kept)} kept)" if kept else ""
    if step == "results":
        new = (
            "; embedding.zarr holds the new embedding, complete, which the rerun reuses"
            if stored is not None and stored != committed
            else ""
        )
        return (
            "no file of the results folder was replaced or removed, the new ones are written "
            f"only once complete{files}{new}."
        )
    if committed is not None and stored is not None and stored != committed:
        return (
            "the files of the results folder are as they were"
            f"{files}, but embedding.zarr: the embedding of the previous run (other "
            "settings) was removed from it when this run started, and it holds the chunks "
            "embedded so far, which the run continues from; the files kept describe the "
            "previous embedding until the run completes."
        )
    return (
        f"the results folder is as it was{files}, but for the chunks of embedding.zarr "
        "already embedded, which the run continues from."
    )
