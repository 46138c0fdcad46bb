"""The validate step: :func:`validate`, the ablation and stability of a results folder.

Runs :func:`dks.validity.ablation` and :func:`dks.validity.stability` on the folder's
embedding, with the characterizer and the threshold rule its statistics were made with
(``thresholds.json``), and writes ``validity/`` (:data:`VALIDITY_FILES`) in one
transaction; the report, when the folder has one, is rewritten with its "Validity" section.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dks._options import on_command_line, option
from dks.analysis._figures import report_step, require_matplotlib
from dks.characterize import KSCharacterizer
from dks.results import (
    EMBEDDING_FILES,
    EXPORT_FILES,
    IMAGES_DIR,
    REPORT_FILES,
    STATS_FILES,
    VALIDITY_DIR,
    AnalysisError,
    Log,
    check_out,
    disk_errors,
    format_seconds,
    layer_groups,
    read_embedding,
    read_embedding_meta,
    read_json,
    transaction,
    write_json,
    writer_lock,
)
from dks.select import NoiseThresholdSelector
from dks.validity import (
    UNSTABLE_JACCARD,
    AblationResult,
    StabilityResult,
    ablation,
    stability,
)

__all__ = ["VALIDITY_FILES", "Validation", "validate"]

#: The files of ``validity/``: the two tables, the settings, the figure.
VALIDITY_FILES = ("ablation.csv", "stability.csv", "validity.json", "validity.png", "validity.svg")


@dataclass
class Validation:
    """What :func:`validate` measured.

    Attributes
    ----------
    out : pathlib.Path
        The results folder.
    ablation : dks.validity.AblationResult
    stability : dks.validity.StabilityResult
    timings : dict of str to float
        Seconds of each step.
    """

    out: Path
    ablation: AblationResult
    stability: StabilityResult
    timings: dict


def validate(
    results, *, k=(5, 10, 20), splits=5, bootstrap=50, seed=0, jobs=-1, verbose=True, wait=False
):
    """Ablation and stability of a characterized results folder (``dks validate``).

    Writes ``validity/ablation.csv``, ``validity/stability.csv`` (the tables of
    :class:`~dks.validity.AblationResult` and :class:`~dks.validity.StabilityResult`),
    ``validity/validity.json`` (the settings and the headline numbers) and the figure
    ``validity/validity.png|svg`` (:func:`dks.plotting.plot_validity`); rewrites
    ``report.html`` with its "Validity" section when the folder has a report (its figures,
    drawn from the same statistics, are kept as they are: only missing ones are drawn). A later
    ``dks characterize`` removes ``validity/`` (it describes the statistics it replaces).

    Parameters
    ----------
    results : str or os.PathLike
        A results folder with its statistics (``dks characterize`` done).
    k : int or sequence of int, default=(5, 10, 20)
        The numbers of features replaced (see :func:`~dks.validity.ablation`).
    splits : int, default=5
        Random splits of every class into two halves (``n_splits`` of
        :func:`~dks.validity.stability`).
    bootstrap : int, default=50
        Bootstrap fits for the intervals of ``t+`` and ``t-``; 0 for none.
    seed : int, default=0
        Seeds the split, the random features, the halves, the bootstrap and the shuffles.
    jobs : int, default=-1
        Threads of the D_KS (``n_jobs`` of :class:`~dks.KSCharacterizer`).
    verbose : bool, default=True
        Print the steps and the headline numbers.
    wait : bool, default=False
        If another process is writing the results folder, wait for it to finish; by
        default the call stops at once, naming that process. The validation holds the
        folder's writer lock from its first read to its last write, so that what it writes
        describes the statistics it read.

    Returns
    -------
    Validation
    """
    start = time.perf_counter()
    log = Log(verbose)
    require_matplotlib()
    for name, value, low in (("splits", splits, 1), ("bootstrap", bootstrap, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise AnalysisError(f"{option(name)} must be an integer >= {low}; got {value!r}.")
    out = check_out(results, must_exist=True)
    command = "dks validate" if on_command_line() else "dks.pipeline.validate()"
    with writer_lock(out, command, wait=wait, log=log, elsewhere=False):
        return _validate(out, k, splits, bootstrap, seed, jobs, log, start)


def _validate(out, k, splits, bootstrap, seed, jobs, log, start):
    """:func:`validate` once the writer's lock of ``out`` is held."""
    missing = [n for n in STATS_FILES if not (out / n).is_file()]
    if missing:
        raise AnalysisError(
            f"{str(out)!r} has no statistics yet (missing {', '.join(missing)}); run "
            "`dks characterize` first."
        )
    th = read_json(out / "thresholds.json")
    meta = read_embedding_meta(out)
    groups = layer_groups(meta, out)
    y = np.asarray(meta.labels, dtype=str)
    bins = None if th.get("bins") == "exact" else int(th.get("bins", 100))
    char = KSCharacterizer(n_bins=bins, n_jobs=jobs, progress=False)
    selector = NoiseThresholdSelector(
        char,
        n_shuffles=int(th.get("n_shuffles", 1)),
        resolution=float(th.get("resolution", 0.001)),
        thresholds=th.get("thresholds", "global"),
        max_noise_share=th.get("max_noise_share") or 0.05,
        progress=False,
        keep_null=th.get("thresholds") == "per_class",  # that rule needs the shuffled D_KS
    )
    with log.stage("read", f"the embedding of {y.size} images"):
        X = np.asarray(read_embedding(out, meta))
    ks = sorted({int(v) for v in np.atleast_1d(k)})
    try:
        with log.stage("ablation", f"k={ks}, one probe per class"):
            abl = ablation(X, y, k=k, groups=groups, characterizer=char, random_state=seed)
        with log.stage("stability", f"{splits} splits into halves, {bootstrap} bootstraps"):
            stab = stability(
                X, y, n_splits=splits, n_bootstrap=bootstrap, selector=selector,
                groups=groups, random_state=seed,
            )  # fmt: skip
    except ValueError as exc:  # a class too small, k too large: the user's data or flags
        raise AnalysisError(str(exc)) from None
    from dks.plotting import plot_validity, save_figure

    headline = _headline(abl, stab)
    with disk_errors(out, "results"), transaction(out) as stage:
        stage.reuse(*EMBEDDING_FILES, IMAGES_DIR, *STATS_FILES, *EXPORT_FILES)
        folder = stage.path / VALIDITY_DIR
        abl.write_csv(folder / "ablation.csv")
        stab.write_csv(folder / "stability.csv")
        settings = {"k": ks, "splits": splits}
        settings.update(bootstrap=bootstrap, seed=seed, rule=th.get("thresholds", "global"))
        write_json(folder / "validity.json", {"settings": settings, **headline})
        save_figure(
            plot_validity(abl.table, stab.table), folder / "validity", formats=("png", "svg")
        )
        if stage.has_old("report.html"):  # its figures stay: the statistics are the same
            stage.reuse(*REPORT_FILES)
            report_step(stage.path, log=log, shown=out, drawn=True)
    for line in format_validity(headline):
        log(line)
    log(f"validity in {out / VALIDITY_DIR}; total {format_seconds(time.perf_counter() - start)}")
    return Validation(out, abl, stab, dict(log.timings))


def _headline(abl, stab):
    """The numbers ``validity.json`` keeps: the ablation summary, the overall stability."""
    summary = abl.summary()
    rows = [{name: summary[name][i] for name in summary} for i in range(summary["k"].size)]
    overall = stab.rows("all")
    return {
        "ablation": rows,
        "stability": {name: overall[name][0] for name in overall if name != "scope"},
        "unstable_classes": stab.unstable("class"),
    }


def format_validity(headline):
    """The headline as printed lines (``dks validate`` and the benchmark's style)."""
    lines = [
        f"ablation: k={row['k']} side={row['side']} ratio_median={row['ratio_median']:.3g} "
        f"share_ge_2={row['share_ge_2']:.2f} (vs D_KS≈0: {row['ratio_null_median']:.3g})"
        for row in headline["ablation"]
    ]
    s = headline["stability"]
    lines.append(
        f"stability: jaccard_kept={s['jaccard']:.3f} (chance {s['jaccard_chance']:.3f}) "
        f"t_plus_ci=[{s['t_plus_low']:.3f}, {s['t_plus_high']:.3f}]"
    )
    if headline["unstable_classes"]:
        lines.append(
            f"unstable classes (Jaccard < {UNSTABLE_JACCARD}): "
            + ", ".join(headline["unstable_classes"])
        )
    return lines
