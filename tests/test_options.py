"""Tests of how messages name options (dks/_options.py): ``param=`` in Python, ``--flag`` on
the command line, at every site that names one."""

import warnings
from pathlib import Path

import numpy as np
import pytest

from dks._options import CLI_SPELLINGS, cli_flag, command_line, on_command_line, option
from dks.pipeline import AnalysisError


def test_option_in_python():
    assert option("thresholds", "per_class") == "thresholds='per_class'"
    assert option("max_noise_share") == "max_noise_share"
    assert option("weights", None) == "weights=None"
    assert option("only_layer_independent", True) == "only_layer_independent=True"
    assert option("crop_size") == "crop_size"
    assert not on_command_line()


def test_option_on_the_command_line():
    with command_line():
        assert on_command_line()
        assert option("thresholds", "per_class") == "--thresholds per_class"
        assert option("max_noise_share") == "--max-noise-share"
        assert option("weights", None) == "--weights none"
        assert option("only_layer_independent", True) == "--only-layer-independent"
        assert option("crop_size") == "--crop"
        assert option("cls") == "--class"
        assert option("images") == "IMAGES_DIR"
        assert option("resize", 256) == "--resize 256"
    assert not on_command_line()


def test_cli_spellings_are_flags_of_the_parser():
    """Every flag spelled by dks._options exists in the ``dks`` parser."""
    from dks.cli import build_parser

    parser = build_parser()
    flags, metavars = set(), set()
    for command in parser._subparsers._group_actions[0].choices.values():
        for action in command._actions:
            flags.update(action.option_strings)
            metavars.add(action.metavar)
    for name, spelled in CLI_SPELLINGS.items():
        assert spelled in flags | metavars, name
    checked = ("bins", "shuffles", "resolution", "thresholds", "max_noise_share", "jobs")
    for name in (*checked, "limit_per_class", "resize", "crop_size", "batch_size", "workers"):
        assert cli_flag(name) in flags, name
    for name in ("weights", "device", "layers", "crops", "on_error", "shard", "model", "k"):
        assert cli_flag(name) in flags, name
    for name in ("names", "reference", "only_layer_independent", "sign", "cls", "n_classes"):
        assert cli_flag(name) in flags, name


def _message(make, error=Exception):
    """The text of the error (or warning) that ``make()`` gives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            make()
        except error as exc:
            return str(exc)
    assert caught, "no error and no warning"
    return str(caught[0].message)


def _both(make, error=Exception):
    """The message of ``make()`` from Python and from inside command_line()."""
    python = _message(make, error)
    with command_line():
        cli = _message(make, error)
    return python, cli


def _assert_named(in_python, on_cli, python, cli):
    """``python`` in the Python message (which names no flag), ``cli`` in the other."""
    assert python in in_python and "--" not in in_python, in_python
    assert cli in on_cli and cli not in in_python, on_cli


def _make_run(name):
    from dks.study._compare import Run

    return Run(name, Path(name), {})


def _refusal():
    from dks.study._compare import refusal

    runs = [_make_run("a"), _make_run("b")]
    raise AnalysisError(refusal(runs, [{"what": "model", "values": {"a": "x", "b": "y"}}]))


def _selector_fdr():
    from dks import NoiseThresholdSelector

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), np.repeat([0, 1], 10)
    NoiseThresholdSelector(thresholds="per_class", method="fdr").fit(X, y)


def _check_ranges():
    from dks.analysis._parameters import check_parameters

    check_parameters("dks characterize", shuffles=-2, crop_size=None)


def _check_crop():
    from dks.analysis._parameters import check_parameters

    check_parameters("analyze", crop_size=-3)


def _visualize(**kwargs):
    from dks.pipeline import visualize

    return lambda: visualize("nowhere", "f", **kwargs)


def _parse_shard():
    from dks.store import parse_shard

    parse_shard("3/2")


def _grid(resolution):
    from dks.thresholds import threshold_grid

    return lambda: threshold_grid(resolution)


def _prepare_images():
    from dks.analysis._image_set import prepare_images

    prepare_images(None, None, 10**6, 0, None, False, print)


def _shard_images():
    from dks.analysis._embedding import check_shard_images

    check_shard_images(None, (0, 2))


@pytest.mark.parametrize(
    ("make", "python", "cli"),
    [
        (_refusal, "with only_layer_independent=True, or", "with --only-layer-independent, or"),
        (
            _selector_fdr,
            "thresholds='per_class' needs method='shuffle'",
            "--thresholds per_class needs method='shuffle'",
        ),
        (_check_ranges, "The 'shuffles' parameter of", "The '--shuffles' parameter of"),
        (_check_crop, "The 'crop_size' parameter of", "The '--crop' parameter of"),
        (_visualize(k=0), "k must be a positive integer", "--k must be a positive integer"),
        (_parse_shard, "The 'shard' parameter must be", "The '--shard' parameter must be"),
        (_grid(2.0), "resolution must be in (0, 1)", "--resolution must be in (0, 1)"),
        (
            _grid(1e-12),
            "resolution=1e-12 would make a grid",
            "--resolution 1e-12 would make a grid",
        ),
        (_prepare_images, "(limit_per_class).", "(--limit-per-class)."),
        (_shard_images, "shard needs an images folder", "--shard needs an IMAGES_DIR"),
    ],
    ids=[
        "compare-refusal",
        "select-per-class",
        "check-parameters",
        "check-crop",
        "visualize-k",
        "store-shard",
        "thresholds-range",
        "thresholds-fine",
        "limit-per-class",
        "shard-images",
    ],
)
def test_message_names_the_option_of_the_interface(make, python, cli):
    in_python, on_cli = _both(make)
    _assert_named(in_python, on_cli, python, cli)


def test_visualize_sign_message():
    """check_sign names the option as option() spells it."""
    in_python, on_cli = _both(_visualize(sign="both"))
    assert in_python.startswith("sign must be") and on_cli.startswith("--sign must be")


# ---------------------------------------------------------------- embedding (torch)
@pytest.mark.torch
@pytest.mark.parametrize(
    ("site", "python", "cli"),
    [
        ("device", "The 'device' parameter of CNNEmbedder", "The '--device' parameter of"),
        ("cuda", "Use device 'cpu', or 'auto'", "Use --device 'cpu', or 'auto'"),
        ("bad-input", "Pass on_error='skip' to skip", "Rerun with --on-error skip to skip"),
        (
            "crop",
            "use a larger resize, a smaller crop_size or crops='none'",
            "use a larger --resize, a smaller --crop or --crops none",
        ),
        ("paper-layers", "layers='paper' is not defined for", "--layers paper is not defined"),
        ("missing-weights", "weights='missing.pth' for model", "--weights missing.pth for model"),
        ("random", "weights=None: model", "--weights none: model"),
        ("lite0-missing", "Pass weights='DEFAULT' for", "Pass --weights DEFAULT for"),
        ("lite0-type", "The 'weights' parameter of", "The '--weights' parameter of"),
    ],
)
def test_embedding_messages_name_the_option(site, python, cli, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    import torch
    from PIL import Image

    from dks.embed import _arguments, _batching, _efficientnet, _embedder, _models

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    class _Source:
        def describe(self, index):
            return f"input {index}"

    def make():
        if site == "device":
            _arguments.resolve_device("gpu")
        elif site == "cuda":
            _arguments.resolve_device("cuda")
        elif site == "bad-input":
            _embedder.CNNEmbedder(on_error="raise")._bad_input(_Source(), 0, "broken")
        elif site == "crop":
            pre = _batching.Preprocess("center", None, (64, 64), (0, 0, 0), (1, 1, 1))
            pre.views(Image.new("RGB", (8, 8)))
        elif site == "paper-layers":
            info = _models.build_model(torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3)), None)
            info.resolve("paper")
        elif site == "missing-weights":
            _models._existing_file("missing.pth", "resnet18")
        elif site == "random":
            _models._warn_random("resnet18", 1)
        elif site == "lite0-missing":
            _efficientnet.efficientnet_lite0(weights="missing.pth")
        elif site == "lite0-type":
            _efficientnet.efficientnet_lite0(weights=3)

    in_python, on_cli = _both(make)
    _assert_named(in_python, on_cli, python, cli)
