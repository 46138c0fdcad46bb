"""Tests of dks.groups.feature_groups."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dks.groups import check_groups, feature_groups


def _as_lists(groups):
    return {name: idx.tolist() for name, idx in groups.items()}


def test_contract_examples():
    names = ["conv1_1_0", "conv1_1_1", "fc7_0", "fc7_4095", "blocks.3_17"]
    assert _as_lists(feature_groups(names)) == {
        "conv1_1": [0, 1],
        "fc7": [2, 3],
        "blocks.3": [4],
    }


def test_first_seen_order_and_interleaving():
    names = ["b_0", "a_0", "b_1", "a_1", "c_0"]
    groups = feature_groups(names)
    assert list(groups) == ["b", "a", "c"]
    assert _as_lists(groups) == {"b": [0, 2], "a": [1, 3], "c": [4]}


@pytest.mark.parametrize(
    "name", ["x0", "age", "conv_a", "fc7_", "_", "_5", "fc7_-1", "fc7_1.5", "fc7_٣"]
)
def test_names_without_index_go_to_features(name):
    assert _as_lists(feature_groups(["fc7_0", name])) == {"fc7": [0], "features": [1]}


def test_non_string_names_and_numpy_input():
    groups = feature_groups(np.array([0, 1, "conv1_2"], dtype=object))
    assert _as_lists(groups) == {"features": [0, 1], "conv1": [2]}
    assert _as_lists(feature_groups(np.array(["a_1", "a_2"]))) == {"a": [0, 1]}


def test_empty_and_dtype():
    assert feature_groups([]) == {}
    groups = feature_groups(["a_0", "b_1"])
    assert all(idx.dtype == np.intp for idx in groups.values())


def test_pandas_index():
    pd = pytest.importorskip("pandas")
    assert _as_lists(feature_groups(pd.Index(["l1_0", "l2_0", "l1_1"]))) == {
        "l1": [0, 2],
        "l2": [1],
    }


def test_bad_input():
    with pytest.raises(TypeError, match="single string"):
        feature_groups("conv1_1_0")
    with pytest.raises(ValueError, match="one-dimensional"):
        feature_groups([["a_0", "a_1"]])


_layer = st.text(alphabet="abcz._019", min_size=1, max_size=6)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(_layer, st.integers(0, 5000)), max_size=30))
def test_partition_and_roundtrip(pairs):
    names = [f"{layer}_{index}" for layer, index in pairs]
    groups = feature_groups(names)
    # Every column in exactly one group, indices increasing.
    allidx = np.sort(np.concatenate([np.empty(0, np.intp), *groups.values()]))
    np.testing.assert_array_equal(allidx, np.arange(len(names)))
    for name, idx in groups.items():
        assert np.all(np.diff(idx) > 0)
        for i in idx:
            assert names[i].rpartition("_")[0] == name
    # First-seen order.
    firsts = [idx[0] for idx in groups.values()]
    assert firsts == sorted(firsts)


# --- check_groups: the one validator of a `groups` argument -------------------------------------


def test_check_groups_forms():
    mask = np.array([True, False, True, False])
    groups = check_groups(
        {"s": slice(1, 3), "m": mask, "i": [3, -4], "e": [], "one": 2, "n": np.array([1])}, 4
    )
    assert list(groups) == ["s", "m", "i", "e", "one", "n"]
    assert _as_lists(groups) == {
        "s": [1, 2],
        "m": [0, 2],
        "i": [3, 0],
        "e": [],
        "one": [2],
        "n": [1],
    }
    assert all(idx.dtype == np.intp for idx in groups.values())


def test_check_groups_errors():
    with pytest.raises(TypeError, match="non-empty dict"):
        check_groups([0, 1], 3)
    with pytest.raises(ValueError, match="non-empty dict"):
        check_groups({}, 3)
    with pytest.raises(ValueError, match=r"Group 'a' has column indices outside \[0, 3\).*5"):
        check_groups({"a": [0, 5]}, 3)
    with pytest.raises(ValueError, match="boolean mask of length 2"):
        check_groups({"a": [True, False]}, 3)
    with pytest.raises(ValueError, match="integer column indices"):
        check_groups({"a": [0.5]}, 3)
    with pytest.raises(ValueError, match="1-D"):
        check_groups({"a": [[0, 1]]}, 3)
