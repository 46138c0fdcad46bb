"""Tuning constants of dks, in one place (as stumpy's ``config.py``).

Each constant says what it trades. They are module attributes so that an expert can change
them at run time (``dks._config.NAME = value``) before calling an estimator; the code reads them
at call time, not at import time.
"""

# ----------------------------------------------------------------------------- statistics


# ----------------------------------------------------------------------------- thresholds

#: thresholds="per_class": classes whose effective sizes n (N - n) / N are within this factor
#: pool their shuffled nulls (rescaled by the 1 / sqrt(n_eff) law of the KS null). Larger:
#: more null samples per class, but a coarser approximation for small, discrete classes.
POOL_SIZE_RATIO = 1.25

#: class_noise_["mostly_noise"] flags classes whose expected noise share exceeds this.
MOSTLY_NOISE = 0.5


# ----------------------------------------------------------------------------- embedding


# ----------------------------------------------------------------------------- store


# ----------------------------------------------------------------------------- pipeline

#: Features listed per class and side in ``top_features.csv`` (more: longer tables).
PIPELINE_TOP_FEATURES = 10

#: Of those, the features per class and side kept in ``summary.json`` and the report.
PIPELINE_SUMMARY_TOP_FEATURES = 5

#: Images shown per feature in the ``top_images_<feature>`` figures, and per row.
PIPELINE_TOP_IMAGES = 12
PIPELINE_TOP_IMAGES_COLUMNS = 6

#: Classes highlighted in the ``feature_histograms_<feature>`` figures (Fig. 1).
PIPELINE_HISTOGRAM_CLASSES = 3

#: The report's "what a feature looks at" crops (paper's Fig. 2): for the first this many
#: classes, the top feature by presence and by absence, each with this many images (the network
#: runs again on them: more classes or images make `dks report` slower).
PIPELINE_CROP_CLASSES = 2
PIPELINE_CROP_IMAGES = 9

#: Noise features named in the printed summary before "...".
PIPELINE_SUMMARY_NOISE_SHOWN = 12
