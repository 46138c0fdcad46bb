"""
Comparing datasets side by side
===============================

The paper's findings are comparisons: three datasets analyzed with the same network, their
noise thresholds in one table (Table 4), their per-layer :math:`D_{KS}` distributions in one
figure (Figs. 5, 6, 10) and their per-class curves side by side (Fig. 9).
:func:`dks.compare` (``dks compare RES_A RES_B --out DIR``) does this for any results
folders made with the same model and layers.

Here two small datasets are cut out of the default dataset (Fashion-MNIST): *tops*, five
classes of similar garments (a fine-grained dataset, like the paper's flowers102 and cub200),
and *mixed*, five classes as different as trousers, sandals and bags (a broad one). Each is
embedded with EfficientNet-Lite0 (offline weights), a few images with a single centre crop to
keep this example fast, and characterized (:func:`dks.pipeline.embed` and
:func:`~dks.pipeline.characterize`; :func:`dks.analyze` does both and draws the report of each);
then the two results folders are compared.
"""

import tempfile
from pathlib import Path

import numpy as np

import dks
from dks import pipeline
from dks.datasets import export_image_folder, load_fashion_mnist

work = Path(tempfile.mkdtemp(prefix="dks-compare-"))
images, y, class_names = load_fashion_mnist(split="test", n_per_class=12, random_state=0)
subsets = {
    "tops": ["T-shirt/top", "Pullover", "Dress", "Coat", "Shirt"],
    "mixed": ["Trouser", "Sandal", "Bag", "Sneaker", "Ankle boot"],
}

# %%
# One analysis per dataset
# ------------------------
# Small images and one centre crop: seconds instead of minutes.

for name, wanted in subsets.items():
    keep = np.isin(np.asarray(class_names)[y], wanted)
    export_image_folder(images[keep], y[keep], class_names, root=work / name)
    # embed + characterize: all that a comparison needs (``dks.analyze`` also draws a report)
    pipeline.embed(
        work / name,
        out=work / f"res_{name}",
        model="efficientnet_lite0",
        crops="center",
        resize=64,
        crop_size=64,
        workers=0,
        progress=False,
        verbose=False,
    )
    pipeline.characterize(work / f"res_{name}", shuffles=3, verbose=False)

# %%
# The comparison
# --------------
# ``comparison.json`` and ``report.html`` (one self-contained page) are written to ``out``;
# the returned dict holds Table 4 for both datasets, beside the paper's rows, and the
# comparison in words.

comparison = dks.compare(
    [work / "res_tops", work / "res_mixed"],
    work / "compare",
    names=list(subsets),
    verbose=False,
)
print(f"{'dataset':<22}{'t+':>8}{'d_avg(t+)':>12}{'t-':>8}{'d_avg(t-)':>12}")
rows = comparison["datasets"] + [
    {**row, "dataset": f"{row['dataset']} (paper)"} for row in comparison["paper"]
]
for row in rows:
    print(
        f"{row['dataset']:<22}{row['t_plus']:>8.3f}{row['d_avg_t_plus']:>12,.1f}"
        f"{row['t_minus']:>8.3f}{row['d_avg_t_minus']:>12,.1f}"
    )
print()
for sentence in comparison["text"]:
    print("-", sentence)

# %%
# The figures, from the arrays
# ----------------------------
# The report's figures are drawn by :mod:`dks.plotting` functions that take one dict of
# arrays per dataset: Fig. 5 with one series per dataset, and Fig. 9 with one panel per
# dataset (top: presence, bottom: absence).

import matplotlib.pyplot as plt

from dks.plotting import plot_compare_class_curves, plot_compare_layer_distribution

runs = {}
for name in subsets:
    res = dks.load_results(work / f"res_{name}")
    runs[name] = {
        "dks": res["dks"],
        "null_dks": res["null_dks"],
        "groups": res["layers"],
        "t_plus": res["thresholds"]["t_plus"],
        "t_minus": res["thresholds"]["t_minus"],
    }
plot_compare_layer_distribution(runs, fig=plt.figure(figsize=(11, 4.4), layout="constrained"))
plot_compare_class_curves(runs, fig=plt.figure(figsize=(9, 7), layout="constrained"))
plt.show()

# %%
# Clean up the temporary folder (the report is ``work / "compare" / "report.html"``).

import shutil

shutil.rmtree(work)
