"""WebDataset shards: tar files whose members sharing a key make one sample.

A sample ``key`` is the members ``key.<ext>``: its image (``.jpg``, ``.png``, ``.webp``, ...)
and its class in ``key.cls``, the class name or an index into ``classes.txt`` beside the
shards (one name per line). Shards are given as a path, a list of paths, or a brace pattern
(``shard-{000000..000146}.tar``, as WebDataset writes them).

The shards are read with the standard library's :mod:`tarfile`, never extracted. Listing a
shard reads its member headers and its small ``.cls`` members, and seeks over the images;
what stays in memory is three integers per image (shard, offset, size). An image is then
read at its offset, one at a time, so memory stays flat whatever the size of the shards.
This needs uncompressed tar shards (seeking in a ``.tar.gz`` means decompressing from the
start): a compressed shard is refused with a message that says how to convert it.

A member that cannot be read (a corrupt image, a shard cut short) is skipped when embedded
and listed with its shard and key; a sample without a ``.cls`` or with an unknown index
stops the listing, naming the shard and the member.
"""

import glob
import io
import os
import re
import tarfile
import warnings
from itertools import product
from pathlib import Path

import numpy as np

from dks.sources._base import IMAGE_EXTENSIONS, Collection, SourceError, check_labels

__all__ = ["WebDataset", "expand_braces", "is_shard_pattern"]

_BRACE = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"^(\d+)\.\.(\d+)$")


def is_shard_pattern(text):
    """Whether ``text`` names tar shards: ends in ``.tar`` or holds a brace pattern."""
    text = os.fspath(text)
    return text.endswith(".tar") or bool(_BRACE.search(text) and ".tar" in text)


def expand_braces(pattern):
    """The names of a brace pattern: ``a-{00..02}.tar`` -> ``a-00.tar, a-01.tar, a-02.tar``.

    ``{a,b}`` lists alternatives; ``{M..N}`` a range, zero-padded to the width of ``M``.
    """
    parts, fields, last = [], [], 0
    for match in _BRACE.finditer(pattern):
        parts.append(pattern[last : match.start()])
        body = match.group(1)
        numbers = _RANGE.match(body)
        if numbers:
            lo, hi = numbers.groups()
            width = len(lo)
            fields.append([f"{i:0{width}d}" for i in range(int(lo), int(hi) + 1)])
        else:
            fields.append(body.split(","))
        last = match.end()
    parts.append(pattern[last:])
    names = []
    for choice in product(*fields):
        names.append("".join(p + c for p, c in zip(parts, (*choice, ""), strict=True)))
    return names


class WebDataset(Collection):
    """The samples of WebDataset tar shards.

    Parameters
    ----------
    shards : str, os.PathLike or list of them
        A ``.tar`` file, a brace pattern (``data/shard-{000000..000146}.tar``), a glob
        (``data/*.tar``), or a list of shard files.
    classes : str, os.PathLike or None, default=None
        The file of class names for integer ``.cls`` members; None: ``classes.txt`` beside
        the first shard, if any.

    Raises
    ------
    SourceError
        If a pattern matches no shard, a shard is compressed or not a tar file, a sample has
        no ``.cls`` member, or a class index has no name.

    Examples
    --------
    >>> from dks.sources import WebDataset
    >>> shards = WebDataset("imagenet/val-{000000..000063}.tar")  # doctest: +SKIP
    >>> len(shards), shards.classes[:2]  # doctest: +SKIP
    (50000, ['n01440764', 'n01443537'])
    """

    kind = "webdataset"

    def __init__(self, shards, *, classes=None):
        paths = _shard_paths(shards)
        self.location = (
            os.fspath(Path(shards).expanduser().absolute())
            if isinstance(shards, (str, os.PathLike))
            else ", ".join(paths)
        )
        self.shards = paths
        self.root = os.path.dirname(paths[0])
        self.name = Path(self.root).name or Path(paths[0]).stem
        if classes is None and os.path.isfile(os.path.join(self.root, "classes.txt")):
            classes = os.path.join(self.root, "classes.txt")
        names_of = None
        if classes is not None:
            with open(classes, encoding="utf-8") as fh:
                names_of = [line.strip() for line in fh if line.strip()]
        self.options = {"classes_file": None if classes is None else os.fspath(classes)}
        names, labels, rows, files = [], [], [], []
        for number, shard in enumerate(paths):
            base = os.path.relpath(shard, self.root)
            for key, offset, size, cls in _list_shard(shard):
                label = _label(cls, names_of, shard, key, classes)
                names.append(f"{base}#{key}")
                labels.append(label)
                rows.append((number, offset, size))
                files.append(shard)
        if not names:
            raise SourceError(
                f"The shards {self.location!r} hold no image members (extensions "
                f"{', '.join(IMAGE_EXTENSIONS)})."
            )
        self.names = names
        self.labels = check_labels(labels, lambda i: f"The sample {names[i]!r}")
        self.rows = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        self.files = files
        present = set(self.labels.tolist())
        if names_of is not None:
            self.classes = [c for c in names_of if c in present]
        else:
            self.classes = sorted(present)
        self._reset()

    def _reset(self):
        self._handles = {}

    def _open(self, index):
        number, offset, size = (int(v) for v in self.rows[index])
        pid = os.getpid()  # a DataLoader worker opens its own handles
        if self._handles.get("pid") != pid:
            self.close()  # a forked worker closes its copies of the parent's
            self._handles = {"pid": pid}
        handle = self._handles.get(number)
        if handle is None:
            handle = self._handles[number] = open(self.shards[number], "rb")  # noqa: SIM115
        handle.seek(offset)
        data = handle.read(size)
        if len(data) != size:
            raise OSError(f"the shard ends {size - len(data)} bytes before the end of the image")
        return io.BytesIO(data)

    def close(self):
        """Close the shards' files (they are opened again when needed)."""
        for key, handle in getattr(self, "_handles", {}).items():
            if key != "pid":
                handle.close()
        self._reset()

    def __del__(self):
        self.close()


def _shard_paths(shards):
    if not isinstance(shards, (str, os.PathLike)):
        paths = [os.fspath(Path(s).expanduser().absolute()) for s in shards]
        if not paths:
            raise SourceError("No shards given: pass a .tar file, a brace pattern or a list.")
        what = "listed"
    else:
        text = os.path.expanduser(os.fspath(shards))
        if _BRACE.search(text):
            paths = expand_braces(text)
            what = "named by the pattern"
        elif glob.has_magic(text):
            paths = sorted(glob.glob(text))
            what = "matched by the pattern"
        else:
            paths = [text]
            what = ""
        paths = [os.fspath(Path(p).absolute()) for p in paths]
        if not paths:
            raise SourceError(
                f"The pattern {text!r} matches no shard; check the folder and the name "
                "(e.g. 'shards/train-{000000..000146}.tar' or 'shards/*.tar')."
            )
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        folder = os.path.dirname(missing[0])
        there = sorted(glob.glob(os.path.join(folder, "*.tar")))
        hint = (
            f" The folder holds {len(there)} .tar file(s), from {Path(there[0]).name!r} to "
            f"{Path(there[-1]).name!r}."
            if there
            else " The folder holds no .tar file."
        )
        if len(missing) == len(paths) and what:
            lead = f"The pattern {os.fspath(shards)!r} matches no shard"
        else:
            lead = f"{len(missing)} of the {len(paths)} shards {what} do not exist"
        raise SourceError(f"{lead} (e.g. {missing[0]!r}).{hint}")
    return paths


def _list_shard(shard):
    """``(key, offset, size, cls bytes or None)`` of each image of ``shard``, in tar order."""
    with open(shard, "rb") as fh:
        magic = fh.read(3)
    if magic[:2] == b"\x1f\x8b" or magic == b"BZh" or magic[:3] == b"\xfd7z":
        raise SourceError(
            f"The shard {shard!r} is compressed; shards are read in place, which needs plain "
            "tar files. Decompress it (e.g. gunzip, or `zcat a.tar.gz > a.tar`)."
        )
    samples, order = {}, []
    with open(shard, "rb") as fh:
        try:
            members, cut = _ustar_members(fh)
        except _Unusual:  # long names, pax headers, a damaged header: tarfile decides
            members, cut = _tarfile_members(shard)
        for name, offset, size in members:
            key, ext = _split(name)
            if ext is None:
                continue
            sample = samples.get(key)
            if sample is None:
                sample = samples[key] = {}
                order.append(key)
            if ext == "cls":
                fh.seek(offset)
                sample["cls"] = fh.read(size)
            elif ("." + ext) in IMAGE_EXTENSIONS and "image" not in sample:
                sample["image"] = (offset, size)
    listed = []
    for key in order:
        sample = samples[key]
        if "image" not in sample:
            continue  # a sample of other members (.json, .txt) only
        if "cls" not in sample and cut and key == order[-1]:
            warnings.warn(
                f"The shard {shard!r} is cut short (no end-of-archive marker): its last "
                f"sample {key!r} lost its '.cls' member and is left out.",
                UserWarning,
                stacklevel=4,
            )
            continue
        if "cls" not in sample:
            raise SourceError(
                f"The sample {key!r} of the shard {shard!r} has no '.cls' member (its class); "
                f"add '{Path(key).name}.cls' with the class name or index."
            )
        listed.append((key, *sample["image"], sample["cls"]))
    return listed


class _Unusual(Exception):
    """A tar header that :func:`_ustar_members` leaves to :mod:`tarfile`."""


_NUL_BLOCK = bytes(512)


def _ustar_members(fh):
    """``([(name, data offset, size)], cut)`` of the regular files of a plain ustar archive;
    ``cut``: the archive ends before its end-of-archive marker.

    What WebDataset's writers make (Python's ``tarfile``, GNU tar with short names): 512-byte
    headers read one by one, seeking over the data, instead of :mod:`tarfile`, which builds
    an object per member. Anything else (long-name or pax
    headers, a bad checksum, base-256 sizes) raises :class:`_Unusual`; a shard cut short
    ends the list (its last samples then fail when read, and are listed).
    """
    found, offset = [], 0
    size_of_file = os.fstat(fh.fileno()).st_size
    while offset + 512 <= size_of_file:
        fh.seek(offset)
        header = fh.read(512)
        if header == _NUL_BLOCK:
            return found, False  # the end-of-archive marker
        if header[257:262] != b"ustar" or header[124] & 0x80:
            raise _Unusual
        if sum(header) - sum(header[148:156]) + 256 != _octal(header[148:156]):
            raise _Unusual
        kind = header[156:157]
        if kind in (b"L", b"K", b"x", b"g"):
            raise _Unusual
        size = _octal(header[124:136])
        if kind in (b"0", b"\0", b"7"):
            name = header[:100].split(b"\0", 1)[0]
            prefix = header[345:500].split(b"\0", 1)[0] if header[257:263] == b"ustar\0" else b""
            if prefix:
                name = prefix + b"/" + name
            found.append((name.decode("utf-8", "surrogateescape"), offset + 512, size))
        offset += 512 + -(-size // 512) * 512
    return found, True


def _octal(field):
    try:
        return int(field.strip(b"\0 ") or b"0", 8)
    except ValueError:
        raise _Unusual from None


def _tarfile_members(shard):
    """As :func:`_ustar_members`, with :mod:`tarfile` (every format it reads)."""
    found, cut = [], False
    try:
        archive = tarfile.open(shard, mode="r:")  # noqa: SIM115 - closed by the with below
    except tarfile.TarError as exc:
        raise SourceError(f"{shard!r} is not a tar file ({exc}).") from None
    with archive:
        try:
            while (member := archive.next()) is not None:
                archive.members.clear()  # tarfile keeps every header otherwise
                if member.isfile():
                    found.append((member.name, member.offset_data, member.size))
        except tarfile.TarError:
            cut = True  # a shard cut short: its last samples fail when read, and are listed
    return found, cut


def _split(name):
    """``(key, extension)`` of a member name, WebDataset's way: the extension is all after
    the first dot of the file name (``a/b.seg.png`` -> ``a/b``, ``seg.png``)."""
    folder, base = os.path.split(name)
    if base.startswith(".") or "." not in base:
        return name, None
    stem, ext = base.split(".", 1)
    key = f"{folder}/{stem}" if folder else stem
    return key, ext.lower()


def _label(raw, names_of, shard, key, classes_file):
    text = raw.decode("utf-8", "replace").strip()
    if names_of is None or not text.lstrip("-").isdigit():
        return text
    index = int(text)
    if not 0 <= index < len(names_of):
        raise SourceError(
            f"The sample {key!r} of the shard {shard!r} has class index {index}, but "
            f"{os.fspath(classes_file)!r} names {len(names_of)} classes (0 to "
            f"{len(names_of) - 1})."
        )
    return names_of[index]
