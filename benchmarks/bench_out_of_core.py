"""Statistics beyond RAM: in RAM, a Zarr store in a memory-limited process, Dask workers.

Fits ``NoiseThresholdSelector(n_shuffles=1)`` on one float32 embedding (ReLU-like values,
``--rows`` x ``--features``), stored both as a row-major ``.npy`` and as a feature-chunked
Zarr array, in separate processes:

- ``ram``: the ``.npy`` loaded into memory (the baseline; its load time is shown apart);
- ``zarr``: the Zarr array, in a process whose memory (page cache included) is limited by a
  cgroup v1 to ``--limit-mb``, about a quarter of the data;
- ``memmap``: the ``.npy`` as a memory map under the same limit (copied once to a
  feature-major temporary file, then read by column blocks);
- ``memmap-columns``: the old access pattern for reference: column blocks read straight out
  of the row-major memory map under the same limit (stopped after ``--timeout`` seconds);
- ``dask-1``, ``dask-2``: the Zarr array as a Dask array on a ``LocalCluster`` of 1 and 2
  worker processes (no memory limit).

Every time is printed with its ratio to the in-RAM fit of the same run, with the CPU time of
the fit (all threads of the process, not its Dask workers), peak memory (the cgroup's peak,
page cache included, for the limited runs; otherwise the peak resident memory of the process
plus its Dask workers), the bytes read from disk by the process and the machine's load
average (1 min) when the run started: on a shared machine the CPU time is the steadier
figure. The files are evicted from the page cache before each run.
Without cgroups (not root, cgroup v2 only) the limited runs are made without a limit and
say so. Run: ``python benchmarks/bench_out_of_core.py [--rows 52000] [--limit-mb 512]``; chunks
wider than a block (spilled a chunk column at a time): ``--rows 300000 --features 2000
--chunks 20000,250 --working-memory 128 --limit-mb 600 --modes ram,zarr``;
``--quick`` for a small smoke run (no memory pressure: it checks that every mode runs).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

#: Per run, so that two runs at once do not change each other's limit or remove it.
CGROUP = f"/sys/fs/cgroup/memory/dksbench-{os.getpid()}"


# ------------------------------------------------------------------------------- child
def child(args):
    if args.cgroup:
        with open(os.path.join(args.cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    import numpy as np
    from sklearn import config_context

    from dks import KSCharacterizer, NoiseThresholdSelector

    y = np.load(os.path.join(args.dir, "y.npy"))
    npy = os.path.join(args.dir, "X.npy")
    store = os.path.join(args.dir, "X.zarr")
    mode = args.child
    load = 0.0
    client = None
    if mode == "ram":
        t0 = time.perf_counter()
        X = np.load(npy)
        load = time.perf_counter() - t0
    elif mode in ("memmap", "memmap-columns"):
        X = np.load(npy, mmap_mode="r")
        if mode == "memmap-columns":
            import dks._engine._blocks

            dks._engine._blocks._row_major = lambda X: False  # the old access pattern
    elif mode == "zarr":
        import zarr

        X = zarr.open_array(store, mode="r")
    else:  # dask-N
        import dask.array as da
        import zarr

        from dks._engine._dask import client_for

        client = client_for(None, int(mode.split("-")[1]))
        X = da.from_zarr(zarr.open_array(store, mode="r"))
    # Warm the JIT (here and on the workers) so that compilation is not timed.
    warm_up()
    if client is not None:
        client.run(warm_up)
    sel = NoiseThresholdSelector(
        KSCharacterizer(n_jobs=args.n_jobs, progress=False),
        n_shuffles=1,
        random_state=0,
        keep_null=False,
        progress=False,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    with config_context(working_memory=args.working_memory):
        sel.fit(X, y)
    fit, cpu = time.perf_counter() - t0, time.process_time() - c0
    workers = 0
    if client is not None:
        workers = sum(client.run(_peak_rss).values())
        client.close()
    result = {
        "load": load,
        "fit": fit,
        "cpu": cpu,
        "rss": _peak_rss() + workers,
        "read": _read_bytes(os.getpid()),
        "digest": hashlib.sha1(sel.dks_.tobytes() + sel.relevance_.tobytes()).hexdigest(),
    }
    print(json.dumps(result))


def warm_up():
    import numpy as np

    from dks import KSCharacterizer

    tiny = np.random.default_rng(0).random((50, 3)).astype(np.float32)
    for X in (tiny, np.asfortranarray(tiny)):
        KSCharacterizer(progress=False).fit(X, np.arange(50) % 2)


def _peak_rss():
    """Peak resident memory of this process (``VmHWM``; ``ru_maxrss`` survives ``exec``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _read_bytes(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("read_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# ------------------------------------------------------------------------------ parent
def make_data(d, n_rows, n_features, n_classes, chunks=(8192, 256)):
    import numpy as np
    import zarr

    rng = np.random.default_rng(0)
    y = rng.integers(0, n_classes, size=n_rows)
    np.save(os.path.join(d, "y.npy"), y)
    npy = np.lib.format.open_memmap(
        os.path.join(d, "X.npy"), mode="w+", dtype=np.float32, shape=(n_rows, n_features)
    )
    rows = chunks[0]
    z = zarr.create_array(
        os.path.join(d, "X.zarr"),
        shape=(n_rows, n_features),
        dtype="float32",
        chunks=chunks,
    )
    shift = rng.normal(size=(n_classes, n_features)).astype(np.float32) * 0.2
    for r0 in range(0, n_rows, rows):
        r1 = min(r0 + rows, n_rows)
        block = rng.standard_normal((r1 - r0, n_features), dtype=np.float32)
        block += shift[y[r0:r1]]
        np.maximum(block, 0.0, out=block)
        npy[r0:r1] = block
        z[r0:r1] = block
    npy.flush()
    del npy


def evict(d):
    """Drop the files of ``d`` from the page cache (so every run reads from disk)."""
    for root, _, files in os.walk(d):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def setup_cgroup(limit):
    try:
        os.makedirs(CGROUP, exist_ok=True)
        with open(os.path.join(CGROUP, "memory.limit_in_bytes"), "w") as f:
            f.write(str(limit))
        return CGROUP
    except OSError as exc:
        print(
            f"!! No cgroup v1 memory controller usable here ({exc}); the 'limited' runs "
            "below run WITHOUT a memory limit (run as root on a cgroup v1 machine)."
        )
        return None


def cgroup_peak(cg):
    with open(os.path.join(cg, "memory.max_usage_in_bytes")) as f:
        return int(f.read())


def reset_peak(cg):
    with open(os.path.join(cg, "memory.max_usage_in_bytes"), "w") as f:
        f.write("0")


def run(args, mode, cg, timeout=None):
    evict(args.dir)
    if cg:
        reset_peak(cg)
    load = os.getloadavg()[0]
    cmd = [sys.executable, __file__, "--child", mode, "--dir", args.dir]
    cmd += ["--working-memory", str(args.working_memory), "--n-jobs", str(args.n_jobs)]
    if cg:
        cmd += ["--cgroup", cg]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.perf_counter()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        read = _read_bytes(proc.pid)
        proc.kill()
        proc.communicate()
        peak = cg and cgroup_peak(cg)
        return {"stopped": time.perf_counter() - t0, "read": read, "peak": peak, "loadavg": load}
    if proc.returncode != 0:
        return {"failed": proc.returncode, "err": err.strip().splitlines()[-3:], "loadavg": load}
    result = json.loads(out.strip().splitlines()[-1])
    result["peak"] = cgroup_peak(cg) if cg else result["rss"]
    result["loadavg"] = load
    return result


def parse_args(argv=None):
    """The options; ``--quick`` replaces the sizes by those of a small smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=52_000)
    parser.add_argument("--features", type=int, default=9_600)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--limit-mb", type=int, default=512)
    parser.add_argument("--working-memory", type=float, default=64, help="MiB, as sklearn")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=None, help="s; default 4x in-RAM")
    parser.add_argument(
        "--chunks", default="8192,256", help="rows,features of the Zarr chunks (e.g. 20000,250)"
    )
    parser.add_argument("--dir", default=None)
    parser.add_argument("--modes", default="ram,zarr,memmap,memmap-columns,dask-1,dask-2")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cgroup", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        # A limit above what the interpreter alone needs: a smoke run of every mode.
        args.rows, args.features, args.limit_mb = 2000, 480, 2048
        args.modes = "ram,zarr,memmap,dask-1"
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child(args)

    gb = args.rows * args.features * 4 / 1e9
    limit = args.limit_mb * 2**20
    if args.quick:
        print("--quick: a smoke run; the ratios are for the full sizes")
    cg = setup_cgroup(limit)
    with tempfile.TemporaryDirectory(prefix="dks-bench-", dir=args.dir) as d:
        args.dir = d
        print(
            f"# {args.rows} x {args.features} float32 ({gb:.2f} GB), {args.classes} classes, "
            f"1 shuffle; limit {args.limit_mb} MiB (data / limit = "
            f"{gb * 1e9 / limit:.1f}); working_memory {args.working_memory} MiB; Zarr chunks "
            f"{args.chunks}"
        )
        chunks = tuple(int(c) for c in args.chunks.split(","))
        make_data(d, args.rows, args.features, args.classes, chunks)
        results = {}
        base = None
        print(
            f"{'run':<16}{'fit s':>9}{'ratio':>8}{'cpu s':>8}{'peak MB':>9}{'read GB':>9}"
            f"{'load':>6}  note"
        )
        for mode in args.modes.split(","):
            limited = mode in ("zarr", "memmap", "memmap-columns")
            timeout = args.timeout
            if timeout is None and base is not None:
                timeout = max(60.0, 4 * base["fit"])
            r = run(args, mode, cg if limited else None, timeout=timeout if limited else None)
            results[mode] = r
            if mode == "ram" and "fit" in r:  # the baseline, if it ran
                base = r
            _print(mode, r, base, limited and cg is not None)
        if cg:
            os.rmdir(cg)
    return results


def _print(mode, r, base, limited):
    note = "limited" if limited else ""
    peak = r.get("peak")
    peak = f"{peak / 1e6:9.0f}" if peak else f"{'-':>9}"
    read = r.get("read")
    read = f"{read / 1e9:9.2f}" if read is not None else f"{'-':>9}"
    read += f"{r['loadavg']:6.1f}"
    if "failed" in r:
        print(f"{mode:<16}{'failed':>9}{'':>8}{'':>8}{peak}{read}  {r['err']}", flush=True)
        return
    if "stopped" in r:
        ratio = f">{r['stopped'] / base['fit']:.1f}x" if base else ""
        stopped = ">" + format(r["stopped"], ".0f")
        print(f"{mode:<16}{stopped:>9}{ratio:>8}{'-':>8}{peak}{read}  stopped", flush=True)
        return
    ratio = r["fit"] / base["fit"] if base else float("nan")
    if mode == "ram":
        note = f"load {r['load']:.1f} s"
    elif base and r["digest"] != base["digest"]:
        note += " RESULTS DIFFER"
    else:
        note += " same result"
    print(f"{mode:<16}{r['fit']:9.1f}{ratio:7.2f}x{r['cpu']:8.1f}{peak}{read}  {note}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
