"""``dks validate`` / :func:`dks.pipeline.validate`: the files of ``validity/``, the same
numbers as the Python functions, the report's section, the explorer's line, the CLI."""

import json
import shutil

import numpy as np
import pytest

from dks import KSCharacterizer, NoiseThresholdSelector
from dks.cli import main
from dks.explore._views import Views
from dks.pipeline import characterize, export_fne, load_results, report, validate
from dks.report import write_report
from dks.validity import ablation, stability
from tests.pipeline_helpers import CLASSES, make_results

pytest.importorskip("matplotlib")

K, SPLITS, BOOTSTRAP, SEED = (1, 2), 2, 3, 4


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = make_results(tmp_path_factory.mktemp("validate") / "res")
    characterize(out, shuffles=2, jobs=1, verbose=False, progress=False)
    report(out, verbose=False)
    export_fne(out, verbose=False)  # made from the statistics: validate keeps it
    validate(out, k=K, splits=SPLITS, bootstrap=BOOTSTRAP, seed=SEED, jobs=1, verbose=False)
    return out


def test_validate_writes_the_numbers_of_the_python_functions(folder):
    files = sorted(p.name for p in (folder / "validity").iterdir())
    assert files == sorted(
        ["ablation.csv", "stability.csv", "validity.json", "validity.png", "validity.svg"]
    )
    assert (folder / "fne.json").is_file()  # the statistics stayed, and so did their export
    res = load_results(folder)
    X = np.asarray(res["embedding"])
    y = np.asarray(res["embedding_meta"]["labels"])
    groups = res["layers"]
    char = KSCharacterizer(n_bins=100, n_jobs=1, progress=False)
    abl = ablation(X, y, k=K, groups=groups, characterizer=char, random_state=SEED)
    sel = NoiseThresholdSelector(char, n_shuffles=2, progress=False, keep_null=False)
    stab = stability(
        X, y, n_splits=SPLITS, n_bootstrap=BOOTSTRAP, selector=sel, groups=groups,
        random_state=SEED,
    )  # fmt: skip
    for name, column in abl.table.items():
        np.testing.assert_array_equal(res["ablation"][name], column)
    for name, column in stab.table.items():
        np.testing.assert_array_equal(res["stability"][name], column)
    assert res["stability"]["name"].tolist() == ["all", *CLASSES, "low", "high"]
    meta = json.loads((folder / "validity" / "validity.json").read_text())
    assert meta["settings"] == {
        "k": list(K), "splits": SPLITS, "bootstrap": BOOTSTRAP, "seed": SEED, "rule": "global"
    }  # fmt: skip
    assert len(meta["ablation"]) == 2 * len(K)


def test_report_has_the_validity_section_and_keeps_it(folder, tmp_path):
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="validity"' in html and "Jaccard" in html
    assert "Validity: ablation and stability per class" in html  # the figure's title
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    inode = (copy / "fne.json").stat().st_ino
    report(copy, verbose=False)  # the report step carries validity/ over
    assert (copy / "validity" / "stability.csv").is_file()
    assert 'id="validity"' in (copy / "report.html").read_text(encoding="utf-8")
    assert (copy / "fne.json").stat().st_ino == inode
    # New statistics make the evidence stale: characterize removes it (and the export).
    characterize(copy, shuffles=1, jobs=1, verbose=False, progress=False)
    assert not (copy / "validity").exists()
    assert not (copy / "fne.json").exists()


def test_validate_keeps_the_reports_figures_and_draws_only_what_is_missing(folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    figures = copy / "figures"
    gone = figures / "davg.png"
    gone.unlink()
    gone.with_suffix(".svg").unlink()
    kept = {p.name: p.stat().st_ino for p in figures.iterdir()}
    page = (copy / "report.html").stat().st_ino
    validate(copy, k=K, splits=SPLITS, bootstrap=BOOTSTRAP, seed=SEED, jobs=1, verbose=False)
    # the statistics did not change: their figures are embedded as drawn, not drawn again
    assert {name: (figures / name).stat().st_ino for name in kept} == kept
    assert gone.is_file() and gone.with_suffix(".svg").is_file()  # drawn: it was missing
    html = (copy / "report.html").read_text(encoding="utf-8")
    assert (copy / "report.html").stat().st_ino != page and 'id="validity"' in html
    assert html.count("data:image/png;base64,") == len(kept) // 2 + 2  # + davg, validity


def test_report_section_lists_unstable_classes_escaped(tmp_path):
    row = {
        "name": "<b>x</b>", "size": 10, "jaccard": 0.2, "jaccard_min": 0.1, "jaccard_max": 0.3,
        "jaccard_chance": 0.05, "kept": 4.0, "t_plus_low": 0.1, "t_plus_high": 0.2,
        "t_minus_low": -0.2, "t_minus_high": -0.1,
    }  # fmt: skip
    stable = {**row, "name": "fine", "jaccard": 0.9}
    summary = {"validity": {"stability": row, "classes": [row, stable], "ablation": []}}
    html = write_report(tmp_path / "r.html", summary).read_text(encoding="utf-8")
    section = html[html.index('id="validity"') :]
    assert "Unstable verdicts" in section and "&lt;b&gt;x&lt;/b&gt;" in section
    assert "<b>x</b>" not in section
    assert section.count(">unstable<") == 1 and section.count(">stable<") == 1
    assert "t<sup>+</sup> interval" not in section  # one global interval: in the text only
    assert "[+0.100, +0.200]" in section
    summary["validity"]["classes"][1] = {**stable, "t_plus_low": 0.3, "t_plus_high": 0.4}
    html = write_report(tmp_path / "p.html", summary).read_text(encoding="utf-8")
    section = html[html.index('id="validity"') :]
    assert "t<sup>+</sup> interval" in section and "[+0.300, +0.400]" in section
    assert 'id="validity"' not in write_report(tmp_path / "s.html", {}).read_text()


def test_explorer_class_view_says_how_stable_the_verdict_is(folder, tmp_path):
    res = load_results(folder)
    table = res["stability"]
    views = Views(folder)
    for name in CLASSES:
        got = views.class_view(name)["stability"]
        (i,) = np.flatnonzero((table["scope"] == "class") & (table["name"] == name))
        assert got["jaccard_chance"] == pytest.approx(table["jaccard_chance"][i])
        assert got["size"] == table["size"][i]
        j = table["jaccard"][i]
        assert got["unstable"] == (not j >= 0.5)
        assert got["k"] == 1  # the middle k of (1, 2)
    copy = tmp_path / "bare"
    shutil.copytree(folder, copy)
    shutil.rmtree(copy / "validity")
    assert Views(copy).class_view(CLASSES[0])["stability"] is None


def test_cli_validate(folder, tmp_path, capsys):
    copy = tmp_path / "cli"
    shutil.copytree(folder, copy)
    shutil.rmtree(copy / "validity")
    code = main(["validate", str(copy), "--k", "2", "--splits", "1", "--bootstrap", "0", "-q"])
    assert code == 0
    assert load_results(copy)["ablation"]["k"].tolist() == [2] * 2 * len(CLASSES)
    assert main(["validate", str(copy), "--splits", "0", "-q"]) == 1
    assert "--splits must be an integer >= 1" in capsys.readouterr().err
    assert main(["validate", str(copy), "--k", "9", "-q"]) == 1
    assert "n_features // 2 = 3" in capsys.readouterr().err


def test_cli_validate_needs_statistics(tmp_path, capsys):
    out = make_results(tmp_path / "bare")
    assert main(["validate", str(out), "-q"]) == 1
    assert "run `dks characterize` first" in capsys.readouterr().err


def test_validate_follows_per_class_thresholds(folder, tmp_path):
    copy = tmp_path / "per_class"
    shutil.copytree(folder, copy)
    with pytest.warns(UserWarning):  # classes of 12 images: unresolved by the per-class rule
        characterize(copy, shuffles=2, thresholds="per_class", jobs=1, verbose=False)
    with pytest.warns(UserWarning, match="stability"):  # the same, once for all its fits
        validate(copy, k=1, splits=1, bootstrap=2, jobs=1, verbose=False)
    table = load_results(copy)["stability"]
    assert np.isnan(table["t_plus"][table["scope"] == "all"]).all()  # one pair per class
    assert np.isfinite(table["t_plus_low"][table["scope"] == "class"]).all()
    meta = json.loads((copy / "validity" / "validity.json").read_text())
    assert meta["settings"]["rule"] == "per_class"
