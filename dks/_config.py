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
