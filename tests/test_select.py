"""Tests of dks.select.NoiseThresholdSelector (the paper's §5.5 as a scikit-learn selector)."""

import warnings
from typing import ClassVar

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from dks import KSCharacterizer, NoiseThresholdSelector
from dks.characterize import signed_ks_pvalues
from dks.thresholds import average_distance, exceedance_counts, threshold_grid

# ---------------------------------------------------------------------------- data


def planted(seed=0, n_per_class=50, n_classes=4, n_features=40, shift=1.5):
    """Features 0-3 higher on class 1, features 4-7 lower on class 2, the rest noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.normal(size=(y.size, n_features))
    X[y == 1, 0:4] += shift
    X[y == 2, 4:8] -= shift
    return X, y


def graded(seed=0, n_per_class=50, n_classes=4, n_features=200, scale=0.4):
    """Half of the features get a random shift per class (a continuum of signal)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.normal(size=(y.size, n_features))
    shifts = rng.normal(scale=scale, size=(n_classes, n_features))
    shifts[:, n_features // 2 :] = 0.0
    return X + shifts[y], y


@pytest.fixture(scope="module")
def planted_data():
    return planted()


@pytest.fixture(scope="module")
def fitted(planted_data):
    X, y = planted_data
    return NoiseThresholdSelector(n_shuffles=5, resolution=0.01, random_state=0).fit(X, y)


# ------------------------------------------------------------------ Eq. 4 reference


def naive_grid(resolution):
    n = int(np.floor(1 / resolution + 1e-9))
    grid = [round(i * resolution, 12) for i in range(n + 1)]
    return np.array(grid if grid[-1] >= 1 else [*grid, 1.0])


def naive_eq4(dks, null_dks, grid):
    """Eq. 4 with a plain loop over grid points, classes and shuffles."""
    plus, minus = [], []
    for x in grid:
        true_p = np.mean([np.sum(row > x) for row in dks])
        true_m = np.mean([np.sum(row < -x) for row in dks])
        null_p = np.mean([np.sum(row > x) for shuffle in null_dks for row in shuffle])
        null_m = np.mean([np.sum(row < -x) for shuffle in null_dks for row in shuffle])
        plus.append(true_p - null_p)
        minus.append(true_m - null_m)
    return np.array(plus), np.array(minus)


def naive_thresholds(grid, plus, minus):
    best_p = max(plus)
    best_m = max(minus)
    t_plus = next(x for x, d in zip(grid, plus, strict=True) if d == best_p)
    t_minus = -next(x for x, d in zip(grid, minus, strict=True) if d == best_m)
    return t_plus, t_minus


@pytest.mark.parametrize("resolution", [0.001, 0.01, 0.3])
@pytest.mark.parametrize("n_shuffles", [1, 3])
def test_eq4_matches_naive_loop(planted_data, resolution, n_shuffles):
    X, y = planted_data
    sel = NoiseThresholdSelector(n_shuffles=n_shuffles, resolution=resolution, random_state=1).fit(
        X, y
    )
    grid = naive_grid(resolution)
    assert_array_equal(sel.grid_, grid)
    plus, minus = naive_eq4(sel.dks_, sel.null_dks_, grid)
    assert_allclose(sel.d_avg_plus_, plus, rtol=0, atol=1e-12)
    assert_allclose(sel.d_avg_minus_, minus, rtol=0, atol=1e-12)
    t_plus, t_minus = naive_thresholds(grid, plus, minus)
    assert sel.t_plus_ == t_plus
    assert sel.t_minus_ == t_minus
    assert sel.t_minus_ <= 0 <= sel.t_plus_
    expected = np.where(sel.dks_ > t_plus, 1, np.where(sel.dks_ < t_minus, -1, 0))
    assert_array_equal(sel.relevance_, expected)
    assert sel.relevance_.dtype == np.int8


def test_eq4_edge_values_strict_and_ties():
    # Values exactly on grid points, decimals that are not exact in binary, and ties.
    grid = threshold_grid(0.001)
    dks = np.array([[0.123, 0.5, -0.123, 0.0, 1.0, -1.0, 0.1234, 0.1 + 0.2]])
    null = np.array([[[0.1, -0.5, 0.123, 0.0, 0.0, 0.7, -0.3, 0.9]], [[0.0] * 8]])
    plus, minus = average_distance(dks, null, grid, resolution=0.001)
    ref_plus, ref_minus = naive_eq4(dks, null, grid)
    assert_allclose(plus, ref_plus, rtol=0, atol=1e-12)
    assert_allclose(minus, ref_minus, rtol=0, atol=1e-12)
    i = 123
    assert grid[i] == 0.123
    assert plus[i] == ref_plus[i]
    # A tie over a whole plateau: the smallest x wins.
    t_plus, t_minus = naive_thresholds(grid, ref_plus, ref_minus)
    assert grid[np.argmax(plus)] == t_plus
    assert -grid[np.argmax(minus)] == t_minus


def sorted_reference(values, grid):
    """Counts of values > x and < -x by sorting (a method independent of the selector's)."""
    s = np.sort(values)
    plus = s.size - np.searchsorted(s, grid, side="right")
    minus = np.searchsorted(s, -grid, side="left")
    return plus, minus


@pytest.mark.parametrize("resolution", [0.001, 0.01, 0.007, 0.3, 0.5, 0.999, 1e-4, 1e-5])
def test_exceedance_fast_path_matches_reference(resolution):
    grid = threshold_grid(resolution)
    rng = np.random.default_rng(0)
    on_grid = grid[rng.integers(0, grid.size, 2000)]
    values = np.concatenate(
        [rng.uniform(-1, 1, 2000), on_grid, -on_grid, on_grid + 1e-15, on_grid - 1e-15]
    )
    values = np.clip(values, -1, 1)
    plus, minus = exceedance_counts(values, grid, resolution)
    ref_plus, ref_minus = sorted_reference(values, grid)
    assert_array_equal(plus, ref_plus)
    assert_array_equal(minus, ref_minus)
    # Out-of-range values take the general path, with the same semantics.
    wide = np.concatenate([values, [1.5, -2.0]])
    plus, minus = exceedance_counts(wide, grid, resolution)
    ref_plus, ref_minus = sorted_reference(wide, grid)
    assert_array_equal(plus, ref_plus)
    assert_array_equal(minus, ref_minus)


def test_no_shuffle_curves_nan():
    grid = threshold_grid(0.1)
    plus, minus = average_distance(np.zeros((2, 3)), np.zeros((0, 2, 3)), grid, resolution=0.1)
    assert np.isnan(plus).all() and np.isnan(minus).all()


@pytest.mark.parametrize(
    ("resolution", "first", "last", "size"),
    [(0.001, 0.0, 1.0, 1001), (0.25, 0.0, 1.0, 5), (0.3, 0.0, 1.0, 5), (0.999, 0.0, 1.0, 3)],
)
def test_threshold_grid(resolution, first, last, size):
    grid = threshold_grid(resolution)
    assert grid[0] == first and grid[-1] == last and grid.size == size
    assert np.all(np.diff(grid) > 0)


def test_grid_values_are_decimals():
    grid = threshold_grid(0.001)
    assert grid[123] == 0.123
    assert grid[300] == 0.3
    assert grid[700] == 0.7


# ----------------------------------------------------------------- planted signal


@pytest.mark.parametrize("method", ["shuffle", "fdr"])
def test_planted_signal_found(method):
    X, y = planted(n_features=200)
    n_shuffles = 10 if method == "shuffle" else 3  # null p-values (fdr) are slow to compute
    sel = NoiseThresholdSelector(
        n_shuffles=n_shuffles, resolution=0.01, method=method, random_state=0
    )
    sel.fit(X, y)
    assert_array_equal(sel.relevance_[1, 0:4], 1)
    assert_array_equal(sel.relevance_[2, 4:8], -1)
    assert sel.class_mask(1, "presence")[0:4].all()
    assert sel.class_mask(2, "absence")[4:8].all()
    assert sel.get_support()[:8].all()
    # Pure-noise features are kept about as often as pairs with shuffled labels.
    noise_share = np.mean(sel.relevance_[:, 8:] != 0)
    null_share = sel.layer_summary()["kept_shuffled"][0]
    if method == "shuffle":
        assert noise_share <= null_share + 0.08
    else:
        assert noise_share <= 0.02
        assert null_share <= 0.02


def test_thresholds_stable_across_seeds_with_many_shuffles():
    X, y = graded()
    results = [
        NoiseThresholdSelector(n_shuffles=30, resolution=0.01, random_state=seed).fit(X, y)
        for seed in range(4)
    ]
    t_plus = [sel.t_plus_ for sel in results]
    t_minus = [sel.t_minus_ for sel in results]
    assert np.ptp(t_plus) <= 0.02
    assert np.ptp(t_minus) <= 0.02
    assert 0.05 < np.mean(t_plus) < 0.4
    assert -0.4 < np.mean(t_minus) < -0.05


def test_random_state_reproducible(planted_data):
    X, y = planted_data
    a = NoiseThresholdSelector(n_shuffles=3, resolution=0.01, random_state=7).fit(X, y)
    b = NoiseThresholdSelector(n_shuffles=3, resolution=0.01, random_state=7).fit(X, y)
    c = NoiseThresholdSelector(n_shuffles=3, resolution=0.01, random_state=8).fit(X, y)
    assert_array_equal(a.null_dks_, b.null_dks_)
    assert_array_equal(a.relevance_, b.relevance_)
    assert not np.array_equal(a.null_dks_, c.null_dks_)
    assert_array_equal(a.dks_, c.dks_)


# ------------------------------------------------------- the characterizer is shared


class SpyCharacterizer(KSCharacterizer):
    """The real KSCharacterizer, recording how it is called."""

    calls: ClassVar[list] = []

    def fit(self, X, y):
        type(self).calls.append(("fit", None))
        return super().fit(X, y)

    def fit_null(self, X, y, permutations):
        type(self).calls.append(("fit_null", np.array(permutations)))
        return super().fit_null(X, y, permutations)


def test_one_call_and_null_semantics(planted_data):
    X, y = planted_data
    SpyCharacterizer.calls = []
    sel = NoiseThresholdSelector(
        SpyCharacterizer(), n_shuffles=4, resolution=0.01, random_state=0
    ).fit(X, y)
    assert [name for name, _ in SpyCharacterizer.calls] == ["fit_null"]
    perms = SpyCharacterizer.calls[0][1]
    assert perms.shape == (4, y.size)
    for perm in perms:
        assert_array_equal(np.sort(perm), np.arange(y.size))
    # null_dks_[s] is the statistic of the labeling y[perm_s].
    for s, perm in enumerate(perms):
        assert_allclose(sel.null_dks_[s], KSCharacterizer().fit(X, y[perm]).dks_)
    assert sel.null_dks_.shape == (4, 4, X.shape[1])
    assert_array_equal(sel.dks_, KSCharacterizer().fit(X, y).dks_)


class PlainCharacterizer(BaseEstimator):
    """A characterizer of one's own: the public interface, one plain fit per labeling."""

    def __init__(self, n_bins=100):
        self.n_bins = n_bins

    def fit(self, X, y):
        inner = KSCharacterizer(n_bins=self.n_bins, progress=False).fit(X, y)
        self.dks_ = inner.dks_
        self.classes_ = inner.classes_
        self.class_counts_ = inner.class_counts_
        self.n_features_in_ = inner.n_features_in_
        return self

    def fit_null(self, X, y, permutations):
        self.fit(X, y)
        null = [clone(self).fit(X, np.asarray(y)[perm]).dks_ for perm in permutations]
        return np.asarray(null).reshape(len(permutations), *self.dks_.shape)


def test_characterizer_of_ones_own_through_fit_null(planted_data):
    X, y = planted_data
    kwargs = {"n_shuffles": 3, "resolution": 0.01, "random_state": 0}
    fast = NoiseThresholdSelector(**kwargs).fit(X, y)
    slow = NoiseThresholdSelector(PlainCharacterizer(), **kwargs).fit(X, y)
    assert_allclose(slow.null_dks_, fast.null_dks_)
    assert_array_equal(slow.relevance_, fast.relevance_)
    assert slow.layer_summary()["kept"][0] == fast.layer_summary()["kept"][0]


def test_characterizer_cloned_not_mutated(planted_data):
    X, y = planted_data
    char = KSCharacterizer(n_bins=50)
    sel = NoiseThresholdSelector(char, n_shuffles=2, n_jobs=2, random_state=0).fit(X, y)
    assert not hasattr(char, "dks_")
    assert char.n_jobs is None
    assert sel.characterizer_ is not char
    assert sel.characterizer_.n_jobs == 2
    assert sel.characterizer_.n_bins == 50
    serial = NoiseThresholdSelector(char, n_shuffles=2, random_state=0).fit(X, y)
    assert_array_equal(serial.null_dks_, sel.null_dks_)
    assert serial.characterizer_.n_jobs is None


def test_n_jobs_needs_a_characterizer_parameter(planted_data):
    X, y = planted_data
    with pytest.raises(ValueError, match="no n_jobs parameter"):
        NoiseThresholdSelector(PlainCharacterizer(), n_jobs=2).fit(X, y)


# ------------------------------------------------------------------------ FDR


def naive_bh(pvalues, alpha):
    p = pvalues.ravel()
    order = np.argsort(p)
    m = p.size
    passed = np.flatnonzero(p[order] <= alpha * np.arange(1, m + 1) / m)
    keep = np.zeros(m, dtype=bool)
    if passed.size:
        keep[order[: passed[-1] + 1]] = True
    return keep.reshape(pvalues.shape)


@pytest.mark.parametrize("alpha", [0.01, 0.2])
def test_fdr_is_benjamini_hochberg(planted_data, alpha):
    X, y = planted_data
    sel = NoiseThresholdSelector(method="fdr", alpha=alpha, n_shuffles=2, random_state=0)
    sel.fit(X, y)
    keep = naive_bh(sel.characterizer_.pvalues_, alpha)
    assert_array_equal(sel.relevance_, (keep * np.sign(sel.dks_)).astype(np.int8))
    assert sel.t_plus_ == sel.dks_[sel.relevance_ == 1].min()
    assert sel.t_minus_ == sel.dks_[sel.relevance_ == -1].max()
    # Curves are still computed from the shuffles.
    assert np.isfinite(sel.d_avg_plus_).all()


def test_fdr_without_shuffles_and_nothing_selected():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 10))
    y = np.repeat([0, 1], 30)
    sel = NoiseThresholdSelector(method="fdr", alpha=1e-6, n_shuffles=0).fit(X, y)
    assert sel.null_dks_.shape == (0, 2, 10)
    assert np.isnan(sel.d_avg_plus_).all() and np.isnan(sel.d_avg_minus_).all()
    assert np.isnan(sel.t_plus_) and np.isnan(sel.t_minus_)
    assert not sel.get_support().any()
    summary = sel.layer_summary()
    assert summary["kept"][0] == 0.0
    assert np.isnan(summary["kept_shuffled"][0])
    assert_array_equal(sel.noise_features(), np.arange(10))


# ---------------------------------------------------------------- parameter errors


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_shuffles": 0}, r"'n_shuffles' parameter .* \[1, inf\) .* Got 0 instead"),
        ({"n_shuffles": -1}, r"'n_shuffles' parameter .* Got -1 instead"),
        ({"n_shuffles": -1, "method": "fdr"}, r"'n_shuffles' parameter .* Got -1 instead"),
        ({"n_shuffles": 1.5}, r"'n_shuffles' parameter .* Got 1.5 instead"),
        ({"resolution": 0}, r"'resolution' parameter .* \[1e-07, 1.0\)\. Got 0 instead"),
        ({"resolution": 1e-9}, r"'resolution' parameter .* Got 1e-09 instead"),
        ({"resolution": 1}, r"'resolution' parameter .* Got 1 instead"),
        ({"resolution": 1.5}, r"'resolution' parameter .* Got 1.5 instead"),
        ({"resolution": -0.01}, r"'resolution' parameter .* Got -0.01 instead"),
        ({"method": "perm"}, r"'method' parameter .* Got 'perm' instead"),
        ({"alpha": 0.0, "method": "fdr"}, r"'alpha' parameter .* Got 0.0 instead"),
        ({"sign": "positive"}, r"'sign' parameter .* Got 'positive' instead"),
        ({"characterizer": "ks"}, r"'characterizer' parameter .* Got 'ks' instead"),
        ({"n_jobs": "all"}, r"'n_jobs' parameter .* Got 'all' instead"),
    ],
)
def test_parameter_errors_name_the_value(planted_data, params, match):
    X, y = planted_data
    with pytest.raises(InvalidParameterError, match=match):
        NoiseThresholdSelector(**params).fit(X, y)


def test_characterizer_parameters_are_validated(planted_data):
    X, y = planted_data
    with pytest.raises(InvalidParameterError, match="n_bins"):
        NoiseThresholdSelector(KSCharacterizer(n_bins=1)).fit(X, y)


def test_bad_input_is_the_characterizers(planted_data):
    X, y = planted_data
    with pytest.raises(ValueError, match="at least 2 classes"):
        NoiseThresholdSelector().fit(X, np.zeros(len(y)))
    X_nan = X.copy()
    X_nan[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NoiseThresholdSelector().fit(X_nan, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        NoiseThresholdSelector().fit(X, y[:-1])


# ------------------------------------------------------------------------ warnings


def test_small_class_warns_at_the_caller(planted_data):
    X, y = planted_data
    y = y.copy()
    y[:3] = 9  # a class of three samples
    with pytest.warns(UserWarning, match="fewer than 5 samples: 9 \\(3\\)") as record:
        NoiseThresholdSelector(random_state=0).fit(X, y)
    assert record[0].filename == __file__


def test_small_class_no_warning_without_shuffles(planted_data):
    X, y = planted_data
    y = y.copy()
    y[:3] = 9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NoiseThresholdSelector(method="fdr", n_shuffles=0).fit(X, y)


# ------------------------------------------------------------------------- helpers


def test_masks_and_counts(fitted):
    sel = fitted
    rel = sel.relevance_
    for i, cls in enumerate(sel.classes_):
        assert_array_equal(sel.class_mask(cls), rel[i] != 0)
        assert_array_equal(sel.class_mask(cls, "presence"), rel[i] == 1)
        assert_array_equal(sel.class_mask(cls, sign="absence"), rel[i] == -1)
    assert_array_equal(sel.feature_mask(), (rel != 0).any(axis=0))
    assert_array_equal(sel.feature_mask("presence"), (rel == 1).any(axis=0))
    assert_array_equal(sel.feature_mask("absence"), (rel == -1).any(axis=0))
    assert_array_equal(sel.noise_features("presence"), np.flatnonzero(~(rel == 1).any(axis=0)))
    assert_array_equal(sel.get_support(), sel.feature_mask("both"))
    counts = sel.n_characteristic_
    assert_array_equal(counts["class"], sel.classes_)
    assert_array_equal(counts["presence"], (rel == 1).sum(axis=1))
    assert_array_equal(counts["absence"], (rel == -1).sum(axis=1))
    # Counts above t+ are counts of dks_ > t_plus_ in shuffle mode.
    assert_array_equal(counts["presence"], (sel.dks_ > sel.t_plus_).sum(axis=1))


@pytest.mark.parametrize("sign", ["presence", "absence"])
def test_sign_parameter_controls_support(planted_data, sign):
    X, y = planted_data
    sel = NoiseThresholdSelector(sign=sign, n_shuffles=2, resolution=0.01, random_state=0)
    Xt = sel.fit_transform(X, y)
    assert_array_equal(sel.get_support(), sel.feature_mask(sign))
    assert Xt.shape[1] == sel.feature_mask(sign).sum()


def test_helper_errors(fitted):
    with pytest.raises(ValueError, match="sign must be"):
        fitted.class_mask(0, sign=2)
    with pytest.raises(ValueError, match="sign must be"):
        fitted.feature_mask("positive")
    with pytest.raises(ValueError, match=r"7 is not one of the 4 classes"):
        fitted.class_mask(7)


def test_unknown_string_class_suggests():
    X, _ = planted(n_features=10)
    y = np.repeat(["cloister", "buffet", "greenhouse", "florist"], 50)
    sel = NoiseThresholdSelector(random_state=0, resolution=0.01).fit(X, y)
    assert sel.class_mask("buffet").shape == (10,)
    with pytest.raises(ValueError, match="Did you mean 'florist'"):
        sel.class_mask("florists")


def test_not_fitted():
    sel = NoiseThresholdSelector()
    for call in (sel.get_support, sel.feature_mask, lambda: sel.class_mask(0)):
        with pytest.raises(NotFittedError):
            call()


def test_layer_summary_groups_from_names():
    pd = pytest.importorskip("pandas")
    X, y = planted(n_features=12)
    names = [f"conv1_{i}" for i in range(6)] + [f"fc7_{i}" for i in range(6)]
    sel = NoiseThresholdSelector(n_shuffles=3, resolution=0.01, random_state=0)
    sel.fit(pd.DataFrame(X, columns=names), y)
    summary = sel.layer_summary()
    assert_array_equal(summary["group"], ["conv1", "fc7"])
    assert_array_equal(summary["n_features"], [6, 6])
    for g, cols in enumerate([slice(0, 6), slice(6, 12)]):
        rel = sel.relevance_[:, cols]
        null = sel.null_dks_[:, :, cols]
        assert summary["kept"][g] == np.mean(rel != 0)
        assert summary["kept_presence"][g] == np.mean(rel == 1)
        assert summary["kept_absence"][g] == np.mean(rel == -1)
        expected = np.mean((null > sel.t_plus_) | (null < sel.t_minus_))
        assert summary["kept_shuffled"][g] == pytest.approx(expected)
        assert summary["n_noise"][g] == np.sum(~(rel != 0).any(axis=0))
    table = pd.DataFrame(summary)
    assert table.shape == (2, 7)


def test_layer_summary_explicit_groups(fitted):
    n = fitted.n_features_in_
    mask = np.zeros(n, dtype=bool)
    mask[:8] = True
    groups = {"signal": slice(0, 8), "signal_mask": mask, "noise": np.arange(8, n), "none": []}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = fitted.layer_summary(groups)
    assert list(summary["group"]) == ["signal", "signal_mask", "noise", "none"]
    assert summary["kept"][0] == summary["kept"][1]
    assert summary["kept"][0] > summary["kept"][2]
    assert summary["n_features"][3] == 0
    assert np.isnan(summary["kept"][3])
    with pytest.raises(ValueError, match="Group 'bad'"):
        fitted.layer_summary({"bad": [n + 5]})
    with pytest.raises(TypeError, match="dict"):
        fitted.layer_summary([0, 1])


def test_layer_summary_fdr_null_share(planted_data):
    X, y = planted_data
    sel = NoiseThresholdSelector(method="fdr", n_shuffles=3, random_state=0).fit(X, y)
    pvals = signed_ks_pvalues(sel.null_dks_, sel.characterizer_.class_counts_)
    expected = np.mean([naive_bh(p, sel.alpha) for p in pvals])
    assert sel.layer_summary()["kept_shuffled"][0] == pytest.approx(expected)


# ------------------------------------------------------------------- sklearn API


@parametrize_with_checks([NoiseThresholdSelector(n_shuffles=2, resolution=0.01, random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_clone_and_get_params():
    sel = NoiseThresholdSelector(KSCharacterizer(n_bins=20), n_shuffles=3, random_state=4)
    params = sel.get_params()
    assert params["n_shuffles"] == 3
    assert params["characterizer__n_bins"] == 20
    cloned = clone(sel)
    assert cloned.get_params()["characterizer__n_bins"] == 20
    assert cloned.characterizer is not sel.characterizer
    sel.set_params(characterizer__n_bins=30, sign="presence")
    assert sel.characterizer.n_bins == 30 and sel.sign == "presence"


def test_set_output_pandas_and_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = planted(n_features=12)
    columns = [f"f_{i}" for i in range(12)]
    df = pd.DataFrame(X, columns=columns)
    sel = NoiseThresholdSelector(n_shuffles=3, resolution=0.01, random_state=0)
    sel.set_output(transform="pandas")
    out = sel.fit(df, y).transform(df)
    assert isinstance(out, pd.DataFrame)
    kept = np.array(columns)[sel.get_support()]
    assert_array_equal(out.columns, kept)
    assert_array_equal(sel.get_feature_names_out(), kept)
    assert_array_equal(sel.feature_names_in_, columns)
    assert out.shape == (len(y), sel.get_support().sum())
    back = sel.set_output(transform="default").inverse_transform(out.to_numpy())
    assert back.shape == X.shape
    # Refitting on an array forgets the names.
    sel.fit(X, y)
    assert not hasattr(sel, "feature_names_in_")


def test_float32_preserved(planted_data):
    X, y = planted_data
    X32 = X.astype(np.float32)
    sel = NoiseThresholdSelector(n_shuffles=2, resolution=0.01, random_state=0)
    assert sel.fit_transform(X32, y).dtype == np.float32


def test_pipeline_with_logistic_regression():
    X, y = planted(seed=3, n_per_class=40, n_features=60, shift=2.0)
    rng = np.random.default_rng(1)
    train = rng.permutation(y.size)[:120]
    test = np.setdiff1d(np.arange(y.size), train)
    pipe = make_pipeline(
        NoiseThresholdSelector(KSCharacterizer(), n_shuffles=3, random_state=0),
        LogisticRegression(max_iter=500),
    )
    pipe.fit(X[train], y[train])
    selector = pipe.named_steps["noisethresholdselector"]
    assert selector.get_support()[:8].all()
    assert pipe.predict(X[test]).shape == test.shape
    assert pipe.score(X[test], y[test]) > 0.6
    assert pipe.get_params()["noisethresholdselector__characterizer__n_bins"] == 100
