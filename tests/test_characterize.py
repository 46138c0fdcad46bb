import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import ks_2samp
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from dks import KSCharacterizer
from dks._engine._dispatch import compact_labels
from dks._engine._kernels import block_signed_ks
from dks.characterize import signed_ks_pvalues
from tests.naive import dks_matrix, signed_ks_binned, signed_ks_scipy


def relu_data(rng, n_samples, n_features, n_classes, decimals=None, shift=1.0):
    """ReLU-like activations: many exact zeros, a class-dependent shift, a constant column."""
    y = rng.integers(0, n_classes, size=n_samples)
    y[:n_classes] = np.arange(n_classes)  # every class present
    X = rng.normal(size=(n_samples, n_features)) + shift * (y[:, None] % 3 == 1)
    X = np.maximum(X, 0.0)
    if decimals is not None:
        X = X.round(decimals)
    X[:, 0] = 2.5  # constant feature
    return X, y


CASES = [
    # n_samples, n_features, n_classes, decimals
    (7, 4, 2, None),
    (31, 5, 2, 1),
    (53, 6, 5, 0),
    (97, 5, 9, 2),
    (40, 3, 13, None),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n_samples", "n_features", "n_classes", "decimals"), CASES)
def test_exact_matches_scipy(rng, dtype, n_samples, n_features, n_classes, decimals):
    X, y = relu_data(rng, n_samples, n_features, n_classes, decimals)
    X = X.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # single-sample classes
        char = KSCharacterizer(n_bins=None).fit(X, y)
    classes, ref = dks_matrix(X, y, n_bins=None)
    assert_array_equal(char.classes_, classes)
    assert_allclose(char.dks_, ref, rtol=0, atol=1e-9)
    assert char.dks_.dtype == np.float64
    assert_array_equal(char.dks_[:, 0], 0.0)  # the constant feature


@pytest.mark.parametrize("n_bins", [2, 7, 100])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n_samples", "n_features", "n_classes", "decimals"), CASES)
def test_binned_matches_numpy_reference(
    rng, n_bins, dtype, n_samples, n_features, n_classes, decimals
):
    X, y = relu_data(rng, n_samples, n_features, n_classes, decimals)
    X = (X * 1e3).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        char = KSCharacterizer(n_bins=n_bins).fit(X, y)
    _, ref = dks_matrix(X, y, n_bins=n_bins)
    assert_allclose(char.dks_, ref, rtol=0, atol=1e-12)


def test_sign_follows_the_class_values(rng):
    X = rng.normal(size=(300, 2))
    y = np.repeat(["up", "down", "rest"], 100)
    X[y == "up", 0] += 3.0
    X[y == "down", 1] -= 3.0
    char = KSCharacterizer(n_bins=None).fit(X, y)
    row = {c: i for i, c in enumerate(char.classes_)}
    assert char.dks_[row["up"], 0] > 0.8
    assert char.dks_[row["down"], 1] < -0.8
    # The same as ks_2samp's statistic_sign with inter first.
    res = ks_2samp(X[y != "up", 0], X[y == "up", 0])
    assert res.statistic_sign == 1


def test_tie_between_positive_and_negative_gap_is_positive():
    # inter = {0, 3}, intra = {1, 2}: the gaps are +1/2 at x=0 and -1/2 at x=2.
    X = np.array([[0.0], [3.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    for n_bins in (None, 4):
        char = KSCharacterizer(n_bins=n_bins).fit(X, y)
        assert char.dks_[1, 0] == 0.5
        assert char.dks_[0, 0] == 0.5


def test_rounding_tie_follows_rule_not_scipy_float_noise():
    # 20 inter and 15 intra values where the two gaps are both exactly 3/20, which scipy's
    # floating point splits as 0.1499999... and 0.15000...02.
    rng = np.random.default_rng(28)
    for _ in range(200):
        inter = rng.integers(0, 4, size=20).astype(float)
        intra = rng.integers(0, 4, size=15).astype(float)
        ref, _ = signed_ks_scipy(inter, intra)
        X = np.concatenate([inter, intra])[:, None]
        y = np.r_[np.zeros(20), np.ones(15)]
        got = KSCharacterizer(n_bins=None).fit(X, y).dks_[1, 0]
        assert abs(got - ref) < 1e-12


def test_pvalues_match_scipy_asymp(rng):
    X, y = relu_data(rng, 120, 4, 3, decimals=2)
    char = KSCharacterizer(n_bins=None).fit(X, y)
    for i, c in enumerate(char.classes_):
        for f in range(1, X.shape[1]):
            res = ks_2samp(X[y != c, f], X[y == c, f], method="asymp")
            assert_allclose(char.pvalues_[i, f], res.pvalue, rtol=1e-6, atol=1e-300)
    assert_array_equal(char.pvalues_[:, 0], 1.0)
    assert char.pvalues_ is char.pvalues_  # computed once
    assert_allclose(signed_ks_pvalues(-char.dks_, char.class_counts_), char.pvalues_)


def test_permutations_share_the_work_and_match_separate_fits(rng):
    X, y = relu_data(rng, 60, 5, 4, decimals=1)
    perms = np.stack([rng.permutation(60) for _ in range(3)])
    for n_bins in (None, 10):
        char = KSCharacterizer(n_bins=n_bins)
        null = char.fit_null(X, y, perms)
        assert null.shape == (3, 4, 5)
        assert_allclose(char.dks_, KSCharacterizer(n_bins=n_bins).fit(X, y).dks_)
        for s, perm in enumerate(perms):
            alone = KSCharacterizer(n_bins=n_bins).fit(X, y[perm]).dks_
            assert_allclose(null[s], alone, atol=0)
    with pytest.raises(ValueError, match="permutations must have shape"):
        KSCharacterizer().fit_null(X, y, perms[:, :10])


@pytest.mark.parametrize("n_bins", [None, 10])
def test_many_classes_use_wider_codes_and_match_the_reference(rng, n_bins):
    """Over 256 classes the kernels read uint16 class codes (and int32 past 65,536)."""
    n_classes = 300
    X, y = relu_data(rng, 700, 3, n_classes, decimals=1)
    X[:, 1] += y / n_classes  # a feature that orders the classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # single-sample classes
        char = KSCharacterizer(n_bins=n_bins).fit(X, y)
    _, ref = dks_matrix(X, y, n_bins=n_bins)
    assert_allclose(char.dks_, ref, rtol=0, atol=1e-9)
    codes = np.unique(y, return_inverse=True)[1]
    assert compact_labels(codes[None], n_classes).dtype == np.uint16
    assert compact_labels(codes[None], 256).dtype == np.uint8
    assert compact_labels(codes[None], 65537).dtype == np.int32
    # The int32 variant of the kernel gives the same values.
    counts = np.bincount(codes).astype(np.int64)
    X = np.ascontiguousarray(X)
    mins, maxs = X.min(axis=0), X.max(axis=0)
    out = np.empty((1, n_classes, X.shape[1]))
    bins = 0 if n_bins is None else n_bins
    wide = np.ascontiguousarray(codes[None], dtype=np.int32)
    block_signed_ks(X, 0, X.shape[1], mins, maxs, bins, wide, counts, out, 4)
    assert_array_equal(out[0], char.dks_)


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("block_size", [1, 3, 256])
def test_blocks_and_threads_do_not_change_the_result(rng, n_jobs, block_size):
    X, y = relu_data(rng, 80, 11, 3, decimals=1)
    ref = KSCharacterizer(n_bins=None).fit(X, y).dks_
    got = KSCharacterizer(n_bins=None, n_jobs=n_jobs, block_size=block_size).fit(X, y).dks_
    assert_array_equal(got, ref)


def test_float32_is_not_upcast(rng, monkeypatch):
    import dks._engine._dispatch as mod

    seen = {}
    original = mod.block_signed_ks

    def spy(X, *args):
        seen["dtype"] = X.dtype
        return original(X, *args)

    monkeypatch.setattr(mod, "block_signed_ks", spy)
    X, y = relu_data(rng, 30, 3, 2)
    KSCharacterizer().fit(X.astype(np.float32), y)
    assert seen["dtype"] == np.float32


def test_list_and_dataframe_inputs_and_string_labels(rng):
    pd = pytest.importorskip("pandas")
    X, y = relu_data(rng, 40, 4, 3, decimals=1)
    labels = np.array(["cat", "dog", "emu"])[y]
    ref = KSCharacterizer().fit(X, labels)
    from_list = KSCharacterizer().fit(X.tolist(), labels.tolist())
    assert_array_equal(from_list.dks_, ref.dks_)
    frame = pd.DataFrame(X, columns=[f"conv1_1_{i}" for i in range(4)])
    from_frame = KSCharacterizer().fit(frame, pd.Series(labels))
    assert_array_equal(from_frame.dks_, ref.dks_)
    assert_array_equal(from_frame.feature_names_in_, frame.columns)
    assert_array_equal(from_frame.get_feature_names_out(), frame.columns)
    assert_array_equal(ref.get_feature_names_out(), ["x0", "x1", "x2", "x3"])
    assert_array_equal(ref.classes_, ["cat", "dog", "emu"])
    assert_array_equal(ref.class_counts_, np.bincount(y))


def test_top_features(rng):
    X = rng.normal(size=(90, 6))
    y = np.repeat([0, 1, 2], 30)
    X[y == 1, 4] += 5
    X[y == 1, 2] -= 5
    char = KSCharacterizer(n_bins=None).fit(X, y)
    assert char.top_features(1, k=1)[0] == 4
    assert char.top_features(1, k=1, sign="absence")[0] == 2
    assert set(char.top_features(1, k=2, sign="both")) == {2, 4}
    with pytest.raises(ValueError, match="7 is not one of the 3 classes seen in fit"):
        char.top_features(7)
    with pytest.raises(ValueError, match="sign must be"):
        char.top_features(1, sign=2)


# --- bad input -------------------------------------------------------------------------------


def test_nan_and_inf_are_reported_with_count_and_first_feature():
    X = np.zeros((6, 4))
    X[2, 3] = np.nan
    X[4, 1] = np.inf
    X[5, 1] = -np.inf
    with pytest.raises(
        ValueError,
        match=r"3 NaN or infinity value\(s\) in 2 feature\(s\); the "
        r"first is feature 1 \(row 4\)",
    ):
        KSCharacterizer().fit(X, [0, 1, 0, 1, 0, 1])


def test_nan_message_names_dataframe_column():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [0.0, np.nan, 1.0, 2.0]})
    with pytest.raises(ValueError, match=r"feature 1 \('b'\)"):
        KSCharacterizer().fit(X, [0, 1, 0, 1])


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (np.ones((5, 2)), np.ones(5), "at least 2 classes"),
        (np.ones((5, 2)), np.arange(4), "inconsistent numbers of samples"),
        (np.ones((5, 2)), np.linspace(0, 1, 5), "continuous"),
        (np.empty((0, 2)), np.empty(0), "0 sample"),
        (np.ones((5, 0)), np.arange(5) % 2, "0 feature"),
        (np.ones(5), np.arange(5) % 2, "2D array"),
    ],
)
def test_bad_input_errors(X, y, match):
    with pytest.raises(ValueError, match=match):
        KSCharacterizer().fit(X, y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_bins": 1}, "'n_bins' parameter of KSCharacterizer must be"),
        ({"n_bins": 2.5}, "'n_bins' parameter"),
        ({"block_size": 0}, "'block_size' parameter"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        KSCharacterizer(**params).fit(np.ones((4, 2)), [0, 1, 0, 1])


def test_single_sample_class_warns_and_works(rng):
    X = rng.normal(size=(9, 2))
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    with pytest.warns(UserWarning, match="single sample"):
        char = KSCharacterizer(n_bins=None).fit(X, y)
    _, ref = dks_matrix(X, y)
    assert_allclose(char.dks_, ref, atol=1e-12)


def test_clone_and_unfitted(rng):
    char = KSCharacterizer(n_bins=None, n_jobs=2)
    assert clone(char).get_params() == char.get_params()
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        char.pvalues_  # noqa: B018


# --- properties ------------------------------------------------------------------------------

values = st.lists(
    st.sampled_from([0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.25, -1.0]), min_size=4, max_size=25
)


@pytest.mark.filterwarnings("ignore:.*single sample:UserWarning")
@settings(max_examples=60, deadline=None)
@given(values=values, data=st.data())
def test_property_range_and_two_class_flip(values, data):
    n = len(values)
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if np.unique(y).shape[0] < 2:
        y[0], y[-1] = 0, 1
    X = np.array(values)[:, None]
    for n_bins in (None, 5):
        d = KSCharacterizer(n_bins=n_bins).fit(X, y).dks_
        assert np.all(np.abs(d) <= 1.0)
        # Swapping the two classes flips the sign (magnitude equal), except on exact ties
        # where both signs are positive by rule.
        assert d[0, 0] == -d[1, 0] or d[0, 0] == d[1, 0] > 0
        assert abs(d[0, 0]) == abs(d[1, 0])


@pytest.mark.filterwarnings("ignore:.*single sample:UserWarning")
@settings(max_examples=40, deadline=None)
@given(values=values, labels=st.lists(st.integers(0, 2), min_size=25, max_size=25))
def test_property_invariances(values, labels):
    n = len(values)
    y = np.array(labels[:n])
    y[:2] = [0, 1]
    X = np.array(values)[:, None]
    exact = KSCharacterizer(n_bins=None).fit(X, y).dks_
    # Any strictly increasing transform keeps the exact statistic.
    assert_array_equal(KSCharacterizer(n_bins=None).fit(np.exp(X) ** 3, y).dks_, exact)
    binned = KSCharacterizer(n_bins=4).fit(X, y).dks_
    # An increasing affine map keeps the binned statistic (values chosen so bins are exact).
    assert_array_equal(KSCharacterizer(n_bins=4).fit(X * 4.0 + 8.0, y).dks_, binned)


def test_reference_helpers_agree_with_scipy_on_simple_case():
    inter = np.array([0.0, 1.0, 2.0])
    intra = np.array([5.0, 6.0])
    assert signed_ks_scipy(inter, intra)[0] == 1.0
    assert signed_ks_binned(np.r_[inter, intra], np.r_[[False] * 3, [True] * 2], 10) == 1.0


def test_nan_report_is_the_same_with_threads_over_row_chunks():
    X = np.zeros((5000, 3))
    X[4321, 2] = np.nan
    X[3000, 1] = -np.inf
    y = np.arange(5000) % 2
    for n_jobs in (1, 2):
        with pytest.raises(ValueError, match=r"2 NaN .* first is feature 1 \(row 3000\)"):
            KSCharacterizer(n_jobs=n_jobs).fit(X, y)


@pytest.mark.parametrize("n_bins", [None, 10])
def test_memmap_input_is_read_in_column_blocks(tmp_path, rng, n_bins, monkeypatch):
    from sklearn import config_context

    import dks._engine._dispatch as mod

    widths = []
    original = mod.block_signed_ks

    def spy(X, f0, f1, *args):
        widths.append((X.flags.f_contiguous, X.shape[1], f1 - f0))
        return original(X, f0, f1, *args)

    monkeypatch.setattr(mod, "block_signed_ks", spy)
    X, y = relu_data(rng, 400, 30, 3, decimals=1)  # more than half of working_memory
    path = tmp_path / "X.npy"
    np.save(path, X.astype(np.float32))
    X_mm = np.load(path, mmap_mode="r")
    ref = KSCharacterizer(n_bins=n_bins).fit(X.astype(np.float32), y).dks_
    # A tiny working memory forces several blocks (block_size does not widen them).
    with config_context(working_memory=0.045):
        for n_jobs in (1, 2):
            widths.clear()
            got = KSCharacterizer(n_bins=n_bins, block_size=8, n_jobs=n_jobs).fit(X_mm, y).dks_
            assert_array_equal(got, ref)
            # Column blocks copied from the file, all as wide but the last.
            width = max(w for _, w, _ in widths)
            assert 1 <= width < 8 and all(f_order for f_order, _, _ in widths)
            assert all(w == n for _, w, n in widths)
            assert sorted(n for _, _, n in widths)[1:] == [width] * (len(widths) - 1)
            assert sum(n for _, _, n in widths) == 30
