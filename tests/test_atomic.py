"""dks._atomic: files and folders appear whole or not at all."""

import os
import textwrap

import pytest

from dks._atomic import TMP_SUFFIX, atomic_dir, atomic_open, remove_stale
from tests.process_helpers import kill_when_ready


def test_atomic_open_writes_and_replaces(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    with atomic_open(target, "w") as fh:
        fh.write("one")
        assert not target.exists()
    assert target.read_text() == "one"
    with atomic_open(target) as fh:
        fh.write(b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]


def test_atomic_open_error_leaves_target_untouched(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_open(target) as fh:
        fh.write(b"new")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_atomic_open_rejects_other_modes(tmp_path):
    with pytest.raises(ValueError, match="mode 'wb' or 'w'"), atomic_open(tmp_path / "x", "a"):
        pass


def test_atomic_dir_swaps_whole_folder(tmp_path):
    target = tmp_path / "res"
    with atomic_dir(target) as tmp:
        (tmp / "x.txt").write_text("1")
        assert not target.exists()
    assert (target / "x.txt").read_text() == "1"
    with pytest.raises(KeyError), atomic_dir(target) as tmp:
        (tmp / "y.txt").write_text("2")
        raise KeyError("stop")
    assert sorted(p.name for p in target.iterdir()) == ["x.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "y.txt").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["y.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]
    with (
        pytest.raises(FileExistsError, match="exists already"),
        atomic_dir(target, overwrite=False),
    ):
        pass


def test_sigkill_leaves_only_a_temporary_that_remove_stale_cleans(tmp_path):
    target = tmp_path / "big.bin"
    code = textwrap.dedent(
        f"""
        import sys, time
        from dks._atomic import atomic_open
        with atomic_open({str(target)!r}) as fh:
            fh.write(b"x" * 1000)
            fh.flush()
            print("ready", flush=True)
            time.sleep(60)
        """
    )
    kill_when_ready(code, timeout=30)
    assert not target.exists()
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(TMP_SUFFIX)]
    assert len(leftovers) == 1
    live = tmp_path / f".big.bin.{os.getpid()}.abcd{TMP_SUFFIX}"
    live.write_bytes(b"mine")
    assert remove_stale(target) == leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]


def test_temporaries_of_another_machine_are_kept_until_they_are_old(tmp_path, monkeypatch):
    """On a shared file system a pid says nothing about a writer on another machine."""
    import dks._atomic as atomic

    target = tmp_path / "chunk"
    ours = atomic.temporary_name(target)
    assert f".{os.getpid()}.{atomic._HOST}." in ours.name
    # A writer on another machine whose pid is free here; a dead local one; an old-style
    # name (no machine tag) of a dead local writer.
    dead_pid = 2**22 + 12345  # above Linux's pid_max default: no such process
    foreign = tmp_path / f".chunk.{dead_pid}.0badc0de.1234{TMP_SUFFIX}"
    local_dead = tmp_path / f".chunk.{dead_pid}.{atomic._HOST}.5678{TMP_SUFFIX}"
    old_style = tmp_path / f".chunk.{dead_pid}.9abc{TMP_SUFFIX}"
    for path in (foreign, local_dead, old_style):
        path.write_bytes(b"x")
    assert sorted(remove_stale(target)) == sorted([local_dead, old_style])
    assert foreign.exists()
    # Once older than FOREIGN_STALE_AFTER, the other machine's leftover is removed too.
    old = os.path.getmtime(foreign) - atomic.FOREIGN_STALE_AFTER - 60
    os.utime(foreign, (old, old))
    assert remove_stale(target) == [foreign]
    assert not foreign.exists()
