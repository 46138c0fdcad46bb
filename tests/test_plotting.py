"""Tests of dks.plotting: the numbers behind each figure, and that each figure draws."""

import ast
import io
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib import _pylab_helpers
from matplotlib.collections import LineCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle, StepPatch

from dks import plotting
from dks.plotting import (
    BAND_MASS,
    class_curves,
    dks_histogram,
    layer_mode_bands,
    mode_band,
    plot_class_curves,
    plot_class_noise,
    plot_davg,
    plot_dks_histograms,
    plot_feature_histograms,
    plot_layer_distribution,
    plot_layer_kept,
    plot_top_images,
    save_figure,
    signed_ks_1d,
)

N_CLASSES, N_FEATURES, N_SHUFFLES = 5, 60, 3
GROUPS = {
    "conv1_1": np.arange(0, 25),
    "conv5_4": np.arange(25, 45),
    "fc7": np.arange(45, 60),
}


@pytest.fixture
def dks():
    rng = np.random.default_rng(0)
    sign = rng.choice([-1.0, 1.0], size=(N_CLASSES, N_FEATURES))
    return sign * np.clip(rng.lognormal(np.log(0.25), 0.4, size=sign.shape), 0, 1)


@pytest.fixture
def null_dks():
    rng = np.random.default_rng(1)
    return np.clip(rng.normal(0.0, 0.08, size=(N_SHUFFLES, N_CLASSES, N_FEATURES)), -1, 1)


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    """The module never goes through pyplot, so no figure is ever registered there."""
    before = _pylab_helpers.Gcf.get_num_fig_managers()
    yield
    assert _pylab_helpers.Gcf.get_num_fig_managers() == before


def render(fig):
    """Draw the figure for real (layout, text, mathtext), as saving it would."""
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.getvalue().startswith(b"\x89PNG")
    return fig


def collection(ax, gid):
    (found,) = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_gid() == gid]
    return found


# --------------------------------------------------------------------------------------------
# mode and 68% band (Fig. 5)
# --------------------------------------------------------------------------------------------
def test_mode_is_exact_on_a_point_mass():
    rng = np.random.default_rng(2)
    values = np.concatenate([np.full(1000, 0.3), rng.uniform(0, 1, 1000)])
    mode, lower, upper = mode_band(values)
    assert mode == pytest.approx(0.3, abs=1e-12)
    assert lower < mode <= upper


def test_mode_band_is_mu_plus_minus_sigma_for_a_normal():
    rng = np.random.default_rng(3)
    values = rng.normal(0.5, 0.08, 200_000)
    mode, lower, upper = mode_band(values)
    assert mode == pytest.approx(0.5, abs=0.006)
    assert lower == pytest.approx(0.42, abs=0.006)
    assert upper == pytest.approx(0.58, abs=0.006)


def test_mode_of_a_lognormal_side():
    rng = np.random.default_rng(4)
    mu, s = math.log(0.3), 0.4
    values = rng.lognormal(mu, s, 200_000)
    values = values[values <= 1]
    mode, lower, upper = mode_band(values)
    assert mode == pytest.approx(math.exp(mu - s**2), abs=0.01)  # 0.2556
    # skewed to the right: the upper bar is longer, as in the paper's figure
    assert upper - mode > mode - lower


def test_band_encloses_the_stated_mass_on_each_side():
    rng = np.random.default_rng(5)
    values = rng.beta(2, 6, 5001)
    mode, lower, upper = mode_band(values)
    above, below = values[values >= mode], values[values < mode]
    assert np.mean(above <= upper) == pytest.approx(BAND_MASS, abs=2 / above.size)
    assert np.mean(below >= lower) == pytest.approx(BAND_MASS, abs=2 / below.size)
    assert math.isclose(BAND_MASS, 0.682689, abs_tol=1e-6)


def test_mode_near_zero_with_reflection():
    rng = np.random.default_rng(6)
    values = np.abs(rng.normal(0, 0.05, 50_000))  # a half-normal, densest at 0
    mode, lower, upper = mode_band(values)
    assert mode <= 0.01
    assert lower == pytest.approx(mode, abs=0.01)
    assert upper == pytest.approx(0.05, abs=0.01)


def test_mode_band_edge_cases():
    assert all(math.isnan(v) for v in mode_band([]))
    assert mode_band([0.7]) == (0.7, 0.7, 0.7)
    assert mode_band([0.2, 0.2, 0.2]) == (0.2, 0.2, 0.2)
    assert mode_band([0.2, 0.4], bandwidth=0.01)[0] in (0.2, 0.4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        mode_band([-0.1, 0.5])
    with pytest.raises(ValueError, match="bandwidth"):
        mode_band([0.1, 0.5], bandwidth=0)


def test_layer_mode_bands_on_constructed_layers():
    dks = np.zeros((4, 6))
    dks[:, :3] = [[0.4, -0.2, 0.4]] * 4  # layer "a": positives all 0.4, negatives all -0.2
    dks[:, 3:] = np.linspace(0.05, 0.95, 12).reshape(4, 3)  # layer "b": positive only
    names, plus, minus = layer_mode_bands(dks, {"a": [0, 1, 2], "b": np.array([3, 4, 5])})
    assert names == ["a", "b"]
    np.testing.assert_allclose(plus[0], [0.4, 0.4, 0.4])
    np.testing.assert_allclose(minus[0], [-0.2, -0.2, -0.2])
    assert np.all(np.isnan(minus[1]))
    assert plus[1, 1] <= plus[1, 0] <= plus[1, 2]


def test_layer_mode_bands_orders_and_signs(dks):
    _, plus, minus = layer_mode_bands(dks, GROUPS)
    assert np.all((plus[:, 1] <= plus[:, 0]) & (plus[:, 0] <= plus[:, 2]) & (plus[:, 1] > 0))
    assert np.all((minus[:, 1] <= minus[:, 0]) & (minus[:, 0] <= minus[:, 2]) & (minus[:, 2] < 0))


def test_plot_layer_distribution(dks):
    fig = render(plot_layer_distribution(dks, GROUPS, t_plus=0.15, t_minus=-0.12))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(GROUPS)
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2
    _, plus, minus = layer_mode_bands(dks, GROUPS)
    np.testing.assert_allclose(bars[0].lines[0].get_ydata(), plus[:, 0])
    np.testing.assert_allclose(bars[1].lines[0].get_ydata(), minus[:, 0])
    assert ax.get_ylabel() == "$D_{KS}$"
    assert len(ax.get_legend().get_texts()) == 3


def test_plot_layer_distribution_overlays_datasets_on_one_axes(dks):
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_layer_distribution(dks, GROUPS, ax=ax, label="a") is fig
    plot_layer_distribution(-dks, GROUPS, ax=ax, label="b", color="C1", offset=0.2)
    assert len(fig.axes) == 1
    assert len(ax.containers) == 4
    render(fig)


def test_groups_are_validated(dks):
    with pytest.raises(ValueError, match="outside"):
        plot_layer_distribution(dks, {"a": [0, 99]})
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_layer_distribution(dks, {})
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        plot_layer_distribution(dks * 3, GROUPS)
    # slices (the embedder's layer_slices_) work like index arrays
    sliced = {"conv1_1": slice(0, 25), "conv5_4": slice(25, 45), "fc7": slice(45, 60)}
    np.testing.assert_array_equal(
        layer_mode_bands(dks, sliced)[1], layer_mode_bands(dks, GROUPS)[1]
    )


# --------------------------------------------------------------------------------------------
# histograms (Fig. 6)
# --------------------------------------------------------------------------------------------
def test_dks_histogram_is_percent_of_pairs():
    edges, percent = dks_histogram([-1.0, -0.5, 0.0, 0.5, 1.0], bins=4)
    np.testing.assert_allclose(edges, [-1, -0.5, 0, 0.5, 1])
    np.testing.assert_allclose(percent, [20, 20, 20, 40])
    assert dks_histogram([], bins=4)[1].sum() == 0


def test_plot_dks_histograms_default_split(dks):
    fig = render(plot_dks_histograms(dks, GROUPS, bins=20, t_plus=0.15, t_minus=-0.12))
    low, high = fig.axes
    assert low.get_title().startswith("conv1_1,")
    assert high.get_title().startswith("conv5_4 + fc7")
    for ax, cols in ((low, GROUPS["conv1_1"]), (high, np.r_[GROUPS["conv5_4"], GROUPS["fc7"]])):
        (step,) = [p for p in ax.patches if isinstance(p, StepPatch)]
        values, _, _ = step.get_data()
        np.testing.assert_allclose(values, dks_histogram(dks[:, cols], bins=20)[1])
        assert values.sum() == pytest.approx(100)
        assert ax.get_ylabel() == "feature/class pairs (%)"


def test_plot_dks_histograms_choices(dks):
    fig = plot_dks_histograms(dks, GROUPS, high=["fc7"])
    assert [ax.get_title().split(",")[0] for ax in fig.axes] == ["conv1_1 + conv5_4", "fc7"]
    fig = plot_dks_histograms(dks, {"only": np.arange(N_FEATURES)})
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="Did you mean 'fc7'"):
        plot_dks_histograms(dks, GROUPS, high=["fc_7"])
    fig = Figure()
    axes = fig.subplots(1, 2)
    assert plot_dks_histograms(dks, GROUPS, ax=axes, label="mit67") is fig
    with pytest.raises(ValueError, match="needs 2 Axes"):
        plot_dks_histograms(dks, GROUPS, ax=axes[0])


# --------------------------------------------------------------------------------------------
# per-class curves (Fig. 9) and d_avg
# --------------------------------------------------------------------------------------------
def test_class_curves_are_direct_counts(dks):
    grid = np.linspace(0, 1, 11)
    x, counts = class_curves(dks, grid)
    np.testing.assert_array_equal(x, grid)
    expected = np.array([[np.sum(row > g) for g in grid] for row in dks])
    np.testing.assert_array_equal(counts, expected)
    x, counts = class_curves(dks, grid, sign="absence")
    np.testing.assert_array_equal(x, -grid)
    expected = np.array([[np.sum(row < -g) for g in grid] for row in dks])
    np.testing.assert_array_equal(counts, expected)


def test_plot_class_curves_draws_the_counts(dks, null_dks):
    fig = render(plot_class_curves(dks, null_dks, t_plus=0.15))
    (ax,) = fig.axes
    true = collection(ax, "dks-true").get_segments()
    null = collection(ax, "dks-null").get_segments()
    assert len(true) == N_CLASSES
    assert len(null) == N_SHUFFLES * N_CLASSES
    for c in range(N_CLASSES):
        x, y = true[c].T
        np.testing.assert_array_equal(y, [np.sum(dks[c] > v) for v in x])
    x, y = null[N_CLASSES + 2].T  # shuffle 1, class 2
    np.testing.assert_array_equal(y, [np.sum(null_dks[1, 2] > v) for v in x])
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert [ln.get_xdata()[0] for ln in dashed] == [0.15]
    assert ax.get_xlim() == (0.0, 1.0)


def test_class_curve_means_give_the_papers_d_avg(dks, null_dks):
    """Mean of black minus mean of red lines is Eq. 4, computed here independently."""
    fig = plot_class_curves(dks, null_dks, grid=np.linspace(0, 1, 51))
    (ax,) = fig.axes
    true = np.array([s[:, 1] for s in collection(ax, "dks-true").get_segments()])
    null = np.array([s[:, 1] for s in collection(ax, "dks-null").get_segments()])
    x = np.linspace(0, 1, 51)
    eq4 = [(dks > v).sum(axis=1).mean() - (null_dks > v).sum(axis=2).mean() for v in x]
    np.testing.assert_allclose(true.mean(axis=0) - null.mean(axis=0), eq4)


def test_plot_class_curves_negative_and_both(dks, null_dks):
    fig = render(plot_class_curves(dks, null_dks, t_minus=-0.12, sign="absence"))
    (ax,) = fig.axes
    x, y = collection(ax, "dks-true").get_segments()[0].T
    assert x.min() == -1.0 and x.max() == 0.0
    np.testing.assert_array_equal(y, [np.sum(dks[0] < v) for v in x])
    fig = render(plot_class_curves(dks, None, 0.15, -0.12, sign="both"))
    assert len(fig.axes) == 2
    assert fig.axes[0].get_xlim() == (-1.0, 0.0)
    assert "^{-}" in fig.axes[0].get_title() and "^{+}" in fig.axes[1].get_title()
    assert not [c for c in fig.axes[1].collections if c.get_gid() == "dks-null"]
    with pytest.raises(ValueError, match="null_dks"):
        plot_class_curves(dks, null_dks[:, :2])
    with pytest.raises(ValueError, match="sign"):
        plot_class_curves(dks, sign="up")


def test_plot_davg_marks_the_maxima():
    grid = np.linspace(0, 1, 101)
    plus = np.exp(-(((grid - 0.12) / 0.1) ** 2)) * 100
    minus = np.exp(-(((grid - 0.2) / 0.1) ** 2)) * 50
    fig = render(plot_davg(grid, plus, minus))
    (ax,) = fig.axes
    dots = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert [(d.get_xdata()[0], d.get_ydata()[0]) for d in dots] == [(0.12, 100.0), (-0.2, 50.0)]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("0.120" in t for t in texts) and any("-0.200" in t for t in texts)
    curves = [ln for ln in ax.get_lines() if ln.get_marker() != "o" and len(ln.get_xdata()) > 2]
    np.testing.assert_allclose(curves[1].get_xdata(), -grid)
    # given thresholds are used as they are; the negative curve is optional
    fig = plot_davg(grid, plus, t_plus=0.3)
    (dot,) = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "o"]
    assert dot.get_xdata()[0] == 0.3
    assert fig.axes[0].get_xlim() == (0.0, 1.0)
    with pytest.raises(ValueError, match="shape of 'grid'"):
        plot_davg(grid, plus[:-1])


def test_plot_class_curves_marks_per_class_thresholds(dks, null_dks):
    """One threshold per class: a dot on each class's curve, none for unresolved sides."""
    t_plus = np.array([0.1, 0.2, 1.0, 0.3, 0.25])  # class 2 keeps nothing by presence
    t_minus = np.array([-0.15, -1.0, -0.2, -0.1, -0.3])
    fig = render(plot_class_curves(dks, null_dks, t_plus, t_minus, sign="both"))
    neg, pos = fig.axes
    for ax, t, counts in (
        (pos, t_plus, (dks > t_plus[:, None]).sum(axis=1)),
        (neg, t_minus, (dks < t_minus[:, None]).sum(axis=1)),
    ):
        (dots,) = [c for c in ax.collections if c.get_gid() == "dks-class-thresholds"]
        ok = np.abs(t) < 1
        np.testing.assert_allclose(dots.get_offsets(), np.c_[t[ok], counts[ok]])
        assert not [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]  # no one line
    texts = [t.get_text() for t in pos.get_legend().get_texts()]
    assert any("per class: median 0.225 (0.100 to 0.300)" in t for t in texts)
    texts = [t.get_text() for t in neg.get_legend().get_texts()]
    assert any("median -0.175 (-0.300 to -0.100)" in t for t in texts)
    with pytest.raises(ValueError, match=r"one threshold per class, of shape \(5,\)"):
        plot_class_curves(dks, t_plus=t_plus[:3])


def test_plot_davg_shades_per_class_thresholds():
    grid = np.linspace(0, 1, 101)
    plus = np.exp(-(((grid - 0.12) / 0.1) ** 2)) * 100
    minus = np.exp(-(((grid - 0.2) / 0.1) ** 2)) * 50
    t_plus = np.array([0.1, 0.3, 0.2, 1.0])
    fig = render(plot_davg(grid, plus, minus, t_plus, np.full(4, -1.0)))
    (ax,) = fig.axes
    assert not [ln for ln in ax.get_lines() if ln.get_marker() == "o"]  # no maximum marked
    (band,) = ax.patches  # the range of the per-class t+ (t- keeps nothing: no band)
    assert (band.get_x(), band.get_x() + band.get_width()) == pytest.approx((0.1, 0.3))
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert [ln.get_xdata()[0] for ln in dashed] == [pytest.approx(0.2)]  # median
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("per class: median 0.200 (0.100 to 0.300)" in t for t in texts)
    assert any("per class: none: no class keeps anything" in t for t in texts)


def test_figures_of_all_pairs_want_one_threshold(dks):
    with pytest.raises(ValueError, match=r"draws one t_plus.*plot_class_curves or plot_davg"):
        plot_layer_distribution(dks, GROUPS, t_plus=np.full(N_CLASSES, 0.2))


# --------------------------------------------------------------------------------------------
# kept per layer (Fig. 10)
# --------------------------------------------------------------------------------------------
def test_plot_layer_kept_bars():
    kept = np.array([0.8, 0.6, 0.3])
    null = np.array([[0.10, 0.05, 0.02], [0.20, 0.15, 0.04]])
    fig = render(plot_layer_kept(kept, null, list(GROUPS)))
    (ax,) = fig.axes
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    heights = [b.get_height() for b in bars]
    np.testing.assert_allclose(heights, [80, 60, 30, 15, 10, 3])
    assert [t.get_text() for t in ax.get_xticklabels()] == list(GROUPS)
    assert ax.get_ylim() == (0.0, 100.0)
    fig = plot_layer_kept(kept)
    assert len(fig.axes[0].patches) == 3
    with pytest.raises(ValueError, match="fractions"):
        plot_layer_kept(kept * 100)
    with pytest.raises(ValueError, match="kept_null"):
        plot_layer_kept(kept, null[:, :2])
    with pytest.raises(ValueError, match="group_names"):
        plot_layer_kept(kept, group_names=["a"])


def _class_noise():
    return {
        "class": np.array(["tiny", "small", "mid", "big"]),
        "n_samples": np.array([5, 12, 40, 200]),
        "kept": np.array([0.9, 0.5, 0.3, 0.2]),
        "kept_shuffled": np.array([0.8, 0.2, 0.02, 0.0]),
        "noise_share": np.array([0.8 / 0.9, 0.4, 0.02 / 0.3, 0.0]),
        "mostly_noise": np.array([True, False, False, False]),
    }


def test_plot_class_noise_points():
    table = _class_noise()
    fig = render(plot_class_noise(table))
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    true_full, true_open, null = ax.collections
    np.testing.assert_allclose(true_full.get_offsets(), [[12, 50], [40, 30], [200, 20]])
    np.testing.assert_allclose(true_open.get_offsets(), [[5, 90]])
    np.testing.assert_allclose(null.get_offsets()[:, 1], [80, 20, 2, 0])
    assert [t.get_text() for t in ax.texts] == ["tiny"]  # only mostly-noise classes
    assert not plot_class_noise(table, annotate=False).axes[0].texts
    # one grey segment per class joins its two points
    assert len(ax.lines) == 4


def test_plot_class_noise_at_imagenet_scale_is_linear_with_few_names():
    # 1,000 classes of 732-1,300 images: within one decade a log axis would label one tick
    rng = np.random.default_rng(0)
    n = 1000
    table = {
        "class": np.array([f"n{i:08d}" for i in range(n)]),
        "n_samples": rng.integers(732, 1301, n),
        "kept": rng.uniform(0, 0.05, n),
        "kept_shuffled": rng.uniform(0, 0.01, n),
        "mostly_noise": np.arange(n) % 20 == 0,  # 50 flagged
    }
    (ax,) = render(plot_class_noise(table)).axes
    assert ax.get_xscale() == "linear"
    labelled = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert len(labelled) >= 3
    names = [t.get_text() for t in ax.texts]
    flagged = np.flatnonzero(table["mostly_noise"])
    smallest = flagged[np.argsort(table["n_samples"][flagged], kind="stable")][:12]
    assert names == [table["class"][i] for i in smallest]
    assert max(c.get_sizes().max() for c in ax.collections) < 18  # smaller marks


def test_plot_class_noise_without_shuffles_or_flags():
    table = {k: _class_noise()[k] for k in ("n_samples", "kept")}
    table["kept_shuffled"] = np.full(4, np.nan)
    (ax,) = render(plot_class_noise(table)).axes
    (only,) = ax.collections  # no shuffled points, no open markers
    assert len(only.get_offsets()) == 4 and not ax.lines


def test_plot_class_noise_into_given_axes_and_errors():
    from matplotlib.figure import Figure as Fig

    fig = Fig()
    ax = fig.subplots()
    assert plot_class_noise(_class_noise(), ax=ax) is fig
    table = _class_noise()
    with pytest.raises(ValueError, match="percents"):
        plot_class_noise({**table, "kept": table["kept"] * 100})
    with pytest.raises(ValueError, match="lacks"):
        plot_class_noise({"kept": [0.1]})
    with pytest.raises(TypeError, match="dict of columns"):
        plot_class_noise([0.1])
    with pytest.raises(ValueError, match="one length"):
        plot_class_noise({**table, "kept": table["kept"][:2]})
    with pytest.raises(ValueError, match="needs 1 Axes"):
        plot_class_noise(table, ax=[ax, ax])


# --------------------------------------------------------------------------------------------
# one feature: histograms (Fig. 1) and top images
# --------------------------------------------------------------------------------------------
def test_signed_ks_1d_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(7)
    y = np.repeat(["a", "b", "c", "d"], [30, 17, 40, 13])
    values = np.maximum(np.round(rng.normal(size=y.size) + (y == "b") - (y == "d"), 1), 0)
    d = signed_ks_1d(values, y)
    for i, c in enumerate(["a", "b", "c", "d"]):
        res = stats.ks_2samp(values[y != c], values[y == c])
        assert d[i] == pytest.approx(res.statistic * res.statistic_sign, abs=1e-12)
    assert d[1] > 0 > d[3]
    np.testing.assert_array_equal(signed_ks_1d(np.ones(10), np.arange(10) % 2), [0, 0])


def test_plot_feature_histograms_ranks_classes_by_abs_dks():
    rng = np.random.default_rng(8)
    y = np.repeat(np.array(["cat", "dog", "<fish> & co", "cow"]), 40)
    values = np.maximum(rng.normal(size=y.size) + 2.0 * (y == "dog") - 1.0 * (y == "cow"), 0)
    fig = render(plot_feature_histograms(values, y, "conv4_1_221", top=2))
    assert len(fig.axes) == 2
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("dog:") and titles[1].startswith("cow:")
    ax = fig.axes[0]
    assert len(ax.patches) == 2  # intra (filled) and inter (line)
    assert ax.get_xlabel() == "activation of conv4_1_221"
    # a given D_KS row decides the order; sign keeps only absence
    classes = ["cat", "cow", "dog", "<fish> & co"]
    fig = plot_feature_histograms(values, y, classes=classes, dks=[0.9, -0.1, 0.2, -0.5], top=3)
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["cat", "<fish> & co", "dog"]
    fig = plot_feature_histograms(
        values, y, classes=classes, dks=[0.9, -0.1, 0.2, -0.5], sign="absence"
    )
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["<fish> & co", "cow"]
    fig = render(plot_feature_histograms(values, y, top=4, ncols=2, log=True))
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="same length"):
        plot_feature_histograms(values[:-1], y)


def test_plot_top_images_from_arrays_and_paths(tmp_path):
    image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(9)
    images = rng.integers(0, 256, size=(12, 20, 24, 3), dtype=np.uint8)
    values = rng.normal(size=12)
    fig = render(plot_top_images(images, values, k=5, labels=[f"c{i}" for i in range(12)]))
    assert len(fig.axes) == 5
    order = np.argsort(-values)[:5]
    for rank, (ax, idx) in enumerate(zip(fig.axes, order, strict=True), start=1):
        assert ax.get_xlabel() == f"#{rank}: {values[idx]:.3g}\nc{idx}"
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), images[idx])
    paths = []
    for i, img in enumerate(images):
        paths.append(tmp_path / f"img{i}.png")
        image.fromarray(img).save(paths[-1])
    fig = render(plot_top_images([str(p) for p in paths], values, k=3, feature="fc7_1"))
    assert len(fig.axes) == 3
    np.testing.assert_array_equal(fig.axes[0].get_images()[0].get_array(), images[order[0]])
    # channels-first floats and gray images are accepted; more k than images is fine
    chw = [rng.uniform(0, 1, (3, 8, 8)), rng.uniform(-2, 5, (8, 8))]
    fig = render(plot_top_images(chw, [1.0, 2.0], k=9))
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="2 images but 3 values"):
        plot_top_images(chw, [1.0, 2.0, 3.0])


def test_transparent_images_are_shown_over_the_background(tmp_path):
    """Files, PIL images and 4-channel arrays alike: as the embedder composites them."""
    image = pytest.importorskip("PIL.Image")
    from dks.plotting import plot_feature_crops

    rgba = np.zeros((6, 8, 4), dtype=np.uint8)
    rgba[:, 4:] = (200, 10, 30, 255)  # the left half fully transparent (black under it)
    image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    inputs = [str(tmp_path / "t.png"), rgba, rgba.astype(float) / 255.0]
    fig = render(plot_top_images(inputs, [3.0, 2.0, 1.0], background=(0, 90, 255)))
    for ax in fig.axes:
        shown = np.asarray(ax.get_images()[0].get_array(), dtype=float)
        scale = 255.0 if shown.max() <= 1.0 else 1.0
        np.testing.assert_allclose(shown[2, 1] * scale, [0, 90, 255], atol=1e-9)
        np.testing.assert_allclose(shown[2, 6] * scale, [200, 10, 30], atol=1e-9)
    pil = image.fromarray(rgba, "RGBA")
    crops = plot_feature_crops([pil], class_images=[str(tmp_path / "t.png")], background="red")
    fig = render(crops)
    for ax in fig.axes:
        assert ax.get_images()[0].get_array()[2, 1].tolist() == [255, 0, 0]
    with pytest.raises(ValueError, match="'background' parameter must be a colour"):
        plot_top_images(inputs, [3.0, 2.0, 1.0], background="nope")


# --------------------------------------------------------------------------------------------
# saving, figure handling, lazy import
# --------------------------------------------------------------------------------------------
def test_save_figure_writes_png_and_svg_atomically(tmp_path, dks):
    fig = plot_layer_distribution(dks, GROUPS)
    written = save_figure(fig, tmp_path / "sub" / "fig5")
    assert written == [tmp_path / "sub" / "fig5.png", tmp_path / "sub" / "fig5.svg"]
    assert written[0].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in written[1].read_bytes()[:2000]
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["fig5.png", "fig5.svg"]
    umask = os.umask(0)
    os.umask(umask)
    assert (written[0].stat().st_mode & 0o777) == 0o666 & ~umask
    first_svg = written[1].read_bytes()
    assert save_figure(fig, tmp_path / "sub" / "fig5.svg", formats=["svg"]) == [written[1]]
    assert written[1].read_bytes() == first_svg  # no date, fixed ids: reproducible


def test_save_figure_leaves_nothing_on_failure(tmp_path):
    class Broken:
        def savefig(self, *args, **kwargs):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save_figure(Broken(), tmp_path / "fig")
    assert list(tmp_path.iterdir()) == []


def test_drawing_into_a_subfigure_returns_the_root_figure(dks):
    fig = Figure()
    sub = fig.subfigures(1, 2)[1]
    ax = sub.add_subplot()
    assert plot_layer_distribution(dks, GROUPS, ax=ax) is fig
    extra = Figure()
    assert plot_dks_histograms(dks, GROUPS, fig=extra) is extra
    assert len(extra.axes) == 2


def test_matplotlib_is_imported_lazily_with_a_clear_error(monkeypatch):
    for path in Path(plotting.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = [a.name for n in top_level if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in top_level if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n and n.startswith("matplotlib")]
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'dks\[plot\]'"):
        plot_layer_kept([0.5])


def test_missing_thresholds_and_null_are_tolerated(dks, null_dks):
    """A selector without thresholds (NaN) or without shuffles (NaN shares) still plots."""
    fig = render(plot_class_curves(dks, null_dks, t_plus=float("nan"), sign="both"))
    assert not [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    render(plot_layer_distribution(dks, GROUPS, t_plus=np.nan, t_minus=np.nan))
    render(plot_dks_histograms(dks, GROUPS, t_plus=np.nan))
    fig = render(plot_layer_kept([0.5, 0.4], [np.nan, np.nan], ["a", "b"]))
    assert len(fig.axes[0].patches) == 2
