"""dks explore: the JSON views against numpy (the server's safety: test_explore_safety.py)."""

import json
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from scipy import stats

import dks
from dks.explore._views import Views, _runs, _sample_rows
from dks.pipeline import load_results
from tests.explore_helpers import EVIL


def get(server, path):
    try:
        with urllib.request.urlopen(server.url + path) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_views_match_the_statistics(server, folder):
    res = load_results(folder)
    status, body = get(server, "api/overview")
    assert status == 200
    ov = json.loads(body)
    assert EVIL in ov["classes"]
    assert len(ov["features"]) == res["dks"].shape[1]
    d = json.loads(get(server, "api/class?name=cat")[1])
    c = ov["classes"].index("cat")
    np.testing.assert_allclose(d["dks"], res["dks"][c], atol=1e-4)
    t_plus, t_minus = res["thresholds"]["t_plus"], res["thresholds"]["t_minus"]
    assert d["n_plus"] == int((res["dks"][c] > t_plus).sum())
    assert d["n_minus"] == int((res["dks"][c] < t_minus).sum())


def test_feature_view_is_fig1_of_the_store(server, folder):
    res = load_results(folder)
    X = np.asarray(res["embedding"])
    y = np.asarray(res["embedding_meta"]["labels"])
    f = json.loads(get(server, "api/feature?name=a_0&class=cat")[1])["fig1"]
    intra, inter = X[y == "cat", 0], X[y != "cat", 0]
    edges = np.linspace(X[:, 0].min(), X[:, 0].max(), len(f["edges"]))
    np.testing.assert_allclose(f["edges"], edges, atol=1e-4)
    np.testing.assert_allclose(f["intra"], np.histogram(intra, edges)[0] / intra.size, atol=1e-4)
    np.testing.assert_allclose(f["inter"], np.histogram(inter, edges)[0] / inter.size, atol=1e-4)
    # the ECDFs' largest gap is the (unsigned) KS statistic, up to the sampling of the points
    gap = np.max(np.abs(np.subtract(f["ecdf_intra"], f["ecdf_inter"])))
    assert abs(gap - abs(f["dks"])) < 0.15
    # the marked place is where the exact ECDFs are farthest apart: scipy's KS statistic
    ks = stats.ks_2samp(intra, inter).statistic
    at = f["gap_at"]
    gap_at = abs(np.mean(intra <= at) - np.mean(inter <= at))
    assert gap_at == pytest.approx(ks)
    top = json.loads(get(server, "api/feature?name=a_0")[1])["top"]
    assert top[0]["value"] == pytest.approx(X[:, 0].max())


def test_pair_view_ranks_the_differences(server, folder):
    res = load_results(folder)
    rows = json.loads(get(server, "api/pair?a=cat&b=dog")[1])["rows"]
    classes = res["embedding_meta"]["classes"]
    diff = res["dks"][classes.index("cat")] - res["dks"][classes.index("dog")]
    assert rows[0]["feature"] == res["embedding_meta"]["feature_names"][np.argmax(np.abs(diff))]


def test_a_sample_when_the_embedding_does_not_fit(folder):
    """With a sample budget of two row chunks: the other classes come from whole chunks
    spread over the store, the class from its own rows, the top images from both."""
    res = load_results(folder)
    X = np.asarray(res["embedding"])
    y = np.asarray(res["embedding_meta"]["labels"])
    with dks.config_context(explore_sample_bytes=2 * 8 * 4 * X.shape[1]):
        views = Views(folder)
        views.block_rows = 8  # blocks of 8 rows (an .npy has no chunks of its own)
        views.sample_rows = _sample_rows(len(y), 8, X.shape[1])
        views.exact = False
        views._sample_ready.clear()
        views._read_sample()
    rows = views.sample_rows
    assert rows.tolist() == list(range(8)) + list(range(32, 36))  # first and last (short)
    np.testing.assert_array_equal(views.sample(), X[rows])
    f = views.feature_view("a_0", "dog")
    assert f["sample"] == {"n": 12, "of": len(y), "exact": False}
    fig = f["fig1"]
    intra, inter = X[y == "dog", 0], X[rows][y[rows] != "dog", 0]
    assert (fig["n_intra"], fig["n_class"]) == (intra.size, 12)
    assert (fig["n_inter"], fig["n_other"]) == (inter.size, len(y) - 12)
    edges = np.linspace(min(intra.min(), inter.min()), max(intra.max(), inter.max()), 41)
    np.testing.assert_allclose(fig["intra"], np.histogram(intra, edges)[0] / intra.size, atol=1e-4)
    np.testing.assert_allclose(fig["inter"], np.histogram(inter, edges)[0] / inter.size, atol=1e-4)
    seen = np.union1d(rows, np.flatnonzero(y == "dog"))
    best = seen[np.argsort(X[seen, 0])[::-1][:12]]
    assert [t["row"] for t in f["top"]] == best.tolist()


def test_a_class_spread_over_many_chunks_is_read_in_a_few(folder):
    res = load_results(folder)
    X = np.asarray(res["embedding"])
    views = Views(folder)
    views.sample()
    views.exact, views.block_rows = False, 2
    with dks.config_context(explore_class_chunks=3):
        rows, values = views.class_column(5, views.cls("dog"))
    dog = views.class_rows[views.cls("dog")]  # rows 12..23: six chunks of two rows
    assert np.unique(rows // 2).size == 3 and np.isin(rows, dog).all()
    np.testing.assert_array_equal(values, X[rows, 5])


def test_runs_and_sample_rows():
    assert _runs(np.array([0, 1, 2, 5, 6, 9])) == [(0, 3), (5, 7), (9, 10)]
    assert _runs(np.array([0, 2, 4, 9]), gap=2) == [(0, 5), (9, 10)]
    assert _runs(np.array([], dtype=int)) == []
    assert _sample_rows(10, 4, 1).tolist() == list(range(10))  # fits: every row
    with dks.config_context(explore_sample_bytes=2 * 4 * 4 * 4):  # 2 blocks of 4 rows x 4 features
        assert _sample_rows(100, 4, 4).tolist() == [0, 1, 2, 3, 96, 97, 98, 99]
        assert _sample_rows(98, 4, 4).tolist() == [0, 1, 2, 3, 96, 97]  # a short last block


def test_map_medians_by_sign(server, folder):
    res = load_results(folder)
    ov = json.loads(get(server, "api/overview")[1])
    for c in range(len(ov["classes"])):
        for k, cols in enumerate(res["layers"].values()):
            row = res["dks"][c, cols]
            for key, side in (("median_plus", row[row > 0]), ("median_minus", row[row < 0])):
                want = np.median(side) if side.size else None
                got = ov[key][c][k]
                assert got == want if want is None else got == pytest.approx(want, abs=1e-4)


def test_signed_medians_edge_cases():
    from dks.explore._views import _signed_medians

    block = np.array([[0.0, 0.0, 0.0], [-1.0, 2.0, 3.0], [-3.0, -1.0, 0.5], [np.nan, 0.2, 0.0]])
    plus, minus = _signed_medians(block)
    np.testing.assert_allclose(plus, [np.nan, 2.5, 0.5, 0.2])
    np.testing.assert_allclose(minus, [np.nan, -1.0, -2.0, np.nan])


def test_labels_outside_the_classes_are_left_out(folder, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    meta = json.loads((copy / "embedding.json").read_text())
    meta["labels"][0] = "unknown"  # a cat image with a label that is no class
    (copy / "embedding.json").write_text(json.dumps(meta))
    views = Views(copy)
    assert views.y[0] == -1 and views.y[1] == views.cls("cat")
    assert sorted(r.size for r in views.class_rows) == [11, 12, 12]
    assert views.class_rows[views.cls("cat")].size == 11
    fig = views.feature_view("a_0", "dog")["fig1"]
    assert (fig["n_intra"], fig["n_inter"]) == (12, 23)


def test_noise_share_is_the_reports(server, folder, tmp_path):
    """The class view's noise share is class_noise.csv's (kept with shuffled labels / kept),
    and the same is recomputed from the shuffled D_KS for a folder without that file."""
    import csv
    import shutil

    with open(folder / "class_noise.csv", newline="") as fh:
        rows = {r["class"]: r for r in csv.DictReader(fh)}
    res = load_results(folder)
    t_plus, t_minus = res["thresholds"]["t_plus"], res["thresholds"]["t_minus"]
    null = np.asarray(res["null_dks"])
    for name in ("cat", "dog", EVIL):
        d = json.loads(get(server, "api/class?" + urllib.parse.urlencode({"name": name}))[1])
        c = res["embedding_meta"]["classes"].index(name)
        kept = np.mean((res["dks"][c] > t_plus) | (res["dks"][c] < t_minus))
        chance = np.mean((null[:, c] > t_plus) | (null[:, c] < t_minus))  # numpy reference
        assert d["kept"] == pytest.approx(kept) == pytest.approx(float(rows[name]["kept"]))
        assert d["kept_shuffled"] == pytest.approx(chance)
        assert d["noise_share"] == pytest.approx(chance / kept)
        assert d["noise_share"] == pytest.approx(float(rows[name]["noise_share"]))
        assert d["mostly_noise"] == (rows[name]["mostly_noise"] == "1")
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "class_noise.csv").unlink()
    again = Views(copy).overview()
    ov = json.loads(get(server, "api/overview")[1])
    assert again["noise_share"] == ov["noise_share"]
    assert again["mostly_noise"] == ov["mostly_noise"]


def test_one_palette_for_report_and_explorer(server):
    """Positive D_KS has one colour (dks._sign.SIGN_COLORS) in the report's style sheet and
    the explorer's overview, which its page reads them from (no copy in the static files)."""
    from dks._sign import SIGN_COLORS
    from dks.report._kit import CSS

    ov = json.loads(get(server, "api/overview")[1])
    assert ov["palette"] == SIGN_COLORS
    assert f".pos {{ color: {SIGN_COLORS['presence']}; }}" in CSS
    assert f".neg {{ color: {SIGN_COLORS['absence']}; }}" in CSS
    css = get(server, "static/style.css")[1].decode()
    assert ".pos { color: var(--pos); }" in css


def test_kept_beyond_chance_is_kept_minus_shuffled(server, folder):
    res = load_results(folder)
    ov = json.loads(get(server, "api/overview")[1])
    t_plus, t_minus = res["thresholds"]["t_plus"], res["thresholds"]["t_minus"]
    for c in range(len(ov["classes"])):
        for k, cols in enumerate(res["layers"].values()):
            kept = np.mean((res["dks"][c, cols] > t_plus) | (res["dks"][c, cols] < t_minus))
            null = np.asarray(res["null_dks"])[:, c][:, cols]
            chance = np.mean((null > t_plus) | (null < t_minus))
            assert ov["kept_beyond_chance"][c][k] == pytest.approx(max(kept - chance, 0), abs=1e-4)
