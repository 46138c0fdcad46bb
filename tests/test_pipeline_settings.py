"""dks.results._settings.EmbedSettings: the one spec of the embedding settings."""

import inspect
from dataclasses import MISSING, fields

import pytest

from dks.cli import build_parser
from dks.pipeline import AnalysisError, analyze, embed
from dks.results._settings import (
    STORE_SETTINGS,
    EmbedSettings,
    cli_flags,
    manifest_settings,
    recorded,
)


@pytest.mark.parametrize("step", [embed, analyze])
def test_the_steps_take_the_settings_of_the_spec_with_its_defaults(step):
    parameters = inspect.signature(step).parameters
    for f in fields(EmbedSettings):
        assert f.name in parameters, f"{step.__name__} lacks {f.name}"
        assert parameters[f.name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[f.name].default == f.default, f.name
        assert f.default is not MISSING and f.metadata["doc"]


def test_every_setting_has_its_cli_flag():
    flags = cli_flags()
    assert flags["crop_size"] == "--crop" and flags["batch_size"] == "--batch-size"
    parser = build_parser()
    embed_parser = parser._subparsers._group_actions[0].choices["embed"]
    known = {s for a in embed_parser._actions for s in a.option_strings}
    assert set(flags.values()) <= known


def test_of_picks_the_settings_and_parses_the_shard():
    arguments = {f.name: f.default for f in fields(EmbedSettings)}
    settings = EmbedSettings.of({**arguments, "shard": "1/3", "out": "ignored"})
    assert settings.shard == (1, 3) and settings.crops == "ten"
    with pytest.raises(AnalysisError, match="shard"):
        EmbedSettings.of({**arguments, "shard": "3/3"})


def test_embedder_parameters_are_those_of_cnnembedder():
    torch = pytest.importorskip("torch")  # noqa: F841
    from dks.embed import CNNEmbedder

    names = set(inspect.signature(CNNEmbedder).parameters)
    parameters = EmbedSettings().embedder_parameters()
    assert set(parameters) <= names
    assert parameters["num_workers"] is None and parameters["random_state"] == 0
    default = inspect.signature(CNNEmbedder).parameters["precision"].default
    assert parameters["precision"] == default == "auto"  # float32 on the CPU
    assert "export_npy" not in parameters and "model" not in parameters


def test_the_manifest_records_the_settings_the_spec_says(tmp_path):
    """The embedder writes the store's manifest (dks.embed, which cannot import the
    pipeline): its settings, and with them the fingerprint, are those the spec names."""
    pytest.importorskip("torch")
    from dks.embed import CNNEmbedder
    from dks.store import open_embedding
    from tests.embed_helpers import TINY_LAYERS, random_images, tiny_cnn

    small = dict(crops="center", resize=16, crop_size=16, num_workers=0, progress=False)
    embedder = CNNEmbedder(tiny_cnn(), layers=TINY_LAYERS, output=tmp_path / "e.zarr", **small)
    embedder.fit_transform(random_images(3, size=(20, 24)))
    assert sorted(open_embedding(tmp_path / "e.zarr").settings) == sorted(manifest_settings())
    assert set(STORE_SETTINGS) < set(manifest_settings())
    assert not set(STORE_SETTINGS) & set(recorded("both", "embedding.json"))
