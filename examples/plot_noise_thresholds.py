"""
Noise thresholds from shuffled labels: ``NoiseThresholdSelector``
=================================================================

A :math:`D_{KS}` slightly above 0 can be chance. :class:`~dks.NoiseThresholdSelector` learns
how large chance values get by recomputing every :math:`D_{KS}` with shuffled labels (same
class sizes, no link to the features), and sets the two thresholds :math:`t^+` and :math:`t^-`
where the true labels stand out most over the shuffled ones: the maxima of the paper's average
distance curves (Eq. 4). Pairs beyond the thresholds characterize their class, by presence
(:math:`D_{KS} > t^+`) or absence (:math:`D_{KS} < t^-`); the others are noise.

The features are again the 64 pixels of scikit-learn's digits, and the figures are those of
:mod:`dks.plotting`, as in the report of ``dks analyze``.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from dks import NoiseThresholdSelector
from dks.plotting import plot_class_curves, plot_davg, plot_layer_kept

digits = load_digits(as_frame=True)
X, y = digits.data, digits.target

# %%
# Fit the selector
# ----------------
# Twenty shuffles cost little more than one: the work that does not depend on the labels is
# shared by all labelings. ``random_state`` fixes the permutations.

sel = NoiseThresholdSelector(n_shuffles=20, random_state=0).fit(X, y)
print(f"t+ = {sel.t_plus_:.3f}, t- = {sel.t_minus_:.3f}")
print(f"dks_ {sel.dks_.shape}, null_dks_ {sel.null_dks_.shape} (shuffles, classes, features)")

# %%
# The average distance curves
# ---------------------------
# For each :math:`x` of ``grid_`` (0, 0.001, ..., 1): the mean number of features per class
# with :math:`D_{KS} > x`, minus the same under shuffled labels (``d_avg_plus_``, drawn at
# :math:`x`), and the same for :math:`D_{KS} < -x` (``d_avg_minus_``, drawn at :math:`-x`).
# The thresholds are the maxima (the smallest :math:`x` on ties).

fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
plot_davg(sel.grid_, sel.d_avg_plus_, sel.d_avg_minus_, sel.t_plus_, sel.t_minus_, ax=ax)

# %%
# Per class, true versus shuffled labels (Fig. 9)
# -----------------------------------------------
# Each black line is a digit: at :math:`x`, how many pixels have :math:`D_{KS}` beyond
# :math:`x`. Red lines: the same for the 20 × 10 classes of the shuffled labelings. Chance
# alone gives nothing beyond about 0.1; every digit has dozens of pixels beyond the threshold
# (dashed), on both sides.

fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
plot_class_curves(sel.dks_, sel.null_dks_, sel.t_plus_, sel.t_minus_, sign="both", ax=axes)

# %%
# Relevance of every pixel for every digit
# ----------------------------------------
# ``relevance_`` is +1 (presence), -1 (absence) or 0 (noise) per pair. Compare with the
# :math:`D_{KS}` maps of :ref:`sphx_glr_auto_examples_plot_characterize_features.py`: the
# faint values near 0 are gone.

fig, axes = plt.subplots(2, 5, figsize=(9, 4.2), layout="constrained")
for ax, digit, row in zip(axes.ravel(), sel.classes_, sel.relevance_, strict=True):
    ax.imshow(row.reshape(8, 8), cmap="RdBu_r", vmin=-1.5, vmax=1.5)
    ax.set_title(f"digit {digit}")
    ax.set_axis_off()
fig.suptitle("relevance_: red = presence (+1), blue = absence (-1), white = noise")

print(pd.DataFrame(sel.n_characteristic_).to_string(index=False))

# %%
# Features and selection
# ----------------------
# ``get_support()`` marks the pixels relevant for at least one digit, and ``transform``
# keeps them. ``noise_features()`` lists the pixels that are noise for every digit: the
# constant ones and a few at the border.

print(
    f"{sel.get_support().sum()} of {X.shape[1]} pixels kept: transform gives "
    f"{sel.transform(X).shape}"
)
print("noise for every digit:", sel.feature_names_in_[sel.noise_features()].tolist())
print(
    "kept by presence only:",
    sel.feature_mask("presence").sum(),
    "| by absence only:",
    sel.feature_mask("absence").sum(),
)

# %%
# Per group of features (Fig. 10)
# -------------------------------
# With CNN features, groups are layers, found from names such as ``conv4_1_17``
# (:func:`dks.groups.feature_groups` splits at the last underscore). The pixel names
# ``pixel_<row>_<column>`` split the same way, so here each image row is a "layer".
# ``layer_summary()`` gives, per group, the share of (class, feature) pairs kept with the true
# and with the shuffled labels (the paper's Fig. 10).

summary = sel.layer_summary()
print(pd.DataFrame(summary).round(3).to_string(index=False))

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
plot_layer_kept(summary["kept"], summary["kept_shuffled"], summary["group"], ax=ax)

# %%
# Every row keeps about 70% of its pairs with the true labels, and 2–3% with shuffled labels:
# the green bars estimate how many of the kept pairs chance alone would put beyond the
# thresholds. In the paper, convolutional layers keep 60–80% of their pairs and fc7 much
# fewer.

# %%
# Shuffle thresholds or false discovery rate
# ------------------------------------------
# ``method="fdr"`` selects pairs by Benjamini–Hochberg on the KS p-values instead, at level
# ``alpha``; no shuffles are needed. On this balanced dataset both keep about the same pairs.
# The shuffle thresholds reproduce the paper and assume nothing about the data; FDR controls
# an error rate and adapts to class sizes (see the :ref:`User Guide <thresholds>`).

fdr = NoiseThresholdSelector(method="fdr", alpha=0.05, n_shuffles=0).fit(X, y)
agree = np.mean(fdr.relevance_ == sel.relevance_)
print(
    f"pairs kept: shuffle {np.mean(sel.relevance_ != 0):.1%}, "
    f"fdr {np.mean(fdr.relevance_ != 0):.1%}; same decision on {agree:.1%} of the pairs"
)
plt.show()
