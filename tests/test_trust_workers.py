"""A ``dks embed`` killed with its DataLoader workers leaves nothing in TMPDIR once the next
run is over, and workers whose main process was killed stop by themselves."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from tests.embed_helpers import random_images, write_images
from tests.pipeline_helpers import REPO
from tests.process_helpers import EMBED, n_chunks_done

pytestmark = [
    pytest.mark.torch,
    pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="processes read from /proc"),
]
pytest.importorskip("torch")

#: :data:`tests.process_helpers.EMBED` with two DataLoader workers.
FLAGS = [*EMBED[: EMBED.index("--workers")], "--workers", "2", "--no-progress"]


@pytest.fixture
def scratch():
    """A private, short TMPDIR (a worker's socket path must fit in 107 bytes, which
    pytest's ``tmp_path`` under ``/tmp/pytest-of-<user>/...`` may not leave room for)."""
    path = tempfile.mkdtemp(prefix="dks-t-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _images(tmp_path):
    for k, name in enumerate(["cat", "dog"]):
        write_images(tmp_path / "data" / name, random_images(12, seed=k))
    return tmp_path / "data"


def _start(tmp_path, scratch, name, sleep):
    """``dks embed`` in a session of its own (its workers in its process group), its output
    in files: no pipe that an orphaned worker could hold open."""
    env = {**os.environ, "TMPDIR": scratch, "PYTHONPATH": str(REPO), "DKS_TEST_SLEEP": str(sleep)}
    cmd = [sys.executable, "-m", "tests.cli_worker", "embed", str(tmp_path / "data")]
    with open(tmp_path / f"{name}.out", "w") as out, open(tmp_path / f"{name}.err", "w") as err:
        return subprocess.Popen(
            [*cmd, "--out", str(tmp_path / "R"), *FLAGS],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )


def _group(pid):
    """Live (not zombie) processes of process group ``pid``."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pid and fields[0] != "Z":
            alive.append(int(entry))
    return alive


def _until(condition, timeout, what):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"no {what} after {timeout} s"
        time.sleep(0.1)


def _kill_mid_run(tmp_path, scratch, name, *, group):
    """Start a slow run; once one more chunk is stored and its workers hold ``pymp-*`` folders,
    SIGKILL its process group (``group=True``, then wait for all of it to be gone) or its
    main process only."""
    run = _start(tmp_path, scratch, name, sleep=0.5)
    done = n_chunks_done(tmp_path / "R")
    try:
        _until(
            lambda: run.poll() is not None or n_chunks_done(tmp_path / "R") > done, 300, "chunk"
        )
        assert run.poll() is None, (tmp_path / f"{name}.err").read_text()
        _until(lambda: _pymp(scratch), 60, "pymp-* folder")
        (os.killpg if group else os.kill)(run.pid, signal.SIGKILL)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.wait(timeout=60) == -signal.SIGKILL
    if group:
        _until(lambda: not _group(run.pid), 60, "end of the killed process group")
    return run


def _pymp(root):
    return [os.path.relpath(p, root) for p, _, _ in os.walk(root) if "pymp-" in p]


def _finish(tmp_path, scratch):
    run = _start(tmp_path, scratch, "last", sleep=0)
    try:
        assert run.wait(timeout=300) == 0, (tmp_path / "last.err").read_text()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert not _group(run.pid)


@pytest.mark.slow
def test_killed_runs_leave_no_folder_in_tmpdir_after_the_next(tmp_path, scratch):
    _images(tmp_path)
    # SIGKILL of the main process only: torch's workers check every 5 s that their parent
    # lives, and then exit by themselves
    run = _kill_mid_run(tmp_path, scratch, "main", group=False)
    try:
        start = time.monotonic()
        _until(lambda: not _group(run.pid), 30, "exit of the orphaned workers")
        print(f"orphaned workers gone {time.monotonic() - start:.1f} s after the kill")
    finally:
        for pid in _group(run.pid):
            os.kill(pid, signal.SIGKILL)
    # SIGKILL of the whole process group: the workers' pymp-* folders stay...
    _kill_mid_run(tmp_path, scratch, "group", group=True)
    assert _pymp(scratch)
    _finish(tmp_path, scratch)
    assert n_chunks_done(tmp_path / "R") == 12
    assert sorted(os.listdir(scratch)) == []  # ... until the next run is over


@pytest.mark.parametrize("num_workers", [0, 2])
def test_a_loader_removes_the_folders_of_killed_runs(scratch, monkeypatch, num_workers):
    from dks._atomic import temporary_name
    from dks.embed._batching import Preprocess, make_loader, shutdown

    monkeypatch.setattr(tempfile, "tempdir", scratch)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    mine = temporary_name(os.path.join(scratch, "dks-mp")).name
    killed = os.path.join(scratch, mine.replace(f".{os.getpid()}.", f".{dead.stdout.strip()}.", 1))
    os.makedirs(os.path.join(killed, "pymp-abcdefgh"))
    alive = os.path.join(scratch, mine)  # a run of this process, still going: kept
    os.mkdir(alive)
    preprocess = Preprocess("center", 8, (8, 8), (0.5,) * 3, (0.5,) * 3)
    images = random_images(4, size=(10, 10))
    loader = make_loader(
        images, preprocess, batch_size=2, num_workers=num_workers, pin_memory=False
    )
    batches = iter(loader)
    assert len(list(batches)) == 2
    assert not os.path.exists(killed) and os.path.isdir(alive)
    shutdown(batches)
    assert sorted(os.listdir(scratch)) == [os.path.basename(alive)]  # the loader's own: gone
