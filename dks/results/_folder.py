"""The results folder: the names of its files, and the transaction every command writes in.

A command never writes into the results folder itself: it builds the new folder beside it
(:class:`Transaction`) and swaps it in only once complete, with :func:`dks._atomic.atomic_dir`
(everything fsynced, then renamed). After an error, an interruption or a ``kill -9`` the
results folder is as it was; the next command removes the temporary folders that killed
runs left behind. The files are described in :doc:`/results`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from dks._atomic import TMP_SUFFIX, atomic_dir, remove_stale
from dks._options import option
from dks.results._errors import AnalysisError

__all__ = [
    "DATASET_FILE",
    "EMBEDDING_FILES",
    "EXPORT_FILES",
    "FNE_FILE",
    "FORMAT",
    "IMAGES_DIR",
    "OUTPUTS",
    "REPORT_FILES",
    "STATS_FILES",
    "STORE",
    "VALIDITY_DIR",
    "Transaction",
    "check_out",
    "check_writable",
    "transaction",
]

#: Version tag written to ``embedding.json``.
FORMAT = "dks-results/1"
#: The embedding store, filled in place (not through the transaction: see :doc:`/results`).
STORE = "embedding.zarr"
#: The embedding's files; ``embedding.npy`` is the optional export (and the embedding of
#: results folders written before the store).
EMBEDDING_FILES = (STORE, "embedding.json", "skipped.csv", "embedding.npy")
STATS_FILES = (
    "dks.npy",
    "null_dks.npy",
    "relevance.npy",
    "thresholds.json",
    "curves.csv",
    "layers.csv",
    "class_noise.csv",
    "top_features.csv",
    "summary.json",
)
REPORT_FILES = ("figures", "report.html")
#: What ``dks validate`` writes (``dks characterize`` removes it: it describes older
#: statistics).
VALIDITY_DIR = "validity"
#: What ``dks export --format fne`` writes by default.
FNE_FILE = "fne.json"
#: The exports made from the statistics: kept while the statistics are (``dks report``,
#: ``dks validate``, an embedding reused), removed with them (``dks characterize``, a new
#: embedding), so that no export describes statistics that are gone.
EXPORT_FILES = (FNE_FILE,)
IMAGES_DIR = "images"
DATASET_FILE = "dataset.json"
#: Every entry a command produces; the others (a user's notes) are carried over.
OUTPUTS = (
    *EMBEDDING_FILES,
    *STATS_FILES,
    *REPORT_FILES,
    VALIDITY_DIR,
    *EXPORT_FILES,
    IMAGES_DIR,
)


class Transaction:
    """The new results folder while a command builds it (made by :func:`transaction`).

    Attributes
    ----------
    out : pathlib.Path
        The results folder.
    old : pathlib.Path or None
        The results folder as it was (None if it did not exist).
    path : pathlib.Path
        The temporary folder to write in.
    """

    def __init__(self, out, old, path):
        self.out = out
        self.old = old
        self.path = path

    def has_old(self, name):
        """Whether the previous results folder has ``name``."""
        return self.old is not None and (self.old / name).exists()

    def reuse(self, *names):
        """Carry these outputs of the previous run over; True if all of them existed."""
        found = True
        for name in names:
            if self.has_old(name):
                _link_tree(self.old / name, self.path / name)
            else:
                found = False
        return found


@contextlib.contextmanager
def transaction(out):
    """Build the new version of the results folder ``out``; swap it in on success.

    Temporary folders of earlier, killed runs are removed first. The entries of the
    existing ``out`` that no command produces (a user's own files) are carried over as hard
    links (copies if linking fails); the command then calls :meth:`Transaction.reuse` for
    the outputs it keeps. On error the new folder is removed and ``out`` is untouched.

    Yields
    ------
    Transaction
    """
    remove_stale(out)
    old = out if out.is_dir() else None
    with atomic_dir(out) as path:
        if old is not None:
            for entry in old.iterdir():
                # not the store's temporaries either (its writers clean them up)
                if entry.name not in OUTPUTS and not entry.name.endswith(TMP_SUFFIX):
                    _link_tree(entry, path / entry.name)
        yield Transaction(out, old, path)


def _link_file(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _link_tree(src, dst):
    """Hard-link ``src`` (file or folder) to ``dst``; files keep their inode and mtime."""
    if src.is_dir() and not src.is_symlink():
        shutil.copytree(src, dst, copy_function=_link_file, symlinks=True)
    elif src.is_symlink():
        os.symlink(os.readlink(src), dst)
    else:
        _link_file(src, dst)


def check_out(out, *, must_exist=False):
    """Resolve the results folder and refuse folders that are not ours to replace.

    Parameters
    ----------
    out : str, os.PathLike or None
        The results folder.
    must_exist : bool, default=False
        Require a results folder with an embedding (the steps after ``embed``).

    Returns
    -------
    pathlib.Path
        The absolute path.
    """
    if out is None:
        raise AnalysisError("No results folder given (--out).")
    out = Path(out).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise AnalysisError(f"The results folder {str(out)!r} exists and is not a folder.")
    if must_exist:
        if not (out / "embedding.json").is_file() and (out / STORE).is_dir():
            raise AnalysisError(
                f"The embedding in {str(out)!r} is not complete yet (a run was interrupted, "
                "or shards are still running); rerun `dks embed` with the same options (every "
                "--shard) to complete it."
            )
        if not (out / "embedding.json").is_file():
            raise AnalysisError(
                f"{str(out)!r} is not a dks results folder with an embedding (no "
                "embedding.json); run `dks embed` or `dks analyze` first."
            )
        check_writable(out)
        return out
    cwd = Path.cwd().absolute()
    if out.parent == out or out == cwd or out in cwd.parents:
        raise AnalysisError(
            f"The results folder {str(out)!r} is the current folder or one of its parents; "
            "choose a new sub-folder (e.g. --out dks_results)."
        )
    if out.is_dir() and any(out.iterdir()) and not _ours(out):
        raise AnalysisError(
            f"{str(out)!r} exists, is not empty and is not a dks results folder (no "
            "embedding.json); choose a new or empty folder, so that nothing of yours is "
            "replaced."
        )
    check_writable(out)
    return out


def check_writable(out):
    """Refuse, before any work, a results folder that cannot be written where it is.

    The commands write the folder beside itself (:class:`Transaction`), so its parent must
    exist and be writable, and so must the folder itself when it exists. A missing parent
    is not created: a mistyped path would otherwise receive hours of work.
    """
    parent = out.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise AnalysisError(
            f"The parent folder {str(parent)!r} of the results folder ({option('out')}) "
            f"{what}; create it first (mkdir -p {parent}) or choose another {option('out')}."
        )
    for folder in (parent, out) if out.is_dir() else (parent,):
        if _read_only(folder):
            why = "is on a read-only file system"
        elif not os.access(folder, os.W_OK | os.X_OK):
            why = "is not writable by this user"
        else:
            continue
        raise AnalysisError(
            f"The results folder {str(out)!r} cannot be written: {str(folder)!r} {why}. "
            f"Choose another {option('out')}, on a writable disk."
        )


def _read_only(folder):
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows): os.access decides
        return False


def _ours(out):
    """Whether ``out`` is a results folder, finished or being filled (a killed first run)."""
    marks = ("embedding.json", STORE, f"{IMAGES_DIR}/{DATASET_FILE}")
    return any((out / name).exists() for name in marks)
