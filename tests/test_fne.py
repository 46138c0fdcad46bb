"""FullNetworkEmbedding: the published rule, its sklearn contract, out-of-core input."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.feature_selection import VarianceThreshold
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from dks import FullNetworkEmbedding, NoiseThresholdSelector
from dks.fne import pack_ternary, unpack_ternary
from dks.store import RowView
from tests.feature_helpers import TINY, make_source, relu_data


def published_rule(X_fit, X, pos=0.15, neg=-0.25):
    """arXiv 1705.07706, written plainly: z-scores on the target data, then -1 / 0 / +1."""
    X_fit, X = np.asarray(X_fit, dtype=np.float64), np.asarray(X, dtype=np.float64)
    out = np.zeros(X.shape, dtype=np.int8)
    z_all = np.zeros(X.shape)
    for j in range(X.shape[1]):
        column = X_fit[:, j]
        if column.min() == column.max():
            continue  # constant on the target data: z = 0 (documented choice)
        mean = column.mean()
        std = np.sqrt(((column - mean) ** 2).mean())
        for i in range(X.shape[0]):
            z = (X[i, j] - mean) / std
            z_all[i, j] = z
            out[i, j] = 1 if z > pos else (-1 if z < neg else 0)
    return out, z_all


@parametrize_with_checks(
    [
        FullNetworkEmbedding(),
        FullNetworkEmbedding(discretize=False, positive_threshold=0.5),
        FullNetworkEmbedding(selector=VarianceThreshold()),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_the_published_rule_with_ties_and_constant_features(dtype):
    X, _ = relu_data()  # rounded ReLU values (ties, zeros) and a constant feature 3
    X = X.astype(dtype)
    X[:, 5] = 0.0  # a dead unit
    fne = FullNetworkEmbedding().fit(X)
    expected, z = published_rule(X, X)
    assert_array_equal(fne.transform(X), expected)
    assert fne.transform(X).dtype == np.int8
    assert fne.scale_[3] == 0.0 and fne.scale_[5] == 0.0
    # New data: the statistics stay those of the target data; a constant feature stays 0.
    rng = np.random.default_rng(1)
    X_new = (rng.normal(size=(50, X.shape[1])) + 0.3).astype(dtype)
    assert_array_equal(fne.transform(X_new), published_rule(X, X_new)[0])
    assert not fne.transform(X_new)[:, [3, 5]].any()
    floats = FullNetworkEmbedding(discretize=False).fit(X).transform(X)
    assert floats.dtype == dtype
    assert_allclose(floats, z, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_thresholds_are_strict_and_configurable():
    # z-scores of [-1, -1, 1, 1] are exactly -1 and 1.
    X = np.array([[-1.0], [-1.0], [1.0], [1.0]])
    assert_array_equal(
        FullNetworkEmbedding(positive_threshold=1.0).fit_transform(X).ravel(), [-1, -1, 0, 0]
    )
    assert_array_equal(
        FullNetworkEmbedding(negative_threshold=-1.0).fit_transform(X).ravel(), [0, 0, 1, 1]
    )
    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    out = FullNetworkEmbedding(positive_threshold=1.2, negative_threshold=-0.1).fit_transform(X)
    expected, _ = published_rule(X, X, pos=1.2, neg=-0.1)
    assert_array_equal(out, expected)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"positive_threshold": -0.1}, "'positive_threshold' parameter of FullNetworkEmbedding"),
        ({"negative_threshold": 0.2}, "'negative_threshold' parameter of FullNetworkEmbedding"),
        ({"selector": "dks"}, "'selector' parameter"),
    ],
)
def test_parameters_are_validated_in_fit(params, match):
    fne = FullNetworkEmbedding(**params)  # __init__ only stores
    with pytest.raises(InvalidParameterError, match=match):
        fne.fit(np.eye(3))


def _selector():
    return NoiseThresholdSelector(n_shuffles=3, random_state=0, progress=False)


def test_selector_is_fitted_then_only_its_features_are_embedded():
    X, y = relu_data()
    fne = FullNetworkEmbedding(selector=_selector()).fit(X, y)
    support = _selector().fit(X, y).get_support()
    assert 0 < support.sum() < X.shape[1]
    assert_array_equal(fne.kept_features_, np.flatnonzero(support))
    assert_array_equal(fne.transform(X), published_rule(X[:, support], X[:, support])[0])
    assert_array_equal(fne.get_feature_names_out(), [f"x{j}" for j in np.flatnonzero(support)])


def test_a_frozen_selector_is_used_as_is():
    X, y = relu_data()
    fitted = _selector().fit(X[:120], y[:120])
    fne = FullNetworkEmbedding(selector=FrozenEstimator(fitted)).fit(X)  # no labels needed
    assert_array_equal(fne.kept_features_, np.flatnonzero(fitted.get_support()))
    assert fne.selector_.estimator is fitted


def test_a_selector_that_needs_labels_says_so():
    X, _ = relu_data()
    with pytest.raises(ValueError, match=r"call fit\(X, y\), or .*FrozenEstimator"):
        FullNetworkEmbedding(selector=_selector()).fit(X)


def test_pipeline_and_pandas_output():
    pd = pytest.importorskip("pandas")
    X, y = relu_data()
    names = [f"layer_{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names)
    fne = FullNetworkEmbedding(selector=_selector()).set_output(transform="pandas")
    out = fne.fit_transform(frame, y)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [names[j] for j in fne.kept_features_]
    model = make_pipeline(FullNetworkEmbedding(), LogisticRegression(max_iter=500)).fit(X, y)
    assert model.score(X, y) > 0.5


def _store_rows(X, tmp_path):
    zarr = pytest.importorskip("zarr")
    z = zarr.create_array(str(tmp_path / "s.zarr"), shape=(X.shape[0] + 7, X.shape[1]),
                          dtype=X.dtype, chunks=(40, 8))  # fmt: skip
    rows = np.setdiff1d(np.arange(X.shape[0] + 7), [3, 50, 51, 100, 101, 102, 200])
    full = np.zeros(z.shape, dtype=X.dtype)
    full[rows] = X
    z[:] = full
    return RowView(z, rows)


@pytest.mark.parametrize("kind", ["memmap_c", "memmap_f", "zarr_features", "zarr_rows", "store"])
@pytest.mark.parametrize("with_selector", [False, True])
def test_out_of_core_equals_in_memory(tmp_path, kind, with_selector):
    X, y = relu_data()
    source = _store_rows(X, tmp_path) if kind == "store" else make_source(kind, X, tmp_path)
    params = {"selector": _selector()} if with_selector else {}
    ref = FullNetworkEmbedding(**params).fit(X, y)
    with config_context(working_memory=TINY):
        fne = FullNetworkEmbedding(**params).fit(source, y)
        out = fne.transform(source)
    assert_array_equal(fne.kept_features_, ref.kept_features_)
    assert_array_equal(fne.mean_, ref.mean_)
    assert_array_equal(fne.scale_, ref.scale_)
    assert_array_equal(out, ref.transform(X))
    assert fne.n_features_in_ == X.shape[1]


def test_out_of_core_non_finite_and_shape_errors(tmp_path):
    X, _ = relu_data()
    X[17, 30] = np.nan
    source = make_source("memmap_f", X, tmp_path)
    with (
        config_context(working_memory=TINY),
        pytest.raises(ValueError, match=r"feature 30 \(row 17\)"),
    ):
        FullNetworkEmbedding().fit(source)
    fne = FullNetworkEmbedding().fit(np.ones((4, 3)))
    with pytest.raises(
        ValueError, match="X has 37 features, but FullNetworkEmbedding is expecting 3"
    ):
        fne.transform(make_source("memmap_c", relu_data()[0], tmp_path))


def test_dask_input_gets_a_way_out():
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match=r"to_zarr"):
        FullNetworkEmbedding().fit(da.ones((10, 3), chunks=5))


@pytest.mark.parametrize("n_features", [1, 3, 4, 5, 8, 9])
def test_pack_ternary_round_trip_and_layout(n_features):
    rng = np.random.default_rng(n_features)
    codes = rng.integers(-1, 2, size=(7, n_features)).astype(np.int8)
    packed = pack_ternary(codes)
    assert packed.dtype == np.uint8 and packed.shape == (7, -(-n_features // 4))
    assert_array_equal(unpack_ternary(packed, n_features), codes)
    # The layout, written out: code v + 1 of feature 4j + i in bits 2i, 2i + 1 of byte j.
    expected = np.zeros(packed.shape, dtype=np.int64)
    for f in range(-(-n_features // 4) * 4):
        value = codes[:, f].astype(np.int64) + 1 if f < n_features else 1
        expected[:, f // 4] += value << (2 * (f % 4))
    assert_array_equal(packed, expected)


def test_pack_ternary_errors():
    with pytest.raises(ValueError, match="-1, 0 and 1 only"):
        pack_ternary(np.array([[2]]))
    with pytest.raises(ValueError, match="must be 2-D"):
        pack_ternary(np.array([1, 0]))
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\) for n_features=5"):
        unpack_ternary(np.zeros((1, 1), dtype=np.uint8), 5)
