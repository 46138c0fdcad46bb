"""One writer per results folder: real ``dks`` processes racing for one folder.

The first writer is ``python -m tests.cli_worker embed`` with a sleep per batch (so that it
is still writing when the second starts, and can be SIGKILLed mid-run); the lock is the
hidden file beside the results folder (:mod:`dks.results._lock`).
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("zarr")
Image = pytest.importorskip("PIL.Image")

from dks.results._lock import lock_path, writer_lock  # noqa: E402
from tests.pipeline_helpers import REPO  # noqa: E402
from tests.process_helpers import (  # noqa: E402
    EMBED,
    make_folder,
    start_embed,
)

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("writers") / "images")


def _dks(*args, timeout=300):
    """``dks ARGS`` in its own process: (returncode, stderr)."""
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "dks.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": path},
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stderr


def _crops(out):
    """The crops the embedding of ``out`` was made with (None while its store is replaced)."""
    try:
        manifest = json.loads((out / "embedding.zarr" / "manifest.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return manifest["settings"]["crops"]


def done_files(out):
    """The files of the store of ``out`` (its chunks and markers)."""
    return [p for p in (out / "embedding.zarr").rglob("*") if p.is_file()]


def _holding(out, timeout=120):
    """Wait until some process holds the lock of ``out``; its record."""
    lock = lock_path(out)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.is_file() and lock.stat().st_size:
            return json.loads(lock.read_text())
        time.sleep(0.1)
    raise AssertionError(f"no process took the lock {lock}")


@pytest.mark.slow
def test_a_second_writer_is_refused_naming_the_first(images, tmp_path):
    out, gate = tmp_path / "results", tmp_path / "go"
    first = start_embed(out, images, gate=gate)  # held at its first batch until `gate`
    try:
        holder = _holding(out)
        assert holder["pid"] == first.pid and holder["command"] == "dks embed"
        code, err = _dks("analyze", images, "--out", out, "--crops", "none", *EMBED[:2])
        assert first.poll() is None, "the first writer ended before the second started"
        gate.touch()  # the first writes its whole embedding now
        assert code == 1, err
        assert "Traceback" not in err
        assert (
            f"dks analyze: error: {str(out)!r} is being written by process {first.pid} on "
            f"{holder['host']} since {holder['started']} (dks embed); wait for it or choose "
            "another --out (--wait waits for it)." in err
        )
        _, first_err = first.communicate(timeout=300)
        assert first.returncode == 0, first_err
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert _crops(out) == "center"  # the first writer's results, not the second's
    assert not lock_path(out).exists()  # the last holder removes it


@pytest.mark.slow
def test_the_lock_of_a_killed_writer_is_taken_over(images, tmp_path):
    out = tmp_path / "results"
    first = start_embed(out, images, sleep=3.0)
    holder = _holding(out)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=60)
    assert json.loads(lock_path(out).read_text())["pid"] == holder["pid"]  # left behind
    code, err = _dks("embed", images, "--out", out, *EMBED)
    assert code == 0, err
    assert (out / "embedding.json").is_file()
    assert not lock_path(out).exists()


@pytest.mark.slow
def test_wait_waits_for_the_writer_then_writes(images, tmp_path):
    out, gate = tmp_path / "results", tmp_path / "go"
    first = start_embed(out, images, gate=gate)  # held at its first batch until `gate`
    try:
        _holding(out)
        second = start_embed(out, images, "--crops", "none", "--wait")
        said = []
        for line in iter(second.stderr.readline, ""):  # until it waits: then it says nothing
            said.append(line)
            if "waiting for it to finish" in line:
                break
        gate.touch()  # the first writes its whole embedding now, then the second runs
        _, first_err = first.communicate(timeout=300)
        err = "".join(said) + second.communicate(timeout=300)[1]
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert first.returncode == 0, first_err
    assert second.returncode == 0, err
    assert f"is being written by process {first.pid}" in err
    assert "waiting for it to finish (--wait)" in err
    assert _crops(out) == "none"  # the second ran after the first, not with it


def test_characterize_is_refused_while_another_process_writes(tmp_path):
    from tests.pipeline_helpers import make_results, run_python

    out = make_results(tmp_path / "results")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        code, err = _dks("characterize", out)
        assert code == 1, err
        assert f"is being written by process {holder.pid} on " in err
        assert "(a test); wait for it (--wait waits for it)." in err
        # In Python the same, as an AnalysisError naming the parameter
        done = run_python(
            f"import dks.pipeline as p\ntry:\n    p.characterize({str(out)!r})\n"
            "except p.AnalysisError as e:\n    print(e)"
        )
        assert "wait for it (wait=True waits for it)." in done.stdout, done.stderr
    finally:
        holder.kill()
        holder.communicate()


@pytest.mark.parametrize(
    ("command", "written", "flags"),
    [
        ("export", "fne.json", ()),
        ("validate", "validity", ("--k", "2", "--splits", "1", "--bootstrap", "0")),
    ],
)
def test_export_and_validate_are_refused_while_another_process_writes_and_wait_with_wait(
    tmp_path, command, written, flags
):
    from dks.pipeline import characterize
    from tests.pipeline_helpers import make_results

    out = make_results(tmp_path / "results")
    characterize(out, shuffles=2, jobs=1, verbose=False, progress=False)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        code, err = _dks(command, out, *flags)
        assert code == 1, err
        assert (
            f"dks {command}: error: {str(out)!r} is being written by process {holder.pid} on "
        ) in err
        assert "(a test); wait for it (--wait waits for it)." in err
        assert not (out / written).exists()
        with open(tmp_path / "said.txt", "w+") as said:
            waiting = subprocess.Popen(
                [sys.executable, "-m", "dks.cli", command, str(out), *flags, "--wait"],
                stdout=said, stderr=subprocess.STDOUT, cwd=REPO, env=env,
            )  # fmt: skip
            deadline = time.monotonic() + 120
            while "waiting for it to finish (--wait)" not in (tmp_path / "said.txt").read_text():
                assert waiting.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
            assert not (out / written).exists()
            holder.kill()
            assert waiting.wait(timeout=120) == 0, (tmp_path / "said.txt").read_text()
        assert (out / written).exists()
    finally:
        holder.kill()
        holder.communicate()


_HOLD = """
import sys, time
from pathlib import Path
from dks.results._lock import writer_lock
with writer_lock(Path(sys.argv[1]), "a test"):
    print("ready", flush=True)
    time.sleep(600)
"""


def test_shard_holders_share_the_lock_and_keep_others_out(tmp_path):
    out = tmp_path / "results"
    with writer_lock(out, "dks embed --shard 0/2", shared=True):
        with writer_lock(out, "dks embed --shard 1/2", shared=True):
            done = subprocess.run(
                [sys.executable, "-c", _TRY, str(out)],
                capture_output=True,
                text=True,
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                timeout=120,
                check=False,
            )
            assert "(dks embed --shard 0/2); wait for it" in done.stdout, done.stderr
        assert lock_path(out).exists()  # one shard still writes
    assert not lock_path(out).exists()


_TRY = """
import sys
from pathlib import Path
from dks.results._lock import ResultsBusyError, writer_lock
try:
    with writer_lock(Path(sys.argv[1]), "dks characterize"):
        print("taken")
except ResultsBusyError as exc:
    print(exc)
"""


# ------------------------------------------------------------------------- 5. full disk
@pytest.mark.slow
def test_a_full_disk_keeps_the_previous_statistics_and_says_so(images, tmp_path):
    from tests.test_faults import _tmpfs

    with _tmpfs(tmp_path / "disk", "size=8m") as disk:
        out = disk / "results"
        assert _dks("embed", images, "--out", out, *EMBED)[0] == 0
        assert _dks("characterize", out, "--shuffles", "2", "-q")[0] == 0
        kept = {n: (out / n).read_bytes() for n in ("dks.npy", "thresholds.json", "summary.json")}
        # room for the new store (the old one is removed first), not for new statistics
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "ballast").write_bytes(b"\0" * (free - 64 * 1024))
        code, err = _dks("analyze", images, "--out", out, *EMBED, "--crops", "none")
        assert code == 1, err
        (line,) = [x for x in err.splitlines() if x.startswith("dks analyze: error:")]
        assert f"The disk of the results folder {str(out)!r} is full" in line
        assert (
            "no file of the results folder was replaced or removed, the new ones are written "
            "only once complete (embedding.json, dks.npy, thresholds.json kept); "
            "embedding.zarr holds the new embedding, complete, which the rerun reuses."
        ) in line
        assert {n: (out / n).read_bytes() for n in kept} == kept  # as the message says
        (disk / "ballast").unlink()
        done = sorted((p.name, p.stat().st_mtime_ns) for p in done_files(out))
        code, err = _dks("embed", images, "--out", out, *EMBED, "--crops", "none")
        assert code == 0, err
        # as the message says: the new embedding was complete, nothing embedded again
        assert sorted((p.name, p.stat().st_mtime_ns) for p in done_files(out)) == done


# -------------------------------------------------------------- 6. a damaged Zarr chunk
def _cut_index(data):
    return data[:-100]  # the shard's index (checksummed by Zarr) cut short


def _flip_a_byte(data):
    middle = len(data) // 2  # in a column block's values: the index is the last 116 bytes
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


@pytest.mark.slow
@pytest.mark.parametrize("damage", [_cut_index, _flip_a_byte])
def test_a_damaged_chunk_is_named_and_embedded_again_by_the_next_embed(images, tmp_path, damage):
    from tests.process_helpers import finish

    out = tmp_path / "results"
    finish(start_embed(out, images))  # 6 chunks of 2 rows
    assert _dks("characterize", out, "--shuffles", "2", "-q")[0] == 0
    clean = (out / "dks.npy").read_bytes()
    chunk = out / "embedding.zarr" / "X" / "c" / "2" / "0"
    chunk.write_bytes(damage(chunk.read_bytes()))
    code, err = _dks("characterize", out, "--shuffles", "2")
    assert code == 1, err
    assert (
        f"dks characterize: error: The embedding store {str(out / 'embedding.zarr')!r} is "
        "damaged: its chunk file X/c/2/0 (rows 4 to 5) cannot be read (ValueError: "
    ) in err
    assert (
        "They are marked to be embedded again: rerun `dks embed` with the options the "
        "embedding was made with (embedding.zarr/manifest.json lists them), which embeds those "
        "rows only, then this command."
    ) in err
    err = finish(start_embed(out, images))
    assert "resuming, 5 chunk(s) of 2 rows already done" in err  # only the damaged one
    code, err = _dks("characterize", out, "--shuffles", "2", "-q")
    assert code == 0, err
    assert (out / "dks.npy").read_bytes() == clean  # as if nothing had happened


@pytest.mark.slow
def test_a_store_being_replaced_is_named_in_the_results_folder(images, tmp_path):
    from tests.process_helpers import finish, n_chunks_done

    out = tmp_path / "results"
    finish(start_embed(out, images))
    second = start_embed(out, images, "--crops", "none", sleep=2.0)  # restarts the store
    try:
        deadline = time.monotonic() + 300
        while not (n_chunks_done(out) >= 1 and _crops(out) == "none"):
            assert second.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        second.kill()  # SIGKILL mid-run: embedding.json still describes the first store
        second.communicate(timeout=60)
    code, err = _dks("characterize", out, "--shuffles", "2")
    assert code == 1, err
    assert (
        f"dks characterize: error: The embedding store {str(out / 'embedding.zarr')!r} is not "
        f"the one {str(out / 'embedding.json')!r} describes (a later `dks embed` is filling "
        "it, or was interrupted); rerun that command (every --shard) to complete it."
    ) in err
