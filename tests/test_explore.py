"""dks explore: the JSON views against numpy, the server's safety, the CLI's messages."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

import dks
from dks.explore import NotAResultsFolder
from dks.pipeline import characterize, load_results
from tests.pipeline_helpers import REPO, make_results

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = make_results(tmp_path_factory.mktemp("res") / "results")
    meta = json.loads((out / "embedding.json").read_text())
    meta["classes"] = sorted(["cat", "dog", EVIL])  # sorted, as embedding.json keeps them
    meta["labels"] = [EVIL if c == "eel" else c for c in meta["labels"]]
    (out / "embedding.json").write_text(json.dumps(meta))
    (out / "images" / "cat").mkdir(parents=True)
    (out / "images" / "cat" / "0.png").write_bytes(b"\x89PNG fake")
    characterize(out, shuffles=2, jobs=1, verbose=False, progress=False)
    return out


@pytest.fixture(scope="module")
def server(folder):
    handle = dks.explore(folder, port=0)
    yield handle
    handle.stop()


def get(server, path):
    try:
        with urllib.request.urlopen(server.url + path) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_views_match_the_statistics(server, folder):
    res = load_results(folder)
    status, body = get(server, "api/overview")
    assert status == 200
    ov = json.loads(body)
    assert EVIL in ov["classes"]
    assert len(ov["features"]) == res["dks"].shape[1]
    d = json.loads(get(server, "api/class?name=cat")[1])
    c = ov["classes"].index("cat")
    np.testing.assert_allclose(d["dks"], res["dks"][c], atol=1e-4)
    t_plus, t_minus = res["thresholds"]["t_plus"], res["thresholds"]["t_minus"]
    assert d["n_plus"] == int((res["dks"][c] > t_plus).sum())
    assert d["n_minus"] == int((res["dks"][c] < t_minus).sum())


def test_feature_view_is_fig1_of_the_store(server, folder):
    res = load_results(folder)
    X = np.asarray(res["embedding"])
    y = np.asarray(res["embedding_meta"]["labels"])
    f = json.loads(get(server, "api/feature?name=a_0&class=cat")[1])["fig1"]
    intra, inter = X[y == "cat", 0], X[y != "cat", 0]
    edges = np.linspace(X[:, 0].min(), X[:, 0].max(), len(f["edges"]))
    np.testing.assert_allclose(f["edges"], edges, atol=1e-4)
    np.testing.assert_allclose(f["intra"], np.histogram(intra, edges)[0] / intra.size, atol=1e-4)
    np.testing.assert_allclose(f["inter"], np.histogram(inter, edges)[0] / inter.size, atol=1e-4)
    # the ECDFs' largest gap is the (unsigned) KS statistic, up to the sampling of the points
    gap = np.max(np.abs(np.subtract(f["ecdf_intra"], f["ecdf_inter"])))
    assert abs(gap - abs(f["dks"])) < 0.15
    top = json.loads(get(server, "api/feature?name=a_0")[1])["top"]
    assert top[0]["value"] == pytest.approx(X[:, 0].max())


def test_pair_view_ranks_the_differences(server, folder):
    res = load_results(folder)
    rows = json.loads(get(server, "api/pair?a=cat&b=dog")[1])["rows"]
    classes = res["embedding_meta"]["classes"]
    diff = res["dks"][classes.index("cat")] - res["dks"][classes.index("dog")]
    assert rows[0]["feature"] == res["embedding_meta"]["feature_names"][np.argmax(np.abs(diff))]


def test_serves_nothing_outside(server, folder, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    link = folder / "link.txt"
    dirlink = folder / "outside"
    os.symlink(secret, link)
    os.symlink(tmp_path, dirlink)
    try:
        assert get(server, "files/embedding.json")[0] == 200
        assert get(server, "api/image?row=0")[0] == 200  # images/cat/0.png, inside
        for path in [
            "files/../../etc/passwd",
            "files/%2e%2e/%2e%2e/etc/passwd",
            "files/..%2f..%2fetc%2fpasswd",
            "files/%252e%252e/etc/passwd",
            "files//etc/passwd",
            "files/%2fetc%2fpasswd",
            "files/link.txt",
            "files/outside/secret.txt",
            "static/../_views.py",
            "static/%2e%2e/_views.py",
            "api/image?row=-1",
        ]:
            status, body = get(server, path)
            assert status in (403, 404), path
            assert b"secret" not in body and b"root:" not in body
    finally:
        link.unlink()
        dirlink.unlink()


def test_never_writes(folder):
    def tree():
        return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.rglob("*"))}

    before = tree()
    handle = dks.explore(folder, port=0)
    try:
        for path in ["", "api/overview", "api/class?name=dog", "api/feature?name=c&class=dog"]:
            get(handle, path)
    finally:
        handle.stop()
    assert tree() == before


def test_not_a_results_folder(tmp_path):
    with pytest.raises(NotAResultsFolder, match="dks analyze"):
        dks.explore(tmp_path, port=0)
    out = make_results(tmp_path / "embedded")  # dks embed only
    with pytest.raises(NotAResultsFolder, match="dks characterize"):
        dks.explore(out, port=0)


def _cli(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "dks.cli", "explore", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


def test_cli_messages(folder, tmp_path):
    p = _cli(tmp_path)
    _, err = p.communicate(timeout=60)
    assert p.returncode != 0 and "dks analyze" in err and "Traceback" not in err
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = _cli(folder, "--port", port)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "--port" in err and "Traceback" not in err


def test_cli_serves_until_ctrl_c(folder):
    p = _cli(folder, "--port", 0, "--host", "0.0.0.0")
    line = p.stdout.readline()
    assert "http://" in line
    url = line.split(" at ")[1].split()[0]
    with urllib.request.urlopen(url + "api/overview") as r:
        assert r.status == 200
    time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130
    assert "reachable from the network" in err and "Traceback" not in err
