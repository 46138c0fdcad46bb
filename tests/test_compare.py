"""dks.compare / `dks compare`: results folders side by side (numpy-made folders, no torch)."""

import json
import math
import shutil

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import dks
from dks.cli import main
from dks.pipeline import AnalysisError
from dks.plotting import (
    compare_colors,
    plot_compare_class_curves,
    plot_compare_dks_histograms,
    plot_compare_layer_distribution,
)
from dks.study._compare_text import compare_in_words

from .pipeline_helpers import LAYERS, characterized_pair, make_results, run_python


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Two characterized results folders of the same fake embedding layout."""
    return characterized_pair(tmp_path_factory.mktemp("compare"))


def _copy(src, dst, *, model=None, name=None):
    shutil.copytree(src, dst)
    meta = json.loads((dst / "embedding.json").read_text())
    if model is not None:
        meta["settings"]["model"] = model
    (dst / "embedding.json").write_text(json.dumps(meta))
    if name is not None:
        (dst / "images").mkdir(exist_ok=True)
        (dst / "images" / "dataset.json").write_text(json.dumps({"name": name}))
    return dst


def test_report_table_figures_and_words(folders, tmp_path):
    result = dks.compare(folders, tmp_path / "cmp", reference="fake (beta)", verbose=False)
    names = [row["dataset"] for row in result["datasets"]]
    assert names == ["fake (alpha)", "fake (beta)"]  # same dataset name: made distinct
    for row, path in zip(result["datasets"], folders, strict=True):
        th = json.loads((path / "thresholds.json").read_text())
        assert (row["t_plus"], row["t_minus"]) == (th["t_plus"], th["t_minus"])
        assert (row["n_classes"], row["n_features"]) == (3, 7)
    assert {p["dataset"] for p in result["paper"]} == {"mit67", "cub200", "flowers102"}
    mit67 = next(p for p in result["paper"] if p["dataset"] == "mit67")
    assert (mit67["t_plus"], mit67["d_avg_t_plus"]) == (0.123, 2742)
    saved = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert saved["datasets"] == result["datasets"] and saved["layerwise"] is True
    for key in (
        "compare_layer_distribution",
        "compare_dks_histograms",
        "compare_class_curves",
        "compare_layer_kept",
    ):
        for ext in ("png", "svg"):
            assert (tmp_path / "cmp" / "figures" / f"{key}.{ext}").stat().st_size > 0
    page = (tmp_path / "cmp" / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 4
    assert "http" not in page.replace("https://", "").split("<main>")[0]  # no external links
    assert "<script" not in page
    assert "fake (alpha)" in page and "mit67 (paper, VGG19)" in page and "3,027" in page
    assert any("lowest t+" in s for s in result["text"])
    assert any("layer" in s and "Fig. 5" in s for s in result["text"])
    assert result["report"] == tmp_path / "cmp" / "report.html"


def test_names_from_dataset_json_and_option(folders, tmp_path):
    a = _copy(folders[0], tmp_path / "a", name="flowers102")
    b = _copy(folders[1], tmp_path / "b", name="cub200")
    fast = dict(only_layer_independent=True, verbose=False)  # one figure: enough here
    result = dks.compare([a, b], tmp_path / "cmp", **fast)
    assert [r["dataset"] for r in result["datasets"]] == ["flowers102", "cub200"]
    result = dks.compare([a, b], tmp_path / "cmp2", names=["F", "C"], **fast)
    assert [r["dataset"] for r in result["datasets"]] == ["F", "C"]
    with pytest.raises(AnalysisError, match="names gives 1 names for 2 results folders"):
        dks.compare([a, b], tmp_path / "cmp3", names=["F"], verbose=False)
    with pytest.raises(AnalysisError, match="distinct names"):
        dks.compare([a, b], tmp_path / "cmp3", names=["F", "F"], verbose=False)


def test_different_models_are_refused_unless_layer_independent(folders, tmp_path):
    other = _copy(folders[1], tmp_path / "vgg", model="vgg19")
    with pytest.raises(AnalysisError) as info:
        dks.compare([folders[0], other], tmp_path / "cmp", verbose=False)
    message = str(info.value)
    assert "model differ" in message and "'fake'" in message and "'vgg19'" in message
    assert str(folders[0]) in message and str(other) in message
    assert "only_layer_independent=True" in message
    assert not (tmp_path / "cmp").exists()
    result = dks.compare(
        [folders[0], other], tmp_path / "cmp", only_layer_independent=True, verbose=False
    )
    assert result["layerwise"] is False and result["differences"][0]["what"] == "model"
    figures = sorted(p.name for p in (tmp_path / "cmp" / "figures").glob("*.png"))
    assert figures == ["compare_class_curves.png"]
    assert any("not comparable" in s for s in result["text"])


def test_cli_compare_and_its_messages(folders, tmp_path, capsys):
    assert main(["compare", *map(str, folders), "--out", str(tmp_path / "c"), "-q"]) == 0
    assert (tmp_path / "c" / "report.html").is_file()
    other = _copy(folders[1], tmp_path / "vgg", model="vgg19")
    capsys.readouterr()
    assert main(["compare", str(folders[0]), str(other), "--out", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert "dks compare: error:" in err and "--only-layer-independent" in err
    assert "only_layer_independent=True" not in err
    assert main(["compare", str(folders[0]), "--out", str(tmp_path / "e")]) == 1
    assert "two results folders or more" in capsys.readouterr().err
    argv = ["compare", *map(str, folders), "--out", str(tmp_path / "f"), "--reference", "x"]
    assert main(argv) == 1
    assert "--reference 'x' is none of the datasets" in capsys.readouterr().err
    argv = ["compare", *map(str, folders), "--out", str(tmp_path / "g"), "--names", "A"]
    assert main(argv) == 1
    assert "--names gives 1 names" in capsys.readouterr().err


def test_uncharacterized_folder_is_refused(folders, tmp_path):
    bare = make_results(tmp_path / "bare")
    with pytest.raises(AnalysisError, match=r"has no statistics .*run `dks characterize"):
        dks.compare([folders[0], bare], tmp_path / "cmp", verbose=False)
    with pytest.raises(AnalysisError, match="not a results folder"):
        dks.compare([folders[0], tmp_path / "nothing"], tmp_path / "cmp", verbose=False)


def test_import_dks_and_compare_need_no_torch(folders, tmp_path):
    proc = run_python(
        f"""
        import sys, dks
        dks.compare(
            {[str(p) for p in folders]!r}, {str(tmp_path / "c")!r}, verbose=False
        )
        print("torch" in sys.modules)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


# ------------------------------------------------------------------------------- figures
def _runs(n=2, n_classes=4, n_features=7, seed=0):
    rng = np.random.default_rng(seed)
    groups = {name: np.arange(a, b) for name, (a, b) in LAYERS.items()}
    runs = {}
    for i in range(n):
        d = rng.uniform(-1, 1, (n_classes, n_features))
        runs[f"d{i}"] = {
            "dks": d,
            "null_dks": rng.uniform(-0.3, 0.3, (2, n_classes, n_features)),
            "groups": groups,
            "t_plus": 0.2,
            "t_minus": -0.2,
        }
    return runs


def test_compare_figures_one_series_or_panel_per_dataset():
    runs = _runs(3)
    fig = plot_compare_class_curves(runs)
    assert len(fig.axes) == 6
    assert [ax.get_title().split(":")[0] for ax in fig.axes[:3]] == ["d0", "d1", "d2"]
    fig = plot_compare_layer_distribution(runs)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert sum(label.startswith("d1: ") for label in labels) == 2  # D_KS+ and D_KS- series
    peaked = {**runs, "d0": {**runs["d0"], "dks": np.full((4, 7), 0.5)}}  # taller than d2
    fig = plot_compare_dks_histograms(peaked, reference="d2")
    for ax in fig.axes:
        widths = {p.get_label(): p.get_linewidth() for p in ax.patches}
        assert widths["d2 (reference)"] > widths["d0"] == widths["d1"]
        highest = max(p.get_data().values.max() for p in ax.patches)
        assert ax.get_ylim()[1] >= highest  # every dataset's histogram fits
    with pytest.raises(ValueError, match="reference 'x' is none of the datasets"):
        plot_compare_dks_histograms(runs, reference="x")
    other = dict(runs)
    other["d1"] = {**runs["d1"], "groups": {"all": np.arange(7)}}
    with pytest.raises(ValueError, match="same layers"):
        plot_compare_layer_distribution(other)


def test_colors_are_stable_and_the_reference_is_blue():
    assert compare_colors(["a", "b", "c"], reference="b") == {"a": "C1", "b": "C0", "c": "C2"}
    assert compare_colors(["a", "b"]) == {"a": "C1", "b": "C2"}


# --------------------------------------------------------------------------------- words
def test_words_name_the_lowest_thresholds_and_the_widest_layer():
    rows = [
        {"dataset": "A", "t_plus": 0.15, "t_minus": -0.12, "d_avg_t_plus": 10.0},
        {"dataset": "B", "t_plus": 0.13, "t_minus": -0.16, "d_avg_t_plus": 30.0},
    ]
    per_layer = {
        "layers": ["l1", "l2", "l3"],
        "mode_plus": {"A": [0.3, 0.2, 0.1], "B": [0.31, 0.5, math.nan]},
        "mode_minus": {"A": [-0.3, -0.2, -0.1], "B": [-0.3, -0.2, -0.4]},
        "kept": {"A": [0.8, 0.6, 0.1], "B": [0.5, 0.6, 0.1]},
    }
    text = compare_in_words(rows, per_layer)
    assert text[0].startswith("B has the lowest t+ (0.130); A has the t- closest to 0 (-0.120)")
    assert "[0.130, 0.150]" in text[1] and "all of them fall inside" in text[1]
    assert "B has the most features per class" in text[2]
    assert "D_KS+ (Fig. 5) at layer l2: from 0.200 (A) to 0.500 (B)" in text[3]
    assert "D_KS- (Fig. 5) at layer l3: from -0.400 (B) to -0.100 (A)" in text[4]
    assert "(Fig. 10) at layer l1: from 50.0% (B) to 80.0% (A)" in text[5]
    outside = compare_in_words([{**rows[0], "t_plus": 0.3}, rows[1]], None, [{"what": "model"}])
    assert "some fall outside" in outside[1] and "differ in model" in outside[2]
    assert len(outside) == 3


def test_names_are_the_recorded_dataset_names(folders, tmp_path):
    """embedding.json's dataset name (a folder's, a manifest's stem, a dataset's own) titles
    the datasets, not the results folders' names."""
    paths = []
    for src, name in zip(folders, ("digits", "food101"), strict=True):
        dst = shutil.copytree(src, tmp_path / f"run_{name}")
        meta = json.loads((dst / "embedding.json").read_text())
        meta["dataset_name"] = name
        meta["source"] = {"kind": "manifest", "location": f"/data/{name}.csv", "name": name}
        (dst / "embedding.json").write_text(json.dumps(meta))
        paths.append(dst)
    result = dks.compare(paths, tmp_path / "cmp", only_layer_independent=True, verbose=False)
    assert [r["dataset"] for r in result["datasets"]] == ["digits", "food101"]
