"""dks.analysis._parameters: ranges come from the estimators' ``_parameter_constraints``."""

import pytest

from dks.analysis._parameters import check_parameters, parse_bins
from dks.characterize import KSCharacterizer
from dks.pipeline import AnalysisError
from dks.select import NoiseThresholdSelector


@pytest.mark.parametrize(
    "values",
    [
        {"bins": 100},
        {"bins": "exact"},
        {"bins": "EXACT"},
        {"bins": None},
        {"shuffles": 1},
        {"resolution": 0.01},
        {"jobs": -1},
        {"jobs": None},
        {"limit_per_class": None},
        {"limit_per_class": 3},
    ],
)
def test_accepted(values):
    check_parameters("analyze", **values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"bins": 1}, "The 'bins' parameter of analyze must be"),
        ({"bins": "fine"}, "The 'bins' parameter of analyze must be"),
        ({"shuffles": 0}, "The 'shuffles' parameter of analyze must be an int in the range"),
        ({"resolution": 1.0}, "The 'resolution' parameter of analyze must be"),
        ({"jobs": "all"}, "The 'jobs' parameter of analyze must be"),
        ({"jobs": 0}, "The 'jobs' parameter of analyze must be"),
        ({"limit_per_class": 0}, "The 'limit_per_class' parameter of analyze must be"),
    ],
)
def test_rejected_with_the_parameter_and_value(values, expected):
    with pytest.raises(AnalysisError, match=expected) as info:
        check_parameters("analyze", **values)
    assert f"Got {next(iter(values.values()))!r} instead" in str(info.value)


def test_messages_can_name_command_line_flags():
    from dks._options import command_line

    with (
        command_line(),
        pytest.raises(AnalysisError, match="The '--shuffles' parameter of dks characterize"),
    ):
        check_parameters("dks characterize", shuffles=-2)


def test_ranges_are_the_estimators(monkeypatch):
    """Changing an estimator's constraint changes what the pipeline accepts."""
    check_parameters("analyze", resolution=0.5)
    constraints = {**NoiseThresholdSelector._parameter_constraints, "resolution": [None]}
    monkeypatch.setattr(NoiseThresholdSelector, "_parameter_constraints", constraints)
    with pytest.raises(AnalysisError, match="'resolution' parameter"):
        check_parameters("analyze", resolution=0.5)
    constraints = {**KSCharacterizer._parameter_constraints, "n_bins": [None]}
    monkeypatch.setattr(KSCharacterizer, "_parameter_constraints", constraints)
    with pytest.raises(AnalysisError, match="'bins' parameter"):
        check_parameters("analyze", bins=100)
    check_parameters("analyze", bins="exact")


def test_parse_bins():
    assert parse_bins("Exact") is None and parse_bins(None) is None and parse_bins(50) == 50


@pytest.mark.parametrize(
    ("option", "value"),
    [("--shuffles", "0"), ("--bins", "1"), ("--resolution", "1.5"), ("--jobs", "0")],
)
def test_command_line_names_the_flag(tmp_path, capsys, option, value):
    from dks.cli import main

    code = main(["characterize", str(tmp_path), option, value])
    err = capsys.readouterr().err
    assert code == 2
    assert "usage: dks characterize" in err
    assert f"dks characterize: error: The '{option}' parameter of dks characterize" in err
    assert f"Got {value}" in err
    assert list(tmp_path.iterdir()) == []
