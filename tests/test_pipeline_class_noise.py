"""Class sizes in the pipeline: thresholds rule, class_noise.csv, summary, report
and the ``--thresholds`` / ``--max-noise-share`` options, on results folders made without
torch."""

import csv
import json
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from dks import NoiseThresholdSelector
from dks._options import command_line, option
from dks.analysis._parameters import check_parameters
from dks.pipeline import AnalysisError, characterize, format_summary, load_results, report
from dks.results._io import CLASS_NOISE_COLUMNS
from tests.pipeline_helpers import UNEVEN, make_uneven_results

FAST = {"shuffles": 5, "jobs": 1, "verbose": False}


def _quiet(fn, *args, **kwargs):
    """Run ``fn`` ignoring the small-class and unresolved-class warnings of the selector."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


@pytest.fixture(scope="module", params=["global", "per_class"])
def characterized(request, tmp_path_factory):
    out = make_uneven_results(tmp_path_factory.mktemp(request.param) / "results")
    result = _quiet(characterize, out, thresholds=request.param, **FAST)
    return request.param, out, result


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _refit(out, rule):
    """The selector the statistics step fits, fitted again by hand."""
    from dks.characterize import KSCharacterizer

    meta = json.loads((out / "embedding.json").read_text())
    X = np.load(out / "embedding.npy")
    sel = NoiseThresholdSelector(
        KSCharacterizer(n_bins=100, n_jobs=1), n_shuffles=5, random_state=0, thresholds=rule
    )
    return _quiet(sel.fit, X, np.asarray(meta["labels"]))


# ------------------------------------------------------------------------- the files
def test_class_noise_csv_is_the_selectors_table(characterized):
    rule, out, result = characterized
    sel = _refit(out, rule)
    rows = _rows(out / "class_noise.csv")
    assert list(rows[0]) == list(CLASS_NOISE_COLUMNS)
    assert [r["class"] for r in rows] == list(UNEVEN)
    assert [int(r["n_samples"]) for r in rows] == list(UNEVEN.values())
    table = sel.class_noise_
    for name in ("kept", "kept_shuffled", "noise_share"):
        got = [float(r[name]) if r[name] else np.nan for r in rows]
        assert_allclose(got, table[name], equal_nan=True)
    assert [r["mostly_noise"] for r in rows] == [str(int(m)) for m in table["mostly_noise"]]
    t_plus = np.broadcast_to(sel.t_plus_, (len(UNEVEN),))
    assert_allclose([float(r["t_plus"]) for r in rows], t_plus)
    assert_allclose([float(r["t_minus"]) for r in rows], np.broadcast_to(sel.t_minus_, (5,)))
    # the fitted selector handed back is the same
    assert_allclose(result.selector.t_plus_, sel.t_plus_)


def test_thresholds_json_and_summary_say_the_rule(characterized):
    rule, out, result = characterized
    th = json.loads((out / "thresholds.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    sel = result.selector
    for doc in (th, summary):
        assert doc["thresholds"] == rule
        assert doc["unresolved_classes"] == [str(c) for c in sel.unresolved_classes_]
        if rule == "global":
            assert doc["max_noise_share"] is None
            assert isinstance(doc["t_plus"], float) and isinstance(doc["t_minus"], float)
            assert doc["d_avg_t_plus"] == pytest.approx(sel.d_avg_plus_.max())
        else:
            assert doc["max_noise_share"] == 0.05
            assert doc["t_plus"] == sel.t_plus_.tolist() and len(doc["t_minus"]) == len(UNEVEN)
            assert doc["d_avg_t_plus"] is None and doc["d_avg_t_minus"] is None
    rows = summary["class_noise"]
    assert [r["class"] for r in rows] == list(UNEVEN)
    assert [r["mostly_noise"] for r in rows] == sel.class_noise_["mostly_noise"].tolist()
    assert [r["unresolved"] for r in rows] == [c in sel.unresolved_classes_ for c in UNEVEN]


def test_load_results_reads_class_noise_back(characterized):
    _, out, result = characterized
    table = load_results(out)["class_noise"]
    assert list(table) == list(CLASS_NOISE_COLUMNS)
    expected = result.selector.class_noise_
    assert_array_equal(table["class"], expected["class"])
    assert table["n_samples"].dtype == np.int64 and table["mostly_noise"].dtype == bool
    assert_array_equal(table["mostly_noise"], expected["mostly_noise"])
    for name in ("kept", "kept_shuffled", "noise_share"):
        assert_array_equal(table[name], expected[name])  # repr() round-trips exactly


def test_global_rule_flags_the_small_classes(characterized):
    rule, _, result = characterized
    mostly = dict(zip(UNEVEN, result.selector.class_noise_["mostly_noise"], strict=True))
    if rule == "global":
        # with one threshold the 4- and 8-image classes keep mostly noise, the large ones not
        assert mostly["ant"] and mostly["bee"] and not mostly["doe"] and not mostly["elk"]
    else:
        assert not any(mostly.values())
        # larger classes get lower thresholds: their chance D_KS are smaller
        t = result.selector.t_plus_
        assert t[list(UNEVEN).index("elk")] < t[list(UNEVEN).index("cow")]


# ---------------------------------------------------------------------- printed text
def test_printed_summary_says_the_rule_and_the_noisy_classes(characterized):
    rule, out, result = characterized
    text = format_summary(result.summary, out)
    if rule == "global":
        assert "one pair for all classes, the paper's Eq. 4" in text
        assert "t+ = " in text
        line = next(x for x in text.splitlines() if x.startswith("Classes whose kept pairs"))
        assert "ant (4 images, " in line and "bee (8 images, " in line and "elk" not in line
        assert "thresholds='per_class' learns each class's own" in text
        with command_line():
            assert "--thresholds per_class learns" in format_summary(result.summary, out)
    else:
        assert "one pair per class, max noise share 0.05" in text
        assert "t+ per class: median +" in text and "Classes whose kept" not in text


def test_summary_lists_unresolved_classes():
    summary = {
        "dataset": "d",
        "n_shuffles": 1,
        "bins": 100,
        "thresholds": "per_class",
        "max_noise_share": 0.1,
        "t_plus": [0.3, 1.0],
        "t_minus": [-1.0, -1.0],
        "unresolved_classes": ["b"],
        "n_pairs": 4,
        "n_pairs_plus": 1,
        "n_pairs_minus": 0,
        "n_noise_features": 1,
        "n_features": 2,
    }
    text = format_summary(summary)
    assert "t+ per class: median +0.300, from +0.300 to +0.300 (1 of 2 classes" in text
    assert "t-: no class keeps anything on this side" in text
    assert "Unresolved (no threshold meets the bound; nothing kept): b" in text


# ------------------------------------------------------------------------ report
def test_report_shows_the_noise_of_every_class(characterized):
    rule, out, _ = characterized
    report(out, verbose=False)
    text = (out / "report.html").read_text(encoding="utf-8")
    assert (out / "figures" / "class_noise.png").is_file()
    assert 'id="fig-class_noise"' in text and '<section id="class-noise">' in text
    assert "A single share per layer averages over classes, and so hides the small" in text
    if rule == "global":
        assert "2 of 5 classes</b> keep mostly noise" in text
        assert "--thresholds per_class" in text and "When to use which rule" in text
        assert "<td>ant</td>" in text
    else:
        assert "No class keeps mostly noise" in text
        assert "per class: median +" in text  # t+ cell of the thresholds table
        assert "The thresholds are per class" in text
        assert "the dot on each black line is that class" in text  # Fig. 9 caption


def test_report_of_unresolved_classes(tmp_path):
    from dks.report import write_report

    rows = [
        {"class": "big", "n_samples": 90, "kept": 0.2, "kept_shuffled": 0.0,
         "noise_share": 0.0, "mostly_noise": False, "unresolved": False,
         "t_plus": 0.2, "t_minus": -0.2},
        {"class": "tiny", "n_samples": 3, "kept": 0.0, "kept_shuffled": 0.0,
         "noise_share": None, "mostly_noise": False, "unresolved": True,
         "t_plus": 1.0, "t_minus": -1.0},
    ]  # fmt: skip
    summary = {"thresholds": "per_class", "t_plus": [0.2, 1.0], "t_minus": [-0.2, -1.0]}
    text = write_report(tmp_path / "r.html", {**summary, "class_noise": rows}).read_text()
    flagged = text[text.index("1 of 2 classes") : text.index("<details>")]
    assert "tiny (unresolved)" in flagged and "big" not in flagged
    assert "nothing kept" in flagged and ">none<" in flagged
    assert "per class: median +0.200<br>+0.200 to +0.200 (1 of 2 classes)" in text


# --------------------------------------------------------------- options and messages
def test_parameters_follow_the_selector():
    check_parameters("analyze", thresholds="per_class", max_noise_share=0.2)
    with pytest.raises(AnalysisError, match="'thresholds' parameter of analyze must be"):
        check_parameters("analyze", thresholds="class")
    with (
        command_line(),
        pytest.raises(AnalysisError, match="'--max-noise-share' parameter of dks analyze"),
    ):
        check_parameters("dks analyze", max_noise_share=1.0)


@pytest.mark.parametrize(
    ("flag", "value"), [("--thresholds", "per-class"), ("--max-noise-share", "0")]
)
def test_command_line_names_the_new_flags(tmp_path, capsys, flag, value):
    from dks.cli import main

    code = main(["characterize", str(tmp_path), flag, value])
    err = capsys.readouterr().err
    assert code == 2
    assert f"The '{flag}' parameter of dks characterize must be" in err
    assert list(tmp_path.iterdir()) == []


def test_dks_characterize_per_class(tmp_path, capsys):
    from dks.cli import main

    out = make_uneven_results(tmp_path / "results")
    args = ["characterize", str(out), "--thresholds", "per_class", "--max-noise-share", "0.1"]
    code = main([*args, "--shuffles", "5", "--jobs", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "one pair per class, max noise share 0.1" in captured.out
    # advice on the command line names flags (the 4-image class warns)
    assert "dks: warning: 1 class(es) have fewer than 5 samples: 'ant' (4)" in captured.err
    assert "thresholds=" not in captured.err and "max_noise_share" not in captured.err
    th = json.loads((out / "thresholds.json").read_text())
    assert th["thresholds"] == "per_class" and th["max_noise_share"] == 0.1
    assert len(th["t_plus"]) == len(UNEVEN)
    assert len(_rows(out / "class_noise.csv")) == len(UNEVEN)


def test_option_spelling():
    assert option("thresholds", "per_class") == "thresholds='per_class'"
    assert option("max_noise_share") == "max_noise_share"
    with command_line():
        assert option("thresholds", "per_class") == "--thresholds per_class"
        assert option("max_noise_share") == "--max-noise-share"
    assert option("max_noise_share") == "max_noise_share"


def test_small_class_warning_points_to_the_rule_where_the_user_is():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 30))
    y = np.repeat([0, 1, 2], [3, 17, 20])
    with pytest.warns(UserWarning, match="use thresholds='per_class', which learns"):
        NoiseThresholdSelector(random_state=0).fit(X, y)
    with command_line(), pytest.warns(UserWarning, match="use --thresholds per_class, which"):
        NoiseThresholdSelector(random_state=0).fit(X, y)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        NoiseThresholdSelector(random_state=0, n_shuffles=3, thresholds="per_class").fit(X, y)
    small = [str(w.message) for w in record if "fewer than 5" in str(w.message)]
    assert len(small) == 1 and "per_class" not in small[0]  # already on: not suggested
    unresolved = [str(w.message) for w in record if "no threshold" in str(w.message)]
    assert all("raise max_noise_share" in m for m in unresolved)
