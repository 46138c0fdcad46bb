"""``dks explore``: the results of a study as an interactive explorer in the browser.

:func:`explore` serves a results folder on a local web server (the standard library's
``http.server``) with a front-end in plain JavaScript shipped in the package: no new
dependency, no CDN, works offline. See :doc:`/explore`.
"""

import errno
import warnings

from dks._options import option
from dks.explore._server import LOOPBACK_NAMES, Explorer, serve
from dks.explore._views import NotAResultsFolder, Views

__all__ = ["Explorer", "NotAResultsFolder", "explore"]


def explore(results, *, port=8765, host="127.0.0.1", open_browser=False, block=False):
    """Serve the explorer of a results folder.

    Parameters
    ----------
    results : str or os.PathLike
        A characterized results folder (``dks characterize`` done).
    port : int, default=8765
        TCP port; 0 picks a free one.
    host : str, default="127.0.0.1"
        Address to bind; anything but loopback is reachable from the network (a warning
        says so).
    open_browser : bool, default=False
        Open the URL in the default web browser.
    block : bool, default=False
        Print the URL and serve in this thread until Ctrl-C; otherwise (for notebooks)
        serve in a background thread and return at once.

    Returns
    -------
    Explorer
        With ``.url`` and ``.stop()``.

    Raises
    ------
    NotAResultsFolder
        The folder is not a results folder, or has no statistics yet (the message says what
        to run).
    ValueError
        ``port`` is not in 0..65535.
    OSError
        The port is taken (or ``host`` is not an address of this machine).
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(
            f"{option('port')} must be a TCP port in 0..65535 (0: any free port); got "
            f"{option('port', port)} instead."
        )
    views = Views(results)
    if host not in LOOPBACK_NAMES:
        warnings.warn(
            f"{option('host', host)} makes the explorer reachable from the network: anyone "
            "who can reach this machine can read the results folder.",
            UserWarning,
            stacklevel=2,
        )
    try:
        server = serve(views, host, port)
    except OSError as exc:
        raise OSError(_cannot_listen(host, port, exc)) from None
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    if block:
        print(f"dks explore: serving {views.path} at {server.url} (Ctrl-C to stop)", flush=True)
        server.serve_forever()
        return server
    return server.start()


def _cannot_listen(host, port, exc):
    """Why the explorer cannot listen on ``host:port``, and what to do, in one line."""
    if exc.errno == errno.EADDRINUSE:
        why = "another program is using that port"
    elif exc.errno == errno.EACCES:
        why = "ports below 1024 need administrator rights"
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = f"{host} is not an address of this machine (see {option('host')})"
    else:
        why = exc.strerror or type(exc).__name__
    return (
        f"cannot listen on {host}:{port}: {why}; choose another with {option('port')} "
        "(0: any free port)"
    )


class _CallableModule(type(__import__("sys"))):
    """``dks.explore`` is both this package and the function: once the package is imported
    it shadows the lazy function on :mod:`dks`, so calling the package calls :func:`explore`."""

    def __call__(self, *args, **kwargs):
        return explore(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
