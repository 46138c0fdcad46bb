"""Scaling study of the statistics: time and memory against N, and against Dask workers.

For each ``N`` of ``--rows`` (float32, ``--features`` features, 10 classes, 1 shuffle),
``NoiseThresholdSelector(keep_null=False)`` is fitted in fresh processes (as in
``bench_out_of_core.py``, whose helpers this script uses): in RAM, and on a feature-chunked
Zarr store; at the largest ``N`` also on a Dask ``LocalCluster`` of 1 and 2 workers. Every
time is also printed as a ratio to the in-RAM fit of the same ``N`` and run. The fit time
per row is then extrapolated linearly to 1,000,000 rows (every kernel is ``O(N)`` per feature
and labeling, reading is ``O(N)`` per block), and a figure is written with ``--plot PATH``
(the one in ``docs/_static/scaling.png``).

Run: ``python benchmarks/scaling_study.py --rows 10000,30000,100000 --plot scaling.png``.
"""

import argparse
import json
import os
import tempfile
import types

from bench_out_of_core import make_data, run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,30000,100000")
    parser.add_argument("--features", type=int, default=9_600)
    parser.add_argument("--working-memory", type=float, default=256, help="MiB")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--plot", default=None)
    parser.add_argument("--json", default=None, help="write the measurements here")
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    rows = []
    print(f"{'N':>8}{'run':>9}{'fit s':>9}{'ratio':>8}{'s/Mrow':>9}{'peak MB':>9}")
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="dks-scaling-", dir=args.dir) as d:
            make_data(d, n, args.features, 10)
            opts = types.SimpleNamespace(dir=d, working_memory=args.working_memory, n_jobs=1)
            modes = ["ram", "zarr"]
            if n == max(sizes):
                modes += [f"dask-{w}" for w in workers]
            base = None
            for mode in modes:
                r = run(opts, mode, None)
                if "fit" not in r:
                    print(f"{n:>8}{mode:>9}  failed: {r}")
                    continue
                base = r["fit"] if mode == "ram" else base
                rows.append({"n": n, "mode": mode, "fit": r["fit"], "peak": r["peak"]})
                print(
                    f"{n:>8}{mode:>9}{r['fit']:9.1f}{r['fit'] / base:7.2f}x"
                    f"{r['fit'] / n * 1e6:9.0f}{r['peak'] / 1e6:9.0f}",
                    flush=True,
                )
    for mode in ("ram", "zarr"):
        per_row = [r["fit"] / r["n"] for r in rows if r["mode"] == mode]
        if per_row:
            # The largest N is the least dominated by fixed costs.
            print(f"extrapolated {mode} fit at N=1,000,000: {per_row[-1] * 1e6 / 60:.0f} min")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.plot:
        plot(rows, args.plot, args.features)


def plot(rows, path, n_features):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m, ax_w) = plt.subplots(1, 3, figsize=(12, 3.6))
    big = 1_000_000
    for mode, color in (("ram", "C0"), ("zarr", "C1")):
        pts = sorted((r["n"], r["fit"], r["peak"]) for r in rows if r["mode"] == mode)
        if not pts:
            continue
        ns, fits, peaks = zip(*pts, strict=True)
        label = "in RAM" if mode == "ram" else "Zarr store, feature blocks"
        ax_t.loglog(ns, fits, "o-", color=color, label=label)
        ax_t.loglog([ns[-1], big], [fits[-1], fits[-1] / ns[-1] * big], "--", color=color)
        ax_m.loglog(ns, [p / 1e6 for p in peaks], "o-", color=color, label=label)
    data_mb = [n * n_features * 4 / 1e6 for n in (1e4, big)]
    ax_m.loglog([1e4, big], data_mb, ":", color="grey", label="data size")
    ax_t.set(xlabel="N (rows)", ylabel="fit time (s)", title="time (dashed: extrapolated)")
    ax_m.set(xlabel="N (rows)", ylabel="peak memory (MB)", title="memory")
    dask = sorted((int(r["mode"].split("-")[1]), r["fit"]) for r in rows if "dask" in r["mode"])
    if dask:
        ws, fits = zip(*dask, strict=True)
        ax_w.plot(ws, fits, "o-", color="C2", label="measured")
        ax_w.plot(ws, [fits[0] / w for w in ws], "--", color="grey", label="ideal 1/workers")
        ax_w.set_xticks(ws)
    n_dask = max((r["n"] for r in rows if "dask" in r["mode"]), default=0)
    ax_w.set(xlabel="Dask workers", ylabel="fit time (s)", title=f"Dask, N={n_dask}")
    for ax in (ax_t, ax_m, ax_w):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"NoiseThresholdSelector fit, {n_features} float32 features, 10 classes")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
