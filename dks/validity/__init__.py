"""Evidence that the characterization means something: :func:`ablation` and :func:`stability`.

- :func:`ablation`: is relevance importance? Each class's one-vs-rest probe loses more AUC
  when its most characteristic features are replaced by their mean than when random
  features, or features of D_KS near 0 from the same layers, are.
- :func:`stability`: is the verdict reproducible? Two disjoint halves of every class,
  characterized and thresholded apart, keep the same pairs (Jaccard index, over all pairs,
  per class and per layer); bootstrap intervals of the thresholds ``t+`` and ``t-``.

Both take any feature matrix (numpy, scikit-learn; no torch); ``dks validate RESULTS_DIR``
runs them on a results folder. See :ref:`validity`.

==============  ========================================================
``_ablation``   :func:`ablation` and :class:`AblationResult`
``_stability``  :func:`stability` and :class:`StabilityResult`
``_common``     input checks, layers, the CSV tables
==============  ========================================================
"""

from dks.validity._ablation import ABLATION_COLUMNS, AblationResult, ablation
from dks.validity._stability import (
    STABILITY_COLUMNS,
    UNSTABLE_JACCARD,
    StabilityResult,
    stability,
)

__all__ = [
    "ABLATION_COLUMNS",
    "STABILITY_COLUMNS",
    "UNSTABLE_JACCARD",
    "AblationResult",
    "StabilityResult",
    "ablation",
    "stability",
]
