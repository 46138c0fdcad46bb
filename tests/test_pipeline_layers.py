"""dks.results._layer_groups: layer membership is read from embedding.json, and checked."""

import pytest

from dks.pipeline import AnalysisError
from dks.results._layer_groups import layer_groups, layer_of_columns


def test_layer_groups_follow_the_saved_slices():
    meta = {"feature_names": ["x_0", "x_1", "y_0"], "layers": {"up": [0, 1], "down": [1, 3]}}
    groups = layer_groups(meta)
    assert {k: v.tolist() for k, v in groups.items()} == {"up": [0], "down": [1, 2]}
    assert list(groups) == ["up", "down"]
    assert layer_of_columns(groups, 3).tolist() == ["up", "down", "down"]


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (None, "has no 'layers' entry"),
        ({}, "has no 'layers' entry"),
        ({"a": [0, 2]}, "do not cover its 3 feature_names exactly once"),
        ({"a": [0, 2], "b": [1, 3]}, "do not cover its 3 feature_names exactly once"),
    ],
)
def test_missing_or_inconsistent_layers_are_explained(layers, message):
    meta = {"feature_names": ["a", "b", "c"]}
    if layers is not None:
        meta["layers"] = layers
    with pytest.raises(AnalysisError, match=message) as info:
        layer_groups(meta, "res")
    assert "'res'" in str(info.value) and "dks embed" in str(info.value)
