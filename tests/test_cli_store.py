"""The results folder's embedding store from the command line: kill -9 and resume, shards,
bad files skipped.

The processes run ``python -m tests.cli_worker`` (``python -m dks.cli`` with 2-row chunks and
an optional sleep per batch, so that 12 tiny images make 6 chunks and a kill lands mid-run).
"""

import contextlib
import csv
import io
import json
import os
import re
import signal
import time

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("zarr")
Image = pytest.importorskip("PIL.Image")

from dks.cli import main  # noqa: E402
from dks.pipeline import load_results  # noqa: E402
from dks.store import open_embedding  # noqa: E402
from tests.process_helpers import (  # noqa: E402
    EMBED,
    N_CHUNKS,
    finish,
    n_chunks_done,
    same_folder,
    start_embed,
    temporaries,
)

pytestmark = pytest.mark.torch


@pytest.fixture
def images(embed_images):
    """The images of every ``dks embed`` process here (conftest's, shared, read only)."""
    return embed_images


@pytest.fixture
def reference(embed_reference):
    """One uninterrupted ``dks embed`` of them in one process (conftest's, computed once)."""
    return embed_reference


@pytest.mark.slow
def test_kill_9_then_rerun_continues_and_is_bit_identical(images, reference, tmp_path):
    out = tmp_path / "results"
    process = start_embed(out, images, sleep=1.0)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and n_chunks_done(out) < 2 and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    n_done = n_chunks_done(out)
    assert 2 <= n_done < N_CHUNKS, "dks embed was not killed mid-run"
    assert not (out / "embedding.json").exists()  # the folder is not committed yet

    err = finish(start_embed(out, images))
    assert f"resuming, {n_done} chunk(s)" in err
    same_folder(out, reference)
    assert temporaries(tmp_path) == []


@pytest.mark.slow
def test_two_shard_processes_make_the_folder_of_one(images, reference, tmp_path):
    out = tmp_path / "results"
    shards = [start_embed(out, images, "--shard", f"{k}/2", sleep=0.2) for k in range(2)]
    errors = [finish(p) for p in shards]
    # A shard that ends while the other still works says so; the one that ends last (or
    # both, when they end together) completes the folder.
    assert sum("The last shard to finish completes" in e for e in errors) <= 1, errors
    same_folder(out, reference)
    assert temporaries(tmp_path) == []


def _run(args):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([str(a) for a in args])
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.slow
def test_a_bad_file_is_skipped_and_listed(images, tmp_path):
    folder = tmp_path / "images"
    for c in range(2):
        (folder / f"class_{c}").mkdir(parents=True)
        for i in range(2):
            os.link(images / f"class_{c}" / f"img_{i}.png", folder / f"class_{c}" / f"{i}.png")
    (folder / "class_1" / "empty.jpg").write_bytes(b"")
    out = tmp_path / "results"

    code, _, err = _run(["embed", folder, "--out", out, *EMBED, "--on-error", "raise"])
    assert code == 1 and "Rerun with --on-error skip" in err and "on_error=" not in err

    code, _, err = _run(["embed", folder, "--out", out, *EMBED, "--export-npy"])  # the default
    assert code == 0, err
    assert "skipped 1 of 5 images" in err
    with open(out / "skipped.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["path"], r["class"]) for r in rows] == [
        (str(folder / "class_1" / "empty.jpg"), "class_1")
    ]
    assert rows[0]["reason"]
    meta = json.loads((out / "embedding.json").read_text())
    assert len(meta["images"]) == len(meta["labels"]) == 4
    assert "class_1/empty.jpg" not in meta["images"] and len(meta["skipped"]) == 1
    X = np.load(out / "embedding.npy")
    np.testing.assert_array_equal(X, np.asarray(open_embedding(out / "embedding.zarr").X))
    assert X.shape[0] == 4 and np.isfinite(X).all()
    assert np.asarray(load_results(out)["embedding"]).tobytes() == X.tobytes()


@pytest.mark.parametrize("value", ["2/2", "-1/2", "1", "a/b"])
def test_bad_shard_names_the_flag(tmp_path, value, capsys):
    code = main(["embed", str(tmp_path), "--out", str(tmp_path / "r"), "--shard", value])
    assert code == 2
    assert "--shard" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_shard_needs_an_image_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(["embed", "--out", tmp_path / "r", "--shard", "0/2"])
    assert code == 1 and "--shard needs an IMAGES_DIR" in err
    assert not (tmp_path / "r").exists()


def _message_of(make):
    """The message of the error that ``make()`` raises, as a ``dks`` command shows it."""
    from dks._options import command_line

    with command_line(), pytest.raises(Exception) as info:
        make()
    return str(info.value)


def _bad_input():
    from dks.embed import CNNEmbedder

    class Source:
        def describe(self, index):
            return "x"

    CNNEmbedder(on_error="raise")._bad_input(Source(), 0, "broken")


def _no_cuda():
    from dks.embed._arguments import resolve_device

    if torch_cuda_available():
        pytest.skip("CUDA is available")
    resolve_device("cuda")


def torch_cuda_available():
    import torch

    return torch.cuda.is_available()


def _paper_layers():
    import torch

    from dks.embed._models import build_model

    build_model(torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3)), None).resolve("paper")


def _small_image():
    from dks.embed._batching import Preprocess

    Preprocess("center", None, (64, 64), (0, 0, 0), (1, 1, 1)).views(Image.new("RGB", (8, 8)))


@pytest.mark.parametrize(
    ("make", "flag"),
    [
        (_bad_input, "Rerun with --on-error skip to skip"),
        (_no_cuda, "Use --device 'cpu', or 'auto'"),
        (_paper_layers, "--layers paper is not defined for"),
        (_small_image, "--crop or --crops none"),
    ],
)
def test_messages_name_flags_not_parameters(make, flag):
    assert flag in _message_of(make)


@pytest.mark.slow
def test_a_replaced_image_is_embedded_again(images, tmp_path):
    """A re-exported image under the same name: its chunk is recomputed, not reused."""
    folder = tmp_path / "images"
    for c in range(2):
        (folder / f"class_{c}").mkdir(parents=True)
        for i in range(2):
            src = images / f"class_{c}" / f"img_{i}.png"
            (folder / f"class_{c}" / f"{i}.png").write_bytes(src.read_bytes())
    out = tmp_path / "results"
    code, _, err = _run(["embed", folder, "--out", out, *EMBED, "--export-npy"])
    assert code == 0, err
    before = np.load(out / "embedding.npy")
    target = folder / "class_1" / "0.png"
    mtime = target.stat().st_mtime_ns
    target.write_bytes((images / "class_2" / "img_3.png").read_bytes())
    os.utime(target, ns=(mtime + 10**9, mtime + 10**9))

    code, _, err = _run(["embed", folder, "--out", out, *EMBED, "--export-npy"])
    assert code == 0, err
    assert re.search(r"1 chunk\(s\) of \d+ rows hold images changed", err)
    assert str(target) in err
    assert "reusing the saved embedding" not in err and "embed: done in" in err
    after = np.load(out / "embedding.npy")
    np.testing.assert_array_equal(after[[0, 1, 3]], before[[0, 1, 3]])
    assert not np.array_equal(after[2], before[2])
    code, _, err = _run(["embed", folder, "--out", out, *EMBED, "--export-npy"])
    assert code == 0 and "reusing the saved embedding" in err
