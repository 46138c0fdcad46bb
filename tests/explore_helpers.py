"""A small results folder for the explorer's tests, with a class name that is markup."""

import json

from dks.pipeline import characterize
from tests.pipeline_helpers import make_results

#: A class name that runs script if a page shows it as markup instead of text.
EVIL = "<img src=x onerror=alert(1)>"


def make_explore_results(root):
    """Statistics of :func:`tests.pipeline_helpers.make_results` with class ``eel`` named
    :data:`EVIL`, and one (fake) image file under ``images/cat``."""
    out = make_results(root)
    meta = json.loads((out / "embedding.json").read_text())
    meta["classes"] = sorted(["cat", "dog", EVIL])  # sorted, as embedding.json keeps them
    meta["labels"] = [EVIL if c == "eel" else c for c in meta["labels"]]
    (out / "embedding.json").write_text(json.dumps(meta))
    (out / "images" / "cat").mkdir(parents=True)
    (out / "images" / "cat" / "0.png").write_bytes(b"\x89PNG fake")
    characterize(out, shuffles=2, jobs=1, verbose=False, progress=False)
    return out


def real_results(root):
    """A results folder embedded for real: 16 images of two classes next to it."""
    from dks.pipeline import embed
    from tests.embed_helpers import smooth_images, write_images
    from tests.pipeline_helpers import EMBED_SETTINGS

    for c in ("a", "b"):
        write_images(root / "images" / c, smooth_images(8, size=(40, 48), seed=ord(c)))
    embed(root / "images", out=root / "res", **EMBED_SETTINGS)
    characterize(root / "res", shuffles=1, jobs=1, verbose=False, progress=False)
    return root / "res"
