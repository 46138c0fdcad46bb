"""One writer per results folder: the lock every command that writes one holds.

Two commands writing one results folder would each swap in their own version and both
report success, the first one's results silently replaced. So a writer holds a lock on the
hidden file ``.<name>.dks-lock`` beside the folder ``<name>`` (beside, not in it: the
commands replace the whole folder, :mod:`dks.results._folder`):

* the lock is the operating system's (``flock``): it is released when its process ends,
  however it ends (``kill -9`` included), so the lock of a dead process is taken over
  without a stale-lock check; it also holds between machines on file systems that support
  it (NFS);
* the file holds the holder's process id, host name, start time and command, for the
  message a second writer gets ("R is being written by process N on HOST since ...");
* the shards of one ``dks embed --shard K/N`` (or ``analyze``) run together: they hold the
  lock shared, which keeps every other writer out, and are kept out by it;
* the last holder removes the file; a writer that waited for a file removed meanwhile
  locks the new one (it checks that the file it locked is still the one at the path).

Where ``fcntl`` is missing (Windows) there is no lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from dks._options import option
from dks.results._errors import AnalysisError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["LOCK_SUFFIX", "ResultsBusyError", "lock_path", "writer_lock"]

#: Suffix of the lock file beside a results folder.
LOCK_SUFFIX = ".dks-lock"


class ResultsBusyError(AnalysisError):
    """Another process is writing the results folder."""


def lock_path(out):
    """The lock file of the results folder ``out``: ``<parent>/.<name>.dks-lock``."""
    out = Path(out)
    return out.with_name(f".{out.name}{LOCK_SUFFIX}")


@contextlib.contextmanager
def writer_lock(out, command, *, shared=False, wait=False, log=None, elsewhere=True):
    """Hold the writer's lock of the results folder ``out`` inside the block.

    Parameters
    ----------
    out : pathlib.Path
        The results folder (absolute; its parent exists).
    command : str
        What writes, for the message of the others (``"dks analyze"``).
    shared : bool, default=False
        A shard of ``--shard K/N``: other shards may hold the lock at the same time.
    wait : bool, default=False
        Wait for the holder to finish instead of raising :class:`ResultsBusyError`.
    log : callable, optional
        Told once when waiting starts.
    elsewhere : bool, default=True
        Whether the message may advise another results folder (``--out``): not for the
        commands that work on a given one (``dks characterize R``).

    Raises
    ------
    ResultsBusyError
        If another process holds the lock and ``wait`` is False.
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    path = lock_path(out)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                busy = _busy_message(out, _read_record(fd), elsewhere)
                if not wait:
                    raise ResultsBusyError(busy) from None
                if log is not None:
                    log(f"{busy.split(';')[0]}; waiting for it to finish ({option('wait', True)})")
                fcntl.flock(fd, mode)
            if _is_file_at(fd, path):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # its last holder removed it meanwhile: lock the new one
    try:
        if not shared or os.fstat(fd).st_size == 0:
            _write_record(fd, command)
        yield
    finally:
        try:  # the last holder removes the file (a shared holder tries to become the only one)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(fd)


def _is_file_at(fd, path):
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def _write_record(fd, command):
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime()),
        "command": command,
    }
    data = json.dumps(record).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _read_record(fd):
    try:
        data = os.pread(fd, 4096, 0)
        record = json.loads(data.decode())
        return record if isinstance(record, dict) else {}
    except (OSError, ValueError):  # being written, or not ours: say what is known
        return {}


def _busy_message(out, record, elsewhere):
    pid, host = record.get("pid", "?"), record.get("host", "?")
    started, command = record.get("started", "?"), record.get("command")
    what = f" ({command})" if command else ""
    other = f" or choose another {option('out')}" if elsewhere else ""
    return (
        f"{str(out)!r} is being written by process {pid} on {host} since {started}{what}; "
        f"wait for it{other} ({option('wait', True)} waits for it)."
    )
