"""
Reproducing the paper's Table 4 and figures
===========================================

The paper's whole study, for a user who has the datasets and the VGG19 weights: the three
datasets (flowers102, cub200, mit67) and the ImageNet validation subset built from their
official files, each analyzed with VGG19 as in the paper (every convolutional layer and fc7,
ten crops, 100 bins), then compared in one report, with the paper's Table 4 printed beside
the measured values.

This script is not run when the documentation is built: it embeds some 22,000 images with
VGG19 (hours on a CPU, minutes on a GPU). Set the folders below, then run
``python reproduce_paper.py``. Each step is skipped when its result is already there, so an
interrupted run continues where it stopped; the analyses reuse a saved embedding.

Where to get the files (extract each archive into its folder):

* flowers102: https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (``102flowers.tgz``,
  ``imagelabels.mat``, ``setid.mat``), or ``download=True`` below;
* cub200: https://www.vision.caltech.edu/datasets/cub_200_2011/ (``CUB_200_2011.tgz``);
* mit67: https://web.mit.edu/torralba/www/indoor.html (``indoorCVPR_09.tar``,
  ``TrainImages.txt``, ``TestImages.txt``);
* ImageNet: https://image-net.org/ (``ILSVRC2012_img_val.tar`` and
  ``ILSVRC2012_devkit_t12.tar.gz``).

VGG19's ImageNet weights are torchvision's (downloaded once into torch's cache); set
``WEIGHTS`` to a ``state_dict`` file to work offline.
"""

from pathlib import Path

import dks
from dks import datasets

DATA = Path("~/data").expanduser()  # the extracted official files
WORK = Path("~/dks_paper").expanduser()  # image folders of links, results, comparison
WEIGHTS = "DEFAULT"  # or the path of a VGG19 state_dict file
DEVICE = "auto"  # "cuda" if you have one

SOURCES = {
    # name: (builder, folder of its official files, keyword arguments)
    "mit67": (datasets.make_mit67, DATA / "mit67", {}),
    "cub200": (datasets.make_cub200, DATA / "CUB_200_2011", {}),
    "flowers102": (datasets.make_flowers102, DATA / "flowers102", {"download": True}),
    "imagenet_val": (datasets.make_imagenet_val, DATA / "imagenet", {}),
}

# %%
# 1. The datasets, in the paper's splits, as image folders of links
for name, (builder, root, kwargs) in SOURCES.items():
    if not (WORK / "images" / name).is_dir():
        builder(root, WORK / "images" / name, **kwargs)

# %%
# 2. One analysis per dataset, with the paper's embedding
for name in SOURCES:
    dks.analyze(
        WORK / "images" / name,
        out=WORK / f"res_{name}",
        model="vgg19",
        weights=WEIGHTS,
        layers="paper",
        crops="ten",
        device=DEVICE,
        bins=100,
        shuffles=5,
    )

# %%
# 3. The comparison: Table 4, Figs. 5, 6/8 (ImageNet as the reference), 9, 10, in words
comparison = dks.compare(
    [WORK / f"res_{name}" for name in SOURCES],
    WORK / "compare",
    names=list(SOURCES),
    reference="imagenet_val",
)

# %%
# 4. The paper's Table 4 beside the measured values
paper = {row["dataset"]: row for row in comparison["paper"]}
print(f"{'':<14}{'t+':>16}{'d_avg(t+)':>20}{'t-':>18}{'d_avg(t-)':>20}")
print(f"{'dataset':<14}" + "".join(f"{'paper':>9}{'here':>9}" for _ in range(4)))
for row in comparison["datasets"]:
    ref = paper.get(row["dataset"], {})
    cells = []
    for key, fmt in (
        ("t_plus", ".3f"),
        ("d_avg_t_plus", ",.0f"),
        ("t_minus", ".3f"),
        ("d_avg_t_minus", ",.0f"),
    ):
        expected = ref.get(key)
        cells.append(f"{'–' if expected is None else format(expected, fmt):>9}")
        cells.append(f"{format(row[key], fmt):>9}")
    print(f"{row['dataset']:<14}" + "".join(cells))
print()
for sentence in comparison["text"]:
    print("-", sentence)
print(f"\nThe report: {comparison['report']}")

# %%
# 5. What a feature looks at: the paper's Fig. 3 shows fc7 feature 1946 on cub200, a feature
# of colourful flying animals whose absence characterizes dull water birds.
dks.visualize(WORK / "res_cub200", "fc7_1946", sign="absence", out=WORK / "fig3_fc7_1946.png")
print(f"Fig. 3: {WORK / 'fig3_fc7_1946.png'}")
