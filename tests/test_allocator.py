"""dks.embed._allocator: glibc's thresholds raised once, no thrash, memory given back, opt-outs."""

import ctypes
import json
import os
import subprocess
import sys

import pytest

from dks.embed import _allocator

GLIBC = _allocator._glibc() is not None
needs_glibc = pytest.mark.skipif(not GLIBC, reason="the allocator tuning is glibc-only")

# In a fresh process (mallopt is process-wide): allocate, touch and free buffers (by default
# one of 64 MiB) 20 times; report the minor page faults of the loop and the resident memory
# after it.
CHILD = r"""
import json, resource, sys
import numpy as np
from dks import _config
from dks.embed import _allocator
_config.TUNE_ALLOCATOR = sys.argv[1] == "tune"
applied = _allocator.tune_allocator()
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
sizes_mib = json.loads(sys.argv[2]) if len(sys.argv) > 2 else [64]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
start_rss = rss()
per_round = []
for _ in range(rounds):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffers = [np.ones(size << 17) for size in sizes_mib]  # float64, every page touched
    del buffers
    per_round.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
faults = sum(per_round)
loop_rss = rss()
_allocator.release_memory()
print(json.dumps({"applied": applied, "faults": faults, "per_round": per_round,
                  "start_rss": start_rss,
                  "loop_rss": loop_rss, "end_rss": rss()}))
"""


def run_child(mode, *args, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environ.pop("GLIBC_TUNABLES", None)
    environ.update(env)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, *args], capture_output=True, text=True, env=environ
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_glibc
def test_tuning_stops_page_fault_thrash_and_memory_is_given_back():
    default = run_child("off")
    tuned = run_child("tune")
    assert not default["applied"] and tuned["applied"]
    # glibc's defaults map and unmap the buffer each round, so every round after the first
    # faults its pages in again; tuned, the freed buffer stays in the heap and those rounds
    # reuse it. Rounds after the first are compared, for with transparent huge pages a
    # round may fault 33 times instead of 16,000 (the first round faults alike in both).
    later, d_later = tuned["per_round"][1:], default["per_round"][1:]
    assert min(d_later) > 0, default["per_round"]
    assert sum(later) * 10 < sum(d_later), (tuned["per_round"], default["per_round"])
    # resident memory stays at one buffer, and release_memory gives it back
    assert tuned["loop_rss"] < tuned["start_rss"] + 64 + 32
    assert tuned["end_rss"] < tuned["start_rss"] + 16


@needs_glibc
def test_a_batch_that_frees_over_a_gibibyte_at_once_is_not_trimmed_each_time():
    """EfficientNet-Lite0 at 8 images x 10 crops frees over 1 GiB of activations per batch.

    A trim threshold of 1 GiB (dks 0.2.0.dev0) gave that memory back at every batch, to
    fault it in again at the next one: a million page faults per 32 images.
    """
    sizes = json.dumps([400, 400, 400])  # 1.17 GiB freed together
    tuned = run_child("tune", sizes, "4")
    assert tuned["applied"]
    first, *later = tuned["per_round"]  # pages may be 4 KiB or huge pages
    assert max(later) * 10 < first  # only the first round faults the buffers in
    assert tuned["end_rss"] < tuned["start_rss"] + 16  # release_memory gives it all back


@needs_glibc
@pytest.mark.parametrize(
    "env",
    [{"MALLOC_MMAP_THRESHOLD_": "131072"}, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}],
)
def test_the_users_own_settings_are_left_alone(env):
    assert not run_child("tune", **env)["applied"]


def test_opt_out_and_idempotence(monkeypatch):
    monkeypatch.setattr(_allocator, "_state", {"done": False, "applied": False})
    monkeypatch.setattr(_allocator._config, "TUNE_ALLOCATOR", False)
    assert _allocator.tune_allocator() is False
    assert _allocator._state["done"] is False  # turning it back on later still works
    calls = []
    monkeypatch.setattr(_allocator, "_glibc", lambda: calls.append(1) or None)
    monkeypatch.setattr(_allocator._config, "TUNE_ALLOCATOR", True)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    for name in _allocator._USER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert _allocator.tune_allocator() is False  # not glibc: a silent no-op
    assert _allocator.tune_allocator() is False
    assert calls == [1]  # looked up once per process
    _allocator.release_memory()  # no-op when not applied


def test_not_glibc_is_detected(monkeypatch):
    class Musl:
        pass  # no gnu_get_libc_version

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Musl())
    assert _allocator._glibc() is None
