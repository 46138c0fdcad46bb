"""Every Python block of the README runs as written, in a fresh interpreter."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text):
    """The ```python blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_blocks_are_found():
    assert python_blocks("a\n```python\nx = 1\n```\nb\n```bash\nls\n```\n") == ["x = 1\n"]


@pytest.mark.parametrize("number", range(len(python_blocks(README.read_text("utf-8")))))
def test_readme_block_runs(number, tmp_path):
    code = python_blocks(README.read_text(encoding="utf-8"))[number]
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"README block {number + 1}:\n{code}\n{proc.stderr}"
