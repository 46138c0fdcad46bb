"""The scikit-learn estimator contract, checked by sklearn's own test battery."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import dks
from dks import KSCharacterizer


@parametrize_with_checks([KSCharacterizer(), KSCharacterizer(n_bins=None, block_size=2)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_import_dks_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, dks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_api():
    assert {"KSCharacterizer", "NoiseThresholdSelector", "CNNEmbedder"} <= set(dks.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dks.nope  # noqa: B018
