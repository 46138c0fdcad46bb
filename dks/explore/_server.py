"""The explorer's local web server: the standard library's ``ThreadingHTTPServer``.

It serves three things and nothing else: the explorer's own assets (``static/``, package
data), the JSON views of :mod:`dks.explore._views` under ``/api/``, and the files of the
results folder under ``/files/`` (images, ``report.html``, figures); ``/api/crops`` crops the
images that ``embedding.json`` names (:mod:`dks.explore._region_views`). Every file path is
percent-decoded, refused if it holds a ``..`` segment, then resolved with symlinks followed
and served only if the result still lies inside its base folder. Only GET and HEAD are
answered; nothing is ever written.

An error answer names files relative to the results folder, never by their place on the
machine. Connections are bounded: :data:`MAX_CONNECTIONS` served at once (more are closed
at once), each dropped after :data:`IDLE_SECONDS` without a byte (a half-open connection
holds no thread for long). A client that goes away mid-answer (the browser moved on) is no
error: the connection is closed, with a debug line on the ``dks`` logger, no traceback.
"""

import contextvars
import json
import logging
import mimetypes
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from dks.explore._views import safe_file

__all__ = [
    "CLIENT_GONE",
    "IDLE_SECONDS",
    "LOOPBACK_NAMES",
    "MAX_CONNECTIONS",
    "STATIC",
    "Explorer",
    "serve",
]

#: The names of this machine's loopback addresses (in ``--host`` and in ``Host`` headers).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")

#: The explorer's assets, shipped in the package.
STATIC = Path(__file__).resolve().parent / "static"

#: Connections served at once (one thread each); more are closed without an answer.
MAX_CONNECTIONS = 32

#: Seconds a connection may stay silent (a request not sent, an answer not read).
IDLE_SECONDS = 15

#: What a socket raises when its client has gone (closed the tab, followed a link).
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)

logger = logging.getLogger("dks")


class _Handler(BaseHTTPRequestHandler):
    server_version = "dks-explore"
    timeout = IDLE_SECONDS  # the socket's timeout: a silent client frees its thread
    views = None  # set on the subclass made per server
    loopback_names = None  # the Host names accepted, when bound to a loopback address

    def log_message(self, format, *args):  # quiet: no line per request
        pass

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        if not self._host_allowed():
            return self._error(403, "unexpected Host header (DNS rebinding?)")
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
        except CLIENT_GONE:
            raise  # no one to answer: the server closes the connection (handle_error)
        except KeyError as exc:
            return self._error(404, exc.args[0] if exc.args else "not found")
        except ValueError as exc:
            return self._error(400, str(exc))
        except OSError as exc:  # a file that cannot be read: named inside the results folder
            return self._error(500, self._os_error(exc))
        except Exception as exc:  # a bug: say it in the page and the answer, not a traceback
            return self._error(500, f"{type(exc).__name__}: {exc}")
        return self._error(404, "not found")

    def _os_error(self, exc):
        """``exc`` in words, its file named relative to the results folder (or the
        explorer's assets), never by its absolute path."""
        what = f"{type(exc).__name__}: {exc.strerror or 'cannot be read'}"
        if not exc.filename:
            return what
        name = os.fspath(exc.filename)
        for base in (self.views.path, STATIC):
            base = os.fspath(Path(base).resolve())
            if os.path.commonpath([base, os.path.abspath(name)]) == base:
                return f"{what}: {os.path.relpath(name, base)!r}"
        return f"{what}: {os.path.basename(name)!r}"

    def _host_allowed(self):
        """On a loopback address, only requests addressed to it by name (``Host``): a page
        of another site that rebinds its own name to 127.0.0.1 gets nothing."""
        if self.loopback_names is None:
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        if host.startswith("["):
            host = host[1 : host.find("]")] if "]" in host else host
        else:
            host = host.rsplit(":", 1)[0]
        return host in self.loopback_names

    def _api(self, name, q):
        v = self.views

        def need(key):
            if not q.get(key):
                raise ValueError(f"the {name} view needs the query parameter {key!r}")
            return q[key]

        if name == "overview":
            return v.overview()
        if name == "class":
            return v.class_view(need("name"))
        if name == "feature":
            return v.feature_view(need("name"), q.get("class") or None)
        if name == "crops":
            return v.crops.view(need("feature"), q.get("sign") or "presence")
        if name == "pair":
            return v.pair_view(need("a"), need("b"))
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


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, :data:`MAX_CONNECTIONS` at most: a flood of connections
    (half-open ones included) cannot make the process hold hundreds of threads. Each
    connection is served in a copy of the context that made the server: the configuration
    set there (:func:`dks.config_context`) is the one its views read."""

    daemon_threads = True

    def __init__(self, *args, **kwargs):
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.context = contextvars.copy_context()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # too many at once: closed, not queued
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            serve = super().process_request_thread
            self.context.copy().run(serve, request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        """A client gone mid-request is a debug line; anything else is printed as usual."""
        exc = sys.exc_info()[1]
        if isinstance(exc, CLIENT_GONE):
            logger.debug("explorer: the client %s went away (%s)", client_address, exc)
            return
        super().handle_error(request, client_address)


class Explorer:
    """A running explorer: its ``url``, and ``stop()``.

    Made by :func:`dks.explore.explore`; the server runs in a daemon thread when
    ``block=False``.
    """

    def __init__(self, views, host, port):
        names = LOOPBACK_NAMES if host in LOOPBACK_NAMES else None
        handler = type("Handler", (_Handler,), {"views": views, "loopback_names": names})
        self._server = _BoundedServer((host, port), handler)
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

    def wait(self):
        """Wait until the background thread stops (Ctrl-C raises ``KeyboardInterrupt``)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.25)  # a timed join, so that Ctrl-C is seen at once

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
