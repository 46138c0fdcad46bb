import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def flowers(tmp_path):
    """Flowers-102's official files, faked (:func:`tests.paper_helpers.fake_flowers`)."""
    from tests.paper_helpers import fake_flowers

    return fake_flowers(tmp_path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The explorer's results folder (:func:`tests.explore_helpers.make_explore_results`)."""
    from tests.explore_helpers import make_explore_results

    return make_explore_results(tmp_path_factory.mktemp("res") / "results")


@pytest.fixture(scope="module")
def server(folder):
    """The explorer serving :func:`folder` on a free port, stopped after the module."""
    import dks

    handle = dks.explore(folder, port=0)
    yield handle
    handle.stop()


def pytest_report_header(config):
    return f"NUMBA_DISABLE_JIT={os.environ.get('NUMBA_DISABLE_JIT', '0')}"


@pytest.fixture(scope="session")
def embed_images(tmp_path_factory):
    """The folder of :func:`tests.process_helpers.make_folder`, read only: shared by the
    modules that run ``dks embed`` in processes (they copy what they change)."""
    from tests.process_helpers import make_folder

    return make_folder(tmp_path_factory.mktemp("embed-images") / "images")


@pytest.fixture(scope="session")
def embed_reference(embed_images, tmp_path_factory):
    """One uninterrupted ``dks embed`` of :func:`embed_images` in one process, read only:
    the folder that killed, sharded and resumed runs must end as (computed once)."""
    from tests.process_helpers import finish, start_embed

    out = tmp_path_factory.mktemp("embed-reference") / "results"
    finish(start_embed(out, embed_images))
    return out
