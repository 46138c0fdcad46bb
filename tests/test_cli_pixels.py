"""``--max-image-pixels``: a huge image refused by default, named by the flag; accepted with
``none``; the limit recorded for the report's thumbnails."""

import contextlib
import csv
import io
import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("zarr")
Image = pytest.importorskip("PIL.Image")

from dks.cli import build_parser, main  # noqa: E402
from dks.results._io import embedding_reader  # noqa: E402

pytestmark = pytest.mark.torch

EMBED = [
    "--model", "efficientnet_lite0", "--crops", "center", "--resize", "48", "--crop", "40",
    "--batch-size", "2", "--workers", "0", "--no-progress",
]  # fmt: skip

#: More pixels than PIL's default limit (89,478,485), under twice it (PIL only warns there:
#: the loader must refuse it all the same). A 1-bit PNG of one colour: 100 MB decoded, a few
#: kB on disk.
HUGE = (10_000, 10_000)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("pixels") / "images"
    rng = np.random.default_rng(0)
    for c in range(2):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(2):
            img = rng.integers(0, 200, size=(24, 24, 3)).astype(np.uint8)
            Image.fromarray(img).save(root / f"c{c}" / f"{i}.png")
    Image.new("1", HUGE, 1).save(root / "c1" / "huge.png")
    assert (root / "c1" / "huge.png").stat().st_size < 1_000_000
    return root


def _run(args):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([str(a) for a in args])
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.slow
def test_a_huge_image_is_refused_naming_the_flag_then_accepted_with_none(images, tmp_path):
    out = tmp_path / "r"
    code, _, err = _run(["embed", images, "--out", out, *EMBED, "--on-error", "raise"])
    assert code == 1, err
    assert "huge.png" in err and "10000x10000 = 100,000,000 pixels" in err
    assert "--max-image-pixels 500000000" in err and "none removes it" in err
    assert "max_image_pixels=" not in err and "Traceback" not in err

    code, _, err = _run(["embed", images, "--out", out, *EMBED])  # on_error skip
    assert code == 0, err
    with open(out / "skipped.csv", newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["path"].endswith("huge.png") and "--max-image-pixels" in row["reason"]
    meta = json.loads((out / "embedding.json").read_text())
    assert meta["settings"]["max_image_pixels"] == "auto" and len(meta["images"]) == 4

    code, _, err = _run(["embed", images, "--out", out, *EMBED, "--max-image-pixels", "none"])
    assert code == 0, err
    meta = json.loads((out / "embedding.json").read_text())
    assert "re-embedding" not in err and "admitted by the limit now" in err
    assert "c1/huge.png" in meta["images"] and meta["skipped"] == []
    assert meta["settings"]["max_image_pixels"] is None
    # the report reads the images as embed did
    assert embedding_reader(meta).max_image_pixels is None
    assert embedding_reader(meta, 5000).max_image_pixels == 5000


def test_a_lower_limit_refuses_a_small_image_in_python(images, tmp_path):
    from dks.embed import CNNEmbedder

    embedder = CNNEmbedder(
        "efficientnet_lite0", crops="center", resize=48, crop_size=40, max_image_pixels=500,
        num_workers=0, progress=False, on_error="raise",
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"max_image_pixels=500000000") as info:
        embedder.fit_transform([str(images / "c0" / "0.png")])
    assert "24x24 = 576 pixels" in str(info.value) and "--max" not in str(info.value)


@pytest.mark.parametrize("command", ["analyze", "embed", "report", "visualize"])
def test_every_command_that_reads_images_has_the_flag(command):
    sub = build_parser()._subparsers._group_actions[0].choices[command]
    assert "--max-image-pixels" in {s for a in sub._actions for s in a.option_strings}


@pytest.mark.parametrize("value", ["0", "-3", "lots"])
def test_a_bad_value_is_a_usage_error_naming_the_flag(tmp_path, value, capsys):
    code = main(
        ["embed", str(tmp_path), "--out", str(tmp_path / "r"), "--max-image-pixels", value]
    )
    assert code == 2
    assert "--max-image-pixels" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
