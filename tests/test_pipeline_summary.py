"""dks.pipeline.format_summary: the text printed by ``dks analyze`` and ``dks characterize``."""

from dks.pipeline import PAPER_T_MINUS, PAPER_T_PLUS, characterize, format_summary
from tests.pipeline_helpers import CLASSES, LAYERS, make_results


def _summary(**changes):
    summary = {
        "dataset": "toy",
        "n_images": 30,
        "n_classes": 2,
        "n_features": 4,
        "model": "m",
        "n_shuffles": 3,
        "bins": 100,
        "t_plus": 0.15,
        "t_minus": -0.2,
        "d_avg_t_plus": 1.5,
        "d_avg_t_minus": 0.5,
        "n_pairs": 8,
        "n_pairs_plus": 2,
        "n_pairs_minus": 1,
        "n_noise_features": 1,
        "noise_features": ["f3"],
    }
    return {**summary, **changes}


def test_thresholds_compared_with_the_paper():
    text = format_summary(_summary())
    assert "t+ = +0.150" in text and "t- = -0.200" in text
    assert f"within the paper's range {PAPER_T_PLUS[0]:.3f} to {PAPER_T_PLUS[1]:.3f}" in text
    assert f"below the paper's range {PAPER_T_MINUS[0]:.3f} to {PAPER_T_MINUS[1]:.3f}" in text
    assert "Pairs kept: 3 of 8 (37.5%): 2 by presence (D_KS > t+), 1 by absence" in text
    assert "Features that are noise for every class: 1 of 4 (f3)" in text
    assert "Per class" not in text and "per layer" not in text  # sections without data


def test_long_noise_lists_are_cut():
    names = [f"f{i}" for i in range(20)]
    text = format_summary(_summary(noise_features=names, n_noise_features=20))
    assert "f11, ..." in text and "f12" not in text


def test_summary_of_a_characterized_folder(tmp_path):
    out = make_results(tmp_path / "results")
    result = characterize(out, shuffles=2, jobs=1, verbose=False)
    text = format_summary(result.summary, out)
    lines = text.splitlines()
    assert lines[1] == "dks analysis: fake"
    for layer in LAYERS:
        assert any(line.strip().startswith(layer) for line in lines)
    for cls in CLASSES:
        assert any(line.strip().startswith(cls) for line in lines)
    assert lines[-1] == f"Results: {out}  (report: {out / 'report.html'})"
    assert "Wall time:" in text


def test_the_dataset_name_titles_the_summary(tmp_path):
    import json

    out = make_results(tmp_path / "results")
    meta = json.loads((out / "embedding.json").read_text())
    meta["dataset"] = "/data/digits.csv"
    meta["dataset_name"] = "digits"
    meta["source"] = {"kind": "manifest", "location": "/data/digits.csv", "name": "digits"}
    (out / "embedding.json").write_text(json.dumps(meta))
    summary = characterize(out, shuffles=2, jobs=1, verbose=False).summary
    assert (summary["dataset_name"], summary["source"]) == ("digits", "manifest")
    assert format_summary(summary, out).splitlines()[1] == (
        "dks analysis: digits (/data/digits.csv)"
    )
    assert format_summary(_summary(dataset_name="toy")).splitlines()[1] == "dks analysis: toy"


def test_summary_and_report_say_the_depth(tmp_path):
    from dks.analysis._summary import format_summary
    from dks.report import write_report

    text = write_report(tmp_path / "r.html", {"n_classes": 17, "class_depth": 3}).read_text()
    assert "17: the folder paths to depth 3" in text
    summary = _summary(n_classes=5, class_depth=2)
    assert "5 classes (the folder paths to depth 2)" in format_summary(summary)


def test_the_printed_summary_sets_kept_against_chance():
    signal = {
        "kept": 0.5,
        "kept_shuffled": 0.123,
        "per_class": {"kept": 0.3, "kept_shuffled": 0.01},
    }
    text = format_summary(_summary(signal=signal, class_noise=[
        {"class": "a", "n_samples": 3, "noise_share": 0.9, "mostly_noise": True, "kept": 0.5},
    ]))  # fmt: skip
    assert "the same thresholds keep 12.3%" in text
    assert "it would keep 30.0% of the pairs, 1.0% with shuffled labels" in text
    assert "the same thresholds keep" not in format_summary(_summary())  # older summaries
