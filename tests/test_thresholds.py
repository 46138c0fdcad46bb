"""dks.thresholds: exceedance counts, Eq. 4 and the argmax rule, against direct loops."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from dks._sign import check_sign, sign_code
from dks.thresholds import (
    NullCounts,
    argmax_threshold,
    average_distance,
    exceedance,
    threshold_grid,
)


def naive_counts(dks, grid, sign):
    """#{D > x} or #{D < -x} per row, one comparison at a time."""
    out = np.zeros((len(dks), len(grid)), dtype=np.int64)
    for i, row in enumerate(dks):
        for j, x in enumerate(grid):
            out[i, j] = sum(1 for v in row if (v > x if sign == "presence" else v < -x))
    return out


@pytest.mark.parametrize("sign", ["presence", "absence"])
def test_exceedance_matches_loops_any_grid_order(sign):
    rng = np.random.default_rng(1)
    dks = np.round(rng.uniform(-1, 1, size=(3, 37)), 2)  # ties, and values on the grid
    dks[0, :5] = 0.0
    dks[1, :3] = [1.0, -1.0, 0.5]
    grid = np.array([0.5, 0.0, 1.0, 0.25, 0.5, 0.13])  # unsorted, with a repeat
    assert_array_equal(exceedance(dks, grid, sign=sign), naive_counts(dks, grid, sign))


@pytest.mark.parametrize("resolution", [0.01, 0.3])
def test_exceedance_fast_path_equals_general_path(resolution):
    rng = np.random.default_rng(2)
    grid = threshold_grid(resolution)
    on_grid = np.concatenate([grid, -grid])
    dks = np.concatenate([rng.uniform(-1, 1, (2, 50)), np.tile(on_grid, (2, 1))], axis=1)
    for sign in ("presence", "absence"):
        fast = exceedance(dks, grid, sign=sign, resolution=resolution)
        assert_array_equal(fast, exceedance(dks, grid, sign=sign))
        assert_array_equal(fast, naive_counts(dks, grid, sign))


def test_exceedance_errors():
    with pytest.raises(ValueError, match="sign must be 'presence' or 'absence'; got 'both'"):
        exceedance([[0.1]], [0.0], sign="both")
    with pytest.raises(ValueError, match="2-D"):
        exceedance([0.1], [0.0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        exceedance([[0.1]], [-0.5])


def test_average_distance_from_blocks_equals_from_arrays():
    rng = np.random.default_rng(3)
    grid = threshold_grid(0.05)
    dks = rng.uniform(-1, 1, (4, 30))
    null = rng.uniform(-0.5, 0.5, (3, 4, 30))
    counts = NullCounts(grid, 0.05, 3)
    for f0 in range(0, 30, 7):  # feature blocks, as a characterizer yields them
        counts(f0, min(f0 + 7, 30), null[:, :, f0 : f0 + 7])
    direct = average_distance(dks, null, grid, resolution=0.05)
    blocks = average_distance(dks, None, grid, resolution=0.05, null_counts=counts)
    assert_array_equal(direct[0], blocks[0])
    assert_array_equal(direct[1], blocks[1])
    expected_plus = naive_counts(dks, grid, "presence").mean(axis=0) - naive_counts(
        null.reshape(-1, 30), grid, "presence"
    ).mean(axis=0)
    np.testing.assert_allclose(direct[0], expected_plus, rtol=0, atol=1e-12)


def test_argmax_threshold_smallest_on_ties_and_signs():
    grid = [0.0, 0.1, 0.2, 0.3]
    assert argmax_threshold(grid, [1.0, 3.0, 3.0, 2.0]) == 0.1
    t = argmax_threshold(grid, [3.0, 1.0, 3.0, 0.0], sign="absence")
    assert t == 0.0 and np.copysign(1.0, t) == 1.0  # no -0.0
    assert argmax_threshold(grid, [0.0, 0.0, 5.0, 0.0], sign="absence") == -0.2
    with pytest.raises(ValueError, match="shape of 'grid'"):
        argmax_threshold(grid, [1.0, 2.0])


def test_sign_vocabulary():
    assert [sign_code(check_sign(s)) for s in ("presence", "absence", "both")] == [1, -1, 0]
    with pytest.raises(ValueError, match=r"sign must be 'presence', 'absence' or 'both'; got 1"):
        check_sign(1)
    with pytest.raises(ValueError, match="codes"):
        check_sign(-1)
    with pytest.raises(ValueError, match="side must be 'presence'; got True"):
        check_sign(True, allowed=("presence",), name="side")
    with pytest.raises(ValueError, match="got"):
        check_sign(np.array([1, 2]))
