"""dks.results._folder: the results folder changes whole, or not at all (even on kill -9)."""

import os
import signal

import numpy as np
import pytest

from dks._atomic import TMP_SUFFIX
from dks.pipeline import AnalysisError, characterize
from dks.results._folder import check_out, transaction
from tests.pipeline_helpers import REPO, make_results
from tests.process_helpers import kill_when_ready


def _listing(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


def _leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.endswith(TMP_SUFFIX))


def test_commit_carries_user_files_and_chosen_outputs(tmp_path):
    out = make_results(tmp_path / "results")
    (out / "notes.txt").write_text("mine")
    (out / "dks.npy").write_bytes(b"stale")
    with transaction(out) as stage:
        assert stage.old == out and stage.path.name.endswith(TMP_SUFFIX)
        assert stage.reuse("embedding.npy", "embedding.json")
        assert not stage.reuse("summary.json")
        (stage.path / "new.txt").write_text("new")
        assert not (out / "new.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "embedding.json",
        "embedding.npy",
        "new.txt",
        "notes.txt",
    ]
    assert _leftovers(tmp_path) == []


def test_error_leaves_the_folder_as_it_was(tmp_path):
    out = make_results(tmp_path / "results")
    before = _listing(out)
    with pytest.raises(KeyboardInterrupt), transaction(out) as stage:
        stage.reuse("embedding.npy")
        (stage.path / "dks.npy").write_bytes(b"half")
        raise KeyboardInterrupt
    assert _listing(out) == before
    assert _leftovers(tmp_path) == []


def test_sigkill_mid_write_keeps_the_old_folder_and_the_next_run_cleans_up(tmp_path):
    out = make_results(tmp_path / "results")
    characterize(out, shuffles=1, jobs=1, verbose=False)
    before = _listing(out)
    code = f"""
import sys, time
sys.path.insert(0, {str(REPO)!r})
from pathlib import Path
from dks.results._folder import transaction
with transaction(Path({str(out)!r})) as stage:
    stage.reuse("embedding.npy", "embedding.json")
    with open(stage.path / "dks.npy", "wb") as fh:
        fh.write(b"half of an array")
        fh.flush()
        print("ready", flush=True)
        time.sleep(120)
"""
    pid, returncode = kill_when_ready(code)
    assert returncode == -signal.SIGKILL
    assert _listing(out) == before
    leftovers = _leftovers(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(f".results.{pid}.")

    characterize(out, shuffles=2, jobs=1, verbose=False)
    assert _leftovers(tmp_path) == []
    assert np.load(out / "null_dks.npy").shape[0] == 2


def test_a_concurrent_runs_temporary_is_not_removed(tmp_path):
    out = make_results(tmp_path / "results")
    mine = tmp_path / f".results.{os.getpid()}.beef{TMP_SUFFIX}"
    mine.mkdir()
    with transaction(out):
        pass
    assert mine.is_dir()


def test_check_out_refuses_what_is_not_ours(tmp_path, monkeypatch):
    with pytest.raises(AnalysisError, match="No results folder"):
        check_out(None)
    (tmp_path / "file").write_text("x")
    with pytest.raises(AnalysisError, match="exists and is not a folder"):
        check_out(tmp_path / "file")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(AnalysisError, match="not a dks results folder"):
        check_out(mine)
    with pytest.raises(AnalysisError, match="run `dks embed` or `dks analyze` first"):
        check_out(mine, must_exist=True)
    monkeypatch.chdir(mine)
    with pytest.raises(AnalysisError, match="is the current folder or one of its parents"):
        check_out(tmp_path)
    assert check_out("new") == mine / "new"
    assert check_out(make_results(tmp_path / "res"), must_exist=True) == tmp_path / "res"


def test_image_paths_relative_and_back_without_pathlib_per_image(tmp_path):
    from dks.sources import ImageFolder

    root = tmp_path / "imgs"
    for name in ("a/1.png", "b/sub/2.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    paths = [str(root / "a" / "1.png"), str(root / "b" / "sub" / "2.png")]
    folder = ImageFolder(root)
    assert folder.names == [os.path.join("a", "1.png"), os.path.join("b", "sub", "2.png")]
    assert folder.identities == paths
    moved = folder.moved_to(tmp_path / "elsewhere")
    assert moved.identities == [str(tmp_path / "elsewhere" / n) for n in folder.names]
