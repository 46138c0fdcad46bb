"""Benchmark of the README's default job: time before the first step, peak memory, output.

The job is ``dks analyze --out DIR`` (500 Fashion-MNIST test images, EfficientNet-Lite0 with
its ImageNet weights, ten crops of 224, statistics, figures, report), run as a fresh process
as a user runs it, with the code of this checkout (``current``) and, in the same run, with
the code of an older revision (``--baseline``, extracted with ``git archive``), the runs
alternating. For each run, from the process's start:

* ``first_step_s``: until the job's first step starts (the ``[dks] images`` line);
* ``first_batch_s``: until the first batch of images is embedded (the progress bar's first
  step): the imports, the model, its weights and the first forward pass;
* ``first_step_cpu_s``, ``first_batch_cpu_s``: the CPU time of the process until then, what
  the wall times would be on free cores (the first step runs on one thread; the forward
  pass uses all cores and adds its CPU time, so on free cores the wall time is lower);
* ``exit_s``: from the job's last line to the end of the process (the interpreter's
  shutdown);
* ``embed_s``, ``job_total_s``: the embedding step and the job's own "total", as the job
  prints them (the steps, without the start-up);
* ``outside_s``: the wall time minus the job's own "total" (what the issue measured);
* ``peak_rss_mb``: the largest resident memory of the process (``ru_maxrss``, as
  ``/usr/bin/time -v`` reports it), and ``cpu_s``: its user + system time;

and whether the D_KS (``dks.npy``) of the two versions are identical. The goals (issue 32):
at most 10 s before the first step, a peak of 1.5 GB, steps not slower than the older
revision's, the same ``dks.npy``; the ``goals`` line gives each figure as a ratio to its goal
(at most 1 meets it). Timings depend on the load of the machine: the load average is printed
with each run; compare the two versions of one run, not runs of different times, and the
CPU times more than the wall times. ``--quick`` runs ``dks embed`` on 2 images per class.

Usage::

    python benchmarks/bench_default_job.py               # two full jobs, ~5 min on 2 free cores
    python benchmarks/bench_default_job.py --repeats 2   # alternating pairs, medians
    python benchmarks/bench_default_job.py --baseline none
    python benchmarks/bench_default_job.py --quick
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: main before the light default job (issue 32): the figures it is compared with.
BASELINE = "8daf761"
GOAL_FIRST_STEP_S = 10.0
GOAL_PEAK_MB = 1500.0

_BAR = re.compile(r"CNNEmbedder\([^)]*\):\s+\d+%\|[^|]*\|\s*(\d+)/")
_TOTAL = re.compile(r"; total (?:(\d+) min )?([\d.]+) s")
_EMBED = re.compile(r"^\[dks\] embed: done in (?:(\d+) min )?([\d.]+) s")


def _seconds(match):
    return 60 * int(match.group(1) or 0) + float(match.group(2))


def _load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if os.name == "posix" else "?"


def _cpu(pid):
    """User + system seconds of process ``pid`` so far (NaN where /proc cannot say)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def extract(rev, into):
    """The ``dks`` package of git revision ``rev`` under ``into`` (its parent folder)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "dks"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_job(code_dir, out, command, limit):
    """Run the job with the ``dks`` of ``code_dir``; its timings, memory and CPU time."""
    argv = [sys.executable, "-m", "dks.cli", command, "--out", str(out)]
    if limit is not None:
        argv += ["--limit-per-class", str(limit)]
    load = _load()
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": ""}
    proc = subprocess.Popen(
        argv, cwd=code_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    marks, tail = {}, []

    def read():
        buf = b""
        while chunk := proc.stderr.read1(4096):
            buf += chunk
            *lines, buf = re.split(rb"[\r\n]", buf)
            now = time.perf_counter() - start
            for raw in lines:
                line = raw.decode(errors="replace")
                tail.append(line)
                if line.startswith("[dks] images") and "first_step" not in marks:
                    marks["first_step"], marks["first_step_cpu"] = now, _cpu(proc.pid)
                bar = _BAR.search(line)
                if bar and int(bar.group(1)) > 0 and "first_batch" not in marks:
                    marks["first_batch"], marks["first_batch_cpu"] = now, _cpu(proc.pid)
                if line.startswith("[dks]"):
                    marks["last_line"] = now
                total, embed = _TOTAL.search(line), _EMBED.search(line)
                if total:
                    marks["job_total"] = _seconds(total)
                if embed:
                    marks["embed"] = _seconds(embed)

    reader = threading.Thread(target=read)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)  # this process's own peak memory and CPU time
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({proc.returncode}):\n" + "\n".join(tail[-20:])
        )
    return {
        "first_step_s": marks.get("first_step", float("nan")),
        "first_batch_s": marks.get("first_batch", float("nan")),
        "first_step_cpu_s": marks.get("first_step_cpu", float("nan")),
        "first_batch_cpu_s": marks.get("first_batch_cpu", float("nan")),
        "embed_s": marks.get("embed", float("nan")),
        "job_total_s": marks.get("job_total", float("nan")),
        "exit_s": wall - marks.get("last_line", float("nan")),
        "outside_s": wall - marks.get("job_total", float("nan")),
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "load": f"{load} -> {_load()}",
    }


def goal_ratios(summary):
    """Each figure of ``summary["current"]`` as a ratio to its goal, as one line.

    The start-up and the peak against their fixed goals; the steps (the embedding, the
    job's own total, its CPU time) against the older revision of the same run, when there
    is one: not slower means a ratio of at most 1.
    """
    cur = summary["current"]
    parts = [
        f"first_step_s={cur['first_step_s'] / GOAL_FIRST_STEP_S:.2f} "
        f"({cur['first_step_s']:.1f} s / {GOAL_FIRST_STEP_S:g} s; CPU "
        f"{cur['first_step_cpu_s']:.1f} s)",
        f"peak_rss_mb={cur['peak_rss_mb'] / GOAL_PEAK_MB:.2f} "
        f"({cur['peak_rss_mb']:.0f} / {GOAL_PEAK_MB:g})",
    ]
    olds = [(name, runs) for name, runs in summary.items() if name != "current"]
    for name, old in olds[:1]:
        for key in ("embed_s", "job_total_s", "cpu_s"):
            parts.append(
                f"{key}={cur[key] / old[key]:.2f} ({cur[key]:.1f} s / {old[key]:.1f} s of {name})"
            )
    return " ".join(parts)


def parse_args(argv=None):
    """The options; ``--quick`` embeds 2 images per class (``dks embed``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="git revision, or 'none'")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each version")
    parser.add_argument("--limit-per-class", type=int, default=None)
    parser.add_argument("--command", default="analyze", choices=("analyze", "embed"))
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.limit_per_class, args.command = 2, "embed"
    return args


def main(argv=None):
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dks-bench-job-"))
    versions = {"current": ROOT}
    try:
        if args.baseline.lower() != "none":
            (work / "old").mkdir()
            try:
                versions[f"old({args.baseline})"] = extract(args.baseline, work / "old")
            except (OSError, subprocess.CalledProcessError) as exc:
                print(f"default_job: no baseline ({args.baseline}: {exc}); current only")
        results = {name: [] for name in versions}
        for repeat in range(args.repeats):
            for name, code in reversed(versions.items()) if repeat % 2 else versions.items():
                out = work / f"{name.split('(')[0]}-{repeat}"
                r = run_job(code, out, args.command, args.limit_per_class)
                results[name].append(r)
                print(f"default_job: version={name} command={args.command} "
                      + " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                                 for k, v in r.items()), flush=True)  # fmt: skip
        summary = {
            name: {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "load"}
            for name, runs in results.items()
        }
        cur = summary["current"]
        print(
            f"default_job: current first_step_s={cur['first_step_s']:.1f} (goal <= "
            f"{GOAL_FIRST_STEP_S:g}; CPU {cur['first_step_cpu_s']:.1f}) first_batch_s="
            f"{cur['first_batch_s']:.1f} (CPU {cur['first_batch_cpu_s']:.1f}) "
            f"peak_rss_mb={cur['peak_rss_mb']:.0f} (goal <= {GOAL_PEAK_MB:g})"
        )
        print("default_job: goals (figure / goal, <= 1 meets it): " + goal_ratios(summary))
        for name, old in summary.items():
            if name == "current":
                continue
            keys = ("first_step_s", "first_step_cpu_s", "first_batch_s", "first_batch_cpu_s",
                    "embed_s", "job_total_s", "outside_s", "wall_s", "cpu_s",
                    "peak_rss_mb")  # fmt: skip
            ratios = " ".join(f"{k}={cur[k] / old[k]:.2f}" for k in keys)
            print(f"default_job: current / {name}: {ratios}")
            if args.command == "analyze":
                same = all(
                    np.array_equal(
                        np.load(work / f"current-{i}" / "dks.npy"),
                        np.load(work / f"old-{i}" / "dks.npy"),
                    )
                    for i in range(args.repeats)
                )
                print(f"default_job: same dks.npy as {name}: {same}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
