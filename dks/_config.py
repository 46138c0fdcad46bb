"""Tuning constants of dks, in one place (as stumpy's ``config.py``).

Each constant says what it trades. They are module attributes so that an expert can change
them at run time (``dks._config.NAME = value``) before calling an estimator; the code reads them
at call time, not at import time.
"""

# ----------------------------------------------------------------------------- statistics


# ----------------------------------------------------------------------------- thresholds


# ----------------------------------------------------------------------------- embedding


# ----------------------------------------------------------------------------- store


# ----------------------------------------------------------------------------- pipeline
