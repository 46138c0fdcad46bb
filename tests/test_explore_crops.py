"""dks explore: the receptive-field crops of the feature view (``/api/crops``).

The results folder is embedded for real, as in test_visualize.py (a randomly initialized
SqueezeNet 1.1 on small images, the images outside the results folder): the crops must be
those of :func:`dks.embed.feature_crops` on the embedding's top images.
"""

import base64
import io
import json
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("torch")

import dks
from dks.analysis._regions import embedder_from_results
from dks.embed import feature_crops
from dks.explore._views import Views

from .explore_helpers import real_results

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:.*random:UserWarning")]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return real_results(tmp_path_factory.mktemp("explore_crops"))


@pytest.fixture(scope="module")
def server(results):
    handle = dks.explore(results, port=0)
    yield handle
    handle.stop()


def get(server, path):
    try:
        with urllib.request.urlopen(server.url + path) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def crops_of(server, feature, sign="presence", timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        status, d = get(server, f"api/crops?feature={feature}&sign={sign}")
        assert status == 200, d
        if d["status"] != "computing" or time.monotonic() > deadline:
            return d


def pixels(png):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(png))).convert("RGB"))


@pytest.mark.parametrize("sign", ["presence", "absence"])
def test_the_crops_are_those_of_feature_crops(results, server, sign):
    data = dks.load_results(results)
    meta = data["embedding_meta"]
    j = int(np.argmax(np.abs(data["dks"]).max(axis=0)))
    d = crops_of(server, meta["feature_names"][j], sign)
    assert d["status"] == "done", d
    embedder = embedder_from_results(data, results)
    paths = [str(results.parent / "images" / p) for p in meta["images"]]
    column = np.asarray(data["embedding"][:, j])
    expected = feature_crops(
        embedder, paths, j, activations=column, k=12, lowest=sign == "absence"
    )
    assert len(d["crops"]) == 12 < len(paths)  # the top 12 of the 16 images
    assert [c["row"] for c in d["crops"]] == [c.index for c in expected]
    assert [c["image"] for c in d["crops"]] == [meta["images"][c.index] for c in expected]
    assert [tuple(c["box"]) for c in d["crops"]] == [c.box for c in expected]
    np.testing.assert_allclose([c["value"] for c in d["crops"]], [c.value for c in expected])
    for got, want in zip(d["crops"], expected, strict=True):
        np.testing.assert_array_equal(pixels(got["png"]), np.asarray(want.image.convert("RGB")))
    assert any(c.box != (0, 0, 40, 48) for c in expected)  # crops, not the whole images
    assert d["note"] is None
    assert str(results.parent) not in json.dumps(d)  # the images are outside: named, no path
    # asked again: the same answer, from memory
    assert crops_of(server, meta["feature_names"][j], sign) == d


def test_bad_requests(server):
    assert get(server, "api/crops?feature=nope")[0] == 404
    status, d = get(server, "api/crops?feature=features.0_1&sign=both")
    assert status == 400 and "sign" in d["error"]
    assert get(server, "api/crops")[0] == 400


def test_images_gone_say_so_in_one_line(results, tmp_path):
    gone = tmp_path / "moved"
    shutil.copytree(results, gone)
    meta = json.loads((gone / "embedding.json").read_text())
    meta["images_root"] = str(tmp_path / "no-such-images")
    (gone / "embedding.json").write_text(json.dumps(meta))
    d = Views(gone).crops.view("features.0_3")
    assert d["status"] == "unavailable"
    assert "12 of these 12 images are not where embedding.json says" in d["reason"]
    assert str(tmp_path) not in d["reason"]  # named as in embedding.json, not by path
    assert "\n" not in d["reason"]


def test_without_torch_the_line_says_what_to_install(results, monkeypatch):
    monkeypatch.setitem(sys.modules, "dks.embed", None)  # import fails, as without torch
    d = Views(results).crops.view("features.0_3")
    assert d["status"] == "unavailable" and "pip install 'dks[torch]'" in d["reason"]


def test_a_field_that_is_the_whole_image_is_said(results, monkeypatch):
    """A fully connected feature's crops are the whole images (test_locate.py); the
    answer says that its field is the whole image."""
    from dks.embed import _locate

    def whole(embedder, images, feature, *, activations, k, lowest):
        from PIL import Image

        return [
            _locate.FeatureCrop(i, Image.new("RGB", (48, 40)), (0, 0, 40, 48), 1.0, 1.0)
            for i in range(len(images))
        ]

    monkeypatch.setattr(_locate, "feature_crops", whole)
    d = Views(results).crops.view("features.3_0")
    assert d["status"] == "done" and "its receptive field is the whole image" in d["note"]


def test_other_views_are_answered_while_crops_are_computed(results):
    handle = dks.explore(results, port=0)
    crops = handle.views.crops
    crops.wait = 0.2
    release, active, most = threading.Event(), [0], [0]
    lock = threading.Lock()

    def slow(j, sign):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        release.wait(30)
        with lock:
            active[0] -= 1
        return {"feature": handle.views.features[j], "sign": sign, "status": "done"}

    crops._compute = slow
    try:
        for name in ("features.0_1", "features.0_2", "features.3_5"):
            assert crops_of(handle, name, timeout=0)["status"] == "computing"
        t0 = time.monotonic()
        for path in ("api/overview", "api/class?name=a", "api/feature?name=features.0_1&class=b"):
            assert get(handle, path)[0] == 200
        assert time.monotonic() - t0 < 5
        assert crops_of(handle, "features.0_1", timeout=0)["status"] == "computing"
        release.set()
        for name in ("features.0_1", "features.0_2", "features.3_5"):
            assert crops_of(handle, name)["status"] == "done"
        assert most[0] == 1  # one network at a time
    finally:
        release.set()
        handle.stop()
