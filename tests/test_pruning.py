"""Pruning rules beyond "relevant for some class": min_classes, top_k_per_class, per layer."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from dks import FullNetworkEmbedding, NoiseThresholdSelector
from dks.groups import feature_groups
from dks.pruning import check_pruning, count_table, kept_features


def reference(relevance, dks, sign, min_classes, top_k, groups):
    """Plain loops: each class ranks its relevant pairs per group, counts per feature."""
    n_classes, n_features = relevance.shape
    wanted = {"both": (-1, 1), "presence": (1,), "absence": (-1,)}[sign]
    groups = groups or {"all": list(range(n_features))}
    votes = [0] * n_features
    for c in range(n_classes):
        for cols in groups.values():
            pairs = [f for f in cols if relevance[c, f] in wanted]
            if top_k is not None:
                row = np.abs(dks[c]) if sign == "both" else wanted[0] * dks[c]
                pairs = sorted(pairs, key=lambda f, row=row: (-row[f], f))[:top_k]
            for f in pairs:
                votes[f] += 1
    return np.array([v >= min_classes for v in votes])


def random_pairs(seed, n_classes=5, n_features=40):
    rng = np.random.default_rng(seed)
    dks = rng.integers(-9, 10, size=(n_classes, n_features)) / 10  # many ties
    relevance = np.subtract(dks > 0.3, dks < -0.3, dtype=np.int8)
    return relevance, dks


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("sign", ["both", "presence", "absence"])
@pytest.mark.parametrize("min_classes", [1, 2, 4])
@pytest.mark.parametrize("top_k", [None, 1, 3, 50])
@pytest.mark.parametrize("per_layer", [False, True])
def test_kept_features_equals_a_loop_reference(seed, sign, min_classes, top_k, per_layer):
    relevance, dks = random_pairs(seed)
    groups = None
    if per_layer:  # uneven, interleaved layers
        layer = np.random.default_rng(seed).integers(0, 4, size=dks.shape[1])
        groups = {f"l{g}": np.flatnonzero(layer == g) for g in range(4)}
    got = kept_features(relevance, dks, sign=sign, min_classes=min_classes,
                        top_k_per_class=top_k, groups=groups)  # fmt: skip
    ref_groups = None if groups is None else {k: v.tolist() for k, v in groups.items()}
    assert_array_equal(got, reference(relevance, dks, sign, min_classes, top_k, ref_groups))


def test_the_rules_prune_and_nest():
    relevance, dks = random_pairs(3)
    base = kept_features(relevance, dks)
    assert_array_equal(base, (relevance != 0).any(axis=0))  # the paper's rule
    assert (kept_features(relevance, dks, min_classes=2) <= base).all()
    top = kept_features(relevance, dks, top_k_per_class=2)
    assert top.sum() <= 2 * relevance.shape[0] and (top <= base).all()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, None, "all"), "min_classes must be an int of at least 1"),
        ((True, None, "all"), "min_classes must be an int"),
        ((1, 0, "all"), "top_k_per_class must be an int of at least 1, or None"),
        ((1, 2.5, "all"), "top_k_per_class"),
        ((1, None, "net"), "top_k_within must be 'all' or 'layer'; got 'net'"),
    ],
)
def test_check_pruning_names_the_parameter(args, match):
    with pytest.raises(ValueError, match=match):
        check_pruning(*args)
    with pytest.raises(
        ValueError, match=r"min_classes=4 but the statistics have 3 classes.*min_classes <= 3"
    ):
        check_pruning(4, None, "all", n_classes=3)


def layered_data(seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), 60)
    X = rng.normal(size=(240, 30))
    X[:, :12] += 0.8 * (y[:, None] == np.arange(12)[None] % 4)  # class signal in layer a
    X[:, 12:20] -= 0.8 * (y[:, None] == np.arange(8)[None] % 4)  # absence signal in layer b
    names = [f"a_{j}" for j in range(12)] + [f"b_{j}" for j in range(8)]
    names += [f"c_{j}" for j in range(10)]
    return X, y, names


def _selector(**params):
    return NoiseThresholdSelector(n_shuffles=5, random_state=0, progress=False, **params)


@pytest.mark.parametrize(
    "rules",
    [
        {"min_classes": 2},
        {"top_k_per_class": 2},
        {"top_k_per_class": 1, "top_k_within": "layer"},
        {"top_k_per_class": 3, "min_classes": 1, "sign": "presence"},
    ],
)
def test_selector_support_follows_the_rules(rules):
    pd = pytest.importorskip("pandas")
    X, y, names = layered_data()
    frame = pd.DataFrame(X, columns=names)
    sel = _selector(**rules).fit(frame, y)
    groups = None
    if rules.get("top_k_within") == "layer":
        groups = {k: v.tolist() for k, v in feature_groups(names).items()}
    sign, m, k = (
        rules.get("sign", "both"),
        rules.get("min_classes", 1),
        rules.get("top_k_per_class"),
    )
    expected = reference(sel.relevance_, sel.dks_, sign, m, k, groups)
    assert_array_equal(sel.get_support(), expected)
    assert 0 < expected.sum() < X.shape[1]
    assert sel.transform(frame).shape[1] == expected.sum()


def test_rules_change_without_refit_and_counts_are_reported():
    X, y, _ = layered_data()
    sel = _selector().fit(X, y)
    everything = int(sel.get_support().sum())
    sel.set_params(min_classes=2)
    assert sel.get_support().sum() == sel.feature_mask(min_classes=2).sum() <= everything
    table = sel.kept_counts(min_classes=(1, 2), top_k_per_class=(None, 1), top_k_within=("all",))
    assert table["min_classes"].tolist() == [1, 1, 2, 2]
    assert table["top_k_per_class"].tolist() == [-1, 1, -1, 1]
    expected = [int(sel.feature_mask(min_classes=m, top_k_per_class=k).sum())
                for m in (1, 2) for k in (None, 1)]  # fmt: skip
    assert table["n_features"].tolist() == expected
    assert expected[0] == everything and expected[1] <= 4


def test_count_table_calls_each_combination():
    calls = []

    def mask(**rules):
        calls.append(rules)
        return np.arange(5) < rules["min_classes"]

    table = count_table(mask, (1, 3), (None,), ("all", "layer"))
    assert len(calls) == 4
    assert table["n_features"].tolist() == [1, 1, 3, 3]
    assert table["top_k_within"].tolist() == ["all", "layer", "all", "layer"]


def test_selector_validates_the_rules_in_fit():
    X, y, _ = layered_data()
    with pytest.raises(InvalidParameterError, match="'min_classes' parameter"):
        _selector(min_classes=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'top_k_within' parameter"):
        _selector(top_k_within="net").fit(X, y)
    with pytest.raises(ValueError, match="min_classes=5 but the statistics have 4 classes"):
        _selector(min_classes=5).fit(X, y)


def test_pruned_selector_in_the_full_network_embedding():
    X, y, _ = layered_data()
    fne = FullNetworkEmbedding(selector=_selector(top_k_per_class=2)).fit(X, y)
    assert 0 < fne.kept_features_.size <= 2 * 4
    assert_array_equal(fne.kept_features_, np.flatnonzero(fne.selector_.get_support()))


def test_per_layer_without_layer_names_warns():
    X, y, _ = layered_data()
    sel = _selector(top_k_per_class=2, top_k_within="layer").fit(X, y)  # no column names
    with pytest.warns(UserWarning, match="top_k_within='layer' but the feature names hold no"):
        mask = sel.get_support()
    assert_array_equal(mask, sel.feature_mask(top_k_per_class=2))  # all features: one group
