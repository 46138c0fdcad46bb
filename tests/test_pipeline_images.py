"""dks.analysis._image_set: a folder's classes to a depth, and the files not read as images."""

import os
import warnings

import numpy as np
import pytest

import dks
from dks.analysis._image_set import folder_images, user_images
from dks.pipeline import AnalysisError
from dks.sources import class_paths

#: A nested, unbalanced folder: (path, is an image).
TREE = [
    "animals/cat.png",
    "animals/birds/owl.png",
    "animals/birds/sea/gull.png",
    "animals/birds/sea/tern.jpg",
    "animals/fish/cod.png",
    "plants/rose.png",
    "plants/trees/oak/leaf.png",
    "plants/trees/oak/notes.txt",
    "plants/trees/pine.svg",
]


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "stamps"
    for rel in TREE:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return root


def naive_class(rel, depth):
    """The reference: the folders of ``rel`` (a/b/c/x.png -> a, b, c), the first ``depth``."""
    folders = rel.split("/")[:-1]
    return "/".join(folders[:depth])


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_class_paths_against_a_loop(tree, depth):
    images = [r for r in TREE if r.endswith((".png", ".jpg"))]
    paths = [os.path.join(tree, *r.split("/")) for r in images]
    labels, classes = class_paths(paths, tree, depth)
    assert labels.tolist() == [naive_class(r, depth) for r in images]
    assert classes == sorted({naive_class(r, depth) for r in images})


def test_folder_images_to_a_depth_and_the_files_left_out(tree):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        imgs = folder_images(tree, None, None, 0, class_depth=2)
    assert imgs.classes == ["animals", "animals/birds", "animals/fish", "plants", "plants/trees"]
    by_image = dict(zip(imgs.relative, imgs.labels.tolist(), strict=True))
    assert by_image[os.path.join("animals", "birds", "sea", "gull.png")] == "animals/birds"
    assert by_image[os.path.join("animals", "cat.png")] == "animals"
    assert imgs.source["class_depth"] == 2
    (message,) = [str(w.message) for w in caught if "not read as images" in str(w.message)]
    assert message.startswith("2 file(s) in the class folders of")
    assert "notes.txt" in message and "pine.svg" in message
    with pytest.warns(UserWarning, match="not read as images"):
        flat = folder_images(tree, None, None, 0)  # depth 1, the default: the top folders
    assert flat.classes == ["animals", "plants"] and flat.source["class_depth"] == 1
    np.testing.assert_array_equal(np.sort(flat.relative), np.sort(imgs.relative))


def test_the_files_not_read_as_images_are_recorded_capped(tree):
    # in listing order: a folder's files before its sub-folders'
    left_out = [os.path.join("plants", "trees", "pine.svg"), os.path.join(*TREE[-2].split("/"))]
    with pytest.warns(UserWarning, match="not read as images"):
        imgs = folder_images(tree, None, 1, 0)  # a subset of the images: all files counted
    assert imgs.source["n_not_images"] == 2 and imgs.source["not_images"] == left_out
    with dks.config_context(pipeline_not_images_listed=1), pytest.warns(UserWarning):
        capped = folder_images(tree, None, None, 0).source
    assert capped["n_not_images"] == 2 and capped["not_images"] == left_out[:1]
    (tree / "plants" / "trees" / "oak" / "notes.txt").unlink()
    (tree / "plants" / "trees" / "pine.svg").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean = folder_images(tree, None, None, 0).source
    assert "n_not_images" not in clean and "not_images" not in clean


def test_class_depth_is_for_folders(tmp_path, tree):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\n" + f"{tree}/animals/cat.png,a\n{tree}/plants/rose.png,b\n")
    with pytest.raises(AnalysisError, match="class_depth=2 applies to a folder"):
        user_images(manifest, None, None, 0, class_depth=2)


@pytest.mark.slow
@pytest.mark.torch
def test_another_class_depth_keeps_the_embedding_and_drops_the_statistics(tmp_path):
    """The same images under other classes: the embedding is reused, and the statistics
    made with the old classes are removed (not kept beside the new labels)."""
    pytest.importorskip("torch")
    import json

    from PIL import Image

    from dks.pipeline import characterize, embed

    rng = np.random.default_rng(0)
    root = tmp_path / "nested"
    for sub in ("a/x", "a/y", "b/x", "b/y"):
        (root / sub).mkdir(parents=True)
        for i in range(5):
            pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / sub / f"{i}.png")
    out = tmp_path / "results"
    small = dict(model="efficientnet_lite0", crops="none", resize=32, batch_size=4,
                 workers=0, progress=False, verbose=False)  # fmt: skip
    assert embed(root, out=out, class_depth=2, **small) is False
    characterize(out, shuffles=1, jobs=1, verbose=False, progress=False)
    assert (out / "dks.npy").is_file()
    assert embed(root, out=out, class_depth=2, **small) is True  # unchanged: all kept
    assert (out / "dks.npy").is_file()
    assert embed(root, out=out, class_depth=1, **small) is True  # the embedding reused
    assert json.loads((out / "embedding.json").read_text())["classes"] == ["a", "b"]
    assert not (out / "dks.npy").exists()  # statistics of the 4 old classes: gone
