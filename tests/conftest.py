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
