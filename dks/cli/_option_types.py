"""The types of the ``dks`` command's options: each converts the text of one option.

Only the text is converted here; the ranges are checked after parsing, by the estimators'
constraints (:func:`dks.analysis.check_parameters`), naming the flag.
"""

import argparse

__all__ = [
    "background",
    "bins",
    "crop",
    "int_or",
    "layers",
    "local_workers",
    "resize",
    "shard",
    "weights",
]


def int_or(word, value, text):
    """``value`` if ``text`` is ``word`` (any case), else ``int(text)``."""
    if text.lower() == word:
        return value
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or {word!r}, got {text!r}"
        ) from None


def bins(text):
    return int_or("exact", "exact", text)


def weights(text):
    return None if text.lower() == "none" else text


def layers(text):
    if text == "paper":
        return "paper"
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected 'paper' or comma-separated layer names")
    return names


def background(text):
    from dks.sources import check_background

    try:
        check_background(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a colour name or code ('white', 'black', '#808080'), got {text!r}"
        ) from None
    return text


def local_workers(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of workers >= 1, got {text!r}")
    return value


def resize(text):
    if text.lower() == "auto":
        return "auto"
    return int_or("none", None, text)


def crop(text):
    return int_or("auto", "auto", text)


def shard(text):
    from dks.store import parse_shard

    try:
        return parse_shard(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected K/N with 0 <= K < N (K counts from 0), got {text!r}"
        ) from None
