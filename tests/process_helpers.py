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


#: Flags of a quick ``dks embed`` (the offline EfficientNet-Lite0 on small centre crops).
EMBED = [
    "--model", "efficientnet_lite0", "--crops", "center", "--resize", "48", "--crop", "40",
    "--batch-size", "2", "--workers", "0", "--no-progress",
]  # fmt: skip


def start_embed(out, images, *extra, sleep=0.0, gate=None):
    """Start ``dks embed IMAGES --out OUT`` (:data:`EMBED` and ``extra`` flags) in a process.

    ``sleep``: seconds the worker waits after each chunk (``tests.cli_worker``), so that it
    can be killed mid-run; ``gate``: a path whose file its first batch waits for.
    """
    from tests.pipeline_helpers import REPO

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "DKS_TEST_SLEEP": str(sleep),
        **({"DKS_TEST_GATE": str(gate)} if gate is not None else {}),
    }
    cmd = [sys.executable, "-m", "tests.cli_worker", "embed", str(images), "--out", str(out)]
    return subprocess.Popen(
        [*cmd, *EMBED, *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process):
    """Wait for a :func:`start_embed` process; it must succeed. Returns its stderr."""
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    return err


def n_chunks_done(out):
    """Chunks of ``out/embedding.zarr`` marked done."""
    done = os.path.join(out, "embedding.zarr", "done")
    return len([n for n in os.listdir(done) if n.endswith(".json")]) if os.path.isdir(done) else 0


def temporaries(root):
    """Temporary files and folders (``.dks-tmp``, ``.partial``) under ``root``, relative."""
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, dirs, files in os.walk(root)
        for name in dirs + files
        if name.endswith((".dks-tmp", ".partial"))
    )


#: The folder of :func:`make_folder`: classes, images per class, and store chunks of 2 rows.
N_CLASSES, N_PER_CLASS = 3, 4
N_CHUNKS = N_CLASSES * N_PER_CLASS // 2


def make_folder(root):
    """A folder of ``N_CLASSES`` classes of ``N_PER_CLASS`` random 24 x 24 PNG images."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    for c in range(N_CLASSES):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(N_PER_CLASS):
            img = rng.integers(0, 200, size=(24, 24, 3)).astype(np.uint8)
            Image.fromarray(img).save(folder / f"img_{i}.png")
    return root


def same_folder(a, b):
    """Same files, same embedding (bit for bit), same embedding.json but for the times."""
    assert sorted(p.relative_to(a) for p in a.rglob("*")) == sorted(
        p.relative_to(b) for p in b.rglob("*")
    )
    import json

    import numpy as np

    from dks.store import open_embedding

    xa = np.asarray(open_embedding(a / "embedding.zarr").array)
    xb = np.asarray(open_embedding(b / "embedding.zarr").array)
    assert xa.tobytes() == xb.tobytes()
    meta_a, meta_b = (json.loads((d / "embedding.json").read_text()) for d in (a, b))
    for meta in (meta_a, meta_b):
        meta["settings"].pop("seconds")
        meta["settings"].pop("created")
    assert meta_a == meta_b
