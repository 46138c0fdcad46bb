"""The receptive-field crops of the feature view, computed on demand in one worker thread.

The crops need the network again (:func:`dks.embed.feature_crops`, rebuilt from
``embedding.json`` by :func:`dks.analysis._regions.embedder_from_results`, as ``dks
visualize`` does) and the images that were embedded. The page asks ``/api/crops`` after
the feature view is shown; the request waits a few seconds for the answer, else says
``"computing"`` and the page asks again. One daemon thread runs the network, one request
after the other (a queue), so the other views keep being answered by the server's threads.
Answers are kept in memory per ``(feature, sign)``; nothing is written anywhere. The images
are named as in ``embedding.json`` (relative to its ``images_root``), never by their path.

A page asks again at once while it shows the view; work that nobody asked for during
twice the wait (its page closed, or moved on to another feature) is dropped from the queue
when its turn comes, so that abandoned requests never keep the worker busy.
"""

import base64
import io
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np

from dks._config import carry_context
from dks._sign import check_sign

__all__ = ["CropWorker"]

#: (feature, sign) answers kept in memory.
CACHE_ANSWERS = 64

#: Largest side of a crop sent to the page (larger crops are shrunk, never enlarged).
THUMBNAIL = 256


class CropWorker:
    """The crops of the ``k`` top images of a feature, one network run at a time.

    Parameters
    ----------
    views : dks.explore._views.Views
        The explorer's views (its folder, embedding sample and names).
    k : int, default=12
        Images cropped per (feature, sign): the feature view's top images.
    wait : float, default=10.0
        Seconds a request waits for its answer before it says ``"computing"``.
    """

    def __init__(self, views, k=12, wait=10.0):
        self.views = views
        self.k = k
        self.wait = wait
        self._answers = OrderedDict()
        self._lock = threading.Lock()
        self._queue = queue.Queue()
        self._thread = None
        self._embedder = None
        self._embedder_error = None
        self._asked = {}  # (feature, sign) -> when a request last waited for it
        self.dropped = 0  # abandoned computations dropped from the queue

    def view(self, feature, sign="presence"):
        """The crops of ``feature`` for ``sign``, or ``{"status": "computing"}`` after
        ``wait`` seconds (asked again, the same computation is waited for)."""
        j = self.views.feature(feature)
        sign = check_sign(sign, allowed=("presence", "absence"), name="the query parameter sign")
        key = (j, sign)
        with self._lock:
            self._asked[key] = time.monotonic()
            future = self._answers.get(key)
            if future is None:
                future = self._answers[key] = Future()
                self._queue.put((key, future))
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=carry_context(self._run), daemon=True, name="dks-explore-crops"
                    )
                    self._thread.start()
            self._answers.move_to_end(key)
            done = [k for k, f in self._answers.items() if f.done()]
            for old in done[: max(0, len(self._answers) - CACHE_ANSWERS)]:
                del self._answers[old]
                self._asked.pop(old, None)
        try:
            return future.result(timeout=self.wait)
        except FutureTimeout:
            return {"feature": feature, "sign": sign, "status": "computing"}

    def _run(self):
        while True:
            key, future = self._queue.get()
            if self._abandoned(key, future) or not future.set_running_or_notify_cancel():
                continue
            j, sign = key
            try:
                future.set_result(self._compute(j, sign))
            except Exception as exc:  # a bug: said in the page's line, not a dead worker
                name = self.views.features[j]
                future.set_result(_unavailable(name, sign, f"{type(exc).__name__}: {exc}"))

    def _abandoned(self, key, future):
        """Drop ``key`` if no request asked for it during twice the wait (a later request
        queues it again)."""
        with self._lock:
            if time.monotonic() - self._asked.get(key, 0.0) <= 2 * self.wait:
                return False
            if self._answers.get(key) is future:
                del self._answers[key]
            self._asked.pop(key, None)
            self.dropped += 1
        future.cancel()
        return True

    def _network(self):
        """The embedder rebuilt from ``embedding.json``, once (its error too)."""
        if self._embedder is None and self._embedder_error is None:
            from dks.analysis import embedder_from_results

            data = {"embedding_meta": self.views.meta, "thresholds": self.views.thresholds}
            try:
                self._embedder = embedder_from_results(data, self.views.path)
            except ImportError as exc:
                self._embedder_error = str(exc)
            except Exception as exc:  # weights not available, another model version...
                # the folder by its name, as the page shows it
                said = str(exc).replace(repr(str(self.views.path)), repr(self.views.path.name))
                self._embedder_error = f"the network cannot be rebuilt ({said})"
        if self._embedder_error is not None:
            raise _Unavailable(self._embedder_error)
        return self._embedder

    def _compute(self, j, sign):
        v = self.views
        name = v.features[j]
        try:
            from dks.embed import feature_crops, top_images
        except ImportError:
            return _unavailable(
                name, sign, "the crops need torch and torchvision: pip install 'dks[torch]'"
            )
        from dks.analysis import image_paths, missing_images

        rows = v.sample_rows
        x = np.asarray(v.sample()[:, j], dtype=np.float64)
        chosen = top_images(x, self.k, lowest=sign == "absence")
        paths = image_paths(v.meta, v.path, rows[chosen])
        gone = set(missing_images(paths))
        missing = [i for i, p in zip(chosen, paths, strict=True) if p in gone]
        if missing:
            return _unavailable(
                name,
                sign,
                f"{len(missing)} of these {len(chosen)} images are not where embedding.json "
                f"says (e.g. {v.images[rows[missing[0]]]}): the crops need the images that "
                "were embedded.",
            )
        try:
            embedder = self._network()
        except _Unavailable as exc:
            return _unavailable(name, sign, str(exc))
        crops = feature_crops(
            embedder, paths, j, activations=x[chosen], k=len(chosen), lowest=sign == "absence"
        )
        whole = all(c.box == (0, 0, c.image.size[1], c.image.size[0]) for c in crops)
        out = {
            "feature": name,
            "sign": sign,
            "status": "done",
            "note": f"{name} has no spatial map to locate (a fully connected layer, or a "
            "receptive field wider than the image): its receptive field is the whole image, "
            "shown whole."
            if whole
            else None,
            "sample": {"n": int(rows.size), "of": int(v.y.size), "exact": bool(v.exact)},
            "crops": [],
        }
        for c in crops:
            row = int(rows[chosen[c.index]])
            out["crops"].append(
                {
                    "row": row,
                    "image": str(v.images[row]) if row < len(v.images) else "",
                    "class": v.classes[v.y[row]] if v.y[row] >= 0 else "",
                    "value": _finite(c.value),
                    "peak": _finite(c.peak),
                    "box": [int(b) for b in c.box],
                    "png": _png(c.image),
                }
            )
        return out


class _Unavailable(Exception):
    pass


def _unavailable(name, sign, reason):
    """Why there are no crops, in one line of at most 300 characters."""
    reason = " ".join(str(reason).split())
    reason = reason if len(reason) <= 300 else reason[:299] + "…"
    return {"feature": name, "sign": sign, "status": "unavailable", "reason": reason}


def _finite(value):
    value = float(value)
    return value if np.isfinite(value) else None


def _png(image):
    """``image`` (PIL) as base64 PNG, shrunk to :data:`THUMBNAIL` pixels at most."""
    if max(image.size) > THUMBNAIL:
        image = image.copy()
        image.thumbnail((THUMBNAIL, THUMBNAIL))
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")
