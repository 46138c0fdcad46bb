"""Faults survived: writers killed at random moments, a full disk, an unwritable results folder.

The ``dks embed`` processes run ``python -m tests.cli_worker`` (the command line with 2-row
chunks and a sleep per batch, so that 12 tiny images make 6 chunks and a kill lands mid-run;
see tests/test_cli_store.py). The file systems of the disk-full and read-only cases are
``tmpfs`` mounts made by the test (root only; skipped otherwise).
"""

import contextlib
import io
import os
import random
import signal
import subprocess
import time
import uuid

import pytest

pytest.importorskip("torch")
pytest.importorskip("zarr")
Image = pytest.importorskip("PIL.Image")

from dks.cli import main  # noqa: E402
from tests.process_helpers import (  # noqa: E402  # noqa: E402
    EMBED,
    N_CHUNKS,
    finish,
    n_chunks_done,
    same_folder,
    start_embed,
    temporaries,
)

pytestmark = pytest.mark.torch


@pytest.fixture
def images(embed_images):
    """The images of every ``dks embed`` process here (conftest's, shared, read only)."""
    return embed_images


@pytest.fixture
def reference(embed_reference):
    """One uninterrupted ``dks embed`` of them in one process (conftest's, computed once)."""
    return embed_reference


def _run(args):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([str(a) for a in args])
    return code, stdout.getvalue(), stderr.getvalue()


@contextlib.contextmanager
def _tmpfs(where, options):
    """A tmpfs mounted at ``where`` (skips the test where mounting is not allowed)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    where.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


# ------------------------------------------------------------------------------ chaos
@pytest.mark.slow
def test_three_shards_killed_at_random_moments_end_as_one_run(images, reference, tmp_path):
    """Three ``--shard K/3`` writers, SIGKILLed at random moments (while embedding, while
    one completes and commits the folder) and restarted, give the folder of one
    uninterrupted run, bit for bit, and leave no temporary behind."""
    rng = random.Random(20)
    out = tmp_path / "results"
    kills = 0
    for _ in range(6):  # rounds in which every writer still running is killed
        shards = [start_embed(out, images, "--shard", f"{k}/3", sleep=0.5) for k in range(3)]
        time.sleep(rng.uniform(1.5, 5.0))  # a process takes ~2-4 s to start embedding
        for process in shards:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.communicate(timeout=60)
            time.sleep(rng.uniform(0.0, 0.4))  # the others run on meanwhile
        if kills >= 6 or (out / "embedding.json").exists():
            break
    assert kills >= 3, "no writer was killed mid-run"
    assert n_chunks_done(out) < N_CHUNKS or (out / "embedding.json").exists()
    errors = [finish(start_embed(out, images, "--shard", f"{k}/3")) for k in range(3)]
    assert not any("Traceback" in e for e in errors)
    same_folder(out, reference)
    assert temporaries(tmp_path) == []


# -------------------------------------------------------------------------- disk full
@pytest.mark.slow
def test_a_full_disk_is_named_and_the_rerun_loses_nothing(images, reference, tmp_path):
    with _tmpfs(tmp_path / "disk", "size=2m") as disk:
        out = disk / "results"
        # Leave room for the store's first files and 2-4 of its 6 chunks (28 kB each in
        # tmpfs pages, with their markers).
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "ballast").write_bytes(b"\0" * (free - 150 * 1024))
        process = start_embed(out, images)
        _, err = process.communicate(timeout=600)
        assert process.returncode == 1, err
        assert "Traceback" not in err
        (line,) = [x for x in err.splitlines() if x.startswith("dks embed: error:")]
        assert f"The disk of the results folder {str(out)!r} is full" in line
        assert "No space left on device" in line and "rerun the same command" in line
        done = n_chunks_done(out)
        assert 0 < done < N_CHUNKS, "the disk filled up before or after the store"
        assert not (out / "embedding.json").exists()

        (disk / "ballast").unlink()  # space freed: the same command continues
        err = finish(start_embed(out, images))
        assert f"resuming, {done} chunk(s)" in err
        same_folder(out, reference)
        assert temporaries(disk) == []


# ----------------------------------------------------- an unwritable results folder
def test_a_missing_results_parent_is_refused_before_any_work(images, tmp_path):
    out = tmp_path / "no" / "such" / "folder" / "results"
    start = time.perf_counter()
    code, _, err = _run(["embed", images, "--out", out, *EMBED])
    assert code == 1 and "Traceback" not in err
    assert f"The parent folder {str(out.parent)!r} of the results folder (--out)" in err
    assert "does not exist; create it first (mkdir -p" in err
    assert "[dks] embed" not in err  # the embedding never started
    assert not (tmp_path / "no").exists()
    assert time.perf_counter() - start < 5  # no model was loaded


def test_a_results_parent_that_is_a_file_is_refused(images, tmp_path):
    (tmp_path / "file").write_text("x")
    code, _, err = _run(["embed", images, "--out", tmp_path / "file" / "results", *EMBED])
    assert code == 1 and "is not a folder" in err and "--out" in err


@pytest.mark.parametrize("command", ["embed", "analyze"])
def test_a_read_only_results_parent_is_refused_before_any_work(images, tmp_path, command):
    with _tmpfs(tmp_path / f"ro-{uuid.uuid4().hex[:6]}", "size=1m,ro") as disk:
        out = disk / "results"
        start = time.perf_counter()
        code, _, err = _run([command, images, "--out", out, *EMBED])
        assert code == 1 and "Traceback" not in err
        assert f"The results folder {str(out)!r} cannot be written" in err
        assert "is on a read-only file system" in err and "Choose another --out" in err
        assert "[dks] embed" not in err
        assert time.perf_counter() - start < 5


def test_python_names_the_parameter(tmp_path):
    from dks.pipeline import AnalysisError, embed

    with pytest.raises(AnalysisError, match=r"results folder \(out\) does not exist"):
        embed(tmp_path, out=tmp_path / "missing" / "r", verbose=False)


def test_a_full_disk_in_python_is_an_analysis_error(tmp_path):
    import errno

    from dks.pipeline import AnalysisError
    from dks.results._errors import disk_errors

    with pytest.raises(AnalysisError, match="is full") as info, disk_errors(tmp_path / "r"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "r" / "x"))
    assert str(tmp_path / "r") in str(info.value)
    with pytest.raises(PermissionError), disk_errors(tmp_path / "r"):  # passed through
        raise PermissionError(errno.EACCES, "denied")
