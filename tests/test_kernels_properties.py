"""Property-based tests: every kernel of dks._engine._kernels against the naive references.

Arbitrary small inputs with ties (values drawn from a small pool), constant columns, the
lowest value repeated (ReLU zeros), negative zeros, tiny classes (one or two samples),
2 to 6 classes, float32 and float64. The examples are derandomized so that CI is stable.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import ks_2samp

from dks import KSCharacterizer
from dks._engine._kernels import _binned_levels, _exact_levels, column_stats
from dks.characterize import signed_dks, signed_ks_pvalues
from dks.thresholds import exceedance_counts, threshold_grid
from tests.naive import dks_matrix

PROPERTY = settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

POOL = [0.0, -0.0, 0.5, 1.0, 1.0 + 2**-20, 2.5, -3.0, 1e-30, 7.0, 100.0]


@st.composite
def problems(draw, max_samples=24, max_features=4):
    """(X, y): a small labeled activation matrix full of edge cases."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n_classes = draw(st.integers(2, 6))
    n_samples = draw(st.integers(n_classes, max(n_classes, max_samples)))
    n_features = draw(st.integers(1, max_features))
    extra = draw(
        st.lists(
            st.integers(0, n_classes - 1),
            min_size=n_samples - n_classes,
            max_size=n_samples - n_classes,
        )
    )
    y = np.array(list(range(n_classes)) + extra)
    columns = []
    for _ in range(n_features):
        kind = draw(st.sampled_from(["pool", "float", "constant", "relu"]))
        if kind == "constant":
            value = draw(st.sampled_from(POOL))
            col = np.full(n_samples, value)
        elif kind == "pool":
            col = np.array(
                draw(st.lists(st.sampled_from(POOL), min_size=n_samples, max_size=n_samples))
            )
        else:
            values = draw(
                st.lists(
                    st.floats(-1e6, 1e6, allow_nan=False, width=32),
                    min_size=n_samples,
                    max_size=n_samples,
                )
            )
            col = np.array(values)
            if kind == "relu":
                col = np.maximum(col, 0.0)
        columns.append(col)
    X = np.ascontiguousarray(np.stack(columns, axis=1).astype(dtype))
    return X, y


def _fit(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # single-sample classes
        return KSCharacterizer(progress=False, **params).fit(X, y)


@PROPERTY
@given(problems())
def test_exact_kernel_equals_scipy(problem):
    X, y = problem
    char = _fit(X, y, n_bins=None)
    classes, ref = dks_matrix(X, y, n_bins=None)
    assert_array_equal(char.classes_, classes)
    assert_allclose(char.dks_, ref, rtol=0, atol=1e-12)


@PROPERTY
@given(problems(), st.sampled_from([2, 3, 10, 100]))
def test_binned_kernel_equals_fraction_reference(problem, n_bins):
    X, y = problem
    char = _fit(X, y, n_bins=n_bins)
    _, ref = dks_matrix(X, y, n_bins=n_bins)
    assert_allclose(char.dks_, ref, rtol=0, atol=1e-12)


@PROPERTY
@given(problems(max_samples=16, max_features=3), st.sampled_from([None, 5]), st.data())
def test_all_labelings_in_one_pass_equal_separate_fits(problem, n_bins, data):
    X, y = problem
    n = y.shape[0]
    perms = np.array(
        [data.draw(st.permutations(range(n))) for _ in range(data.draw(st.integers(0, 3)))],
        dtype=np.intp,
    ).reshape(-1, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        char = KSCharacterizer(n_bins=n_bins, progress=False)
        null = char.fit_null(X, y, perms)
    assert null.shape == (perms.shape[0], char.classes_.shape[0], X.shape[1])
    assert_array_equal(char.dks_, _fit(X, y, n_bins=n_bins).dks_)
    for s, perm in enumerate(perms):
        _, ref = dks_matrix(X, y[perm], n_bins=n_bins)
        assert_allclose(null[s], ref, rtol=0, atol=1e-12)


@PROPERTY
@given(
    problems(max_samples=20, max_features=6),
    st.sampled_from([None, 7]),
    st.integers(1, 4),
    st.sampled_from([1, 2]),
)
def test_blocks_and_threads_do_not_change_signed_dks(problem, n_bins, block_size, n_jobs):
    X, y = problem
    codes = np.unique(y, return_inverse=True)[1].astype(np.int32)
    labelings = np.stack([codes, codes[::-1].copy()])
    counts = np.bincount(codes).astype(np.int64)
    mins = X.min(axis=0).astype(np.float64)
    maxs = X.max(axis=0).astype(np.float64)
    kwargs = {"n_bins": n_bins, "mins": mins, "maxs": maxs}
    ref = signed_dks(X, labelings, counts, **kwargs)
    got = signed_dks(X, labelings, counts, n_jobs=n_jobs, block_size=block_size, **kwargs)
    assert_array_equal(got, ref)


@PROPERTY
@given(problems(max_samples=30, max_features=5), st.data())
def test_column_stats_equal_numpy(problem, data):
    X, _ = problem
    X = X.copy()
    n_samples, n_features = X.shape
    bad = data.draw(
        st.lists(
            st.tuples(
                st.integers(0, n_samples - 1),
                st.integers(0, n_features - 1),
                st.sampled_from([np.nan, np.inf, -np.inf]),
            ),
            max_size=4,
        )
    )
    for i, j, value in bad:
        X[i, j] = value
    mins, maxs = np.empty(n_features), np.empty(n_features)
    n_bad = np.empty(n_features, dtype=np.int64)
    first_bad = np.empty(n_features, dtype=np.int64)
    column_stats(X, mins, maxs, n_bad, first_bad)
    finite = np.isfinite(X)
    assert_array_equal(n_bad, (~finite).sum(axis=0))
    for j in range(n_features):
        good = X[finite[:, j], j].astype(np.float64)
        assert mins[j] == (good.min() if good.size else np.inf)
        assert maxs[j] == (good.max() if good.size else -np.inf)
        rows = np.flatnonzero(~finite[:, j])
        assert first_bad[j] == (rows[0] if rows.size else -1)


def _check_levels(col, order, starts, n_low, n_levels, levels_of, *, empty_levels):
    """``order`` sorts by level; ``starts`` bounds each level above the lowest one.

    Every position ``j`` of level ``v`` (``starts[v] <= j < starts[v + 1]``) must have
    ``starts[v]`` samples below its level and ``starts[v + 1]`` samples up to it.
    """
    n = col.shape[0]
    levels = levels_of(col)
    assert n_low == np.count_nonzero(levels == levels.min())
    assert_array_equal(np.sort(order[n_low:]), np.flatnonzero(levels != levels.min()))
    sorted_levels = levels[order[n_low:]]
    assert np.all(np.diff(sorted_levels) >= 0)
    bounds = starts[: n_levels + 1]
    assert bounds[0] == n_low
    assert bounds[-1] == n
    assert np.all(np.diff(bounds) >= (0 if empty_levels else 1))
    for v in range(n_levels):
        for j in range(bounds[v], bounds[v + 1]):
            level = levels[order[j]]
            assert bounds[v] == np.count_nonzero(levels < level)
            assert bounds[v + 1] == np.count_nonzero(levels <= level)


@PROPERTY
@given(problems(max_samples=40, max_features=1))
def test_exact_levels_are_dense_ranks(problem):
    X, _ = problem
    col = np.ascontiguousarray(X[:, 0])
    n = col.shape[0]
    order, tmp_order = np.empty(n, np.int32), np.empty(n, np.int32)
    starts = np.full(n + 2, -1, np.int64)
    keys, tmp_keys = np.empty(n, np.uint64), np.empty(n, np.uint64)
    hist = np.empty((8, 256), np.int64)
    n_low, n_levels = _exact_levels(
        col, float(col.min()), order, starts, keys, tmp_keys, tmp_order, hist
    )
    # np.unique treats -0.0 and 0.0 as one value, as the kernel does.
    ranks = np.unique(col.astype(np.float64), return_inverse=True)[1]
    assert n_levels == ranks.max()  # one level per distinct value above the minimum
    _check_levels(
        col,
        order,
        starts,
        n_low,
        n_levels,
        lambda c: np.unique(c.astype(np.float64), return_inverse=True)[1],
        empty_levels=False,
    )


@PROPERTY
@given(problems(max_samples=40, max_features=1), st.sampled_from([2, 3, 10, 100]))
def test_binned_levels_are_the_reference_bins(problem, n_bins):
    X, _ = problem
    col = np.ascontiguousarray(X[:, 0])
    n = col.shape[0]
    lo, hi = float(col.min()), float(col.max())

    def bins(c):
        c = c.astype(np.float64)
        if hi > lo:
            return np.minimum(np.floor((c - lo) * n_bins / (hi - lo)), n_bins - 1).astype(int)
        return np.zeros(n, dtype=int)

    order = np.empty(n, np.int32)
    starts = np.full(max(n, n_bins) + 2, -1, np.int64)
    n_low, n_levels = _binned_levels(
        col,
        lo,
        hi,
        n_bins,
        np.empty(n, np.uint32),
        np.empty(n, np.int32),
        np.empty(n_bins + 1, np.int64),
        order,
        starts,
    )
    assert n_levels == n_bins - 1  # one level per bin above bin 0, empty ones included
    _check_levels(col, order, starts, n_low, n_levels, bins, empty_levels=True)
    assert n_low == np.count_nonzero(bins(col) == 0)


@settings(PROPERTY, max_examples=15)
@given(problems(max_samples=30, max_features=2))
def test_pvalues_equal_scipy_asymp(problem):
    X, y = problem
    char = _fit(X, y, n_bins=None)
    for i, c in enumerate(char.classes_):
        for f in range(X.shape[1]):
            with np.errstate(divide="ignore", invalid="ignore"):  # N=2: NaN
                res = ks_2samp(X[y != c, f], X[y == c, f], method="asymp")
            assert_allclose(char.pvalues_[i, f], res.pvalue, rtol=1e-6, atol=1e-300)
    assert_allclose(signed_ks_pvalues(-char.dks_, char.class_counts_), char.pvalues_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_sample_per_class_and_two_samples(dtype):
    """The smallest problems: N=2 with one sample per class, in both modes."""
    X = np.array([[1.0, 3.0], [2.0, 3.0]], dtype=dtype)
    y = np.array([0, 1])
    for n_bins in (None, 2, 100):
        char = _fit(X, y, n_bins=n_bins)
        _, ref = dks_matrix(X, y, n_bins=n_bins)
        assert_array_equal(char.dks_, ref)
        assert_array_equal(char.dks_, [[-1.0, 0.0], [1.0, 0.0]])


@PROPERTY
@given(
    st.lists(
        st.one_of(
            st.floats(-1.5, 1.5, allow_nan=False),
            st.sampled_from([0.0, -0.0, 0.5, -0.5, 0.123, -0.123, 1.0, -1.0]),
        ),
        max_size=60,
    ),
    st.sampled_from([0.001, 0.01, 0.3, 0.25, 0.0003]),
)
def test_exceedance_counts_equal_brute_force(values, resolution):
    values = np.array(values, dtype=np.float64)
    grid = threshold_grid(resolution)
    plus, minus = exceedance_counts(values, grid, resolution)
    assert_array_equal(plus, [(values > x).sum() for x in grid])
    assert_array_equal(minus, [(values < -x).sum() for x in grid])
