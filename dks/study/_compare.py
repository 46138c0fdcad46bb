"""Results folders side by side: the paper's Table 4 and Figs. 5, 6/8, 9 and 10 across datasets.

:func:`compare` reads characterized results folders (:doc:`/results`), names each by its
dataset, checks that their columns mean the same thing (same model, weights and layers)
before comparing anything layer by layer, and writes ``comparison.json``, the figures
(``figures/compare_*.png|svg``) and one self-contained ``report.html``
(:mod:`dks.study._compare_page`) to the output folder.

The layer-independent parts (Table 4, Fig. 9, the thresholds in words) compare any folders;
the per-layer parts (Figs. 5, 6/8, 10) only folders embedded with the same model, weights
and layers, since otherwise a column or a layer name means different things in each.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from dks._options import option
from dks.analysis import require_matplotlib
from dks.datasets import PAPER_TABLE4
from dks.results import (
    AnalysisError,
    Log,
    check_writable,
    disk_errors,
    load_results,
    read_json,
    transaction,
    write_json,
    writer_lock,
)

__all__ = ["COMPARISON_FILE", "compare"]

#: The file that marks a comparison folder (refused as ``--out`` of anything else).
COMPARISON_FILE = "comparison.json"

#: What must be equal for the per-layer parts: (label, how to read it from embedding.json).
_SAME_EMBEDDING = (
    ("model", lambda meta: meta.settings.get("model")),
    ("weights", lambda meta: meta.settings.get("weights")),
    ("layers", lambda meta: meta.layers),
)


@dataclass
class Run:
    """One results folder in a comparison."""

    name: str
    path: Path
    data: dict

    @property
    def summary(self):
        return self.data["summary"]

    @property
    def thresholds(self):
        return self.data["thresholds"]


def compare(
    results, out, *, names=None, reference=None, only_layer_independent=False, verbose=True
):
    """Set results folders side by side: one report comparing their datasets.

    Parameters
    ----------
    results : sequence of str or os.PathLike
        Two or more characterized results folders (``dks analyze`` or ``dks characterize``).
    out : str or os.PathLike
        Folder receiving ``report.html``, ``comparison.json`` and ``figures/``; created if
        needed; files of the same names are replaced (each atomically).
    names : sequence of str, optional
        One name per folder. Default: the dataset's name (``images/dataset.json``, as written
        by the default dataset and by :mod:`dks.datasets` builders), else the ``dataset`` of
        ``summary.json`` when it is not a path, else the folder's name.
    reference : str, optional
        The name of a dataset drawn as the reference of Fig. 8 (the paper's ImageNet).
    only_layer_independent : bool, default=False
        Compare only what does not depend on the layers (Table 4, Fig. 9): required for
        folders embedded with different models, weights or layers.
    verbose : bool, default=True
        Print progress on stderr.

    Returns
    -------
    dict
        The contents of ``comparison.json`` (``datasets``: one row of Table 4 and sizes per
        dataset; ``paper``: the paper's Table 4; ``text``: the comparison in words;
        ``layerwise``; ``reference``), plus ``"report"``: the path of ``report.html``.

    Examples
    --------
    >>> import dks
    >>> dks.compare(["res_flowers", "res_cub"], "res_compare")  # doctest: +SKIP
    """
    from dks.study._compare_figures import compare_figures
    from dks.study._compare_page import write_compare_page
    from dks.study._compare_text import compare_in_words, layer_differences

    log = Log(verbose)
    if isinstance(results, (str, os.PathLike)):
        results = [results]
    paths = [Path(p) for p in results]
    if len(paths) < 2:
        raise AnalysisError(f"A comparison needs two results folders or more; got {len(paths)}.")
    out = _check_out(out, paths)
    _warn_repeated(paths)
    require_matplotlib()
    runs = [Run(name, path, data) for name, path, data in _load(paths, names)]
    differences = embedding_differences(runs)
    if differences and not only_layer_independent:
        raise AnalysisError(refusal(runs, differences))
    layerwise = not only_layer_independent
    names = [run.name for run in runs]
    if reference is not None and reference not in names:
        raise AnalysisError(
            f"{option('reference')} {reference!r} is none of the datasets compared: {names}."
        )
    per_layer = layer_differences(runs) if layerwise else None
    rows = [_table_row(run) for run in runs]
    text = compare_in_words(rows, per_layer, differences)
    comparison = {
        "format": "dks-comparison/1",
        "datasets": rows,
        "paper": [
            {"dataset": k, **dict(zip(_TABLE_KEYS, v, strict=True))}
            for k, v in PAPER_TABLE4.items()
        ],
        "reference": reference,
        "layerwise": layerwise,
        "differences": differences,
        "text": text,
    }
    stage_name = f"{len(runs)} results folders: {', '.join(names)}"
    lock = writer_lock(out, "dks compare", wait=False)
    with (
        lock,
        disk_errors(out, "results"),
        transaction(out) as stage,
        log.stage("compare", stage_name),
    ):
        from dks.plotting import save_figure

        # written beside the folder, swapped in once complete (the previous one kept until then)
        figures = {}
        for key, (title, caption, make) in compare_figures(runs, reference, layerwise).items():
            written = save_figure(make(), stage.path / "figures" / key, formats=("png", "svg"))
            figures[key] = (title, caption, next(p for p in written if p.suffix == ".png"))
        write_json(stage.path / COMPARISON_FILE, comparison)
        write_compare_page(stage.path / "report.html", comparison, figures)
    page = out / "report.html"
    log(f"compare: report -> {page}")
    return {**comparison, "report": page}


_TABLE_KEYS = ("t_plus", "d_avg_t_plus", "t_minus", "d_avg_t_minus")


def _check_out(out, paths):
    """The absolute output folder: new, empty, or a comparison folder (nothing else of the
    user's is replaced); never one of the results folders compared."""
    if out is None:
        raise AnalysisError(f"No output folder given ({option('out')}).")
    out = Path(out).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise AnalysisError(f"The output {str(out)!r} exists and is not a folder.")
    if any(_same(out, path) for path in paths):
        raise AnalysisError(
            f"The output folder {str(out)!r} is one of the results folders compared; its "
            f"report would be replaced. Choose a new folder ({option('out')} comparison)."
        )
    cwd = Path.cwd().absolute()
    if out.parent == out or out == cwd or out in cwd.parents:
        raise AnalysisError(
            f"The output folder {str(out)!r} is the current folder or one of its parents; "
            f"choose a new sub-folder ({option('out')} comparison)."
        )
    if out.is_dir() and any(out.iterdir()) and not (out / COMPARISON_FILE).is_file():
        what = (
            "a dks results folder"
            if (out / "embedding.json").exists()
            else "not a comparison folder"
        )
        raise AnalysisError(
            f"The output folder {str(out)!r} exists, is not empty and is {what} (no "
            f"{COMPARISON_FILE}); choose a new or empty folder ({option('out')}), so that "
            "nothing of yours is replaced."
        )
    check_writable(out)
    return out


def _same(a, b):
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _warn_repeated(paths):
    """Warn where one results folder is given more than once (compared with itself)."""
    seen = []
    for path in paths:
        if any(_same(path, other) for other in seen):
            warnings.warn(
                f"The results folder {str(path)!r} is given more than once: compared with "
                "itself, it shows no difference. Give the results folders of different "
                "datasets.",
                UserWarning,
                stacklevel=3,
            )
            return
        seen.append(path)


def _table_row(run):
    s, meta = run.summary, run.data["embedding_meta"]
    row = {"dataset": run.name, "folder": os.fspath(run.path)}
    row.update({key: run.thresholds.get(key, s.get(key)) for key in _TABLE_KEYS})
    row.update(
        model=meta.settings.get("model"),
        n_images=len(meta.labels),
        n_classes=len(meta.classes),
        n_features=len(meta.feature_names),
        n_shuffles=s.n_shuffles,
    )
    return row


def _load(paths, names):
    """``(name, path, results)`` of each folder; every folder must be characterized."""
    loaded = []
    for path in paths:
        if not (path / "embedding.json").is_file():
            raise AnalysisError(
                f"{str(path)!r} is not a results folder (no embedding.json); make one with "
                "`dks analyze`."
            )
        data = load_results(path)
        missing = [k for k in ("dks", "null_dks", "thresholds", "summary") if k not in data]
        if missing:
            raise AnalysisError(
                f"The results folder {str(path)!r} has no statistics ({', '.join(missing)} "
                f"missing); run `dks characterize {path}` first."
            )
        loaded.append((path, data))
    if names is None:
        names = _unique([_dataset_name(path, data) for path, data in loaded], paths)
    else:
        names = [str(n) for n in ([names] if isinstance(names, str) else names)]
        if len(names) != len(paths):
            raise AnalysisError(
                f"{option('names')} gives {len(names)} names for {len(paths)} results folders."
            )
        if len(set(names)) != len(names):
            raise AnalysisError(f"{option('names')} must give distinct names; got {names}.")
    return [(name, path, data) for name, (path, data) in zip(names, loaded, strict=True)]


def _dataset_name(path, data):
    """The dataset's name: as recorded in embedding.json (the source's name), else (folders of
    an older dks) images/dataset.json, a non-path summary "dataset", the folder's name."""
    meta = data["embedding_meta"]
    if meta.dataset_name:
        return str(meta.dataset_name)
    root = Path(meta.images_root or "images")
    root = root if root.is_absolute() else path / root
    try:
        name = read_json(root / "dataset.json").get("name")
    except (OSError, ValueError, AttributeError):
        name = None
    if not name:
        name = data["summary"].dataset or meta.dataset
    if not name or os.sep in str(name) or "/" in str(name):
        name = path.resolve().name
    return str(name)


def _unique(names, paths):
    """Names made distinct by the folder's name where two datasets share one."""
    counts = {n: names.count(n) for n in names}
    return [
        f"{n} ({p.resolve().name})" if counts[n] > 1 else n
        for n, p in zip(names, paths, strict=True)
    ]


def embedding_differences(runs):
    """What differs between the folders' embeddings: list of ``{"what", "values"}`` dicts
    (``values``: dataset name -> setting), empty when all were embedded alike."""
    found = []
    for what, read in _SAME_EMBEDDING:
        values = {run.name: read(run.data["embedding_meta"]) for run in runs}
        if any(v != next(iter(values.values())) for v in values.values()):
            found.append({"what": what, "values": values})
    return found


def _describe(what, value):
    if what == "layers" and isinstance(value, dict):
        names = list(value)
        shown = ", ".join(names) if len(names) <= 4 else f"{names[0]} ... {names[-1]}"
        n = max((stop for _, stop in value.values()), default=0)
        return f"{len(names)} layers ({shown}), {n:,} features"
    return repr(value)


def refusal(runs, differences):
    """The message refusing a per-layer comparison of differently embedded folders."""
    parts = []
    for diff in differences:
        values = "; ".join(
            f"{name} ({run.path}): {_describe(diff['what'], diff['values'][name])}"
            for name, run in ((r.name, r) for r in runs)
        )
        verb = "differs" if diff["what"] == "model" else "differ"
        parts.append(f"the {diff['what']} {verb} ({values})")
    return (
        "These results folders were embedded differently, so their columns and layers do not "
        f"mean the same thing: {'; '.join(parts)}. Compare only the layer-independent parts "
        f"(Table 4, Fig. 9) with {option('only_layer_independent', True)}, or embed the images "
        "again with the same model, weights and layers."
    )
