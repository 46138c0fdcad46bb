"""dks.validity: ablation and stability, on planted data whose answer is known, against slow
obvious references (scipy's KS, sets of pairs), and their parameter checks."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import dks
from dks import KSCharacterizer, NoiseThresholdSelector
from dks.validity import AblationResult, StabilityResult, ablation, stability
from dks.validity._ablation import _null_features
from dks.validity._stability import _agreement
from tests.naive import signed_ks_scipy

PLANTED = np.arange(4)


def planted(n_per_class=100, n_features=40, shift=2.5, seed=0):
    """Three classes; features 0-3 higher on class "a", the others pure noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["a", "b", "c"]), n_per_class)
    X = rng.normal(size=(y.shape[0], n_features))
    X[np.ix_(y == "a", PLANTED)] += shift
    return X, y


def _row(result, cls, k, side):
    t = result.table
    (i,) = np.flatnonzero((t["class"] == cls) & (t["k"] == k) & (t["side"] == side))
    return {name: column[i] for name, column in t.items()}


# ------------------------------------------------------------------------------ ablation
def test_ablating_planted_features_drops_their_class_auc_and_noise_does_not():
    X, y = planted()
    res = ablation(X, y, k=(4, 8), random_state=0)
    row = _row(res, "a", 4, "presence")
    assert row["auc"] > 0.95
    assert row["drop"] > 0.2  # the probe of "a" lives on the planted features
    assert abs(row["drop_null"]) < 0.02  # D_KS near 0: nothing to lose
    assert abs(row["drop_random"]) < 0.1
    assert row["ratio_random"] >= 2 and row["ratio_null"] >= 2
    # For the classes with no signal, ablating their "top" features changes nothing.
    for cls in ("b", "c"):
        assert abs(_row(res, cls, 4, "presence")["drop"]) < 0.1
    summary = res.summary()
    assert summary["k"].tolist() == [4, 4, 8, 8]
    assert summary["side"].tolist() == ["presence", "absence", "presence", "absence"]
    assert (summary["n_classes"] == 3).all()


def test_ablation_equals_a_by_hand_reference():
    """Same split: D_KS from scipy's ks_2samp on the training rows, the probe refitted, the
    AUC of the test rows with the top features set to their training mean."""
    X, y = planted(n_per_class=40, n_features=12, seed=1)
    res = ablation(X, y, k=3, characterizer=KSCharacterizer(None, progress=False), random_state=3)
    train, test = res.train_index, res.test_index
    assert np.intersect1d(train, test).size == 0 and train.size + test.size == y.size
    for cls in ("a", "b"):
        intra = y[train] == cls
        d = np.array(
            [signed_ks_scipy(X[train][~intra, j], X[train][intra, j])[0] for j in range(12)]
        )
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        probe.fit(X[train], intra)
        truth = y[test] == cls
        auc = roc_auc_score(truth, probe.decision_function(X[test]))
        for side, order in (
            ("presence", np.argsort(-d, kind="stable")),
            ("absence", np.argsort(d, kind="stable")),
        ):
            ablated = X[test].copy()
            ablated[:, order[:3]] = X[train][:, order[:3]].mean(axis=0)
            drop = auc - roc_auc_score(truth, probe.decision_function(ablated))
            row = _row(res, cls, 3, side)
            np.testing.assert_allclose([row["auc"], row["drop"]], [auc, drop], atol=1e-12)


def test_null_features_are_the_closest_to_zero_of_the_same_layers():
    rng = np.random.default_rng(0)
    row = rng.uniform(-1, 1, size=30)
    layer_of = np.repeat([0, 1, 2], 10)
    top = np.array([0, 1, 12])  # two from layer 0, one from layer 1
    got = _null_features(row, top, layer_of)
    expected = []
    for layer, count in ((0, 2), (1, 1)):
        members = [j for j in range(30) if layer_of[j] == layer and j not in top]
        expected += sorted(members, key=lambda j: abs(row[j]))[:count]
    assert sorted(got.tolist()) == sorted(expected)
    # A layer too small for its share: the rest come from the closest to 0 elsewhere.
    got = _null_features(row, np.arange(9), np.r_[np.zeros(10, int), np.ones(20, int)])
    assert got.shape == (9,) and not np.isin(got, np.arange(9)).any()
    assert np.unique(got).size == 9


def test_ablation_reads_layers_from_data_frame_names():
    pd = pytest.importorskip("pandas")
    X, y = planted(n_per_class=30, n_features=20)
    names = [f"early_{j}" for j in range(10)] + [f"late_{j}" for j in range(10)]
    res = ablation(pd.DataFrame(X, columns=names), y, k=2, n_random=2, random_state=0)
    assert pd.DataFrame(res.table).shape == (6, 9)


def test_ablation_is_reproducible_with_random_state():
    X, y = planted(n_per_class=30, n_features=16)
    one = ablation(X, y, k=2, random_state=7)
    two = ablation(X, y, k=2, random_state=7)
    for name in one.table:
        np.testing.assert_array_equal(one.table[name], two.table[name])


def test_ablation_csv_round_trip(tmp_path):
    X, y = planted(n_per_class=30, n_features=16)
    res = ablation(X, y, k=(2, 3), random_state=0)
    res.write_csv(tmp_path / "ablation.csv")
    back = AblationResult.read_csv(tmp_path / "ablation.csv")
    for name, column in res.table.items():
        np.testing.assert_array_equal(back.table[name], column)
    assert [p.name for p in tmp_path.iterdir()] == ["ablation.csv"]  # no temporary left


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 30}, r"k must be in \[1, n_features // 2 = 20\]"),
        ({"k": 0}, "The 'k' parameter of ablation"),
        ({"test_size": 1.5}, "The 'test_size' parameter of ablation"),
        ({"n_random": 0}, "The 'n_random' parameter of ablation"),
        ({"min_drop": 0.0}, "The 'min_drop' parameter of ablation"),
        ({"probe": "logistic"}, "The 'probe' parameter of ablation"),
    ],
)
def test_ablation_parameters_are_checked(kwargs, message):
    X, y = planted(n_per_class=10)
    with pytest.raises((ValueError, InvalidParameterError), match=message):
        ablation(X, y, **kwargs)


def test_ablation_names_a_class_too_small():
    X, y = planted(n_per_class=10)
    y = y.astype(object)
    y[:3] = "tiny"
    with pytest.raises(ValueError, match="class 'tiny' has 3"):
        ablation(X, y, k=2)


def test_validity_functions_are_lazy_names_of_dks():
    assert dks.ablation is ablation and dks.stability is stability
    assert {"ablation", "stability"} <= set(dir(dks))


# ----------------------------------------------------------------------------- stability
def test_stability_is_one_on_a_planted_signal():
    """A strong planted signal and a strict selector (no noise pair passes): both halves keep
    exactly the planted pairs, whatever the split."""
    X, y = planted(n_per_class=120, shift=4.0)
    strict = NoiseThresholdSelector(method="fdr", alpha=1e-4, n_shuffles=0, progress=False)
    res = stability(X, y, n_splits=4, n_bootstrap=0, selector=strict, random_state=0)
    np.testing.assert_array_equal(res.jaccard, 1.0)
    classes = res.rows("class")
    assert classes["name"].tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(classes["jaccard"], 1.0)
    assert classes["jaccard_chance"][0] < 0.2
    assert classes["kept"][0] == PLANTED.size


def test_stability_is_near_chance_on_shuffled_labels():
    """The paper's rule keeps pairs even without signal; two halves then agree no more than
    two random sets of the same sizes would."""
    X, y = planted(n_per_class=120)
    y = np.random.default_rng(5).permutation(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = stability(X, y, n_splits=6, n_bootstrap=0, random_state=0)
    row = res.rows("all")
    assert row["kept"][0] > 5  # something is kept, so the index is defined
    assert abs(row["jaccard"][0] - row["jaccard_chance"][0]) < 0.1
    assert row["jaccard"][0] < 0.5
    # The planted signal with the same rule agrees beyond chance (not to 1: the paper's
    # rule lets noise pairs through, differently in each half).
    X, y = planted(n_per_class=120, shift=4.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = stability(X, y, n_splits=6, n_bootstrap=0, random_state=0)
    row = res.rows("all")
    assert row["jaccard"][0] > 2 * row["jaccard_chance"][0]


def test_agreement_equals_sets_of_pairs():
    rng = np.random.default_rng(2)
    a = rng.choice([-1, 0, 0, 1], size=(3, 12)).astype(np.int8)
    b = rng.choice([-1, 0, 0, 1], size=(3, 12)).astype(np.int8)
    layers = {"x": np.arange(5), "y": np.arange(5, 12)}
    got = _agreement(a, b, layers)

    def pairs(rel, rows, cols):
        return {(r, c, int(rel[r, c])) for r in rows for c in cols if rel[r, c] != 0}

    def jaccard(rows, cols):
        pa, pb = pairs(a, rows, cols), pairs(b, rows, cols)
        return len(pa & pb) / len(pa | pb)

    counts = got["all"][:, 0]
    assert counts[0] / counts[1] == pytest.approx(jaccard(range(3), range(12)))
    for c in range(3):
        counts = got["class"][:, c]
        assert counts[0] / counts[1] == pytest.approx(jaccard([c], range(12)))
    for r, cols in enumerate(layers.values()):
        counts = got["layer"][:, r]
        assert counts[0] / counts[1] == pytest.approx(jaccard(range(3), cols))
        size = 3 * cols.size
        expected = sum(
            np.count_nonzero(a[:, cols] == s) * np.count_nonzero(b[:, cols] == s) / size
            for s in (1, -1)
        )
        assert counts[2] == pytest.approx(expected)


def test_bootstrap_intervals_of_the_thresholds():
    X, y = planted(n_per_class=80, shift=4.0)
    res = stability(X, y, n_splits=1, n_bootstrap=12, random_state=0)
    assert res.t_plus_bootstrap.shape == (12, 3) and res.t_minus_bootstrap.shape == (12, 3)
    row = res.rows("all")  # global thresholds: on the "all" row too
    low, high = row["t_plus_low"][0], row["t_plus_high"][0]
    assert 0 <= low <= high <= 1
    np.testing.assert_allclose([low, high], np.percentile(res.t_plus_bootstrap[:, 0], [2.5, 97.5]))
    assert row["t_minus_low"][0] <= row["t_minus_high"][0] <= 0
    assert np.isnan(res.rows("layer")["t_plus"]).all()
    none = stability(X, y, n_splits=1, n_bootstrap=0, random_state=0)
    assert np.isnan(none.rows("class")["t_plus_low"]).all()
    assert np.isfinite(none.rows("class")["t_plus"]).all()


def test_per_class_thresholds_get_per_class_intervals():
    X, y = planted(n_per_class=80, shift=4.0)
    sel = NoiseThresholdSelector(thresholds="per_class", n_shuffles=4, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unresolved noise classes
        res = stability(X, y, n_splits=1, n_bootstrap=4, selector=sel, random_state=0)
    assert np.isnan(res.rows("all")["t_plus"]).all()
    assert np.isfinite(res.rows("class")["t_plus_low"]).all()


def test_stability_per_layer_and_csv_round_trip(tmp_path):
    X, y = planted(n_per_class=60, shift=4.0)
    groups = {"signal": np.arange(10), "rest": np.arange(10, 40)}
    res = stability(X, y, n_splits=2, n_bootstrap=3, groups=groups, random_state=0)
    layers = res.rows("layer")
    assert layers["name"].tolist() == ["signal", "rest"]
    assert layers["size"].tolist() == [10, 30]
    res.write_csv(tmp_path / "stability.csv")
    back = StabilityResult.read_csv(tmp_path / "stability.csv")
    for name, column in res.table.items():
        np.testing.assert_array_equal(back.table[name], column)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_splits": 0}, "The 'n_splits' parameter of stability"),
        ({"confidence": 1.0}, "The 'confidence' parameter of stability"),
        ({"selector": 3}, "The 'selector' parameter of stability"),
        ({"groups": [1, 2]}, "The 'groups' parameter of stability"),
    ],
)
def test_stability_parameters_are_checked(kwargs, message):
    X, y = planted(n_per_class=10)
    with pytest.raises(InvalidParameterError, match=message):
        stability(X, y, **kwargs)


def test_ablation_scores_a_probe_without_decision_function_by_its_probabilities():
    from sklearn.neighbors import KNeighborsClassifier

    X, y = planted(n_per_class=40, n_features=12)
    res = ablation(X, y, k=4, probe=KNeighborsClassifier(5), random_state=0)
    row = _row(res, "a", 4, "presence")
    truth = y[res.test_index] == "a"
    knn = KNeighborsClassifier(5).fit(X[res.train_index], y[res.train_index] == "a")
    expected = roc_auc_score(truth, knn.predict_proba(X[res.test_index])[:, 1])
    assert row["auc"] == pytest.approx(expected)
    assert row["drop"] > 0.1  # the neighbours of "a" are found by the planted features
