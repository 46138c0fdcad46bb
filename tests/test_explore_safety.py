"""dks explore as a local server: what it binds, serves, refuses, writes, and tells."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings

import pytest

import dks
from dks.explore import NotAResultsFolder
from dks.explore._server import STATIC
from tests.explore_helpers import EVIL
from tests.pipeline_helpers import REPO, make_results


def raw(server, path, method="GET", host=None):
    """``(status, headers, body)`` of a request sent as written (no client-side cleaning)."""
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or f"127.0.0.1:{port}")
        conn.endheaders()
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_binds_loopback_by_default(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert server._server.server_address[0] == "127.0.0.1"


def test_another_host_warns_that_it_is_reachable(folder):
    with pytest.warns(UserWarning, match="host='0.0.0.0' makes the explorer reachable"):
        handle = dks.explore(folder, port=0, host="0.0.0.0")
    handle.stop()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dks.explore(folder, port=0, host="localhost").stop()


@pytest.mark.parametrize(
    "path",
    [
        "/files/../../../../etc/passwd",
        "/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/files/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/files/..%2f..%2f..%2fetc%2fpasswd",
        "/files/%252e%252e/%252e%252e/etc/passwd",
        "/files/..\\..\\..\\etc\\passwd",
        "/files/..%5c..%5cetc%5cpasswd",
        "/files//etc/passwd",
        "/files/%2fetc%2fpasswd",
        "/files/images/../../secret.txt",
        "/files/%00/etc/passwd",
        "/static/../_views.py",
        "/static/%2e%2e/_views.py",
        "/static/%2e%2e/%2e%2e/_config.py",
        "/../../etc/passwd",
        "/api/image?row=-1",
        "/api/image?row=99999",
    ],
)
def test_no_path_out_of_the_folders(server, folder, path):
    (folder.parent / "secret.txt").write_text("secret")
    status, _, body = raw(server, path)
    assert status in (400, 403, 404), path
    assert b"secret" not in body and b"root:" not in body and b"import" not in body


def test_no_symlink_out(server, folder, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    links = [folder / "link.txt", folder / "outside", folder / "images" / "cat" / "1.png"]
    os.symlink(secret, links[0])
    os.symlink(tmp_path, links[1])
    os.symlink(secret, links[2])  # the image of row 1
    try:
        assert raw(server, "/files/embedding.json")[0] == 200  # inside: served
        assert raw(server, "/api/image?row=0")[0] == 200
        for path in ["/files/link.txt", "/files/outside/secret.txt", "/api/image?row=1"]:
            status, _, body = raw(server, path)
            assert status in (403, 404) and b"secret" not in body, path
    finally:
        for link in links:
            link.unlink()


def test_only_reads(server):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert raw(server, "/api/overview", method)[0] == 501
    assert raw(server, "/api/overview", "HEAD")[0] == 200


def test_a_rebound_host_name_gets_nothing(server):
    """A page of another site whose name now points to 127.0.0.1 (DNS rebinding)."""
    status, _, body = raw(server, "/api/overview", host="evil.example:80")
    assert status == 403 and b"cat" not in body
    assert raw(server, "/api/overview", host="localhost")[0] == 200


def test_bad_queries_are_clear_errors(server):
    for path, status in [
        ("/api/class", 400),
        ("/api/class?name=nope", 404),
        ("/api/feature?name=zzz", 404),
        ("/api/image?row=abc", 400),
        ("/api/nothing", 404),
    ]:
        got, headers, body = raw(server, path)
        assert got == status, path
        assert headers["Content-Type"] == "application/json" and json.loads(body)["error"]


def test_never_writes(folder):
    def tree():
        return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.rglob("*"))}

    before = tree(), folder.stat().st_mtime_ns
    handle = dks.explore(folder, port=0)
    try:
        for path in [
            "/",
            "/api/overview",
            "/api/class?name=dog",
            "/api/feature?name=c&class=dog",
            "/api/pair?a=cat&b=dog",
            "/api/image?row=0",
            "/files/report.html",
        ]:
            raw(handle, path)
    finally:
        handle.stop()
    assert (tree(), folder.stat().st_mtime_ns) == before


def test_names_are_text_never_markup(server):
    """Names reach the page as JSON only, which the front-end inserts as text."""
    _, headers, body = raw(server, "/api/overview")
    assert EVIL in json.loads(body)["classes"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"
    app = (STATIC / "app.js").read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", app)
    assert not re.search(
        r"https?://(?!www\.w3\.org/2000/svg)", app + (STATIC / "index.html").read_text()
    )


def test_not_a_results_folder_says_what_to_run(tmp_path):
    with pytest.raises(NotAResultsFolder, match="dks analyze"):
        dks.explore(tmp_path, port=0)
    out = make_results(tmp_path / "embedded")  # what `dks embed` leaves: no statistics
    with pytest.raises(NotAResultsFolder, match=f"dks characterize {re.escape(str(out))}"):
        dks.explore(out, port=0)


def test_bad_port_names_the_option(folder):
    with pytest.raises(ValueError, match=r"port must be a TCP port in 0\.\.65535 .*got port=-1"):
        dks.explore(folder, port=-1)


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "dks.cli", "explore", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_cli_not_a_results_folder(tmp_path):
    for folder, advice in [
        (tmp_path, "dks analyze"),
        (make_results(tmp_path / "e"), "dks characterize"),
    ]:
        p = _cli(folder)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 1 and advice in err, err
        assert "Traceback" not in err and err.startswith("dks explore: error:")


def test_cli_port_taken(folder):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = _cli(folder, "--port", port)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 1, err
    assert f"127.0.0.1:{port}" in err and "--port" in err and "Traceback" not in err
    p = _cli(folder, "--port", 70000)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "--port" in err


@pytest.mark.parametrize("host", [None, "0.0.0.0"])
def test_cli_serves_until_ctrl_c(folder, host):
    p = _cli(folder, "--port", 0, *(["--host", host] if host else []))
    line = p.stdout.readline()
    url = line.split(" at ")[1].split()[0]
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url + "api/overview") as r:
        assert r.status == 200
    time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130 and "Traceback" not in err
    assert ("reachable from the network" in err) == (host is not None)
    if host:
        assert "--host 0.0.0.0" in err
