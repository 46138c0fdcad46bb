"""The benchmarks of ``nox -s bench``: each takes ``--quick`` and shows no progress bars.

Nothing is run: the scripts are imported, their options parsed, their source read.
"""

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Estimators whose ``progress`` defaults to True (a tqdm bar in the benchmark's output).
ESTIMATORS = {"KSCharacterizer", "NoiseThresholdSelector", "CNNEmbedder"}


def _bench_scripts():
    """``BENCHMARKS`` of noxfile.py, read without importing nox."""
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
            "BENCHMARKS"
        ]:
            return ast.literal_eval(node.value)
    raise AssertionError("noxfile.py defines no BENCHMARKS")


SCRIPTS = _bench_scripts()


def _load(script):
    path = ROOT / script
    spec = importlib.util.spec_from_file_location(f"_bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_is_in_the_bench_session():
    found = {f"benchmarks/{p.name}" for p in (ROOT / "benchmarks").glob("bench_*.py")}
    assert found == set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_quick_is_a_smaller_run(script):
    module = _load(script)
    quick, full = module.parse_args(["--quick"]), module.parse_args([])
    assert quick.quick and not full.quick
    changed = {k for k in vars(full) if k != "quick" and vars(quick)[k] != vars(full)[k]}
    assert changed, f"{script}: --quick changes no size"


@pytest.mark.parametrize("script", SCRIPTS)
def test_estimators_are_built_without_progress_bars(script):
    tree = ast.parse((ROOT / script).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", None))
        if name in ESTIMATORS:
            progress = [k.value for k in node.keywords if k.arg == "progress"]
            assert len(progress) == 1 and isinstance(progress[0], ast.Constant), (
                f"{script}, line {node.lineno}: {name}(...) without progress=False"
            )
            assert progress[0].value is False, f"{script}, line {node.lineno}"
