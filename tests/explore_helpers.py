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
