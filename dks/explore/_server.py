"""The explorer's local web server: the standard library's ``ThreadingHTTPServer``.

It serves three things and nothing else: the explorer's own assets (``static/``, package
data), the JSON views of :mod:`dks.explore._views` under ``/api/``, and the files of the
results folder under ``/files/`` (images, ``report.html``, figures). Every file path is
percent-decoded, refused if it holds a ``..`` segment, then resolved with symlinks followed
and served only if the result still lies inside its base folder. Only GET and HEAD are
answered; nothing is ever written.
"""

import json
import mimetypes
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from dks.explore._views import safe_file

__all__ = ["STATIC", "Explorer", "serve"]

#: The explorer's assets, shipped in the package.
STATIC = Path(__file__).resolve().parent / "static"


class _Handler(BaseHTTPRequestHandler):
    server_version = "dks-explore"
    views = None  # set on the subclass made per server

    def log_message(self, format, *args):  # quiet: no line per request
        pass

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        url = urlsplit(self.path)
        route = url.path
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            if route in ("/", "/index.html"):
                return self._file(STATIC, "index.html", head)
            if route.startswith("/static/"):
                return self._file(STATIC, route[len("/static/") :], head)
            if route.startswith("/files/"):
                return self._file(self.views.path, route[len("/files/") :], head)
            if route == "/api/image":
                real = self.views.image_file(int(query.get("row", "-1")))
                return self._send_path(real, head)
            if route.startswith("/api/"):
                return self._json(self._api(route[len("/api/") :], query), head)
        except KeyError as exc:
            return self._error(404, exc.args[0] if exc.args else "not found")
        except ValueError as exc:
            return self._error(400, str(exc))
        return self._error(404, "not found")

    def _api(self, name, q):
        v = self.views
        if name == "overview":
            return v.overview()
        if name == "class":
            return v.class_view(q["name"])
        if name == "feature":
            return v.feature_view(q["name"], q.get("class") or None)
        if name == "pair":
            return v.pair_view(q["a"], q["b"])
        raise KeyError(f"no view {name!r}")

    def _file(self, base, rel, head):
        rel = unquote(rel)
        parts = rel.replace("\\", "/").split("/")
        if ".." in parts or "\x00" in rel or rel.startswith("/"):
            return self._error(403, "outside the served folders")
        return self._send_path(safe_file(base, Path(base) / rel), head)

    def _send_path(self, real, head):
        if real is None:
            return self._error(404, "not found")
        body = real.read_bytes()
        kind = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
        self._send(200, kind, body, head)

    def _json(self, obj, head):
        body = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
        self._send(200, "application/json", body, head)

    def _error(self, code, message):
        self._send(code, "application/json", json.dumps({"error": message}).encode(), False)

    def _send(self, code, kind, body, head):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)


class Explorer:
    """A running explorer: its ``url``, and ``stop()``.

    Made by :func:`dks.explore.explore`; the server runs in a daemon thread when
    ``block=False``.
    """

    def __init__(self, views, host, port):
        handler = type("Handler", (_Handler,), {"views": views})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.views = views
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        shown = f"[{shown}]" if ":" in shown else shown
        self.url = f"http://{shown}:{self._server.server_address[1]}/"
        self._thread = None

    def start(self):
        """Serve in a background thread; returns ``self``."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        """Serve in this thread until ``KeyboardInterrupt`` (which is re-raised)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self):
        """Stop serving and free the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __repr__(self):
        return f"<dks explorer at {self.url}>"

    def _repr_html_(self):
        return f'<a href="{self.url}" target="_blank">dks explorer: {self.url}</a>'


def serve(views, host, port):
    """An :class:`Explorer` bound to ``host:port`` (OSError when the port is taken)."""
    return Explorer(views, host, port)


def warn_network(host, stream=sys.stderr):
    """The warning printed when ``host`` is not a loopback address."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: --host {host} makes the explorer reachable from the network: anyone "
            "who can reach this machine can read the results folder.",
            file=stream,
        )
