import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_report_header(config):
    return f"NUMBA_DISABLE_JIT={os.environ.get('NUMBA_DISABLE_JIT', '0')}"
