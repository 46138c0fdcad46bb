"""Benchmark of ``dks explore`` on a results folder of ImageNet's shape.

The folder is synthetic but written by dks's own writers where the explorer reads it: the
embedding store (:class:`dks.store.StoreWriter`, default chunk layout, zstd so that the
1.28 M x 9,600 float32 rows take a few GB instead of 49), ``embedding.json``, and the
statistics files (``dks.npy``, ``null_dks.npy``, ``thresholds.json``, ``curves.csv``,
``class_noise.csv``: the pipeline's own writers) of 1,000 classes x 9,600 features.
The values are sparse and quantized (post-ReLU-like, so that they compress), each class
shifted up on ten features of its own.

Measured, with the server in this process and requests over HTTP:

* **Start**: ``dks.explore(RES)`` until it returns (URL ready), and until its sample of the
  embedding is read (in the background).
* **First page** (goal < 2 s): ``/``, its script and style, and ``/api/overview``, the first
  time; and, when Playwright and Chromium are installed, the time until the browser shows the
  class x layer map.
* **Each view** (goal < 300 ms the server's answer): class, feature, feature with a class
  (the paper's Fig. 1 from the store), two classes, on names not asked before (cold caches);
  the slowest of ``--repeat`` names is the figure.

Printed: each time / its goal (below 1 meets it), and / the time of a trivial request (the
static style sheet) measured in the same run, the round-trip floor of this machine.

Usage::

    python benchmarks/bench_explore.py                 # ImageNet shape: ~10 min to build
    python benchmarks/bench_explore.py --folder /tmp/res_in  # keep (and reuse) the folder
    python benchmarks/bench_explore.py --quick          # a small smoke run
"""

import argparse
import json
import os
import shutil
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

#: The explorer's goals, in seconds.
GOAL_FIRST_PAGE = 2.0
GOAL_VIEW = 0.3


def parse_args(argv=None):
    """The options; ``--quick`` replaces the sizes by those of a small smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-classes", type=int, default=1000)
    parser.add_argument("--n-features", type=int, default=9600)
    parser.add_argument("--n-images", type=int, default=1_281_167)
    parser.add_argument("--n-layers", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5, help="names asked per view")
    parser.add_argument("--folder", help="build the results folder here (reused when present)")
    parser.add_argument(
        "--sample-bytes", type=int, help="the explorer's explore_sample_bytes (default: dks's)"
    )
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium timing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_classes, args.n_features, args.n_images, args.n_layers = 20, 480, 6000, 4
        args.repeat, args.sample_bytes = 2, 1 << 20  # a sample, as at ImageNet's shape
    return args


def _names(args):
    classes = [f"n{c:08d}" for c in range(args.n_classes)]
    width = args.n_features // args.n_layers
    layers = {
        f"conv{k + 1}": [k * width, args.n_features if k == args.n_layers - 1 else (k + 1) * width]
        for k in range(args.n_layers)
    }
    features = [f"{name}_{j - a}" for name, (a, b) in layers.items() for j in range(a, b)]
    return classes, layers, features


def build(out, args):
    """Write the synthetic results folder ``out``; returns the seconds it took."""
    from dks import config_context
    from dks.results._folder import STORE
    from dks.results._io import CLASS_NOISE_COLUMNS, save_npy, write_csv, write_json
    from dks.store import StoreWriter, chunk_rows_for

    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    classes, layers, features = _names(args)
    n, d, k = args.n_images, args.n_features, args.n_classes
    y = np.minimum(np.arange(n) * k // n, k - 1)  # sorted by class, like an image folder
    images = [f"{classes[c]}/{classes[c]}_{i}.JPEG" for i, c in enumerate(y.tolist())]
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "settings": {"model": "synthetic", "bench": True},
        "feature_names": features,
        "layer_slices": layers,
    }
    with config_context(store_compression="zstd"):
        chunk_rows = chunk_rows_for(d, 8)
        writer = StoreWriter(out / STORE, manifest, images, chunk_rows)
        pool = _value_pool(rng, chunk_rows, d)
        for chunk in writer.pending:
            a, b = writer.chunk_range(chunk)
            rows = np.roll(pool[chunk % len(pool)][: b - a], chunk % 97, axis=1)
            for c in np.unique(y[a:b]):  # each class is higher on its ten features
                cols = (np.arange(10) * 7919 + c * 10) % d
                rows[np.ix_(y[a:b] == c, cols)] += 2.0
            writer.write_chunk(chunk, rows)
        writer.finish()
    meta = {
        "format": "dks-results/1",
        "store": STORE,
        "feature_names": features,
        "layers": layers,
        "images_root": "images",
        "images": images,
        "labels": [classes[c] for c in y.tolist()],
        "classes": classes,
        "dataset": "synthetic (ImageNet shape)",
        "skipped": [],
        "settings": {"model": "synthetic", "seconds": None},
        "fingerprint": writer.fingerprint,
    }
    write_json(out / "embedding.json", meta)
    # The statistics: D_KS of 1,000 x 9,600 pairs, two shuffles, global thresholds.
    dks = rng.normal(0.0, 0.08, size=(k, d)).astype(np.float32)
    for c in range(k):
        dks[c, (np.arange(10) * 7919 + c * 10) % d] = rng.uniform(0.4, 0.9, 10)
    null = rng.normal(0.0, 0.05, size=(2, k, d)).astype(np.float32)
    t_plus, t_minus = 0.2, -0.2
    save_npy(out / "dks.npy", dks)
    save_npy(out / "null_dks.npy", null)
    relevance = (dks > t_plus).astype(np.int8) - (dks < t_minus).astype(np.int8)
    save_npy(out / "relevance.npy", relevance)
    write_json(
        out / "thresholds.json", {"thresholds": "global", "t_plus": t_plus, "t_minus": t_minus}
    )
    grid = np.linspace(0, 1, 101)
    write_csv(
        out / "curves.csv",
        ("grid", "d_avg_plus", "d_avg_minus"),
        ((g, float(np.exp(-10 * g)), float(np.exp(-12 * g))) for g in grid),
    )
    kept = (relevance != 0).mean(axis=1)
    counts = np.bincount(y, minlength=k)
    write_csv(
        out / "class_noise.csv",
        CLASS_NOISE_COLUMNS,
        (
            [classes[c], int(counts[c]), float(kept[c]), 0.01, 0.05, 0, t_plus, t_minus]
            for c in range(k)
        ),
    )
    return time.perf_counter() - start


def _value_pool(rng, rows, d, size=8):
    """A few blocks of sparse quantized values (70 % zeros, steps of 1/8), reused rolled."""
    pool = []
    for _ in range(size):
        v = np.round(rng.exponential(0.5, size=(rows, d)) * 8) / 8
        v[rng.random((rows, d)) < 0.7] = 0.0
        pool.append(v.astype(np.float32))
    return pool


def timed_get(url):
    """Seconds to GET ``url`` (status 200 checked) and the body."""
    start = time.perf_counter()
    with urllib.request.urlopen(url) as r:
        body = r.read()
        assert r.status == 200, url
    return time.perf_counter() - start, body


def browser_first_page(url):
    """Seconds until Chromium shows the class x layer map (its last row); None without
    Playwright or Chromium."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(chromium).exists():
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto("about:blank")
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(".heat .hrow:last-child a.name")
        seconds = time.perf_counter() - start
        browser.close()
    return seconds


def main(argv=None):
    import dks

    args = parse_args(argv)
    if args.quick:
        print("--quick: a smoke run; the goals are for ImageNet's shape")
    tmp = None
    if args.folder:
        out = Path(args.folder)
    else:
        tmp = tempfile.mkdtemp(prefix="bench_explore_")
        out = Path(tmp) / "results"
    try:
        if not (out / "dks.npy").is_file():
            seconds = build(out, args)
            size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            print(f"built {out} in {seconds:.0f} s ({size / 2**30:.2f} GiB)")
        return measure(dks, out, args)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def measure(dks, out, args):
    """Start the explorer over ``out``, time the first page and the views; print them."""
    if args.sample_bytes:
        dks.set_config(explore_sample_bytes=args.sample_bytes)
    start = time.perf_counter()
    handle = dks.explore(out, port=0)
    started = time.perf_counter() - start
    try:
        views = handle.views
        url = handle.url
        first = [timed_get(url + p) for p in ("", "static/app.js", "static/style.css")]
        overview_s, body = timed_get(url + "api/overview")
        first_page = sum(t for t, _ in first) + overview_s
        views.sample()
        sampled = time.perf_counter() - start
        ov = json.loads(body)
        print(
            f"folder: {len(ov['classes'])} classes x {len(ov['features'])} features, "
            f"{ov['n_images']} images; sample of the embedding: {views.sample_rows.size} rows "
            f"(exact: {views.exact}); load average "
            + ", ".join(f"{v:.2f}" for v in os.getloadavg())
        )
        floor = np.median([timed_get(url + "static/style.css")[0] for _ in range(20)])
        print(f"start: {started:.2f} s until the URL, {sampled:.2f} s until the sample is read")
        print(f"trivial request (baseline): {floor * 1e3:.2f} ms")
        rows = [("first page (HTML, JS, CSS, overview)", first_page, GOAL_FIRST_PAGE)]
        seen = browser_first_page(url) if not args.no_browser else None
        if seen is not None:
            rows.append(("first page in Chromium (map shown)", seen, GOAL_FIRST_PAGE))
        rng = np.random.default_rng(args.seed + 1)
        classes, features = ov["classes"], ov["features"]
        picks = rng.choice(len(classes), size=(args.repeat, 2), replace=False)
        fpicks = rng.choice(len(features), size=(args.repeat, 2), replace=False)
        q = urllib.parse.quote
        asked = {
            "class": [f"api/class?name={q(classes[a])}" for a, _ in picks],
            "feature": [f"api/feature?name={q(features[f])}" for f, _ in fpicks],
            "feature + class (Fig. 1)": [
                f"api/feature?name={q(features[g])}&class={q(classes[a])}"
                for (a, _), (_, g) in zip(picks, fpicks, strict=True)
            ],
            "two classes": [f"api/pair?a={q(classes[a])}&b={q(classes[b])}" for a, b in picks],
        }
        for name, paths in asked.items():
            times = [timed_get(url + p)[0] for p in paths]
            rows.append((f"view: {name} (slowest of {len(times)})", max(times), GOAL_VIEW))
    finally:
        handle.stop()
    worst = 0.0
    for label, seconds, goal in rows:
        ratio = seconds / goal
        worst = max(worst, ratio)
        status = "meets" if ratio < 1 else "MISSES"
        print(
            f"{label:45s} {seconds * 1e3:8.1f} ms  / goal {goal * 1e3:6.0f} ms = {ratio:5.2f} "
            f"({status}); / baseline x{seconds / floor:,.0f}"
        )
    first_page = max(s for label, s, _ in rows if label.startswith("first page"))
    slowest = max(s for label, s, _ in rows if label.startswith("view"))
    print(
        f"summary: first page {first_page:.2f} s (goal < {GOAL_FIRST_PAGE:.0f} s), slowest view "
        f"{slowest * 1e3:.0f} ms (goal < {GOAL_VIEW * 1e3:.0f} ms): "
        + ("meets both goals" if worst < 1 else "MISSES a goal")
    )
    return worst


if __name__ == "__main__":
    main()
