"""``--max-image-pixels N|auto|none``: the one flag of the commands that read image files.

``dks analyze`` and ``dks embed`` pass it to the embedder; ``dks report`` and
``dks visualize`` read the images of their thumbnails and crops with it, by default with the
limit the embedding was made with (recorded in ``embedding.json``).
"""

import argparse

__all__ = ["add_max_image_pixels"]


def _max_image_pixels(text):
    from dks.sources import check_max_image_pixels

    try:
        return check_max_image_pixels(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of pixels >= 1, 'auto' or 'none', got {text!r}"
        ) from None


def add_max_image_pixels(group, *, embedding):
    """Add ``--max-image-pixels`` to ``group``; ``embedding``: the command embeds images."""
    auto = (
        "PIL's limit, 89,478,485 pixels unless changed"
        if embedding
        else "the limit the embedding was made with (embedding.json)"
    )
    group.add_argument(
        "--max-image-pixels",
        type=_max_image_pixels,
        default="auto",
        metavar="N|auto|none",
        help="image files with more pixels are refused, a guard against decompression bombs "
        f"(a small file that decodes to gigabytes); auto: {auto}; none: no limit, for "
        "trusted collections of huge scans or drawings (default: %(default)s)",
    )
