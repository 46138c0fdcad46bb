"""What the store records of each image file, to notice a file replaced under the same name.

A row's *stamp* is ``[size, mtime_ns]`` of its file, taken before the file is read; ``[-1,
-1]`` when the file could not be ``stat``-ed (missing: its row is skipped, and a file that
appears later is a change too); ``None`` for an input that is not a file (an in-memory image
is named by a hash of its content already, a torch ``Dataset`` item cannot be checked). Each
done marker holds the stamps of its chunk's rows; a later run compares them with the files'
stamps of now and computes the chunks that differ again. A marker without stamps (a store
of an older dks) is trusted as it is. The content is not hashed: that would read every file
at every start, as costly as decoding it; a ``stat`` is one system call per file.
"""

from __future__ import annotations

import os

from dks._config import ContextThreadPool

__all__ = ["MISSING", "changed_rows", "stamp", "stamps"]

#: Threads that ``stat`` the files at a resume (:func:`stamps`): a ``stat`` waits on the disk
#: (or the network file system) without the GIL, so a million files take a fraction of the
#: serial time, most of all when their metadata is not cached.
STAT_THREADS = 8

#: Files per task of those threads.
_STAT_BATCH = 4096

#: The stamp of a file that could not be ``stat``-ed.
MISSING = [-1, -1]


def stamp(path):
    """``[size, mtime_ns]`` of the file ``path``, :data:`MISSING` if absent, None for None."""
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return list(MISSING)
    return [int(info.st_size), int(info.st_mtime_ns)]


def stamps(paths):
    """:func:`stamp` of each of ``paths``, in order, by :data:`STAT_THREADS` threads."""
    paths = list(paths)
    if len(paths) <= _STAT_BATCH:
        return [stamp(p) for p in paths]
    batches = [paths[i : i + _STAT_BATCH] for i in range(0, len(paths), _STAT_BATCH)]
    with ContextThreadPool(STAT_THREADS) as pool:
        return [s for batch in pool.map(lambda b: [stamp(p) for p in b], batches) for s in batch]


def changed_rows(recorded, paths, now=None):
    """Offsets of the rows whose recorded stamp differs from their file's stamp of now.

    Parameters
    ----------
    recorded : list of (list or None) or None
        The stamps of a done marker; None (an older store) means nothing is known.
    paths : list of (str or None)
        The same rows' files now.
    now : list, optional
        Their stamps of now (:func:`stamps`), if taken already.

    Returns
    -------
    list of int
    """
    if recorded is None:
        return []
    if now is None:
        now = [None if p is None else stamp(p) for p in paths]
    return [
        i
        for i, (old, path, new) in enumerate(zip(recorded, paths, now, strict=True))
        if old is not None and path is not None and new != old
    ]
