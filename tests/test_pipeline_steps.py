"""dks.pipeline's characterize and report steps on a results folder made without torch."""

import csv
import json

import numpy as np
import pytest

from dks.pipeline import AnalysisError, characterize, report
from tests.pipeline_helpers import (
    CLASSES,
    FEATURES,
    FIGURES,
    LAYERS,
    N_PER_CLASS,
    STATS,
    make_results,
    run_python,
)

FAST = {"shuffles": 2, "jobs": 1, "verbose": False}


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def characterized(tmp_path):
    out = make_results(tmp_path / "results")
    (out / "notes.txt").write_text("mine")
    result = characterize(out, **FAST)
    return out, result


def test_characterize_writes_the_statistics(characterized):
    out, result = characterized
    for name in STATS:
        assert (out / name).is_file(), name
    dks = np.load(out / "dks.npy")
    assert dks.shape == (len(CLASSES), len(FEATURES))
    np.testing.assert_array_equal(dks, result.selector.dks_)
    assert np.load(out / "null_dks.npy").shape == (2, len(CLASSES), len(FEATURES))
    relevance = np.load(out / "relevance.npy")
    assert relevance.dtype == np.int8 and set(np.unique(relevance)) <= {-1, 0, 1}
    assert dks[0, 0] > 0.5 and dks[2, 5] < -0.5  # the planted features
    thresholds = json.loads((out / "thresholds.json").read_text())
    assert thresholds["t_plus"] == result.selector.t_plus_
    assert thresholds["n_shuffles"] == 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary == result.summary
    assert summary["n_images"] == len(CLASSES) * N_PER_CLASS
    assert [c["name"] for c in summary["classes"]] == CLASSES
    assert (out / "notes.txt").read_text() == "mine"  # a user's file is carried over


def test_layers_come_from_embedding_json(characterized):
    """The saved ``layers`` decide, not the feature names (a regex would find a, b, features)."""
    out, _ = characterized
    layers = _rows(out / "layers.csv")
    assert [row["layer"] for row in layers] == list(LAYERS)
    assert [int(row["n_features"]) for row in layers] == [b - a for a, b in LAYERS.values()]
    layer_of = {name: layer for layer, (a, b) in LAYERS.items() for name in FEATURES[a:b]}
    top = _rows(out / "top_features.csv")
    assert top and all(row["layer"] == layer_of[row["feature"]] for row in top)


def test_characterize_removes_a_stale_report(tmp_path):
    out = make_results(tmp_path / "results")
    (out / "report.html").write_text("old")
    (out / "figures").mkdir()
    characterize(out, **FAST)
    assert not (out / "report.html").exists() and not (out / "figures").exists()


def test_characterize_imports_no_torch(tmp_path):
    out = make_results(tmp_path / "results")
    done = run_python(
        f"""
        import sys
        from dks.pipeline import characterize
        characterize({str(out)!r}, shuffles=1, jobs=1, verbose=False)
        print("torch" in sys.modules)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert (out / "summary.json").is_file()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shuffles": 0}, "'shuffles' parameter of characterize"),
        ({"bins": 1}, "'bins' parameter of characterize"),
        ({"resolution": 2.0}, "'resolution' parameter of characterize"),
        ({"jobs": 1.5}, "'jobs' parameter of characterize"),
    ],
)
def test_characterize_rejects_bad_parameters_before_writing(tmp_path, kwargs, message):
    out = make_results(tmp_path / "results")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(AnalysisError, match=message):
        characterize(out, **{**FAST, **kwargs})
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_steps_need_their_inputs(tmp_path):
    with pytest.raises(AnalysisError, match="run `dks embed` or `dks analyze` first"):
        characterize(tmp_path, **FAST)
    make_results(tmp_path)
    pytest.importorskip("matplotlib")
    with pytest.raises(AnalysisError, match="run `dks characterize` first"):
        report(tmp_path, verbose=False)


def test_report_draws_figures_and_page(characterized):
    pytest.importorskip("matplotlib")
    out, result = characterized
    done = report(out, verbose=False)
    assert done.summary == result.summary
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "dks analysis: fake" in html
    pngs = {p.stem for p in (out / "figures").glob("*.png")}
    assert set(FIGURES) <= pngs
    assert any(name.startswith("feature_histograms_") for name in pngs)
    assert not any(name.startswith("top_images_") for name in pngs)  # no image files here
    assert {p.stem for p in (out / "figures").glob("*.svg")} == pngs
    for name in STATS:  # the statistics are kept
        assert (out / name).is_file()
