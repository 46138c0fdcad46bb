"""The spill files of a fit killed by SIGKILL are removed by the next fit on the machine."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile

import numpy as np
from sklearn import config_context

from dks import KSCharacterizer
from tests.pipeline_helpers import REPO

# A child that spills a row-major memory map by feature block, then stalls in its first
# read, so that it is killed with its spill files on disk.
CHILD = r"""
import sys, time
import numpy as np
from sklearn import config_context
from dks import KSCharacterizer
from dks._engine._blocks import FeatureSource

def stall(self, f0, f1):
    print("spilled", flush=True)
    time.sleep(600)

FeatureSource.read = stall
X = np.load(sys.argv[1], mmap_mode="r")
y = np.arange(X.shape[0]) % 4
with config_context(working_memory=0.05):
    KSCharacterizer(progress=False).fit(X, y)
"""


def _data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((240, 37), dtype=np.float32)
    np.save(tmp_path / "X.npy", X)
    return np.load(tmp_path / "X.npy", mmap_mode="r"), np.arange(240) % 4


@contextlib.contextmanager
def _stalled_fit(tmp_path):
    """A child fit on ``tmp_path/X.npy`` stalled after its spill folder was made in
    ``tmp_path/scratch``; yields ``(child, scratch, folders)`` and SIGKILLs it on exit."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "X.npy")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert child.stdout.readline().strip() == "spilled"
        folders = list(scratch.iterdir())
        assert len(folders) == 1 and folders[0].is_dir(), folders  # the spill's folder
        yield child, scratch, folders
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()


def test_a_killed_fits_spill_is_removed_by_the_next_fit(tmp_path, monkeypatch):
    X, y = _data(tmp_path)
    with _stalled_fit(tmp_path) as (_, scratch, left):
        pass  # killed here
    assert list(scratch.iterdir()) == left  # nobody removed them
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with config_context(working_memory=0.05):
        expected = KSCharacterizer(progress=False).fit(np.asarray(X), y).dks_
        got = KSCharacterizer(progress=False).fit(X, y).dks_
    np.testing.assert_array_equal(got, expected)
    assert list(scratch.iterdir()) == []


def test_a_running_fits_spill_is_kept(tmp_path, monkeypatch):
    X, y = _data(tmp_path)
    with _stalled_fit(tmp_path) as (child, scratch, left):
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
        with config_context(working_memory=0.05):
            KSCharacterizer(progress=False).fit(X, y)
        assert list(scratch.iterdir()) == left  # the live fit's files stay
        assert child.poll() is None
