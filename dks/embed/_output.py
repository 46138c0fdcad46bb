"""Where the embedding goes: an in-memory array or a ``.npy`` file written batch by batch.

:class:`NpyWriter` creates the file under a temporary name in the target folder (header
and size of the full result, via :func:`numpy.lib.format.open_memmap`), writes each batch of
rows at its offset with ``os.pwrite``, ``fsync``-s it and renames it to the target name at
the end, then ``fsync``-s the folder (:mod:`dks._atomic`, the one atomic writer of dks: same
temporary names, same rename). If anything fails the temporary file is removed:
the target file is complete and valid, or untouched. Rows go through the operating
system's page cache, not through a memory map of this process, so the process's resident
memory does not grow with the number of images.
"""

import io
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dks._atomic import replace, temporary_name

__all__ = [
    "ArrayWriter",
    "NpyWriter",
    "SkippedInput",
    "SkippedInputsWarning",
    "check_output_path",
    "make_writer",
    "warn_skipped",
]

_DTYPE = np.dtype("<f4")
_COPY_CHUNK = 64 * 1024 * 1024


class SkippedInput(NamedTuple):
    """An input that ``on_error="skip"`` left out of the embedding.

    Attributes
    ----------
    index : int
        Position of the input in ``X``.
    description : str
        The input, described for people (file name, item number).
    error : str
        Why it could not be embedded (exception type and message).
    """

    index: int
    description: str
    error: str


class SkippedInputsWarning(UserWarning):
    """Inputs that could not be embedded were skipped (``on_error="skip"``)."""


def warn_skipped(skipped, n_images):
    if skipped:
        first = skipped[0]
        warnings.warn(
            f"Skipped {len(skipped)} of {n_images} inputs that could not be embedded "
            f"(the first: {first.description}: {first.error}). The output rows are the "
            "inputs in sample_indices_; the skipped ones are listed in skipped_.",
            SkippedInputsWarning,
            stacklevel=3,
        )


def check_output_path(output):
    """Validate the ``output`` parameter; return it as a :class:`~pathlib.Path` or None."""
    if output is None:
        return None
    path = Path(output)
    if path.suffix not in (".npy", ".zarr"):
        raise ValueError(
            f"The 'output' parameter of CNNEmbedder must be a path ending in '.npy' (a file) "
            f"or '.zarr' (a resumable store); got {os.fspath(output)!r}."
        )
    if path.suffix == ".npy" and path.is_dir():
        raise ValueError(f"output={os.fspath(output)!r} is a folder, not a file path.")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"The folder of output={os.fspath(output)!r} does not exist; create it first."
        )
    return path


def make_writer(output, n_rows, n_columns):
    """:class:`NpyWriter` for a path, :class:`ArrayWriter` for None."""
    if output is None:
        return ArrayWriter(n_rows, n_columns)
    return NpyWriter(output, n_rows, n_columns)


class ArrayWriter:
    """Collect rows in a float32 array of ``(n_rows, n_columns)``.

    Use as a context manager; :meth:`write` rows in order, then :meth:`finish`.
    """

    def __init__(self, n_rows, n_columns):
        self.array = np.empty((n_rows, n_columns), dtype=np.float32)
        self.n_written = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def write(self, rows):
        """Append ``rows`` (float32, ``(k, n_columns)``)."""
        self.array[self.n_written : self.n_written + rows.shape[0]] = rows
        self.n_written += rows.shape[0]

    def finish(self):
        """Return the rows written (a copy only if fewer than announced)."""
        if self.n_written == self.array.shape[0]:
            return self.array
        return self.array[: self.n_written].copy()


class NpyWriter:
    """Write rows to a ``.npy`` file at a temporary name; rename it when complete.

    Parameters
    ----------
    path : pathlib.Path
        Final file name (overwritten if it exists).
    n_rows, n_columns : int
        Shape announced in the header; :meth:`finish` shrinks the file if fewer rows were
        written (skipped inputs).
    """

    def __init__(self, path, n_rows, n_columns):
        self.path = Path(path)
        self.n_rows = n_rows
        self.n_columns = n_columns
        self.n_written = 0
        self._fd = None
        self._tmp = None
        self._offset = 0

    def __enter__(self):
        self._tmp = temporary_name(self.path)
        try:
            memmap = np.lib.format.open_memmap(
                self._tmp, mode="w+", dtype=_DTYPE, shape=(self.n_rows, self.n_columns)
            )
            self._offset = memmap.offset
            del memmap
            self._fd = os.open(self._tmp, os.O_RDWR)
        except BaseException:
            self._abort()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._abort()
        return False

    def write(self, rows):
        """Write ``rows`` (float32, ``(k, n_columns)``) after those already written."""
        data = np.ascontiguousarray(rows, dtype=_DTYPE)
        position = self._offset + self.n_written * self.n_columns * _DTYPE.itemsize
        view = memoryview(data).cast("B")
        while view:
            written = os.pwrite(self._fd, view, position)
            view, position = view[written:], position + written
        self.n_written += rows.shape[0]

    def finish(self):
        """Complete the file, rename it to its final name; return a read-only memmap."""
        try:
            if self.n_written != self.n_rows:
                self._shrink()
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            replace(self._tmp, self.path)
            self._tmp = None
        except BaseException:
            self._abort()
            raise
        return np.load(self.path, mmap_mode="r")

    def _shrink(self):
        """Rewrite the header for the rows actually written; move the data if needed."""
        shape = (self.n_written, self.n_columns)
        header = _header(shape)
        size = self.n_written * self.n_columns * _DTYPE.itemsize
        if len(header) == self._offset:
            os.pwrite(self._fd, header, 0)
            os.ftruncate(self._fd, self._offset + size)
            return
        tmp = temporary_name(self.path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            os.write(fd, header)
            position = self._offset
            while position < self._offset + size:
                chunk = os.pread(
                    self._fd, min(_COPY_CHUNK, self._offset + size - position), position
                )
                os.write(fd, chunk)
                position += len(chunk)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(self._fd)
        os.unlink(self._tmp)
        self._fd, self._tmp, self._offset = fd, tmp, len(header)

    def _abort(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


def _header(shape):
    buffer = io.BytesIO()
    header = {
        "descr": np.lib.format.dtype_to_descr(_DTYPE),
        "fortran_order": False,
        "shape": shape,
    }
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()
