"""
Which features characterize which class: ``KSCharacterizer``
============================================================

:class:`~dks.KSCharacterizer` computes, for every (class, feature) pair, the signed
Kolmogorov–Smirnov statistic :math:`D_{KS}` between the values of the feature on the class
(intra) and on all other samples (inter). :math:`D_{KS} > 0` when the class's values are higher
(the feature characterizes the class by its *presence*), :math:`D_{KS} < 0` when they are lower
(by its *absence*).

It works on any feature matrix. Here the features are the 64 pixels of scikit-learn's
handwritten digits (8 × 8 images, ink from 0 to 16): a pixel with :math:`D_{KS} > 0` for a digit
is inked more often on that digit than on the others. With CNN activations
(:class:`~dks.CNNEmbedder`) the code is the same; only the meaning of a feature changes.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import ks_2samp
from sklearn.datasets import load_digits

from dks import KSCharacterizer
from dks.plotting import plot_feature_histograms

# %%
# Fit the characterizer
# ---------------------
# ``X`` is a DataFrame whose columns are named ``pixel_<row>_<column>``; the characterizer
# remembers the names. With the default ``n_bins=100`` each feature's range is cut into 100
# equal-width bins, as in the paper.

digits = load_digits(as_frame=True)
X, y = digits.data, digits.target
char = KSCharacterizer().fit(X, y)

print(f"{X.shape[0]} images, {X.shape[1]} features, classes {char.classes_.tolist()}")
print(
    f"dks_ has shape {char.dks_.shape} and values in [{char.dks_.min():.3f}, "
    f"{char.dks_.max():.3f}]"
)

# %%
# The sign convention, checked against SciPy
# ------------------------------------------
# :math:`D = F_{inter}(x^*) - F_{intra}(x^*)` at the point :math:`x^*` where the two empirical
# distribution functions differ most. That is ``scipy.stats.ks_2samp(inter, intra)`` with its
# sign; with ``n_bins=None`` dks computes this exact statistic for all pairs at once.

exact = KSCharacterizer(n_bins=None).fit(X, y)
pixel, digit = "pixel_3_3", 0
values = X[pixel].to_numpy()
res = ks_2samp(values[y != digit], values[y == digit])
print(
    f"{pixel} on digit {digit}: scipy {res.statistic * res.statistic_sign:+.4f}, "
    f"dks {exact.dks_[digit, X.columns.get_loc(pixel)]:+.4f}"
)

# %%
# Pixels take 17 integer values, each in a bin of its own with 100 bins, so here the binned
# statistic equals the exact one. On continuous features the binned one can be slightly
# smaller in magnitude (it compares the distributions at 100 points only).

print("largest |binned - exact|:", np.abs(char.dks_ - exact.dks_).max())

# %%
# Pixels that never change (always blank) say nothing about any class: their
# :math:`D_{KS}` is 0 by rule.

constant = X.columns[X.std() == 0].tolist()
print("constant pixels:", constant)
print("their D_KS:", np.unique(char.dks_[:, X.columns.isin(constant)]))

# %%
# D_KS of every pixel for every digit
# -----------------------------------
# One map per digit, each pixel coloured by its :math:`D_{KS}`: red where that digit is inked
# more often than the others (presence), blue where it is inked less often (absence). The
# digit's shape appears in red; the blue marks the strokes *other* digits have and this one
# lacks, such as the empty centre of a 0.

fig, axes = plt.subplots(2, 5, figsize=(9, 4.2), layout="constrained")
for ax, digit, row in zip(axes.ravel(), char.classes_, char.dks_, strict=True):
    image = ax.imshow(row.reshape(8, 8), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_title(f"digit {digit}")
    ax.set_axis_off()
fig.colorbar(image, ax=axes, shrink=0.8, label="$D_{KS}$ (class vs rest)")
fig.suptitle("Signed KS statistic of each pixel, per digit")

# %%
# The same numbers as one heatmap, classes by features: the layout of ``dks_``.

fig, ax = plt.subplots(figsize=(9, 3.2), layout="constrained")
image = ax.imshow(char.dks_, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
ax.set_yticks(range(len(char.classes_)), char.classes_)
ax.set_xlabel("feature (pixel index, row by row)")
ax.set_ylabel("class")
ax.set_title("char.dks_: one row per class, one column per feature")
fig.colorbar(image, ax=ax, label="$D_{KS}$")

# %%
# Top features per class
# ----------------------
# :meth:`~dks.KSCharacterizer.top_features` ranks the features of a class:
# ``sign="presence"`` (highest :math:`D_{KS}` first) or ``sign="absence"`` (lowest first).

names = char.get_feature_names_out()
for digit in char.classes_:
    present = char.top_features(digit, k=3, sign="presence")
    absent = char.top_features(digit, k=3, sign="absence")
    row = char.dks_[digit]
    print(
        f"digit {digit}  presence: "
        + ", ".join(f"{names[i]} ({row[i]:+.2f})" for i in present)
        + "  |  absence: "
        + ", ".join(f"{names[i]} ({row[i]:+.2f})" for i in absent)
    )

# %%
# What a large D_KS looks like
# ----------------------------
# The intra- and inter-class histograms of the pixel most characteristic of digit 0 by
# absence, for the classes where it matters most (the paper's Fig. 1). The class histogram
# (filled) sits to the left of the rest (line) when :math:`D_{KS} < 0`, to the right when
# :math:`D_{KS} > 0`.

feature = char.top_features(0, k=1, sign="absence")[0]
fig = plt.figure(figsize=(10, 3.4), layout="constrained")
plot_feature_histograms(
    X.iloc[:, feature], y, feature=names[feature], dks=char.dks_[:, feature], top=3, fig=fig
)
plt.show()
