"""Argument checks of the pipeline and of the ``dks`` command line, in one place.

The ranges are not written here: each parameter is checked against the
``_parameter_constraints`` of the estimator that receives it (``bins`` is
:class:`~dks.KSCharacterizer`'s ``n_bins``, ``shuffles`` is
:class:`~dks.NoiseThresholdSelector`'s ``n_shuffles``, ...), so that the estimator, the
Python functions and the command line accept the same values. Messages name the parameter
as the caller knows it (:func:`dks._options.option`): ``shuffles`` in Python,
``--shuffles`` on the command line.
"""

from __future__ import annotations

import importlib
from numbers import Integral

from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)

from dks._options import option
from dks.results import AnalysisError

__all__ = ["check_parameters", "parse_bins"]

#: Pipeline parameter -> (module, estimator, parameter) whose constraints it follows.
_FROM_ESTIMATORS = {
    "bins": ("dks.characterize", "KSCharacterizer", "n_bins"),
    "jobs": ("dks.characterize", "KSCharacterizer", "n_jobs"),
    "shuffles": ("dks.select", "NoiseThresholdSelector", "n_shuffles"),
    "resolution": ("dks.select", "NoiseThresholdSelector", "resolution"),
    "thresholds": ("dks.select", "NoiseThresholdSelector", "thresholds"),
    "max_noise_share": ("dks.select", "NoiseThresholdSelector", "max_noise_share"),
    "resize": ("dks.embed", "CNNEmbedder", "resize"),
    "crop_size": ("dks.embed", "CNNEmbedder", "crop_size"),
    "batch_size": ("dks.embed", "CNNEmbedder", "batch_size"),
    "workers": ("dks.embed", "CNNEmbedder", "num_workers"),
}

#: Values the pipeline accepts beyond the estimator's: ``bins="exact"`` is ``n_bins=None``.
_ALSO = {"bins": [StrOptions({"exact"})]}

#: Constraints of the pipeline's own parameters, and where the pipeline is stricter.
_OWN = {
    "limit_per_class": [Interval(Integral, 1, None, closed="left"), None],
    "class_depth": [Interval(Integral, 1, None, closed="left")],
    # The pipeline's thresholds come from shuffled labels (method="shuffle"), for which
    # NoiseThresholdSelector.fit needs at least one labeling; its declared range also
    # admits 0, for method="fdr".
    "shuffles": [Interval(Integral, 1, None, closed="left")],
    # KSCharacterizer declares any int, but joblib gives n_jobs=0 no meaning; failing here
    # spares the user an embedding computed in vain.
    "jobs": [
        Interval(Integral, None, -1, closed="right"),
        Interval(Integral, 1, None, closed="left"),
        None,
    ],
}


def _constraints(name):
    if name in _OWN:
        return _OWN[name]
    module, estimator, parameter = _FROM_ESTIMATORS[name]
    cls = getattr(importlib.import_module(module), estimator)
    return [*_ALSO.get(name, []), *cls._parameter_constraints[parameter]]


def check_parameters(caller, **values):
    """Check pipeline parameters against the constraints of the estimators that take them.

    Parameters
    ----------
    caller : str
        Named in the message (``"analyze"``, ``"dks analyze"``).
    **values
        The parameters to check (``bins``, ``jobs``, ``shuffles``, ``resolution``,
        ``thresholds``, ``max_noise_share``, ``resize``, ``crop_size``, ``batch_size``,
        ``workers``, ``limit_per_class``). The embedding parameters import torch.

    Raises
    ------
    AnalysisError
        For the first value out of range: ``The '--shuffles' parameter of dks analyze must
        be an int in the range [1, inf). Got 0 instead.``
    """
    for name, value in values.items():  # in order, so that torch is imported only if needed
        label = option(name)  # --shuffles inside dks._options.command_line()
        if name == "bins" and isinstance(value, str):
            value = value.lower()
        try:
            validate_parameter_constraints(
                {label: _constraints(name)}, {label: value}, caller_name=caller
            )
        except InvalidParameterError as exc:
            raise AnalysisError(str(exc)) from None


def parse_bins(bins):
    """``n_bins`` of :class:`~dks.KSCharacterizer` for a checked ``bins`` (None: exact)."""
    if bins is None or (isinstance(bins, str) and bins.lower() == "exact"):
        return None
    return int(bins)
