"""What each figure shows and how to read it, in words: the titles and captions of the
HTML report (:func:`dks.report.write_report`), kept beside the figures they describe."""

#: Title and caption of each figure, by the key of the figure in the report and the results
#: folder (see :mod:`dks.report`).
FIGURE_TEXT = {
    "layer_distribution": (
        "D_KS distribution per layer (paper's Fig. 5)",
        "For each layer, all its (feature, class) pairs: the positive side (D_KS > 0, ▲) and the "
        "negative side (D_KS < 0, ▼) are each shown by their mode and an error bar enclosing 68% "
        "of that side's pairs on each side of the mode (μ ± σ for a normal distribution). Modes "
        "far from 0 mean that most of the layer's pairs are informative, by the feature's "
        "presence in the class (above 0) or its absence (below 0). In the paper the gap between "
        "the two sides narrows in deeper layers, whose features are more specific.",
    ),
    "dks_histograms": (
        "D_KS histograms, low/mid vs high layers (paper's Fig. 6)",
        "Share (%) of (feature, class) pairs per D_KS bin, for the low and middle layers (left) "
        "and the last layers (right). D_KS near 0 means the feature says little about the class. "
        "In the paper, low/mid layers have very few values near 0, while the last convolution "
        "and fc7 pile up near 0, mostly on the negative side: high-level features are either "
        "characteristic of a class by their presence or irrelevant to it.",
    ),
    "class_curves": (
        "Features above x per class, true vs shuffled labels (paper's Fig. 9)",
        "Each black line is a class: at x, the number of features with D_KS > x. Red lines: the "
        "same for the classes of the shuffled labelings, i.e. what chance alone produces. The "
        "dashed line is t+. A class whose black line is still high at t+ is richly "
        "characterized; one near 0 there has few features that describe it beyond noise.",
    ),
    "class_curves_negative": (
        "Features below x per class, true vs shuffled labels (Fig. 9, negative side)",
        "As Fig. 9 for absence: each black line is a class, at x (< 0) the number of features "
        "with D_KS < x; red lines with shuffled labels; the dashed line is t-.",
    ),
    "davg": (
        "Average distance to shuffled labels, d_avg (paper's Eq. 4)",
        "d_avg(x) is the mean number of features per class beyond x with the true labels minus "
        "the same with shuffled labels (the mean gap between the black and red lines of Fig. 9); "
        "the curve for D_KS < x is drawn at negative x. The thresholds t+ and t- are where it "
        "peaks (dots): beyond them, pairs are mostly signal; between t- and t+, mostly noise.",
    ),
    "class_noise": (
        "Noise rate per class against class size",
        "One point per class, at its number of images (a log axis when the sizes span ten "
        "times or more; the figure is left out when all classes have one size): the share of its "
        "(feature, class) pairs kept with the true labels (black) and with shuffled labels "
        "(red crosses: what chance alone keeps with that class's thresholds). Their ratio is "
        "the expected share of the kept pairs that are noise; open, labelled markers are the "
        "classes where it exceeds one half. With one threshold for all classes the red points "
        "climb as classes get smaller: the per-layer shares average this away.",
    ),
    "validity": (
        "Validity: ablation and stability per class (dks validate)",
        "Left: how much each class's linear probe loses (AUC) when its k most characteristic "
        "features by presence (blue) or absence (red) are replaced by their mean, beside k "
        "random features and k features of D_KS near 0 from the same layers (greys). Right: "
        "the Jaccard index of the pairs kept by two disjoint halves of the class (mean and "
        "range over splits) and what random sets of the same sizes give (red x): a class "
        "near its x has a verdict that another sample would not repeat.",
    ),
    "layer_kept": (
        "Pairs kept per layer (paper's Fig. 10)",
        "Share of each layer's (feature, class) pairs kept by the thresholds (D_KS > t+ or "
        "D_KS < t-), with the true labels (blue) and with shuffled labels (green, how much noise "
        "gets through). In the paper, convolutional layers keep 60% to 80% of their pairs and "
        "fc7 much fewer: high-level features are irrelevant to more classes.",
    ),
    "feature_histograms": (
        "Intra- vs inter-class activations of a feature (paper's Fig. 1)",
        "For the classes where this feature's |D_KS| is largest: the histogram of its "
        "activations on the class's images (intra, filled) over that on all other images "
        "(inter, line), as densities. D_KS > 0: the feature is higher in the class "
        "(characteristic by presence); D_KS < 0: lower (by absence).",
    ),
    "feature_crops_presence": (
        "What a feature characteristic by presence looks at (paper's Fig. 2)",
        "The images with the highest activation of the class's top feature by presence, each "
        "cropped to the receptive field of the position where the filter responds most (found "
        "by running the network again on these images only); a fully connected feature sees "
        "the whole image. The value under each crop is the feature's value in the embedding.",
    ),
    "feature_crops_absence": (
        "What a feature characteristic by absence looks at (paper's Figs. 3 and 4)",
        "Top: the images with the highest activation of the class's top feature by absence, "
        "cropped to where it responds most (what the feature detects). Middle: the images where "
        "it is lowest. Bottom: images of the class, which mostly lack what the feature detects.",
    ),
    "top_images": (
        "Images where the feature is largest",
        "The dataset's images where the feature's value is largest, largest first, with the "
        "value and the class: what the feature responds to. Values are those of the hooked "
        "layer: after ReLU for VGG, signed for EfficientNet-Lite0's block outputs (no "
        "activation after their projection), where the largest may be negative.",
    ),
}


#: Captions of the figures that draw the thresholds, when there is one pair per class
#: (``thresholds="per_class"``): they replace those of :data:`FIGURE_TEXT`.
PER_CLASS_CAPTIONS = {
    "class_curves": (
        "Each black line is a class: at x, the number of features with D_KS > x. Red lines: the "
        "same for the classes of the shuffled labelings, what chance alone produces. The "
        "thresholds are per class: the dot on each black line is that class's t+ (classes that "
        "keep nothing by presence have none); small classes, whose chance D_KS are larger, get "
        "larger thresholds."
    ),
    "class_curves_negative": (
        "As Fig. 9 for absence: each black line is a class, at x (< 0) the number of features "
        "with D_KS < x; red lines with shuffled labels; the dot on each black line is that "
        "class's t-."
    ),
    "davg": (
        "d_avg(x) is the mean number of features per class beyond x with the true labels minus "
        "the same with shuffled labels (Eq. 4); the curve for D_KS < x is drawn at negative x. "
        "Here the thresholds were learned per class, not at the peaks of these averages: the "
        "shaded bands are the range of the per-class t+ and t- (of the classes that keep "
        "something) and the dashed lines their medians."
    ),
}
