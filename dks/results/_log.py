"""Progress lines with timings on stderr (the summary goes to stdout): :class:`Log`."""

from __future__ import annotations

import contextlib
import sys
import time

__all__ = ["Log", "format_seconds"]


class Log:
    """Print ``[dks] ...`` lines when ``verbose``; add up the seconds of each stage."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.timings = {}

    def __call__(self, message):
        if self.verbose:
            print(f"[dks] {message}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def stage(self, name, message=""):
        """Time the ``with`` block as stage ``name``; announce it and say how long it took."""
        self(f"{name}: {message}" if message else f"{name} ...")
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.timings[name] = self.timings.get(name, 0.0) + elapsed
        self(f"{name}: done in {format_seconds(elapsed)}")


def format_seconds(value):
    """``"12.3 s"`` or ``"2 min 5 s"``."""
    minutes, seconds = divmod(float(value), 60.0)
    return f"{int(minutes)} min {seconds:.0f} s" if minutes >= 1 else f"{seconds:.1f} s"
