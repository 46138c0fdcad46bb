"""Nothing lost, nothing mislabeled: image folders as users leave them.

Real symbolic links (to a parent folder, in cycles, to another class, outside the folder),
FIFOs, sockets, broken links, file names that are not UTF-8 and unreadable folders, met by
:func:`dks.embed.image_folder` and by ``dks embed`` in its own process (a listing that hangs
is caught by the process's timeout).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import warnings

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("torch")

from dks.embed import image_folder  # noqa: E402
from tests.pipeline_helpers import REPO  # noqa: E402
from tests.process_helpers import EMBED  # noqa: E402

pytestmark = pytest.mark.torch


def _images(root, classes=("cat", "dog"), n=2):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 200, size=(24, 24, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"img{i}.png")
    return root


def _listed(root):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths, labels, _ = image_folder(root)
    rel = [os.path.relpath(p, root) for p in paths]
    return list(zip(rel, labels.tolist(), strict=True)), [str(w.message) for w in caught]


def _env():
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def _embed(images, out, *extra, timeout=300):
    """``dks embed IMAGES --out OUT`` in its own process; (returncode, stderr)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dks.cli",
            "embed",
            os.fspath(images),
            "--out",
            os.fspath(out),
            *EMBED,
            *extra,
        ],
        capture_output=True,
        cwd=REPO,
        env=_env(),
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stderr.decode("utf-8", "replace")


# ---------------------------------------------------------------------- 1. symbolic links
def test_a_link_to_the_parent_folder_is_a_cycle_not_followed(tmp_path):
    root = _images(tmp_path / "data")
    os.symlink("..", root / "dog" / "up")
    listed, said = _listed(root)
    assert listed == [
        ("cat/img0.png", "cat"),
        ("cat/img1.png", "cat"),
        ("dog/img0.png", "dog"),
        ("dog/img1.png", "dog"),
    ]
    (message,) = said
    assert "1 symbolic link(s)" in message and "(a cycle) and were not followed" in message
    assert f"'dog/up' -> {os.path.realpath(root)!r}" in message


def test_links_to_images_listed_elsewhere_keep_their_first_real_class(tmp_path):
    root = _images(tmp_path / "data")
    outside = _images(tmp_path / "outside", classes=("pics",), n=1) / "pics"
    os.symlink("../cat", root / "dog" / "cats")  # a whole class again, under "dog"
    os.symlink("../cat/img1.png", root / "dog" / "a.png")  # one file again
    os.symlink(outside, root / "dog" / "more")  # images found only through this link
    os.symlink(outside, root / "cat" / "more")  # ... and through this one, first
    listed, said = _listed(root)
    assert listed == [
        ("cat/img0.png", "cat"),
        ("cat/img1.png", "cat"),
        ("cat/more/img0.png", "cat"),
        ("dog/img0.png", "dog"),
        ("dog/img1.png", "dog"),
    ]
    (message,) = said
    assert "3 symbolic link(s)" in message and "under the class of the first path" in message


def test_two_cycles_and_objects_that_are_not_files_neither_hang_nor_stop_dks_embed(tmp_path):
    root = _images(tmp_path / "data")
    os.symlink("..", root / "dog" / "up")
    os.symlink("..", root / "cat" / "up")
    os.symlink("/", root / "cat" / "slash")
    os.mkfifo(root / "cat" / "pipe.png")  # opening it would wait for a writer forever
    os.symlink("nothing.png", root / "dog" / "broken.jpg")
    server = socket.socket(socket.AF_UNIX)
    server.bind(os.fspath(root / "dog" / "sock.png"))
    try:
        code, err = _embed(root, tmp_path / "results")
    finally:
        server.close()
    assert code == 0, err
    assert "3 symbolic link(s)" in err and "(a cycle) and were not followed" in err
    meta = json.loads((tmp_path / "results" / "embedding.json").read_text())
    assert meta["images"] == ["cat/img0.png", "cat/img1.png", "dog/img0.png", "dog/img1.png"]
    assert meta["labels"] == ["cat", "cat", "dog", "dog"]
    skipped = (tmp_path / "results" / "skipped.csv").read_text()
    assert "pipe.png' is a named pipe (FIFO), not an image file" in skipped
    assert "sock.png' is a socket, not an image file" in skipped
    assert "broken.jpg' is a broken symbolic link (its target 'nothing.png'" in skipped


# ------------------------------------------------------------ 4. names that are not UTF-8
def test_a_file_name_that_is_not_utf8_is_embedded_under_its_own_name(tmp_path):
    root = _images(tmp_path / "data")
    good = os.fsdecode(os.fsencode(root / "cat") + b"/bad\xfe.png")
    os.link(root / "cat" / "img0.png", good)
    broken = os.fsdecode(os.fsencode(root / "dog") + b"/corrupt\xff.png")
    with open(broken, "wb") as fh:
        fh.write(b"not an image")
    code, err = _embed(root, tmp_path / "results")
    assert code == 0, err
    meta = json.loads((tmp_path / "results" / "embedding.json").read_text())
    (name,) = [n for n in meta["images"] if n.startswith("cat/bad")]
    # the identity gives the file back, byte for byte
    assert os.fsencode(os.path.join(meta["images_root"], name)) == os.fsencode(good)
    assert meta["labels"][meta["images"].index(name)] == "cat"
    skipped = (tmp_path / "results" / "skipped.csv").read_bytes()
    assert b"/dog/corrupt\xff.png,dog," in skipped  # the bytes of the name on disk


# ------------------------------------------------------------- 8. unreadable folders
_LISTING = """
import sys, warnings
from dks.embed import image_folder
warnings.simplefilter("always")
warnings.showwarning = lambda m, *a, **k: print("warning:", m)
try:
    print(len(image_folder(sys.argv[1])[0]), "images")
except ValueError as exc:
    print("error:", exc)
"""


def _list_without_root_powers(root):
    """``image_folder(root)`` in a process that cannot read what its modes forbid (root
    without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, as a user is)."""
    caps = "-dac_override,-dac_read_search"
    if os.name != "posix" or os.geteuid() != 0:
        prefix = []
    elif shutil.which("setpriv"):
        prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]
    else:
        pytest.skip("setpriv is needed to drop root's power to read any folder")
    done = subprocess.run(
        [*prefix, sys.executable, "-c", _LISTING, os.fspath(root)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_an_unreadable_folder_is_reported_as_permission_denied(tmp_path):
    root = _images(tmp_path / "data")
    _images(root / "dog" / "sub", classes=("deeper",))
    (root / "dog" / "sub").chmod(0)
    try:
        said = _list_without_root_powers(root)
        assert "4 images" in said
        assert "1 folder(s)" in said and "cannot be read and were left out" in said
        assert "'dog/sub' (Permission denied)" in said
        (root / "cat").chmod(0)
        said = _list_without_root_powers(root)
        assert "1 class folder(s)" in said and "hold no image files" in said
        assert "Folders that cannot be read (permission denied?): 'cat'" in said
    finally:
        (root / "dog" / "sub").chmod(0o755)
        (root / "cat").chmod(0o755)


# ------------------------------------------------------------- 8. -q with skipped files
def test_quiet_still_says_that_files_were_skipped_in_one_line(tmp_path):
    root = _images(tmp_path / "data")
    (root / "dog" / "empty.png").write_bytes(b"")
    code, err = _embed(root, tmp_path / "results", "-q")
    assert code == 0, err
    assert err.splitlines() == [
        f"dks: warning: Skipped 1 of 5 images that could not be read (listed in "
        f"{tmp_path / 'results' / 'skipped.csv'}); the first: input 2 (file "
        f"{str(root / 'dog' / 'empty.png')!r}): UnidentifiedImageError: cannot identify image "
        f"file {str(root / 'dog' / 'empty.png')!r}"
    ]
