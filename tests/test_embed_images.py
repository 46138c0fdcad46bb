"""The pixels that reach the model, for real files of every kind."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")
from torch import nn

from dks.embed import CNNEmbedder

pytestmark = pytest.mark.torch

HEIGHT, WIDTH = 4, 8
RED = (255, 0, 0)


def pixel_embedder(**params):
    """An embedder whose features are the model's input pixels in [0, 1], (3, H, W) order."""
    params = {
        "weights": "DEFAULT",
        "layers": ["0"],
        "crops": "none",
        "resize": (HEIGHT, WIDTH),
        "mean": (0, 0, 0),
        "std": (1, 1, 1),
        "num_workers": 0,
        "progress": False,
        **params,
    }
    return CNNEmbedder(nn.Sequential(nn.Flatten()), **params)


def seen(paths, **params):
    """The (n, H, W, 3) uint8 pixels that reached the model."""
    X = pixel_embedder(**params).fit_transform([str(p) for p in paths])
    x = X.reshape(len(paths), 3, HEIGHT, WIDTH).transpose(0, 2, 3, 1)
    return np.rint(x * 255).astype(int)


def test_transparent_red_on_nothing_reaches_the_model_as_white(tmp_path):
    rgba = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, : WIDTH // 2, 3] = 255
    path = tmp_path / "red.png"
    Image.fromarray(rgba, "RGBA").save(path)
    (x,) = seen([path])
    assert (x[:, : WIDTH // 2] == RED).all()
    assert (x[:, WIDTH // 2 :] == 255).all()
    (x,) = seen([path], background="black")
    assert (x[:, WIDTH // 2 :] == 0).all()
    (x,) = seen([path], background=(0, 128, 0))
    assert (x[:, WIDTH // 2 :] == (0, 128, 0)).all()


def test_exif_rotated_jpeg_reaches_the_model_upright(tmp_path):
    upright = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    upright[:, : WIDTH // 2] = RED
    upright[:, WIDTH // 2 :] = (0, 0, 255)
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    assert stored.size == (HEIGHT, WIDTH)  # stored sideways
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=100)
    (x,) = seen([path])
    np.testing.assert_allclose(x[1, 1], RED, atol=40)
    np.testing.assert_allclose(x[1, WIDTH - 2], (0, 0, 255), atol=40)


def test_every_kind_of_file(tmp_path):
    files = {}
    palette = Image.new("P", (WIDTH, HEIGHT))
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette.putdata([1] * (WIDTH * HEIGHT))
    files["p"] = (palette, {}, (0, 255, 0))
    files["p_transparent"] = (palette, {"transparency": 1}, (255, 255, 255))
    la = np.zeros((HEIGHT, WIDTH, 2), np.uint8)
    la[..., 0] = 60
    files["la"] = (Image.fromarray(la, "LA"), {}, (255, 255, 255))
    files["i16"] = (Image.fromarray(np.full((HEIGHT, WIDTH), 65535, np.uint16)), {}, (255,) * 3)
    files["grey"] = (Image.new("L", (WIDTH, HEIGHT), 90), {}, (90, 90, 90))
    paths = []
    for name, (image, options, _) in files.items():
        paths.append(tmp_path / f"{name}.png")
        image.save(paths[-1], **options)
    cmyk = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    cmyk[..., 3] = 255  # black ink
    paths.append(tmp_path / "cmyk.jpg")
    Image.fromarray(cmyk, "CMYK").save(paths[-1], quality=100)
    x = seen(paths)
    for row, (name, (_, _, colour)) in zip(x, files.items(), strict=False):
        assert (row == colour).all(), name
    assert (x[-1] <= 8).all()


def test_one_pixel_image(tmp_path):
    path = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (10, 200, 30)).save(path)
    (x,) = seen([path])
    assert (x == (10, 200, 30)).all()  # resized to the crop, one colour everywhere


def test_bad_files_are_named_and_skipped(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (WIDTH, HEIGHT), (1, 2, 3)).save(good)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    full = tmp_path / "full.jpg"
    Image.new("RGB", (64, 64), (5, 5, 5)).save(full)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(full.read_bytes()[:150])
    paths = [str(p) for p in (empty, good, broken, truncated)]
    with pytest.raises(ValueError, match=r"empty\.jpg"):
        pixel_embedder().fit_transform(paths)
    embedder = pixel_embedder(on_error="skip")
    with pytest.warns(UserWarning, match="Skipped 3 of 4"):
        X = embedder.fit_transform(paths)
    assert X.shape[0] == 1
    np.testing.assert_array_equal(embedder.sample_indices_, [1])
    assert [s.index for s in embedder.skipped_] == [0, 2, 3]
    assert "truncated.jpg" in embedder.skipped_[2].description


def test_decompression_bomb_error_names_file_and_limit(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("RGB", (WIDTH, HEIGHT)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(
        ValueError, match=r"huge\.png.*limit of 10 pixels.*max_image_pixels.*raise the limit"
    ):
        pixel_embedder().fit_transform([str(path)])


@pytest.mark.parametrize("background", ["nope", (1, 2), (0, 0, 300)])
def test_background_is_validated_at_fit(background):
    with pytest.raises(ValueError, match="The 'background' parameter of CNNEmbedder must be"):
        pixel_embedder(background=background).fit([np.zeros((HEIGHT, WIDTH, 3), np.uint8)])
