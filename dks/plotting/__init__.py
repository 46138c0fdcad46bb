"""Figures of a D_KS analysis: the paper's Figs. 1, 5, 6, 9 and 10, and two more.

Every function here works from plain arrays (it does not matter how they were computed) and
returns a :class:`matplotlib.figure.Figure`. Figures are built with the object-oriented API
(``matplotlib.figure.Figure``, never ``pyplot``), so they work headless, leak no global state
and are never shown; write them with :func:`save_figure` (PNG + SVG) or put them in the HTML
report (:func:`dks.report.write_report`). matplotlib is imported only when a function runs
(``pip install dks[plot]``).

The arrays, as produced by :class:`dks.KSCharacterizer` and :class:`dks.NoiseThresholdSelector`:

- ``dks``: float (n_classes, n_features), the signed D_KS in [-1, 1], one row per class.
- ``null_dks``: float (n_shuffles, n_classes, n_features), D_KS with shuffled labels.
- ``groups``: ``dict[str, index array]`` mapping each layer to its columns, in layer order
  (e.g. from ``dks.groups.feature_groups(names)``); slices are accepted too.
- ``grid``, ``d_avg_plus``, ``d_avg_minus``: the curves of the paper's Eq. 4, with ``grid`` the
  magnitudes 0 ... 1; ``d_avg_minus[i]`` is about D_KS < ``-grid[i]``.
- ``t_plus`` >= 0 >= ``t_minus``: the noise thresholds (floats, or one per class with
  ``NoiseThresholdSelector(thresholds="per_class")``, where a figure says how it draws them).
- ``class_noise``: ``NoiseThresholdSelector.class_noise_``, the noise rate of every class.

Layout
------
One idea per module, all re-exported here:

- ``_summaries``: the numbers behind the figures (modes and bands, histograms, exceedance
  curves, one feature's D_KS); numpy only, so ``import dks.plotting`` works without
  matplotlib;
- ``_mpl``: matplotlib plumbing (lazy import, axes from ``ax=``/``fig=``, labels);
- ``_layers``: per-layer figures (Figs. 5, 6, 10); ``_thresholds``: Fig. 9 and d_avg;
  ``_noise``: the noise rate of every class against its size; ``_features``: Fig. 1;
  ``_thumbnails``: top images; ``_output``: :func:`save_figure`;
- ``_compare``: several datasets side by side (Figs. 5, 6/8, 9, 10 by dataset);
  ``_crops``: what a feature looks at (Figs. 2-4); ``_validity``: ablation and stability per
  class (:mod:`dks.validity`);
- ``_captions``: what each figure shows, in words (the report's titles and captions).

The exceedance counts and the threshold rule themselves live in :mod:`dks.thresholds`.
"""

from dks.plotting._captions import FIGURE_TEXT, PER_CLASS_CAPTIONS
from dks.plotting._features import plot_feature_histograms
from dks.plotting._layer_figures import (
    plot_dks_histograms,
    plot_layer_distribution,
    plot_layer_kept,
)
from dks.plotting._noise import plot_class_noise
from dks.plotting._region_figures import plot_feature_crops
from dks.plotting._save import save_figure
from dks.plotting._side_by_side import (
    compare_colors,
    plot_compare_class_curves,
    plot_compare_dks_histograms,
    plot_compare_layer_distribution,
    plot_compare_layer_kept,
)
from dks.plotting._summaries import (
    BAND_MASS,
    class_curves,
    dks_histogram,
    layer_mode_bands,
    mode_band,
    signed_ks_1d,
)
from dks.plotting._thresholds import plot_class_curves, plot_davg
from dks.plotting._thumbnails import plot_top_images
from dks.plotting._validity import plot_validity

__all__ = [
    "BAND_MASS",
    "FIGURE_TEXT",
    "PER_CLASS_CAPTIONS",
    "class_curves",
    "compare_colors",
    "dks_histogram",
    "layer_mode_bands",
    "mode_band",
    "plot_class_curves",
    "plot_class_noise",
    "plot_compare_class_curves",
    "plot_compare_dks_histograms",
    "plot_compare_layer_distribution",
    "plot_compare_layer_kept",
    "plot_davg",
    "plot_dks_histograms",
    "plot_feature_crops",
    "plot_feature_histograms",
    "plot_layer_distribution",
    "plot_layer_kept",
    "plot_top_images",
    "plot_validity",
    "save_figure",
    "signed_ks_1d",
]
