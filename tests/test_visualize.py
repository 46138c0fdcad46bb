"""What a feature looks at, from a results folder: dks.visualize, `dks visualize`, the report.

The results folder is embedded for real (a randomly initialized SqueezeNet 1.1, which builds
in a fraction of a second, on 32-pixel images): the network must be rebuilt from
embedding.json alone.
"""

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

import dks
from dks.analysis._figures import _feature_figures
from dks.analysis._regions import _weights, crop_figures, embedder_from_results
from dks.cli import main
from dks.embed import feature_crops
from dks.pipeline import AnalysisError, characterize, embed
from dks.results import EmbeddingRecord

from .embed_helpers import smooth_images, write_images
from .pipeline_helpers import EMBED_SETTINGS, make_results

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("visualize")
    for c in ("a", "b"):
        write_images(root / "images" / c, smooth_images(5, size=(40, 48), seed=ord(c)))
    with pytest.warns(UserWarning, match="random"):
        embed(root / "images", out=root / "res", **EMBED_SETTINGS)
    characterize(root / "res", shuffles=1, jobs=1, verbose=False)
    return root / "res"


def test_embedder_is_rebuilt_from_embedding_json(results):
    data = dks.load_results(results)
    with pytest.warns(UserWarning, match="random"):
        embedder = embedder_from_results(data, results)
    assert embedder.get_feature_names_out().tolist() == data["embedding_meta"]["feature_names"]
    assert (embedder.model, embedder.resize, embedder.weights) == ("squeezenet1_1", 32, None)
    # the same network: the rebuilt embedder gives back the saved embedding
    meta = data["embedding_meta"]
    paths = [str(results.parent / "images" / p) for p in meta["images"]]
    np.testing.assert_allclose(embedder.transform(paths[:3]), data["embedding"][:3], rtol=1e-5)


def test_weights_come_from_the_fingerprint():
    def weights(meta):
        return _weights(EmbeddingRecord.from_dict(meta))

    assert weights({"fingerprint": {"weights": "file:/a/b:c.pt:123:456"}}) == "/a/b:c.pt"
    assert weights({"fingerprint": {"weights": None}}) is None
    assert weights({"fingerprint": {"weights": "DEFAULT"}}) == "DEFAULT"
    assert weights({}) == "DEFAULT"


def test_visualize_top_crops_match_feature_crops(results, tmp_path):
    data = dks.load_results(results)
    names = data["embedding_meta"]["feature_names"]
    j = int(np.argmax(data["dks"].max(axis=0)))
    with pytest.warns(UserWarning, match="random"):
        fig = dks.visualize(results, names[j], k=3, out=tmp_path / "v")
    assert (tmp_path / "v.png").is_file() and (tmp_path / "v.svg").is_file()
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 3
    with pytest.warns(UserWarning, match="random"):
        embedder = embedder_from_results(data, results)
    paths = [str(results.parent / "images" / p) for p in data["embedding_meta"]["images"]]
    expected = feature_crops(embedder, paths, j, activations=data["embedding"][:, j], k=3)
    captions = [ax.get_xlabel() for ax in images]
    assert captions == [f"{c.value:.3g}" for c in expected]


def test_visualize_absence_adds_lowest_and_class_rows(results, tmp_path):
    data = dks.load_results(results)
    j = int(np.argmin(data["dks"].min(axis=0)))
    with pytest.warns(UserWarning, match="random"):
        fig = dks.visualize(results, j, k=2, sign="absence", out=tmp_path / "v.png")
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    cls = data["embedding_meta"]["classes"][int(np.argmin(data["dks"][:, j]))]
    assert labels == ["highest activation", "lowest activation", f"images of class {cls}"]
    assert (tmp_path / "v.png").is_file() and not (tmp_path / "v.svg").exists()


def test_cli_visualize_and_its_refusals(results, tmp_path, capsys):
    name = dks.load_results(results)["embedding_meta"]["feature_names"][5]
    out = tmp_path / "f.png"
    assert main(["visualize", str(results), name, "--k", "2", "--out", str(out), "-q"]) == 0
    assert out.is_file()
    assert main(["visualize", str(results), "features.0_999", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Unknown feature 'features.0_999'" in err and "Did you mean" in err
    argv = ["visualize", str(results), name, "--sign", "absence", "--class", "zebra"]
    assert main(argv) == 1
    assert "Unknown class 'zebra' in --class" in capsys.readouterr().err
    assert main(["visualize", str(results), name, "--k", "0"]) == 1
    assert "--k must be a positive integer" in capsys.readouterr().err
    gone = tmp_path / "moved"
    shutil.copytree(results, gone)
    meta = json.loads((gone / "embedding.json").read_text())
    meta["images_root"] = str(tmp_path / "no-such-images")
    (gone / "embedding.json").write_text(json.dumps(meta))
    assert main(["visualize", str(gone), name]) == 1
    assert "are gone" in capsys.readouterr().err


def test_absence_without_statistics_asks_for_the_class(results, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(results / "embedding.json", bare / "embedding.json")
    shutil.copytree(results / "embedding.zarr", bare / "embedding.zarr")
    meta = json.loads((bare / "embedding.json").read_text())
    meta["images_root"] = str(results.parent / "images")
    (bare / "embedding.json").write_text(json.dumps(meta))
    assert main(["visualize", str(bare), "0", "--sign", "absence"]) == 1
    assert "Name the class to show with --class" in capsys.readouterr().err
    with pytest.raises(AnalysisError, match="with cls, or run `dks characterize"):
        dks.visualize(bare, 0, sign="absence")


def test_report_crops_are_bounded_and_skipped_without_images(results, tmp_path, monkeypatch):
    data = dks.load_results(results)
    lines = []
    small = dks.config_context(pipeline_crop_classes=1, pipeline_crop_images=2)
    with small, pytest.warns(UserWarning, match="random"):
        figures = crop_figures(data, results, lines.append)
    assert sorted(k.split("_")[2] for k in figures) == ["absence", "presence"]
    assert all("_a_" in k for k in figures)  # the first class only
    fake = make_results(tmp_path / "fake")  # images never written
    characterize(fake, shuffles=1, jobs=1, verbose=False)
    assert crop_figures(dks.load_results(fake), fake, lines.append) == {}
    assert "feature crops are left out" in lines[-1]


def test_without_torch_the_message_says_what_to_install(results, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "dks.embed", None)  # `from dks.embed import ...` fails
    assert main(["visualize", str(results), "0"]) == 1
    assert "needs torch and torchvision (pip install 'dks[torch]')" in capsys.readouterr().err


def test_settings_are_read_from_the_store_manifest(results, tmp_path):
    """The store's manifest is the one record of the preprocessing; embedding.json of a
    folder without a store (dks 0.1) is read as it is."""
    raw = json.loads((results / "embedding.json").read_text())
    assert not {"crops", "resize", "mean", "background"} & set(raw["settings"])
    settings = dks.load_results(results)["embedding_meta"]["settings"]
    assert (settings["crops"], settings["resize"], settings["background"]) == (
        "none",
        32,
        [255, 255, 255],
    )
    assert settings["model"] == "squeezenet1_1"  # embedding.json's own
    old = tmp_path / "old"
    shutil.copytree(results, old)
    raw["settings"]["crops"] = "ten"  # a folder written when both held it: the store wins
    (old / "embedding.json").write_text(json.dumps(raw))
    assert dks.load_results(old)["embedding_meta"]["settings"]["crops"] == "none"
    fake = make_results(tmp_path / "fake")  # no store
    assert dks.load_results(fake)["embedding_meta"]["settings"]["crops"] == "none"


def _transparent_pngs(folder):
    """RGBA PNG files whose left half is fully transparent (over random colours)."""
    from PIL import Image

    rng = np.random.default_rng(3)
    for c in ("a", "b"):
        (folder / c).mkdir(parents=True)
        for i in range(5):
            rgba = rng.integers(0, 256, (40, 48, 4), dtype=np.uint8)
            rgba[..., 3] = 255
            rgba[:, :24, 3] = 0
            Image.fromarray(rgba, "RGBA").save(folder / c / f"{i}.png")


def test_report_images_are_over_the_embedding_background(tmp_path):
    """Thumbnails and crops show transparent pixels over the --background of the
    embedding, read back from the results folder."""
    green = [0, 200, 0]
    _transparent_pngs(tmp_path / "images")
    res = tmp_path / "res"
    with pytest.warns(UserWarning, match="random"):
        embed(tmp_path / "images", out=res, background="#00c800", **EMBED_SETTINGS)
    characterize(res, shuffles=1, jobs=1, verbose=False)
    data = dks.load_results(res)
    assert data["embedding_meta"]["settings"]["background"] == green
    lines = []
    figures = _feature_figures(data, res, lines.append)
    tops = [make() for key, make in figures.items() if key.startswith("top_images_")]
    assert tops and not lines
    for fig in tops:
        for ax in fig.axes:
            thumb = ax.get_images()[0].get_array()
            assert thumb.shape == (40, 48, 3)
            assert thumb[20, 0].tolist() == green and thumb[20, 47].tolist() != green
    with pytest.warns(UserWarning, match="random"):
        assert embedder_from_results(data, res).image_reader_.background == tuple(green)
    with pytest.warns(UserWarning, match="random"):
        fig = dks.visualize(res, 0, k=2, sign="absence", cls="b")
    class_row = [ax for ax in fig.axes if ax.get_images()][-2:]
    for ax in class_row:
        assert ax.get_images()[0].get_array()[20, 0].tolist() == green
