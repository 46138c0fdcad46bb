"""The smaller cases of trust: a manifest that repeats a file, ``-q`` with skipped files, a
spill into a full TMPDIR, labels that mix types."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from dks import KSCharacterizer
from dks.sources import SourceError, open_collection
from tests.pipeline_helpers import REPO


def _manifest(tmp_path, rows):
    path = tmp_path / "list.csv"
    path.write_text("path,label\n" + "".join(f"{p},{c}\n" for p, c in rows))
    return path


def test_a_manifest_with_one_file_under_two_classes_is_refused(tmp_path):
    path = _manifest(tmp_path, [("a.png", "cat"), ("b.png", "dog"), ("./a.png", "dog")])
    with pytest.raises(SourceError) as caught:
        open_collection(path)
    assert str(caught.value) == (
        f"line 4 of the manifest {str(path)!r} lists the file 'a.png' under the class 'dog', "
        "and line 2 under 'cat': one file has one class. Remove one of the rows."
    )


def test_a_manifest_listing_a_file_twice_warns(tmp_path):
    path = _manifest(tmp_path, [("a.png", "cat"), ("b.png", "dog"), ("a.png", "cat")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        open_collection(path)
    (message,) = [str(w.message) for w in caught]
    assert message == (
        f"1 row(s) of the manifest list a file listed already in the same class (the first: "
        f"line 4 of the manifest {str(path)!r} repeats line 2, 'a.png'); each row is "
        "embedded, so such a file counts twice in its class."
    )


def test_labels_that_mix_types_are_named():
    X = np.random.default_rng(0).random((8, 3))
    y = np.array([1, "cat", 2, "cat", 1, 2, "cat", 1], dtype=object)
    with pytest.raises(ValueError) as caught:
        KSCharacterizer(progress=False).fit(X, y)
    assert str(caught.value) == (
        "KSCharacterizer got labels in y that mix types: strings (e.g. 'cat') and int values "
        "(e.g. 1). Give every label one type, e.g. y = np.asarray(y).astype(str)."
    )


_MIXED = [1, "cat", 2, "cat", 1, 2, "cat", 1, 2, "cat", 1, 2, "cat", 1, 2, 1]


@pytest.mark.parametrize("kind", ["list", "tuple", "series"])
@pytest.mark.parametrize(
    "name", ["KSCharacterizer", "NoiseThresholdSelector", "ablation", "stability"]
)
def test_labels_that_mix_types_in_a_list_are_named(kind, name):
    # np.asarray turns [1, "cat"] into strings: 1 and "1" would be one class, silently
    pd = pytest.importorskip("pandas") if kind == "series" else None
    from dks.select import NoiseThresholdSelector
    from dks.validity import ablation, stability

    y = {"list": list, "tuple": tuple, "series": lambda v: pd.Series(v, dtype=object)}[kind](
        _MIXED
    )
    X = np.random.default_rng(0).random((len(_MIXED), 3))
    fit = {
        "KSCharacterizer": lambda: KSCharacterizer(progress=False).fit(X, y),
        "NoiseThresholdSelector": lambda: NoiseThresholdSelector(progress=False).fit(X, y),
        "ablation": lambda: ablation(X, y, k=1),
        "stability": lambda: stability(X, y),
    }[name]
    with pytest.raises(ValueError) as caught:
        fit()
    assert str(caught.value) == (
        f"{name} got labels in y that mix types: strings (e.g. 'cat') and int values "
        "(e.g. 1). Give every label one type, e.g. y = np.asarray(y).astype(str)."
    )


_SPILL = r"""
import sys
import numpy as np
from sklearn import config_context
from dks import KSCharacterizer

X = np.load(sys.argv[1], mmap_mode="r")
with config_context(working_memory=0.5):
    KSCharacterizer(progress=False, n_bins=10).fit(X, np.arange(X.shape[0]) % 4)
"""


def test_a_spill_into_a_full_tmpdir_names_it_and_the_space_needed(tmp_path):
    from tests.test_faults import _tmpfs

    X = np.random.default_rng(0).random((4096, 256), dtype=np.float32)  # 4 MiB
    np.save(tmp_path / "X.npy", X)
    with _tmpfs(tmp_path / "scratch", "size=1m") as scratch:
        done = subprocess.run(
            [sys.executable, "-c", _SPILL, str(tmp_path / "X.npy")],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(REPO)},
            timeout=300,
            check=False,
        )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"OSError: The temporary directory {str(scratch)!r} (TMPDIR) is full (No space left "
        "on device): the statistics spill the embedding there (4,096 rows x 256 features "
    ), last
    assert "which needs 4 MiB (0 MiB free). Set the environment variable TMPDIR" in last
