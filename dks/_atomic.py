"""Atomic, durable writes: the one mechanism every dks writer uses.

A file or folder appears at its final path only once it is complete and on disk:

1. the data goes to a hidden temporary name *in the same folder* (so the rename below stays
   on one filesystem and is atomic);
2. the temporary file is flushed and ``fsync``-ed (a folder: every file in it, then the folder);
3. it is renamed over the target with :func:`os.replace`;
4. the parent folder is ``fsync``-ed, so that the rename itself survives a power cut.

On any error (or ``KeyboardInterrupt``) the temporary data is removed and the target is as it
was. After a ``kill -9`` a temporary entry may stay behind; its name starts with the target's
name and ends with :data:`TMP_SUFFIX`, so that :func:`remove_stale` (called by the writers
that own a folder) can clean it up.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import socket
import time
from pathlib import Path

__all__ = [
    "TMP_SUFFIX",
    "atomic_dir",
    "atomic_open",
    "fsync_dir",
    "fsync_path",
    "fsync_tree",
    "remove_stale",
    "replace",
    "temporary_name",
]

#: Suffix of every temporary file or folder a dks writer creates.
TMP_SUFFIX = ".dks-tmp"

#: Age (seconds) after which the temporary entry of a writer on another machine counts as
#: abandoned. Its process cannot be checked from here, and a live writer renames its
#: temporaries long before (a file or a chunk at a time).
FOREIGN_STALE_AFTER = 24 * 3600


def _host_tag():
    """A short tag of this machine for temporary names (hostnames may hold dots)."""
    name = socket.gethostname() or "localhost"
    return hashlib.sha1(name.encode()).hexdigest()[:8]


_HOST = _host_tag()


def temporary_name(target):
    """A hidden, unique sibling of ``target`` for its temporary data.

    Parameters
    ----------
    target : path-like
        The final path.

    Returns
    -------
    pathlib.Path
        ``<folder>/.<name>.<pid>.<host>.<random><TMP_SUFFIX>``, where ``<host>`` tags this
        machine (see :func:`remove_stale`).
    """
    target = Path(target)
    tag = f"{os.getpid()}.{_HOST}.{secrets.token_hex(4)}"
    return target.with_name(f".{target.name}.{tag}{TMP_SUFFIX}")


def fsync_path(path):
    """``fsync`` the file or folder at ``path`` (opened read-only, closed again)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder):
    """``fsync`` a folder, making renames and creations inside it durable (no-op on Windows)."""
    if os.name == "nt":  # pragma: no cover - folders cannot be opened there
        return
    fsync_path(folder)


def fsync_tree(root):
    """``fsync`` every regular file and folder under ``root`` (deepest first), then ``root``."""
    root = Path(root)
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                fsync_path(path)
        fsync_dir(folder)


def replace(src, dst):
    """Rename ``src`` over ``dst`` atomically and ``fsync`` the destination's folder."""
    os.replace(src, dst)
    fsync_dir(Path(dst).parent)


def _remove(path):
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(target, mode="wb", *, encoding=None, newline=None, errors=None):
    """Open ``target`` for writing; it appears only once the ``with`` block succeeded.

    Parameters
    ----------
    target : path-like
        Final file name; missing parent folders are created.
    mode : {"wb", "w"}, default="wb"
        Binary or text.
    encoding, newline, errors : str, optional
        For text mode (``encoding`` defaults to UTF-8, ``errors`` to ``"strict"``).

    Yields
    ------
    file object
        Write to it; it is flushed, ``fsync``-ed and renamed over ``target`` on success.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open supports mode 'wb' or 'w'; got {mode!r}.")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        if mode == "wb":
            fh = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline, errors=errors)
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(target, *, overwrite=True):
    """Build a folder at a temporary name; swap it in at ``target`` once complete.

    Parameters
    ----------
    target : path-like
        Final folder.
    overwrite : bool, default=True
        Replace an existing ``target`` (moved aside, then removed after the swap). If False,
        an existing ``target`` raises :class:`FileExistsError` before anything is written.

    Yields
    ------
    pathlib.Path
        The temporary folder to fill. On success its content is ``fsync``-ed and it is renamed
        to ``target``; on error it is removed and ``target`` is untouched.
    """
    target = Path(target)
    if not overwrite and target.exists():
        raise FileExistsError(f"{target} exists already.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(target)
    tmp.mkdir()
    try:
        yield tmp
        fsync_tree(tmp)
        if target.exists():
            trash = temporary_name(target)
            os.replace(target, trash)
            try:
                replace(tmp, target)
            except BaseException:
                os.replace(trash, target)
                raise
            _remove(trash)
        else:
            replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def remove_stale(target):
    """Remove temporary entries of earlier, killed writers of ``target``.

    Only entries whose owning process is gone are removed (the pid in the name is checked),
    so that a writer running concurrently on the same machine keeps its data. An entry made
    on another machine (a shared file system, e.g. shards of one store on a cluster) is
    removed only when it is older than :data:`FOREIGN_STALE_AFTER`, since its process cannot
    be checked from here. Names without a machine tag (dks 0.2.0.dev0) are checked as local.

    Parameters
    ----------
    target : path-like
        The final path whose temporaries (``.<name>.<pid>.<hex><TMP_SUFFIX>``) to look for.

    Returns
    -------
    list of pathlib.Path
        The entries removed.
    """
    target = Path(target)
    prefix = f".{target.name}."
    removed = []
    if not target.parent.is_dir():
        return removed
    for entry in target.parent.iterdir():
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(TMP_SUFFIX)):
            continue
        if _owner_may_be_alive(entry, name[len(prefix) : -len(TMP_SUFFIX)]):
            continue
        _remove(entry)
        removed.append(entry)
    return removed


def _owner_may_be_alive(entry, tag):
    """Whether the writer that made ``entry`` (``tag``: ``pid[.host].random``) may still run."""
    parts = tag.split(".")
    if not parts[0].isdigit():
        return False
    if len(parts) >= 3 and parts[1] != _HOST:  # made on another machine
        try:
            age = time.time() - entry.lstat().st_mtime
        except FileNotFoundError:
            return True  # gone already
        return age < FOREIGN_STALE_AFTER
    return _alive(int(parts[0]))


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
