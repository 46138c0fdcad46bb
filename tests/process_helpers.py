"""Killing a process of our own mid-write, for the tests that nothing is lost or left behind."""

import os
import signal
import subprocess
import sys


def kill_when_ready(code, timeout=60):
    """Run Python ``code`` until it prints ``ready``, then SIGKILL it.

    Returns
    -------
    pid, returncode : int, int
        The killed process and its exit status (``-SIGKILL``).
    """
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line == "ready", f"the process said {line!r} instead of 'ready'"
        os.kill(proc.pid, signal.SIGKILL)
        return proc.pid, proc.wait(timeout=timeout)
    finally:
        proc.stdout.close()
