"""The explorer under a user's conditions: a taken port, an unreadable file, requests left
behind, a flood of connections that never send a byte."""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

import dks
from dks.explore._region_views import CropWorker
from dks.explore._server import MAX_CONNECTIONS
from tests.explore_helpers import make_explore_results
from tests.pipeline_helpers import REPO


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_explore_results(tmp_path_factory.mktemp("explore") / "results")


def _env():
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }


def test_a_taken_port_is_one_line_and_a_failure(folder):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dks.cli", "explore", str(folder), "--port", str(port)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=_env(),
            timeout=120,
            check=False,
        )
    finally:
        taken.close()
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"dks explore: error: cannot listen on 127.0.0.1:{port}: another program is using "
        "that port; choose another with --port (0: any free port)"
    ]


def test_an_error_answer_names_the_file_inside_the_results_folder(folder, tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    out = shutil.copytree(folder, tmp_path / "results")
    (out / "figures").mkdir(exist_ok=True)
    secret = out / "figures" / "davg.png"
    secret.write_bytes(b"\x89PNG")
    secret.chmod(0)
    prefix = []
    if os.geteuid() == 0:  # root reads any file: drop that power, as a user has none
        if not shutil.which("setpriv"):
            pytest.skip("setpriv is needed to drop root's power to read any file")
        caps = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "dks.cli", "explore", str(out), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=_env(),
    )
    try:
        line = process.stdout.readline()
        url = line.split(" at ", 1)[1].split()[0]
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url + "files/figures/davg.png", timeout=60)
        answer = json.loads(caught.value.read())
    finally:
        process.kill()
        process.communicate()
    assert caught.value.code == 500
    assert answer == {"error": "PermissionError: Permission denied: 'figures/davg.png'"}
    assert str(tmp_path) not in json.dumps(answer)


class _Views:
    """What the crop worker needs of the views: feature names."""

    features = [f"f{j}" for j in range(40)]

    def feature(self, name):
        return self.features.index(name)


def test_abandoned_crop_requests_are_dropped_from_the_queue():
    worker = CropWorker(_Views(), wait=0.05)
    computed = []

    def compute(j, sign):
        computed.append(j)
        time.sleep(0.3)  # the network on 12 images
        return {"status": "done"}

    worker._compute = compute
    for name in _Views.features:  # a page that asks once for each, then is closed
        assert worker.view(name)["status"] == "computing"
    time.sleep(1.5)
    assert worker.dropped >= 30
    assert len(computed) <= 8  # not 40 x 0.3 s of work for nobody
    # asked again, a dropped one is computed
    deadline = time.monotonic() + 10
    while worker.view("f39")["status"] != "done":
        assert time.monotonic() < deadline


def test_connections_that_never_send_hold_a_bounded_number_of_threads(folder):
    server = dks.explore(folder, port=0)
    host, port = server._server.server_address[:2]
    before = threading.active_count()
    silent = []
    try:
        for _ in range(3 * MAX_CONNECTIONS):
            sock = socket.create_connection((host, port), timeout=10)
            silent.append(sock)
        time.sleep(1.0)
        assert threading.active_count() <= before + MAX_CONNECTIONS
    finally:
        for sock in silent:
            sock.close()
    time.sleep(0.5)
    with urllib.request.urlopen(server.url + "api/overview", timeout=30) as answer:
        assert answer.status == 200
    server.stop()


def _explore(out, log):
    """``dks explore OUT --port 0`` with its stderr in the file ``log``; (process, url)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dks.cli", "explore", str(out), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=REPO,
        env=_env(),
    )
    return process, process.stdout.readline().split(" at ", 1)[1].split()[0]


def test_a_client_gone_mid_answer_prints_no_traceback(folder, tmp_path):
    out = shutil.copytree(folder, tmp_path / "results")
    (out / "big.bin").write_bytes(os.urandom(32 * 2**20))  # more than the socket buffers
    with open(tmp_path / "stderr.txt", "w+") as log:  # a file: nothing blocks on a full pipe
        process, url = _explore(out, log)
        try:
            host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)
            for _ in range(4):  # the browser asks for a large file, then navigates away
                sock = socket.create_connection((host, int(port)), timeout=30)
                sock.sendall(f"GET /files/big.bin HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                assert sock.recv(1024).startswith(b"HTTP/1.0 200")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()  # a reset: the server's next write fails
            time.sleep(1.0)
            with urllib.request.urlopen(url + "api/overview", timeout=30) as answer:
                assert answer.status == 200  # still serving
        finally:
            process.kill()
            process.communicate()
        log.seek(0)
        said = log.read()
    assert "Traceback" not in said and "Error" not in said, said
