"""
Does relevance mean something? Ablation and stability
=====================================================

dks says which features characterize each class. Two checks say whether that verdict means
something (:ref:`validity`):

* :func:`~dks.validity.ablation`: a linear probe of each class (trained on a training split)
  should lose more AUC when the class's most characteristic features are replaced by their
  mean than when random features, or features of :math:`D_{KS}` near 0, are;
* :func:`~dks.validity.stability`: two disjoint halves of every class, characterized and
  thresholded apart, should keep the same pairs, well beyond what chance gives.

The features are the 64 pixels of scikit-learn's digits; ``dks validate RESULTS_DIR`` runs the
same on a results folder.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from dks import NoiseThresholdSelector, ablation, stability
from dks.plotting import plot_validity

X, y = load_digits(return_X_y=True)

# %%
# Ablation
# --------
# Per digit and per ``k``: the AUC of its probe on the test split, its drop when the ``k``
# pixels of highest :math:`D_{KS}` (presence) or lowest (absence) are replaced by their
# training mean, and the drops for ``k`` random pixels and ``k`` pixels of :math:`D_{KS}`
# closest to 0. ``summary()`` gives, over digits, the median of the ratios and the share of
# digits whose relevant pixels cost at least twice as much as random ones.

abl = ablation(X, y, k=(4, 8, 16), random_state=0)
print(pd.DataFrame(abl.summary())[["k", "side", "ratio_median", "share_ge_2", "drop_median"]])

# %%
# Stability
# ---------
# Five random splits of every digit's images into halves; the Jaccard index of the pairs both
# halves keep, per digit, against two random sets of the same sizes (``jaccard_chance``).

sel = NoiseThresholdSelector(n_shuffles=5, progress=False)
stab = stability(X, y, selector=sel, n_splits=5, n_bootstrap=20, random_state=0)
print(pd.DataFrame(stab.rows("class"))[["name", "size", "jaccard", "jaccard_chance", "kept"]])
overall = stab.rows("all")
print(
    f"all pairs: Jaccard {overall['jaccard'][0]:.3f} (chance {overall['jaccard_chance'][0]:.3f}); "
    f"t+ {overall['t_plus'][0]:.3f}, 95% bootstrap interval "
    f"[{overall['t_plus_low'][0]:.3f}, {overall['t_plus_high'][0]:.3f}]"
)

# %%
# With shuffled labels there is nothing to find: the halves agree no more than chance.

shuffled = stability(
    X, np.random.default_rng(0).permutation(y), selector=sel, n_splits=5, n_bootstrap=0,
    random_state=0,
)  # fmt: skip
row = shuffled.rows("all")
print(f"shuffled labels: Jaccard {row['jaccard'][0]:.3f} (chance {row['jaccard_chance'][0]:.3f})")

# %%
# Per digit, at ``k=8``: the drops of the ablation (left) and the stability (right).

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
plot_validity(abl.table, stab.table, k=8, ax=axes)
plt.show()
