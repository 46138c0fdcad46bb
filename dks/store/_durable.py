"""A Zarr ``LocalStore`` whose writes go through :mod:`dks._atomic`.

Zarr's own ``LocalStore`` writes each file under ``<name>.<uuid>.partial`` and renames it: a
writer killed mid-write leaves that file behind, and its name does not say whether its writer
is still running, so it can only be removed once no writer can be left (at completion). Here
every chunk file is written with :func:`dks._atomic.atomic_open` instead: its temporary name
carries the writer's pid (:func:`dks._atomic.remove_stale` removes those of dead writers at the
next start, even while other shards run), and the file and its folder are ``fsync``-ed before
the call returns, which a chunk needs before its done marker is written.
"""

from __future__ import annotations

import asyncio

from zarr.storage import LocalStore

from dks._atomic import atomic_open

__all__ = ["DurableLocalStore"]


def _put(path, value):
    with atomic_open(path) as fh:
        fh.write(value.as_buffer_like())


class DurableLocalStore(LocalStore):
    """``zarr.storage.LocalStore`` writing atomically and durably (see the module)."""

    async def set(self, key, value):
        self._check_writable()
        await asyncio.to_thread(_put, self.root / key, value)

    def set_sync(self, key, value):
        self._check_writable()
        _put(self.root / key, value)
