"""dks.set_config / get_config / config_context: the public tuning constants."""

import pytest

import dks
from dks import _config


def test_get_config_lists_the_constants_in_lower_case():
    config = dks.get_config()
    assert config["store_chunk_bytes"] == _config.STORE_CHUNK_BYTES
    assert config["tune_allocator"] is True and "pipeline_top_images" in config


def test_config_context_sets_and_restores():
    before = dks.get_config()["pipeline_crop_images"]
    with dks.config_context(pipeline_crop_images=2):
        assert dks.get_config()["pipeline_crop_images"] == 2
        assert _config.PIPELINE_CROP_IMAGES == 2  # read at call time by the code
    assert dks.get_config()["pipeline_crop_images"] == before


def test_unknown_keys_and_bad_values_raise_and_change_nothing():
    before = dks.get_config()
    with pytest.raises(TypeError, match=r"valid keys: .*store_chunk_bytes"):
        dks.set_config(store_chunk_byte=1)
    with pytest.raises(ValueError, match="'tune_allocator'"):
        dks.set_config(pipeline_top_images=3, tune_allocator="yes")
    with pytest.raises(ValueError, match="store_compression"):
        dks.set_config(store_compression="gzip")
    assert dks.get_config() == before
