"""`dks datasets NAME ROOT --out DIR`: the paper's datasets in one line (tiny fake layouts)."""

import json

from dks.cli import main
from tests.paper_helpers import fake_devkit, jpeg, read_folder


def test_flowers102_default_is_the_test_split(flowers, tmp_path, capsys):
    assert main(["datasets", "flowers102", str(flowers), "--out", str(tmp_path / "f")]) == 0
    assert read_folder(tmp_path / "f") == {
        "pink primrose": ["image_00002.jpg"],
        "canterbury bells": ["image_00004.jpg", "image_00006.jpg"],
    }
    assert "dks analyze" in capsys.readouterr().out
    argv = ["datasets", "flowers102", str(flowers), "--out", str(tmp_path / "t")]
    assert main([*argv, "--split", "train", "--link", "hardlink", "-q"]) == 0
    info = json.loads((tmp_path / "t" / "dataset.json").read_text())
    assert info["split"] == "train"
    assert not (tmp_path / "t" / "pink primrose" / "image_00001.jpg").is_symlink()


def test_mit67_cub200_and_imagenet(tmp_path):
    for entry in ("airport_inside/x.jpg", "bakery/y.jpg"):
        jpeg(tmp_path / "mit" / "Images" / entry)
    (tmp_path / "mit" / "TrainImages.txt").write_text("airport_inside/x.jpg\n")
    (tmp_path / "mit" / "TestImages.txt").write_text("bakery/y.jpg\n")
    assert main(["datasets", "mit67", str(tmp_path / "mit"), "-o", str(tmp_path / "m"), "-q"]) == 0
    assert read_folder(tmp_path / "m") == {"airport_inside": ["x.jpg"]}
    argv = ["datasets", "mit67", str(tmp_path / "mit"), "-o", str(tmp_path / "mt"), "-q"]
    assert main([*argv, "--split", "test"]) == 0
    assert read_folder(tmp_path / "mt") == {"bakery": ["y.jpg"]}
    fake_devkit(tmp_path / "inet", n_classes=4, per_class=2)
    argv = ["datasets", "imagenet_val", str(tmp_path / "inet"), "-o", str(tmp_path / "i"), "-q"]
    assert main([*argv, "--n-classes", "2"]) == 0
    assert len(read_folder(tmp_path / "i")) == 2


def test_messages_name_the_flags(flowers, tmp_path, capsys):
    out = ["--out", str(tmp_path / "x")]
    assert main(["datasets", "cub200", str(tmp_path), *out, "--split", "val"]) == 1
    err = capsys.readouterr().err
    assert "--split 'val' is not a split of cub200" in err
    assert main(["datasets", "mit67", str(tmp_path), *out, "--download"]) == 1
    assert "--download works for flowers102 only" in capsys.readouterr().err
    assert main(["datasets", "flowers102", str(flowers), *out, "--n-classes", "3"]) == 1
    assert "--n-classes works for imagenet_val only" in capsys.readouterr().err
    fake_devkit(tmp_path / "inet", n_classes=2, per_class=1)
    argv = ["datasets", "imagenet_val", str(tmp_path / "inet"), *out]
    assert main(argv) == 1  # the default 500 classes of 2
    assert "--n-classes must be in 1..2; got 500" in capsys.readouterr().err
    assert main(["datasets", "cub200", str(tmp_path / "nothing"), *out]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["datasets", "nope", str(tmp_path), *out]) == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
