"""Nothing of a user's replaced, nothing called kept that is gone, damaged results named.

``dks compare --out`` onto folders that are not comparisons, a full disk under a finished
results folder (a small tmpfs mounted by the test), and results files damaged on disk.
Folders are made with numpy (:func:`tests.pipeline_helpers.make_results`), no torch.
"""

import contextlib
import io
import shutil

import pytest

pytest.importorskip("matplotlib")

from dks.cli import main
from tests.pipeline_helpers import characterized_pair


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Two characterized results folders of the same fake embedding layout."""
    return characterized_pair(tmp_path_factory.mktemp("trust"))


def _run(*args):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([str(a) for a in args])
    return code, stderr.getvalue()


def _files(root):
    return sorted(
        (str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()
    )


# -------------------------------------------------------------------- 3. compare --out
def test_compare_refuses_to_write_into_a_results_folder(folders, tmp_path):
    a = shutil.copytree(folders[0], tmp_path / "a")
    before = _files(a)
    code, err = _run("compare", a, folders[1], "--out", a)
    assert code == 1
    assert (
        f"dks compare: error: The output folder {str(a)!r} is one of the results folders "
        "compared; its report would be replaced. Choose a new folder (--out comparison)."
    ) in err
    other = shutil.copytree(folders[0], tmp_path / "other")
    code, err = _run("compare", folders[0], folders[1], "--out", other)
    assert code == 1
    assert (
        f"The output folder {str(other)!r} exists, is not empty and is a dks results folder "
        "(no comparison.json); choose a new or empty folder (--out), so that nothing of "
        "yours is replaced."
    ) in err
    assert _files(a) == before


def test_compare_refuses_a_folder_of_images_and_rewrites_a_comparison(folders, tmp_path):
    pictures = tmp_path / "pictures"
    (pictures / "cat").mkdir(parents=True)
    (pictures / "cat" / "a.png").write_bytes(b"png")
    code, err = _run("compare", *folders, "--out", pictures)
    assert code == 1
    assert "exists, is not empty and is not a comparison folder (no comparison.json)" in err
    assert sorted(p.name for p in pictures.rglob("*")) == ["a.png", "cat"]
    out = tmp_path / "comparison"
    assert _run("compare", *folders, "--out", out, "-q")[0] == 0
    assert (out / "comparison.json").is_file() and (out / "report.html").is_file()
    (out / "notes.txt").write_text("mine")
    assert _run("compare", *folders, "--out", out, "-q")[0] == 0  # a comparison: replaced
    assert (out / "notes.txt").read_text() == "mine"


def test_compare_warns_when_a_folder_is_compared_with_itself(folders, tmp_path):
    code, err = _run("compare", folders[0], folders[0], "--out", tmp_path / "c", "-q")
    assert (
        f"dks: warning: The results folder {str(folders[0])!r} is given more than once: "
        "compared with itself, it shows no difference."
    ) in err
    assert code == 0, err


# ------------------------------------------------------------------ 6. damaged results
def _damaged(folders, tmp_path, name, damage):
    out = shutil.copytree(folders[0], tmp_path / "results")
    damage(out / name)
    code, err = _run("report", out)
    assert code == 1
    (line,) = [x for x in err.splitlines() if x.startswith("dks report: error:")]
    assert line.startswith(f"dks report: error: {str(out / name)!r} is damaged: ")
    assert line.endswith(
        f"Rebuild the statistics with `dks characterize {out}` (then `dks report {out}`)."
    )
    return line


def test_a_truncated_dks_npy_is_named_with_its_fix(folders, tmp_path):
    def truncate(path):
        path.write_bytes(path.read_bytes()[:40])

    line = _damaged(folders, tmp_path, "dks.npy", truncate)
    assert "it is truncated or not a .npy file" in line


def test_an_invalid_thresholds_json_is_named_with_its_fix(folders, tmp_path):
    def garble(path):
        path.write_text(path.read_text()[:-7])

    line = _damaged(folders, tmp_path, "thresholds.json", garble)
    assert "it is not valid JSON (" in line


def test_a_dks_npy_of_the_wrong_shape_is_named_with_its_fix(folders, tmp_path):
    def reshape(path):
        import numpy as np

        np.save(path, np.load(path)[:, :-2])

    line = _damaged(folders, tmp_path, "dks.npy", reshape)
    assert "it holds an array of shape (3, 5), where the embedding of the results folder " in line
    assert "needs 3 x 7 (classes x features)" in line
