"""The gallery examples run: each fast ``examples/plot_*.py`` script exits 0.

They are run as users run them, ``python examples/plot_x.py``, in a subprocess with a
non-interactive Matplotlib backend, warnings as errors, and a scratch working directory.
The full analysis (``examples/analyze_default_dataset.py``, minutes) is only compiled, and
checked to be left out of the examples the documentation build executes.
"""

import os
import py_compile
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FAST = sorted(EXAMPLES.glob("plot_*.py"))
SLOW = [p for p in sorted(EXAMPLES.glob("*.py")) if p not in FAST]

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="no examples/ folder")


def _docs_filename_pattern():
    """The ``filename_pattern`` of sphinx-gallery in docs/conf.py (without importing it)."""
    source = (ROOT / "docs" / "conf.py").read_text(encoding="utf-8")
    match = re.search(r"""["']filename_pattern["']\s*:\s*r?["']([^"']+)["']""", source)
    assert match, "docs/conf.py sets no sphinx-gallery filename_pattern"
    return match.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("script", FAST, ids=[p.name for p in FAST])
def test_fast_example_runs(script, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{script.name} exited with {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
    )
    assert proc.stdout.strip(), f"{script.name} printed nothing"
    assert list(tmp_path.iterdir()) == [], f"{script.name} wrote files in its working folder"


@pytest.mark.parametrize("script", SLOW, ids=[p.name for p in SLOW])
def test_slow_example_compiles_and_is_not_executed_by_the_docs(script, tmp_path):
    py_compile.compile(str(script), cfile=str(tmp_path / "x.pyc"), doraise=True)
    pattern = _docs_filename_pattern()
    assert re.search(pattern, str(script)) is None, (
        f"{script.name} matches the docs' filename_pattern {pattern!r}: the docs build "
        "would run it"
    )


def test_docs_execute_every_fast_example():
    pattern = _docs_filename_pattern()
    assert FAST, "no examples/plot_*.py"
    for script in FAST:
        assert re.search(pattern, str(script)), f"the docs build would not run {script.name}"


def test_every_example_has_a_title():
    for script in sorted(EXAMPLES.glob("*.py")):
        text = script.read_text(encoding="utf-8")
        assert text.startswith('"""'), f"{script.name} must open with its docstring"
        lines = text.split('"""', 2)[1].strip().splitlines()
        title_at = 1 if set(lines[0]) == {"="} else 0
        title, underline = lines[title_at], lines[title_at + 1]
        assert set(underline) == {"="} and len(underline) >= len(title), (
            f"{script.name}: the docstring must start with a title underlined with '='"
        )
