"""dks.plotting's numpy-only summaries work where matplotlib cannot be imported."""

import importlib
import sys

import numpy as np
import pytest

import dks


def test_summaries_import_and_run_without_matplotlib(monkeypatch):
    # None in sys.modules makes every `import matplotlib...` raise ImportError.
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    # Re-import dks.plotting from scratch (the originals are put back after the test).
    for name in [m for m in sys.modules if m == "dks.plotting" or m.startswith("dks.plotting.")]:
        monkeypatch.delitem(sys.modules, name)
    if hasattr(dks, "plotting"):
        monkeypatch.delattr(dks, "plotting")

    summaries = importlib.import_module("dks.plotting._summaries")
    assert summaries.mode_band([0.2, 0.3, 0.3, 0.3, 0.4])[0] == pytest.approx(0.3)
    plotting = importlib.import_module("dks.plotting")
    _, percent = plotting.dks_histogram([-0.5, 0.5], bins=2)
    np.testing.assert_array_equal(percent, [50.0, 50.0])
    _, counts = plotting.class_curves([[0.5, -0.2]], [0.0, 0.4])
    np.testing.assert_array_equal(counts, [[1, 1]])
    assert not [m for m in sys.modules if m.startswith("matplotlib.")]
    with pytest.raises(ImportError, match=r"pip install 'dks\[plot\]'"):
        plotting.plot_layer_kept([0.5])
