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
    make_uneven_results,
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
    assert "class_noise" not in pngs  # one size for all classes: noise against size says nothing
    assert any(name.startswith("feature_histograms_") for name in pngs)
    assert not any(name.startswith("top_images_") for name in pngs)  # no image files here
    assert {p.stem for p in (out / "figures").glob("*.svg")} == pngs
    for name in STATS:  # the statistics are kept
        assert (out / name).is_file()


@pytest.mark.filterwarnings("ignore:1 class\\(es\\) have fewer:UserWarning")
def test_the_report_leads_with_signal(tmp_path):
    """Uneven classes: the examples come from classes that are not mostly noise, the headline
    sets kept against kept with shuffled labels and says what per_class would keep, the
    per-class table marks the mostly-noise classes, and noise against size is drawn."""
    import csv

    pytest.importorskip("matplotlib")
    out = make_uneven_results(tmp_path / "results", n_features=40, n_planted=3)
    result = characterize(out, shuffles=2, jobs=1, verbose=False, progress=False)
    with open(out / "class_noise.csv", newline="") as fh:
        noisy = {r["class"] for r in csv.DictReader(fh) if r["mostly_noise"] == "1"}
    assert noisy  # the planted data have small classes that keep mostly noise
    report(out, verbose=False)
    html = (out / "report.html").read_text(encoding="utf-8")
    sig = result.summary["signal"]
    dks_, null = np.load(out / "dks.npy"), np.load(out / "null_dks.npy")
    t_plus, t_minus = result.summary["t_plus"], result.summary["t_minus"]
    assert sig["kept"] == pytest.approx(np.mean((dks_ > t_plus) | (dks_ < t_minus)))
    chance = np.mean([np.mean((n > t_plus) | (n < t_minus)) for n in null])
    assert sig["kept_shuffled"] == pytest.approx(chance)
    assert html.index('id="glance"') < html.index('id="run"')  # the headline comes first
    assert f"{100 * chance:.1f}% with shuffled labels" in html
    assert "Per-class thresholds" in html and sig["per_class"] is not None
    assert sig["n_mostly_noise"] == len(noisy)
    for name in noisy:
        assert f'<tr class="noisy"><td>{name}<br><span class="flag">' in html
    pngs = {p.stem for p in (out / "figures").glob("*.png")}
    assert "class_noise" in pngs
    # Fig. 1's features are the best of their layers among the classes not mostly noise
    from dks.pipeline import load_results

    meta, layers = json.loads((out / "embedding.json").read_text()), load_results(out)["layers"]
    signal = [i for i, c in enumerate(meta["classes"]) if c not in noisy]
    best = dks_[signal].max(axis=0)
    shown = [p[len("feature_histograms_") :] for p in pngs if p.startswith("feature_histograms_")]
    assert shown
    for feature in shown:
        j = meta["feature_names"].index(feature)
        (cols,) = [np.asarray(c) for c in layers.values() if j in np.asarray(c)]
        assert best[j] == best[cols].max()
