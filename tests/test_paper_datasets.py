"""The paper's dataset builders, on tiny fakes of the official files (nothing downloads)."""

import json

import numpy as np
import pytest

from dks.datasets import make_cub200, make_flowers102, make_imagenet_val, make_mit67
from tests.paper_helpers import fake_devkit, jpeg, read_folder


def test_flowers102_test_split_by_links(flowers, tmp_path):
    out = make_flowers102(flowers, tmp_path / "out")
    files = read_folder(out)
    assert files == {
        "pink primrose": ["image_00002.jpg"],
        "canterbury bells": ["image_00004.jpg", "image_00006.jpg"],
    }
    link = out / "pink primrose" / "image_00002.jpg"
    assert link.is_symlink()
    assert link.resolve() == (flowers / "flowers-102" / "jpg" / "image_00002.jpg").resolve()
    info = json.loads((out / "dataset.json").read_text())
    assert (info["name"], info["split"], info["n_images"], info["n_classes"]) == (
        "flowers102",
        "test",
        3,
        2,
    )


def test_flowers102_other_split_hardlinks_and_base_folder(flowers, tmp_path):
    out = make_flowers102(
        flowers / "flowers-102", tmp_path / "out", split="train", link="hardlink"
    )
    assert read_folder(out) == {
        "pink primrose": ["image_00001.jpg"],
        "hard-leaved pocket orchid": ["image_00003.jpg"],
    }
    assert not (out / "pink primrose" / "image_00001.jpg").is_symlink()


def test_cub200_train_split(tmp_path):
    base = tmp_path / "CUB_200_2011"
    rows = [
        (1, "001.Black_footed_Albatross/a.jpg", 1),
        (2, "001.Black_footed_Albatross/b.jpg", 0),
        (3, "002.Laysan_Albatross/c.jpg", 1),
        (10, "002.Laysan_Albatross/d.jpg", 1),
    ]
    for _, path, _ in rows:
        jpeg(base / "images" / path)
    (base / "images.txt").write_text("".join(f"{i} {p}\n" for i, p, _ in rows))
    (base / "train_test_split.txt").write_text("".join(f"{i} {t}\n" for i, _, t in rows))
    (base / "image_class_labels.txt").write_text("1 1\n2 1\n3 2\n10 2\n")
    (base / "classes.txt").write_text("1 001.Black_footed_Albatross\n2 002.Laysan_Albatross\n")
    out = make_cub200(tmp_path, tmp_path / "out")
    assert read_folder(out) == {
        "001.Black_footed_Albatross": ["a.jpg"],
        "002.Laysan_Albatross": ["c.jpg", "d.jpg"],
    }
    test = make_cub200(base, tmp_path / "out_test", split="test")
    assert read_folder(test) == {"001.Black_footed_Albatross": ["b.jpg"]}


def test_mit67_train_list(tmp_path):
    for entry in ("airport_inside/x.jpg", "bakery/y.jpg", "bakery/z.jpg"):
        jpeg(tmp_path / "Images" / entry)
    (tmp_path / "TrainImages.txt").write_text("airport_inside/x.jpg\nbakery/z.jpg\n")
    (tmp_path / "TestImages.txt").write_text("bakery/y.jpg\n")
    out = make_mit67(tmp_path, tmp_path / "out")
    assert read_folder(out) == {"airport_inside": ["x.jpg"], "bakery": ["z.jpg"]}


def test_imagenet_val_official_files_subset_is_seeded(tmp_path):
    wnids, labels = fake_devkit(tmp_path / "src", n_classes=6, per_class=2)
    out = make_imagenet_val(tmp_path / "src", tmp_path / "out", n_classes=3)
    files = read_folder(out)
    assert len(files) == 3 and set(files) <= set(wnids)
    for wnid, names in files.items():
        expected = [
            f"ILSVRC2012_val_{i:08d}.JPEG"
            for i in np.flatnonzero(labels == wnids.index(wnid) + 1) + 1
        ]
        assert names == expected
    again = make_imagenet_val(tmp_path / "src", tmp_path / "again", n_classes=3)
    assert read_folder(again) == files
    other = make_imagenet_val(tmp_path / "src", tmp_path / "other", n_classes=3, random_state=5)
    assert sorted(read_folder(other)) != sorted(files)
    assert json.loads((out / "dataset.json").read_text())["seed"] == 0


def test_imagenet_val_torchvision_layout(tmp_path):
    for wnid in ("n01", "n02"):
        jpeg(tmp_path / "val" / wnid / f"{wnid}_1.JPEG")
    out = make_imagenet_val(tmp_path, tmp_path / "out", n_classes=2)
    assert read_folder(out) == {"n01": ["n01_1.JPEG"], "n02": ["n02_1.JPEG"]}
    with pytest.raises(ValueError, match=r"n_classes must be in 1\.\.2; got 3"):
        make_imagenet_val(tmp_path, tmp_path / "out3", n_classes=3)


def test_errors_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cub200 images\.txt not found"):
        make_cub200(tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="split must be one of"):
        make_flowers102(tmp_path, tmp_path / "out", split="dev")
    (tmp_path / "Images").mkdir()
    (tmp_path / "TrainImages.txt").write_text("bakery/missing.jpg\n")
    with pytest.raises(FileNotFoundError, match=r"1 image.*missing.*bakery/missing\.jpg"):
        make_mit67(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("")
    jpeg(tmp_path / "Images" / "bakery" / "missing.jpg")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        make_mit67(tmp_path, taken)
