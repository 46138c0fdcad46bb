"""``dks export RESULTS_DIR --format fne`` / :func:`dks.pipeline.export_fne`, :func:`load_fne`."""

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from dks import FullNetworkEmbedding
from dks.cli import main
from dks.pipeline import characterize, export_fne, load_fne, load_results
from dks.pruning import kept_features
from tests.pipeline_helpers import FEATURES, LAYERS, make_results


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = make_results(tmp_path_factory.mktemp("export") / "res")
    characterize(out, shuffles=3, jobs=1, verbose=False, progress=False)
    return out


def _embedding(folder):
    return np.load(folder / "embedding.npy")


def test_export_holds_what_the_embedding_needs_and_loads_back(folder, tmp_path):
    path = export_fne(folder, out=tmp_path / "fne.json", verbose=False)
    doc = json.loads(path.read_text())
    res = load_results(folder)
    keep = np.flatnonzero((res["relevance"] != 0).any(axis=0))  # relevant for some class
    assert doc["format"] == "dks-fne/1"
    assert doc["kept_features"] == keep.tolist()
    assert doc["feature_names"] == [FEATURES[j] for j in keep]
    assert doc["n_features_in"] == len(FEATURES) and doc["settings"]["model"] == "fake"
    assert (doc["positive_threshold"], doc["negative_threshold"]) == (0.15, -0.25)
    X = _embedding(folder)
    ref = FullNetworkEmbedding().fit(X)
    assert_array_equal(doc["mean"], ref.mean_[keep])
    assert_array_equal(doc["scale"], ref.scale_[keep])
    fne = load_fne(path)
    frame = pd.DataFrame(X, columns=FEATURES)
    codes = fne.transform(frame)
    assert_array_equal(codes, ref.transform(X)[:, keep])  # JSON floats are exact
    assert codes.dtype == np.int8


def test_pruning_rules_follow_dks_pruning(folder, tmp_path):
    res = load_results(folder)
    groups = {name: np.arange(a, b) for name, (a, b) in LAYERS.items()}
    path = export_fne(folder, out=tmp_path / "k.json", top_k_per_class=1,
                      top_k_within="layer", verbose=False)  # fmt: skip
    expected = kept_features(res["relevance"], res["dks"], top_k_per_class=1, groups=groups)
    doc = json.loads(path.read_text())
    assert doc["kept_features"] == np.flatnonzero(expected).tolist()
    assert doc["pruning"]["top_k_within"] == "layer"


def test_default_output_is_in_the_results_folder_and_kept_by_later_commands(folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    before = sorted(p.name for p in copy.iterdir())
    export_fne(copy, verbose=False)
    assert sorted(p.name for p in copy.iterdir()) == sorted([*before, "fne.json"])
    assert load_fne(copy / "fne.json").n_features_in_ == len(FEATURES)


def test_cli_export(folder, tmp_path, capsys):
    out = tmp_path / "cli.json"
    assert main(["export", str(folder), "--format", "fne", "--out", str(out),
                 "--min-classes", "1", "--top-k-per-class", "2", "-q"]) == 0  # fmt: skip
    assert len(json.loads(out.read_text())["kept_features"]) <= 2 * 3
    assert main(["export", str(folder), "--out", str(out), "--min-classes", "0", "-q"]) == 1
    assert "--min-classes must be an int of at least 1" in capsys.readouterr().err
    assert main(["export", str(folder), "--out", str(out), "--min-classes", "9", "-q"]) == 1
    assert "--min-classes 9 but the statistics have 3 classes" in capsys.readouterr().err


def test_export_needs_statistics_and_load_checks_the_format(tmp_path, capsys):
    bare = make_results(tmp_path / "bare")
    assert main(["export", str(bare), "-q"]) == 1
    assert "run `dks characterize` first" in capsys.readouterr().err
    (tmp_path / "other.json").write_text('{"format": "something"}')
    with pytest.raises(ValueError, match="not a full-network embedding export"):
        load_fne(tmp_path / "other.json")


def test_loaded_fne_has_the_feature_names_of_an_estimator_fitted_on_a_dataframe(folder, tmp_path):
    # The oracle: scikit-learn's own bookkeeping when fit sees the named columns.
    path = export_fne(folder, out=tmp_path / "fne.json", top_k_per_class=1, verbose=False)
    fne = load_fne(path)
    X = _embedding(folder)
    frame = pd.DataFrame(X, columns=FEATURES)
    ref = FullNetworkEmbedding().fit(frame)
    keep = json.loads(path.read_text())["kept_features"]
    assert fne.n_features_in_ == ref.n_features_in_ == len(FEATURES)
    assert_array_equal(fne.feature_names_in_, ref.feature_names_in_)
    assert fne.feature_names_in_.dtype == object
    assert fne.get_feature_names_out().tolist() == [FEATURES[j] for j in keep]
    assert_array_equal(fne.transform(frame), ref.transform(frame)[:, keep])
    with pytest.raises(ValueError, match="feature names should match"):
        fne.transform(frame[FEATURES[::-1]])  # another layer order: refused by name
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        fne.transform(X)  # as scikit-learn warns for ref.transform(X)


def test_loaded_fne_without_all_names_sets_none_and_damaged_names_are_refused(folder, tmp_path):
    path = export_fne(folder, out=tmp_path / "fne.json", verbose=False)
    doc = json.loads(path.read_text())
    del doc["feature_names_in"]  # an export that lists only the kept features' names
    path.write_text(json.dumps(doc))
    fne = load_fne(path)
    assert not hasattr(fne, "feature_names_in_")
    assert fne.n_features_in_ == len(FEATURES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fne.transform(_embedding(folder))  # a plain array: no warning
    doc["feature_names_in"] = FEATURES[:-1]
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"'feature_names_in' should list 7 column names"):
        load_fne(path)


def test_rebuilt_statistics_remove_the_fne_export(folder, tmp_path, capsys):
    # (That `dks report` and `dks validate` keep it: tests/test_pipeline_validate.py.)
    out = tmp_path / "res"
    shutil.copytree(folder, out)
    export_fne(out, verbose=False)
    characterize(out, shuffles=2, jobs=1, verbose=True, progress=False)
    assert not (out / "fne.json").exists()  # it described the statistics just replaced
    err = capsys.readouterr().err
    assert "the previous fne.json was removed" in err
    assert "dks export RESULTS_DIR --format fne" in err
    export_fne(out, verbose=False)  # exported again: from the new statistics
    doc = json.loads((out / "fne.json").read_text())
    res = load_results(out)
    assert doc["kept_features"] == np.flatnonzero((res["relevance"] != 0).any(axis=0)).tolist()
