"""``dks characterize --local-cluster N`` / ``--scheduler``: the statistics on a Dask cluster."""

import numpy as np
import pytest

from dks.cli import main
from tests.pipeline_helpers import make_results

pytest.importorskip("distributed")


@pytest.mark.slow
def test_local_cluster_gives_the_in_memory_result(tmp_path, capsys):
    plain = make_results(tmp_path / "plain")
    dask = make_results(tmp_path / "dask")
    args = ["--shuffles", "2", "--jobs", "1", "-q"]
    assert main(["characterize", str(plain), *args]) == 0
    assert main(["characterize", str(dask), *args, "--local-cluster", "1"]) == 0
    for name in ("dks.npy", "null_dks.npy", "relevance.npy"):
        np.testing.assert_array_equal(np.load(dask / name), np.load(plain / name))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--local-cluster", "0"], "--local-cluster: expected a number of workers >= 1"),
        (
            ["--local-cluster", "2", "--scheduler", "tcp://127.0.0.1:1"],
            "not allowed with argument",
        ),
    ],
)
def test_cluster_flags_are_checked_as_flags(tmp_path, capsys, extra, message):
    out = make_results(tmp_path / "r")
    assert main(["characterize", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
