"""dks.results._io: the files of a results folder, written atomically and read back."""

import json
import math

import numpy as np
import pytest

from dks.pipeline import characterize, load_results
from dks.results._io import csv_cell, jsonable, read_json, save_npy, write_csv, write_json
from tests.pipeline_helpers import FEATURES, LAYERS, make_results


def test_load_results_reads_every_file(tmp_path):
    out = make_results(tmp_path / "results")
    res = load_results(out)
    assert set(res) == {"embedding", "embedding_meta", "layers"}
    assert {k: v.tolist() for k, v in res["layers"].items()} == {
        name: list(range(a, b)) for name, (a, b) in LAYERS.items()
    }
    assert res["embedding"].shape == (36, len(FEATURES))
    characterize(out, shuffles=2, jobs=1, verbose=False)
    res = load_results(out)
    np.testing.assert_array_equal(res["dks"], np.load(out / "dks.npy"))
    np.testing.assert_array_equal(res["relevance"], np.load(out / "relevance.npy"))
    assert res["thresholds"] == read_json(out / "thresholds.json")
    assert res["summary"]["n_features"] == len(FEATURES)
    grid = res["grid"]
    assert grid.ndim == 1 and grid[0] == 0.0 and np.all(np.diff(grid) > 0)
    assert res["d_avg_plus"].shape == res["d_avg_minus"].shape == grid.shape
    assert res["thresholds"]["t_plus"] in grid


def test_jsonable_and_csv_cells():
    obj = {1: (np.float32(0.5), np.int64(3)), "x": np.array([1.0, np.nan]), "y": math.inf}
    assert jsonable(obj) == {"1": [0.5, 3], "x": [1.0, None], "y": None}
    assert csv_cell(0.1) == "0.1" and csv_cell(np.float64(np.nan)) == ""
    assert csv_cell(np.int8(-1)) == -1 and csv_cell("a") == "a"


def test_writers_leave_only_the_final_files(tmp_path):
    write_json(tmp_path / "a.json", {"v": np.float64(np.nan), "w": [1, 2]})
    save_npy(tmp_path / "a.npy", np.arange(6).reshape(2, 3).T)
    write_csv(tmp_path / "a.csv", ("x", "y"), [(1, csv_cell(0.25)), (2, "")])
    assert json.loads((tmp_path / "a.json").read_text()) == {"v": None, "w": [1, 2]}
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.arange(6).reshape(2, 3).T)
    assert (tmp_path / "a.csv").read_text().splitlines() == ["x,y", "1,0.25", "2,"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.json", "a.npy"]


def test_failed_write_keeps_the_old_file(tmp_path):
    write_csv(tmp_path / "a.csv", ("x",), [(1,)])

    def rows():
        yield (2,)
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_csv(tmp_path / "a.csv", ("x",), rows())
    assert (tmp_path / "a.csv").read_text().splitlines() == ["x", "1"]
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]
