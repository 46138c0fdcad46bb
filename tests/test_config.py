"""dks.set_config / get_config / config_context: the public tuning constants."""

import threading

import pytest

import dks
from dks import _config
from dks._config import carry_context
from dks._engine._threads import executor, run_threads


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


def _crop_images(_=None):
    """What work reads, and on which thread."""
    return _config.PIPELINE_CROP_IMAGES, threading.current_thread().name


def test_work_on_dks_threads_sees_the_callers_context():
    default = dks.get_config()["pipeline_crop_images"]
    tasks = [(i,) for i in range(8)]
    with dks.config_context(pipeline_crop_images=default + 3):
        seen = list(run_threads(_crop_images, tasks, n_jobs=2))  # the engine's pool
        submitted = executor(2).submit(_crop_images).result()  # as Dask's scheduler submits
        carried = []
        thread = threading.Thread(target=carry_context(lambda: carried.append(_crop_images())))
        thread.start()
        thread.join()
    assert {value for value, _ in seen} == {default + 3}
    assert any(name.startswith("dks") for _, name in seen)  # it ran on the pool's threads
    assert submitted[0] == default + 3 and submitted[1].startswith("dks")
    assert carried[0][0] == default + 3
    # The pool's threads keep nothing: after the block, its tasks read the default again.
    assert {value for value, _ in run_threads(_crop_images, tasks, n_jobs=2)} == {default}


def test_a_context_does_not_leak_into_other_threads():
    default = dks.get_config()["pipeline_crop_images"]
    inside, outside, errors = threading.Event(), threading.Event(), []
    seen = {}

    def setter():
        try:
            with dks.config_context(pipeline_crop_images=default + 1):
                inside.set()
                outside.wait(timeout=30)  # the other thread reads meanwhile
                seen["setter"] = _config.PIPELINE_CROP_IMAGES
            dks.set_config(pipeline_crop_images=default + 2)  # for this thread only
            seen["setter_after"] = dks.get_config()["pipeline_crop_images"]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=setter)
    thread.start()
    assert inside.wait(timeout=30)
    seen["other"] = _config.PIPELINE_CROP_IMAGES  # this thread, while the other's block runs
    outside.set()
    thread.join()
    assert not errors
    assert seen == {"setter": default + 1, "setter_after": default + 2, "other": default}
    assert dks.get_config()["pipeline_crop_images"] == default  # nothing leaked back here


def test_assigning_a_constant_sets_it_like_set_config(monkeypatch):
    default = dks.get_config()["pipeline_crop_images"]
    monkeypatch.setattr(_config, "PIPELINE_CROP_IMAGES", default + 5)
    assert dks.get_config()["pipeline_crop_images"] == default + 5
    with pytest.raises(ValueError, match="'pipeline_crop_images'"):
        _config.PIPELINE_CROP_IMAGES = "many"  # checked as set_config checks
    monkeypatch.undo()
    assert dks.get_config()["pipeline_crop_images"] == default
    with dks.config_context(pipeline_crop_images=default + 1):
        assert default + 1 == _config.PIPELINE_CROP_IMAGES  # no attribute shadows the context
