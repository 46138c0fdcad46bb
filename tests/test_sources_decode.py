"""dks.sources._decode: real image files of every kind, made with PIL, loaded as people
see them."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

from dks.sources import WHITE, ImageReader, ImageTooLargeError, check_background, to_rgb

RED = (255, 0, 0)


def load_image(source, *, background=WHITE, max_image_pixels="auto"):
    """The decoder, as a function of its two settings."""
    return ImageReader(background, max_image_pixels).read(source)


def pixels(image):
    assert image.mode == "RGB"
    return np.asarray(image)


def test_importable_without_torch():
    code = (
        "import sys; import dks.sources; from dks.sources import ImageReader; "
        "assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_rgba_png_transparent_red_is_white(tmp_path):
    path = tmp_path / "rgba.png"
    rgba = np.zeros((6, 5, 4), np.uint8)
    rgba[..., 0] = 255  # red hidden under fully transparent pixels
    rgba[:3, :, 3] = 255  # top half opaque
    Image.fromarray(rgba, "RGBA").save(path)
    out = pixels(load_image(path))
    assert out.shape == (6, 5, 3)
    assert (out[:3] == RED).all()
    assert (out[3:] == 255).all()
    black = pixels(load_image(path, background=(0, 0, 0)))
    assert (black[3:] == 0).all() and (black[:3] == RED).all()


def test_rgba_half_alpha_blends(tmp_path):
    path = tmp_path / "half.png"
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128
    Image.fromarray(rgba, "RGBA").save(path)
    out = pixels(load_image(path, background=(0, 0, 255))).astype(int)
    np.testing.assert_allclose(out[0, 0], [128, 0, 127], atol=1)


def test_palette_with_and_without_transparency(tmp_path):
    palette = Image.new("P", (4, 3))
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette.putdata([0, 1] * 6)
    plain = tmp_path / "p.png"
    palette.save(plain)
    out = pixels(load_image(plain))
    assert (out[0, 0] == RED).all() and (out[0, 1] == (0, 255, 0)).all()
    transparent = tmp_path / "pt.png"
    palette.save(transparent, transparency=1)  # green is the transparent colour
    with Image.open(transparent) as check:
        assert check.mode == "P" and "transparency" in check.info
    out = pixels(load_image(transparent, background=(10, 20, 30)))
    assert (out[0, 0] == RED).all()
    assert (out[0, 1] == (10, 20, 30)).all()


def test_la_grey_with_alpha(tmp_path):
    path = tmp_path / "la.png"
    la = np.zeros((3, 3, 2), np.uint8)
    la[..., 0] = 40
    la[0, :, 1] = 255
    Image.fromarray(la, "LA").save(path)
    with Image.open(path) as check:
        assert check.mode == "LA"
    out = pixels(load_image(path))
    assert (out[0] == 40).all()
    assert (out[1:] == 255).all()


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "grey16.png"
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(path)
    with Image.open(path) as check:
        assert check.mode.startswith("I")
    out = pixels(load_image(path))
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_32_bit_int_and_float_images():
    ints = Image.fromarray(np.array([[0, 65535, 70000, -5]], dtype=np.int32))
    assert ints.mode == "I"
    np.testing.assert_array_equal(pixels(to_rgb(ints))[0, :, 0], [0, 255, 255, 0])
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    assert unit.mode == "F"
    np.testing.assert_array_equal(pixels(to_rgb(unit))[0, :, 0], [0, 128, 255])
    wide = Image.fromarray(np.array([[-2.0, 0.0, 2.0, np.nan]], dtype=np.float32))
    np.testing.assert_array_equal(pixels(to_rgb(wide))[0, :, 0], [0, 128, 255, 128])
    flat = Image.fromarray(np.full((2, 2), 7.0, dtype=np.float32))
    assert (pixels(to_rgb(flat)) == 0).all()


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[..., 1] = 255
    cmyk[..., 2] = 255  # magenta + yellow = red
    Image.fromarray(cmyk, "CMYK").save(path, quality=95)
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    out = pixels(load_image(path)).astype(int)
    np.testing.assert_allclose(out[8, 8], RED, atol=8)


def test_exif_rotated_jpeg_comes_out_upright(tmp_path):
    # Upright the image is 8 wide and 4 high, red on the left half. It is stored rotated
    # (4 wide, 8 high) with EXIF orientation 6 ("rotate 90 degrees clockwise to view").
    upright = np.zeros((4, 8, 3), np.uint8)
    upright[:, :4] = RED
    upright[:, 4:] = (0, 0, 255)
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=100)
    out = pixels(load_image(path)).astype(int)
    assert out.shape == (4, 8, 3)
    np.testing.assert_allclose(out[2, 1], RED, atol=20)
    np.testing.assert_allclose(out[2, 6], (0, 0, 255), atol=20)


def test_grey_1x1_and_bilevel(tmp_path):
    one = tmp_path / "one.png"
    Image.new("L", (1, 1), 77).save(one)
    assert pixels(load_image(one)).tolist() == [[[77, 77, 77]]]
    bilevel = tmp_path / "bw.png"
    Image.new("1", (2, 1), 1).save(bilevel)
    assert (pixels(load_image(bilevel)) == 255).all()


def test_pil_image_input_is_not_modified():
    rgba = Image.new("RGBA", (2, 2), (255, 0, 0, 0))
    out = load_image(rgba)
    assert (pixels(out) == 255).all()
    assert rgba.mode == "RGBA" and rgba.getpixel((0, 0)) == (255, 0, 0, 0)


@pytest.mark.parametrize(
    "content, error",
    [(b"", UnidentifiedImageError), (b"not an image at all", UnidentifiedImageError)],
)
def test_broken_and_empty_files_raise(tmp_path, content, error):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(error):
        load_image(path)


def test_truncated_file_raises(tmp_path):
    path = tmp_path / "full.jpg"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(path)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[:200])
    with pytest.raises(OSError, match=r"(?i)truncated"):
        load_image(cut)


@pytest.mark.parametrize("factor", [1.5, 3])  # PIL warns above the limit, raises above twice
def test_decompression_bomb_is_refused(tmp_path, monkeypatch, factor):
    path = tmp_path / "bomb.png"
    Image.new("L", (40, 30)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", int(1200 / factor))
    with pytest.raises(ImageTooLargeError) as info:
        load_image(path)
    message = str(info.value)
    assert "bomb.png" in message
    assert f"{int(1200 / factor):,}" in message
    assert "max_image_pixels=500000000" in message
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert load_image(path).size == (40, 30)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("white", (255, 255, 255)),
        ("black", (0, 0, 0)),
        ("#808080", (128, 128, 128)),
        ((1, 2, 3), (1, 2, 3)),
        ([0, 255, 0], (0, 255, 0)),
        (np.array([4, 5, 6]), (4, 5, 6)),
    ],
)
def test_check_background_accepts(value, expected):
    assert check_background(value) == expected


@pytest.mark.parametrize(
    "value",
    ["notacolour", (1, 2), (1, 2, 3, 4), (0, 0, 256), (-1, 0, 0), (0.5, 0, 0), (True, 0, 0), 3],
)
def test_check_background_rejects(value):
    with pytest.raises(ValueError, match=r"The 'background' parameter must be a colour .* Got"):
        check_background(value)
    with pytest.raises(ValueError, match="--background must be"):
        check_background(value, "--background")


def test_max_image_pixels_is_per_call_and_named_as_the_interface_does(tmp_path):
    from dks._options import command_line
    from dks.sources import check_max_image_pixels

    path = tmp_path / "big.png"
    Image.new("L", (40, 30)).save(path)
    with pytest.raises(ImageTooLargeError, match=r"limit of 1,000 pixels \(max_image_pixels"):
        load_image(path, max_image_pixels=1000)
    with command_line(), pytest.raises(ImageTooLargeError, match=r"--max-image-pixels 500000000"):
        load_image(path, max_image_pixels=1000)
    assert load_image(path, max_image_pixels=1200).size == (40, 30)
    assert load_image(path, max_image_pixels=None).size == (40, 30)
    assert Image.MAX_IMAGE_PIXELS == (1024 * 1024 * 1024 // 4 // 3)  # restored
    assert check_max_image_pixels("none") is None
    assert check_max_image_pixels("2_000") == 2000
    with pytest.raises(ValueError, match="max_image_pixels must be"):
        check_max_image_pixels(0)
