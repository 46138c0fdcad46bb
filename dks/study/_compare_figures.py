"""Which figures a comparison draws, with their titles and captions."""

from __future__ import annotations

from dks.analysis import layer_kept

__all__ = ["compare_figures", "stats_of"]


def stats_of(run):
    """The arrays the comparison figures read from one run (``dks.study._compare.Run``)."""
    th = run.thresholds
    names, kept, kept_null = layer_kept(run.summary)
    return {
        "dks": run.data["dks"],
        "null_dks": run.data["null_dks"],
        "groups": run.data["layers"],
        "t_plus": th.get("t_plus"),
        "t_minus": th.get("t_minus"),
        "kept": kept,
        "kept_null": kept_null,
        "layer_names": names,
    }


def compare_figures(runs, reference, layerwise):
    """Figure key -> ``(title, caption, function making the Figure)``, in report order.

    ``layerwise`` False leaves out the per-layer figures (Figs. 5, 6/8 and 10).
    """
    from dks.plotting import (
        plot_compare_class_curves,
        plot_compare_dks_histograms,
        plot_compare_layer_distribution,
        plot_compare_layer_kept,
    )

    stats = {run.name: stats_of(run) for run in runs}
    figures = {}
    if layerwise:
        figures["compare_layer_distribution"] = (
            "D_KS distribution per layer, by dataset (paper's Fig. 5)",
            "For each layer and dataset, the mode of the positive side (▲) and of the negative "
            "side (▼) of the layer's D_KS values, with bars enclosing 68% of each side's pairs "
            "on each side of the mode. Datasets are shifted slightly left to right, in the "
            "order of the table. In the paper, the fine-grained flowers102 has the most "
            "extreme values in the low layers and mit67 the least.",
            lambda: plot_compare_layer_distribution(stats),
        )
        ref = (
            f" {reference} is the reference (thick line), as ImageNet in the paper's Fig. 8."
            if reference
            else ""
        )
        figures["compare_dks_histograms"] = (
            "D_KS histograms, low/mid vs high layers, by dataset (paper's Figs. 6 and 8)",
            "Share (%) of (feature, class) pairs per D_KS bin, for the low and middle layers "
            "(left) and the last layers (right), one line per dataset." + ref + " In the paper, "
            "the low layers behave alike on every dataset, while the high layers of the "
            "network's own training set (ImageNet) have no values near 0 nor below -0.5.",
            lambda: plot_compare_dks_histograms(stats, reference=reference),
        )
    figures["compare_class_curves"] = (
        "Features beyond x per class, true vs shuffled labels, by dataset (paper's Fig. 9)",
        "One column per dataset. Top: each black line is a class, at x the number of features "
        "with D_KS > x; red lines: the same with shuffled labels; the dashed line is t+. "
        "Bottom: the same for D_KS < x and t-. Compare where the red lines reach 0 and how "
        "many features each class keeps at the threshold.",
        lambda: plot_compare_class_curves(stats),
    )
    if layerwise:
        figures["compare_layer_kept"] = (
            "Pairs kept per layer, by dataset (paper's Fig. 10)",
            "One panel per dataset: the share of each layer's (feature, class) pairs beyond "
            "t+ or t- with the true labels (blue) and with shuffled labels (green). In the "
            "paper, convolutional layers keep 60% to 80% of their pairs and fc7 much fewer.",
            lambda: plot_compare_layer_kept(stats),
        )
    return figures
