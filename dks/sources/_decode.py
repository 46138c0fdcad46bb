"""Images as people see them: the one decoder, for the embedding and for the thumbnails.

:class:`ImageReader` holds the two decoding settings (``background``,
``max_image_pixels``) as one frozen value and reads any image input with them
(:meth:`ImageReader.read`: a file, a PIL image, a uint8 array or an image tensor).
A file (or a PIL image) comes out as 8-bit RGB the way an image viewer shows it:

* EXIF orientation applied (a phone photo stored sideways comes out upright);
* transparency composited over a background colour (white by default) — RGBA, LA, PA and
  palette images with a transparent colour — instead of dropping the alpha channel, which
  exposes whatever RGB values hide under transparent pixels;
* 16-bit and 32-bit greyscale (modes ``I;16``, ``I``) scaled from 0-65535 to 0-255, float
  images (``F``) from [0, 1] (or, when their values are outside it, from their own range),
  instead of PIL's clipping at 255;
* CMYK, YCbCr, palette, 1-bit and greyscale images converted to RGB;
* images with more pixels than a limit refused with :class:`ImageTooLargeError`, naming the
  file, the limit and the option that raises it (``max_image_pixels`` in Python,
  ``--max-image-pixels`` on the command line, spelled by :func:`dks._options.option`). The
  limit guards against decompression bombs (a small file that decodes to gigabytes):
  ``"auto"`` is PIL's own (``PIL.Image.MAX_IMAGE_PIXELS``, 89,478,485 pixels unless changed),
  an int sets it, None removes it (:func:`check_max_image_pixels`).

PIL reads its limit from a module global; a limit other than ``"auto"`` is set there only
while the file's header is parsed, under a lock, so that every loader here sees its own.

This module needs only Pillow (no torch), so that the thumbnails of :mod:`dks.plotting`, the
command line and the pipeline use it without torch; an image tensor is recognised by its
methods, not by importing torch.
"""

import os
import stat
import threading
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from PIL import Image, ImageColor, ImageOps

from dks._options import on_command_line, option

__all__ = [
    "WHITE",
    "ImageReader",
    "ImageTooLargeError",
    "check_background",
    "check_max_image_pixels",
    "check_regular_file",
    "fits_pixel_limit",
    "to_rgb",
]

#: The default background of transparent pixels.
WHITE = (255, 255, 255)


#: Held while PIL's global limit is set to a caller's own.
_PIL_LIMIT = threading.Lock()


class ImageTooLargeError(ValueError):
    """An image with more pixels than the limit (``max_image_pixels``): a decompression bomb?"""


def check_max_image_pixels(value, what=None):
    """Return a pixel limit: ``"auto"``, a positive int, or None (no limit).

    Parameters
    ----------
    value : "auto", int, str of an int, "none" or None
        ``"auto"``: PIL's limit (``PIL.Image.MAX_IMAGE_PIXELS`` when an image is read);
        an int (or its text, as typed on a command line) >= 1; None or ``"none"``: no
        limit.
    what : str or None, default=None
        How the error message names the value; None: :func:`~dks._options.option`'s
        spelling of ``max_image_pixels``.

    Returns
    -------
    limit : "auto", int or None

    Raises
    ------
    ValueError
        If ``value`` is none of these.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    number = value
    if isinstance(value, str):
        try:
            number = int(value.replace("_", "").replace(",", ""))
        except ValueError:
            number = None
    if isinstance(number, Integral) and not isinstance(number, bool) and number >= 1:
        return int(number)
    what = what or option("max_image_pixels")
    none = "none" if on_command_line() else "None"
    raise ValueError(
        f"{what} must be a number of pixels >= 1, 'auto' (PIL's limit) or {none} (no "
        f"limit). Got {value!r} instead."
    )


def check_background(value, what="The 'background' parameter"):
    """Return a background colour as an ``(R, G, B)`` tuple of ints in 0-255.

    Parameters
    ----------
    value : str or sequence of 3 ints
        A colour name or specification that :func:`PIL.ImageColor.getrgb` knows
        (``"white"``, ``"black"``, ``"#808080"``, ``"rgb(128, 128, 128)"``), or three ints
        in 0-255.
    what : str, default="The 'background' parameter"
        How the error message names the value (a CLI names its flag).

    Returns
    -------
    rgb : tuple of 3 int

    Raises
    ------
    ValueError
        If ``value`` is not such a colour.
    """
    expected = (
        f"{what} must be a colour name or code ('white', 'black', '#808080') or 3 ints "
        f"(R, G, B) in 0-255. Got {value!r} instead."
    )
    if isinstance(value, str):
        try:
            rgb = ImageColor.getrgb(value)
        except ValueError:
            raise ValueError(expected) from None
        if len(rgb) == 4 and rgb[3] != 255:
            raise ValueError(f"{expected} A background must be opaque.")
        return tuple(int(c) for c in rgb[:3])
    try:
        values = tuple(value)
    except TypeError:
        raise ValueError(expected) from None
    if len(values) != 3 or not all(
        isinstance(v, Integral) and not isinstance(v, bool) and 0 <= v <= 255 for v in values
    ):
        raise ValueError(expected)
    return tuple(int(v) for v in values)


@dataclass(frozen=True)
class ImageReader:
    """How images are decoded: the colour under transparent pixels and the pixel limit.

    One value for the two settings, passed where images are read (the embedding, its
    workers, the thumbnails, the feature crops). Build it with :meth:`checked` from what a
    user typed; the fields are the checked values.

    Parameters
    ----------
    background : (int, int, int), default=(255, 255, 255)
        Colour behind transparent pixels (:func:`check_background`).
    max_image_pixels : "auto", int or None, default="auto"
        Files with more pixels are refused (:func:`check_max_image_pixels`).
    """

    background: tuple = WHITE
    max_image_pixels: object = "auto"

    @classmethod
    def checked(cls, background="white", max_image_pixels="auto", *, what=None):
        """A reader from a user's values, checked; ``what`` names ``background`` in errors."""
        what = what or "The 'background' parameter"
        return cls(check_background(background, what), check_max_image_pixels(max_image_pixels))

    def read(self, item):
        """Return an image input as an RGB PIL image, as people see it.

        Parameters
        ----------
        item : path, binary file object, PIL.Image.Image, uint8 array or image tensor
            A file (a path, or its bytes as a file object: a member of a tar shard) is
            decoded as the module docstring says, refused when it has more pixels than
            ``max_image_pixels`` (an image already opened is not checked); an array
            ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` (RGBA, composited over
            ``background``); a tensor ``(C, H, W)`` or ``(H, W)``, uint8 or float in [0, 1].

        Returns
        -------
        image : PIL.Image.Image
            Mode ``"RGB"``, fully loaded (the file is closed).

        Raises
        ------
        ImageTooLargeError
            If the file has more pixels than ``max_image_pixels``.
        OSError, PIL.UnidentifiedImageError
            If the file cannot be read or decoded (missing, empty, truncated, not an image).
        """
        if isinstance(item, Image.Image):
            return to_rgb(item, background=self.background)
        if isinstance(item, (str, os.PathLike)) or hasattr(item, "read"):
            name = item if hasattr(item, "read") else os.fspath(item)
            with _open_checked(name, self.max_image_pixels) as image:
                return to_rgb(image, background=self.background)
        if hasattr(item, "detach"):  # a torch tensor (C, H, W) or (H, W)
            tensor = item.detach().cpu()
            if tensor.ndim == 2:
                tensor = tensor.unsqueeze(0)
            if tensor.is_floating_point():
                tensor = tensor.float().mul(255).round().to(dtype=_torch_uint8(tensor))
            item = tensor.permute(1, 2, 0).numpy()
        array = np.asarray(item)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        return to_rgb(Image.fromarray(np.ascontiguousarray(array)), background=self.background)

    def load(self, images, index):
        """Image ``index`` of ``images`` (anything with ``open(index)``), read."""
        return self.read(images.open(index))

    def admits(self, path):
        """Whether the limit admits the image file ``path`` (its header read)."""
        return fits_pixel_limit(path, self.max_image_pixels)


def _torch_uint8(tensor):
    import torch  # the caller gave a tensor: torch is imported already

    return torch.uint8


@contextmanager
def _pil_limit(limit):
    """PIL's global limit set to ``limit`` (not ``"auto"``) inside the block."""
    with _PIL_LIMIT:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = limit
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _open_checked(name, limit="auto"):
    # Image.open reads only the header; PIL's bomb check runs there, raising above twice the
    # limit and warning above it. Both become ImageTooLargeError. catch_warnings is
    # process-global, but it is held only while the header is parsed.
    if isinstance(name, str):
        check_regular_file(name)
    with nullcontext() if limit == "auto" else _pil_limit(limit):
        effective = Image.MAX_IMAGE_PIXELS
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", Image.DecompressionBombWarning)
                image = Image.open(name)
        except Image.DecompressionBombError:
            raise ImageTooLargeError(_too_large(name, None, effective)) from None
    if any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught):
        size = image.size
        image.close()
        raise ImageTooLargeError(_too_large(name, size, effective))
    for w in caught:  # pass on any other warning
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return image


def fits_pixel_limit(path, limit="auto"):
    """Whether the image file ``path`` has no more pixels than ``limit`` (its header only).

    False when it cannot be opened. ``limit`` as for :func:`check_max_image_pixels`.
    """
    effective = Image.MAX_IMAGE_PIXELS if limit == "auto" else limit
    with _pil_limit(None):
        try:
            check_regular_file(os.fspath(path))
            with Image.open(path) as image:
                width, height = image.size
        except Exception:  # missing, unreadable: not admitted now either
            return False
    return effective is None or width * height <= effective


#: What a file-system object that is not a file is, for messages.
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def check_regular_file(name):
    """Raise OSError unless ``name`` is a regular file (a link to one counts).

    Opening a FIFO waits for a writer and a device may never end: such an object, and a
    broken link, is refused before it is opened, so that a listing holding one (any name
    may end in ``.jpg``) neither hangs nor stops: the embedding skips and lists it.
    """
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        if os.path.islink(name):
            raise FileNotFoundError(
                f"{name!r} is a broken symbolic link (its target {os.readlink(name)!r} "
                "does not exist)"
            ) from None
        raise
    if not stat.S_ISREG(mode):
        kind = next((what for test, what in _KINDS if test(mode)), "not a regular file")
        raise OSError(f"{name!r} is {kind}, not an image file")


def _too_large(name, size, limit):
    name = name if isinstance(name, str) else "the image"
    pixels = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels" if size else "too many pixels"
    none = "none" if on_command_line() else "None"
    return (
        f"{name!r} has {pixels}, more than the limit of {limit:,} pixels "
        f"({option('max_image_pixels')}, a guard against decompression bombs); refused. If "
        f"you trust the file, raise the limit, e.g. {option('max_image_pixels', 500_000_000)} "
        f"({none} removes it)."
    )


def to_rgb(image, *, background=WHITE):
    """Return a PIL image as 8-bit RGB, as people see it (see the module docstring).

    Parameters
    ----------
    image : PIL.Image.Image
    background : (int, int, int), default=(255, 255, 255)
        Colour behind transparent pixels.

    Returns
    -------
    image : PIL.Image.Image
        Mode ``"RGB"``; a new image (``image`` is not modified).
    """
    image = ImageOps.exif_transpose(image) or image
    mode = image.mode
    if mode in ("PA", "LA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        image, mode = image.convert("RGBA"), "RGBA"
    if mode == "RGBA":
        out = Image.new("RGB", image.size, tuple(background))
        out.paste(image, mask=image.getchannel("A"))
        return out
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_to_uint8(image)).convert("RGB")
    return image.convert("RGB")


def _to_uint8(image):
    """Greyscale of 16/32-bit int (``I;16*``, ``I``) or float (``F``) images, as uint8."""
    values = np.asarray(image)
    if image.mode == "F":
        values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(values.min()), float(values.max())
        if lo < 0.0 or hi > 1.0:  # not in [0, 1]: stretch the image's own range
            values = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
        return np.rint(values * 255.0).astype(np.uint8)
    values = np.clip(values.astype(np.int64), 0, 65535)
    return ((values * 255 + 32767) // 65535).astype(np.uint8)
