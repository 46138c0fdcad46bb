"""Embedding every kind of collection: the same rows, bad members skipped, kill -9, shards.

The same digits (:mod:`tests.source_helpers`) as a folder, a manifest, WebDataset shards and
a saved Hugging Face dataset must embed to the same rows with the same labels, through
:class:`~dks.embed.CNNEmbedder` and through ``dks embed`` (which resumes after ``kill -9``
and splits the work with ``--shard``, for every kind).
"""

import csv
import json
import os
import signal
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("zarr")
pytest.importorskip("sklearn")

from dks.cli import main  # noqa: E402
from dks.embed import CNNEmbedder  # noqa: E402
from dks.sources import HFDataset, Manifest, WebDataset  # noqa: E402
from dks.store import open_embedding  # noqa: E402
from tests.embed_helpers import TINY_LAYERS, tiny_cnn  # noqa: E402
from tests.process_helpers import (  # noqa: E402
    EMBED,
    finish,
    n_chunks_done,
    start_embed,
)
from tests.source_helpers import (  # noqa: E402
    digit_images,
    make_folder,
    make_hf_dataset,
    make_manifest,
    make_shards,
)

pytestmark = pytest.mark.torch

KINDS = ("manifest", "webdataset", "hf-dataset")


def tiny(**params):
    defaults = dict(
        layers=TINY_LAYERS, crops="center", resize=16, crop_size=16, batch_size=2,
        num_workers=0, progress=False,
    )  # fmt: skip
    return CNNEmbedder(tiny_cnn(), **{**defaults, **params})


@pytest.fixture(scope="module")
def images():
    return digit_images()


@pytest.fixture(scope="module")
def sources(images, tmp_path_factory):
    """``{kind: the path given as IMAGES}`` of the same 12 digits."""
    root = tmp_path_factory.mktemp("sources")
    folder = make_folder(root / "digits", images)
    found = {
        "folder": folder,
        "manifest": make_manifest(root / "digits.csv", folder, images),
        "webdataset": make_shards(root / "shards", images, n_shards=3),
    }
    try:
        import datasets  # noqa: F401
    except ImportError:
        pass
    else:
        found["hf-dataset"] = make_hf_dataset(root / "digits_hf", images)
    return found


def _source(sources, kind):
    if kind not in sources:
        pytest.skip(f"{kind} needs the 'datasets' package to be made")
    return sources[kind]


# ---------------------------------------------------------------- the embedder
def test_every_kind_embeds_to_the_same_rows(sources, images):
    reference = tiny().fit_transform(str(sources["folder"]))
    labels = [c for c, _, _ in images]
    opened = {
        "manifest": Manifest(sources["manifest"]),
        "webdataset": WebDataset(sources["webdataset"]),
    }
    if "hf-dataset" in sources:
        opened["hf-dataset"] = HFDataset(sources["hf-dataset"])
    for kind, collection in opened.items():
        assert collection.labels.tolist() == labels, kind
        np.testing.assert_array_equal(tiny().fit_transform(collection), reference, err_msg=kind)
        # the path alone is opened with the kind's defaults
        np.testing.assert_array_equal(
            tiny().fit_transform(str(sources[kind])), reference, err_msg=kind
        )


def test_store_rows_are_named_by_the_collection(sources, tmp_path):
    shards = WebDataset(sources["webdataset"])
    tiny(output=tmp_path / "s.zarr").fit_transform(shards)
    assert open_embedding(tmp_path / "s.zarr").images == shards.identities
    manifest = Manifest(sources["manifest"])
    tiny(output=tmp_path / "m.zarr").fit_transform(manifest)
    tiny(output=tmp_path / "f.zarr").fit_transform(str(sources["folder"]))
    # a manifest names its images by their files, as the folder does: the same store
    a, b = (open_embedding(tmp_path / n) for n in ("m.zarr", "f.zarr"))
    assert a.images == b.images and a.fingerprint == b.fingerprint


def test_workers_read_shards_and_datasets(sources):
    reference = tiny().fit_transform(str(sources["folder"]))
    for kind in ("webdataset", "hf-dataset"):
        if kind in sources:
            X = tiny(num_workers=2).fit_transform(str(sources[kind]))
            np.testing.assert_array_equal(X, reference, err_msg=kind)


def test_the_pixel_limit_holds_for_shards(sources):
    # the digits are 24 x 24 = 576 pixels: a limit of 100 refuses the shards' first image
    with pytest.raises(ValueError, match=r"more than the limit of 100 pixels \(max_image_pixels"):
        tiny(max_image_pixels=100).fit_transform(str(sources["webdataset"]))


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_member_is_skipped_and_listed(images, tmp_path, kind):
    folder = make_folder(tmp_path / "digits", images)
    if kind == "manifest":
        source = make_manifest(tmp_path / "m.csv", folder, images)
        os.remove(folder / "three" / "img_1.png")  # row 6: a path that does not exist
        expected = "three/img_1.png of"
    elif kind == "webdataset":
        source = make_shards(tmp_path / "shards", images, broken={"three/img_1"})
        expected = "shard-000000.tar#three/img_1 of"
    else:
        pytest.importorskip("datasets")
        source = make_hf_dataset(tmp_path / "hf", images, broken={5})
        expected = "row 5 of the split 'train' of"
    embedder = tiny(on_error="skip")
    with pytest.warns(UserWarning, match="Skipped 1 of 12 inputs"):
        X = embedder.fit_transform(str(source))
    [skipped] = embedder.skipped_
    assert skipped.index == 5 and expected in skipped.description
    assert embedder.sample_indices_.tolist() == [i for i in range(12) if i != 5]
    full = tiny().fit_transform(str(make_folder(tmp_path / "ref", images)))
    # a batch without the bad image holds one image less: float sums may differ in the last bit
    np.testing.assert_allclose(X, np.delete(full, 5, axis=0), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------ the command line
def _X(out):
    return np.asarray(open_embedding(out / "embedding.zarr").X)


@pytest.fixture(scope="module")
def reference(sources, tmp_path_factory):
    """``dks embed`` of the folder, uninterrupted, in one process (6 chunks of 2 rows)."""
    out = tmp_path_factory.mktemp("reference") / "results"
    finish(start_embed(out, sources["folder"]))
    return out


def _check_folder(out, reference, kind, source):
    np.testing.assert_array_equal(_X(out), _X(reference))
    meta = json.loads((out / "embedding.json").read_text(encoding="utf-8"))
    ref = json.loads((reference / "embedding.json").read_text(encoding="utf-8"))
    assert meta["labels"] == ref["labels"] and meta["classes"] == ref["classes"]
    assert meta["source"]["kind"] == kind
    assert (
        meta["dataset_name"]
        == {
            "manifest": "digits",
            "webdataset": "shards",
            "hf-dataset": "digits_hf",
        }[kind]
    )


#: The kinds whose resume after a kill is checked in a process: those whose rows share
#: files (shards, Arrow files). A manifest's rows are image files, as a folder's, whose kill
#: and resume tests/test_cli_store.py runs (its manifest is re-read in the shard processes
#: of test_two_shard_processes below).
KILLED_KINDS = ("webdataset", "hf-dataset")


@pytest.mark.slow
@pytest.mark.parametrize("kind", KILLED_KINDS)
def test_kill_9_then_resume(sources, reference, tmp_path, kind):
    source = _source(sources, kind)
    out = tmp_path / "results"
    process = start_embed(out, source, sleep=1.0)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and n_chunks_done(out) < 2 and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    n_done = n_chunks_done(out)
    assert 2 <= n_done < 6, "dks embed was not killed mid-run"
    err = finish(start_embed(out, source))
    assert f"resuming, {n_done} chunk(s)" in err
    _check_folder(out, reference, kind, source)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_two_shard_processes(sources, reference, tmp_path, kind):
    source = _source(sources, kind)
    out = tmp_path / "results"
    shards = [start_embed(out, source, "--shard", f"{k}/2", sleep=0.2) for k in range(2)]
    errors = [finish(p) for p in shards]
    # the shard that ends last (or both, when they end together) completes the folder
    assert sum("The last shard to finish completes" in e for e in errors) <= 1, errors
    _check_folder(out, reference, kind, source)


def _run(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.slow
def test_cli_limit_per_class_and_skipped_csv(images, tmp_path, capsys):
    folder = make_folder(tmp_path / "digits", images)
    shards = make_shards(tmp_path / "shards", images, broken={"zero/img_3"})
    limit = ["--limit-per-class", "3", "--seed", "1"]
    code, err = _run(["embed", folder, "--out", tmp_path / "f", *EMBED, *limit], capsys)
    assert code == 0, err
    code, err = _run(["embed", shards, "--out", tmp_path / "s", *EMBED, *limit], capsys)
    assert code == 0, err
    f, s = (json.loads((tmp_path / n / "embedding.json").read_text()) for n in ("f", "s"))
    # the same subset: the same draw among the same labels
    assert [p.split("/", 1)[0] for p in f["images"]] == f["labels"]
    names = [n.split("#", 1)[1] + ".png" for n in s["images"]]
    kept = [p for p in f["images"] if p != "zero/img_3.png"]
    assert names == kept and s["labels"] == [p.split("/")[0] for p in kept]
    with open(tmp_path / "s" / "skipped.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if "zero/img_3.png" in f["images"]:
        assert [r["path"] for r in rows] == [
            os.fspath(tmp_path / "shards" / "shard-000001.tar#zero/img_3")
        ]
        assert rows[0]["class"] == "zero"
    rows_f = [f["images"].index(n) for n in names]
    np.testing.assert_array_equal(_X(tmp_path / "s"), _X(tmp_path / "f")[rows_f])


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp: [tmp / "x-{000..003}.tar"], "matches no shard"),
        (
            lambda tmp: [tmp / "m.csv", "--path-column", "file"],
            "no column 'file'; its columns are 'path', 'label'",
        ),
        (
            lambda tmp: [tmp / "m.csv", "--split", "train"],
            "--split applies to a Hugging Face dataset",
        ),
        (lambda tmp: [tmp / "nowhere.csv"], "does not exist"),
        (lambda tmp: ["--split", "train"], "--split describe(s) IMAGES_DIR"),
    ],
    ids=["no-shard", "missing-column", "wrong-option", "no-manifest", "no-images"],
)
def test_cli_errors_name_the_flag(images, tmp_path, capsys, make_args, message):
    folder = make_folder(tmp_path / "digits", images)
    make_manifest(tmp_path / "m.csv", folder, images)
    work = tmp_path / "work"
    work.mkdir()
    args = make_args(tmp_path)
    code, err = _run(["embed", *args, "--out", work / "r", *EMBED], capsys)
    assert code == 1, err
    assert message in err and "Traceback" not in err
    assert list(work.iterdir()) == []


@pytest.mark.slow
def test_cli_analyze_shards_titles_the_report_and_draws_their_images(sources, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "results"
    fast = [*EMBED, "--shuffles", "2", "--jobs", "1"]
    code, err = _run(["analyze", sources["webdataset"], "--out", out, *fast], capsys)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["dataset_name"], summary["source"]) == ("shards", "webdataset")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<td>shards</td>" in page
    figures = {p.stem for p in (out / "figures").glob("*.png")}
    # the thumbnails and crops are read from the shards again
    assert any(f.startswith("top_images_") for f in figures), figures
    assert any(f.startswith("feature_crops_") for f in figures), figures
    assert "not found" not in err
