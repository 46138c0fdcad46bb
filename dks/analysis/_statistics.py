"""The statistics step: D_KS, shuffled-label D_KS, thresholds, and the summary they make.

Writes ``dks.npy``, ``null_dks.npy``, ``relevance.npy``, ``thresholds.json``,
``curves.csv``, ``layers.csv``, ``class_noise.csv``, ``top_features.csv`` and
``summary.json`` (see :doc:`/results`). The summary dict follows the schema of :mod:`dks.report`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time

import numpy as np

from dks import _config
from dks._engine import as_dask_array, client_for
from dks.analysis._embedding import now
from dks.characterize import KSCharacterizer
from dks.datasets import PAPER_TABLE4
from dks.results import (
    CLASS_NOISE_COLUMNS,
    SummaryRecord,
    csv_cell,
    jsonable,
    layer_groups,
    layer_of_columns,
    read_embedding,
    read_embedding_meta,
    save_npy,
    write_csv,
    write_json,
)
from dks.select import NoiseThresholdSelector
from dks.thresholds import per_class_thresholds

__all__ = ["PAPER_T_MINUS", "PAPER_T_PLUS", "save_summary", "statistics_step"]

_T_PLUS, _T_MINUS = zip(*((row[0], row[2]) for row in PAPER_TABLE4.values()), strict=True)
#: Range of t+ over the paper's three datasets (its Table 4, VGG19): (0.123, 0.183).
PAPER_T_PLUS = (min(_T_PLUS), max(_T_PLUS))
#: Range of t- over the paper's three datasets: (-0.165, -0.114).
PAPER_T_MINUS = (min(_T_MINUS), max(_T_MINUS))


def statistics_step(
    path,
    *,
    n_bins,
    shuffles,
    resolution,
    seed,
    jobs,
    log,
    thresholds,
    max_noise_share,
    progress,
    scheduler=None,
    local_cluster=None,
    shown=None,
):
    """D_KS, null D_KS and thresholds from the embedding in ``path``; writes the stats files.

    ``n_bins`` is already parsed (an int, or None for the exact statistic); ``thresholds``
    and ``max_noise_share`` are those of :class:`~dks.NoiseThresholdSelector`. With
    ``scheduler`` (an address) or ``local_cluster`` (a number of workers) the feature blocks
    run as tasks on that Dask cluster (:func:`dks._engine.client_for`); the result is
    the same. ``shown``: the results folder in messages, when ``path`` is a transaction's
    temporary folder.

    Returns
    -------
    selector : NoiseThresholdSelector
    summary : dict
    """
    meta = read_embedding_meta(path, shown)
    groups = layer_groups(meta, path)
    X = read_embedding(path, meta, shown)
    names = np.asarray(meta.feature_names, dtype=object)
    y = np.asarray(meta.labels, dtype=str)
    with (
        log.stage(
            "characterize",
            f"D_KS of {len(np.unique(y))} classes x {X.shape[1]} features on {X.shape[0]} images, "
            f"true labels and {shuffles} shuffled labelings "
            f"({'exact' if n_bins is None else f'{n_bins} bins'})",
        ),
        _cluster(scheduler, local_cluster, log) as on_cluster,
    ):
        if on_cluster:
            X = as_dask_array(X)
        selector = NoiseThresholdSelector(
            KSCharacterizer(n_bins=n_bins, n_jobs=jobs, progress=progress),
            n_shuffles=shuffles,
            resolution=resolution,
            random_state=seed,
            thresholds=thresholds,
            max_noise_share=max_noise_share,
            progress=progress,
        ).fit(X, y)
    settings = {"bins": "exact" if n_bins is None else n_bins, "seed": seed}
    summary = _write_statistics(path, selector, names, groups, meta, settings)
    return selector, summary


@contextlib.contextmanager
def _cluster(scheduler, local_cluster, log):
    """A Dask client while the statistics run, when one is asked for; yields whether."""
    if scheduler is None and local_cluster is None:
        yield False
        return
    with client_for(scheduler, local_cluster) as client:
        log(f"characterize: on the Dask cluster {client.scheduler_info().get('address', '')}")
        yield True


def _write_statistics(path, sel, names, groups, meta, settings):
    dks = sel.dks_
    save_npy(path / "dks.npy", dks)
    save_npy(path / "null_dks.npy", sel.null_dks_)
    save_npy(path / "relevance.npy", sel.relevance_.astype(np.int8))
    rule = _rule(sel)
    write_json(
        path / "thresholds.json",
        {
            **rule,
            "n_shuffles": sel.n_shuffles,
            "bins": settings["bins"],
            "resolution": sel.resolution,
            "seed": settings["seed"],
            "paper_t_plus_range": list(PAPER_T_PLUS),
            "paper_t_minus_range": list(PAPER_T_MINUS),
        },
    )
    write_csv(
        path / "curves.csv",
        ("grid", "d_avg_plus", "d_avg_minus"),
        (
            (csv_cell(g), csv_cell(p), csv_cell(m))
            for g, p, m in zip(sel.grid_, sel.d_avg_plus_, sel.d_avg_minus_, strict=True)
        ),
    )
    layer_rows = _write_layers(path, sel, groups)
    noise_rows = _write_class_noise(path, sel)
    class_rows = _write_top_features(path, sel, names, layer_of_columns(groups, len(names)))
    relevance = sel.relevance_
    noise = sel.noise_features("both")
    emb = meta.settings
    summary = {
        "dataset": meta.dataset,
        "dataset_name": meta.dataset_name,
        "source": meta.source.get("kind"),
        "class_depth": meta.source.get("class_depth"),
        "model": _model_text(emb),
        "n_images": len(meta.labels),
        "n_skipped": len(meta.skipped),
        "skipped": meta.skipped[: _config.PIPELINE_SKIPPED_LISTED],
        # a folder's files not read as images (their extension), as its listing recorded them
        "n_not_images": int(meta.source.get("n_not_images", 0)),
        "not_images": list(meta.source.get("not_images", [])),
        "n_classes": len(class_rows),
        "n_features": int(sel.n_features_in_),
        "n_shuffles": int(sel.n_shuffles),
        "bins": settings["bins"],
        "created": now(),
        "parameters": _parameters(emb, sel, settings),
        **rule,
        "n_pairs": int(dks.size),
        "n_pairs_plus": int(np.count_nonzero(relevance == 1)),
        "n_pairs_minus": int(np.count_nonzero(relevance == -1)),
        "n_noise_features": int(noise.size),
        "n_noise_features_plus": int(np.count_nonzero(~sel.feature_mask("presence"))),
        "n_noise_features_minus": int(np.count_nonzero(~sel.feature_mask("absence"))),
        "layers": layer_rows,
        "class_noise": noise_rows,
        "signal": _signal(sel),
        "noise_features": [names[j] for j in noise],
        "classes": class_rows,
    }
    return SummaryRecord(**jsonable(summary))  # a key the record does not know: a TypeError


def _write_layers(path, sel, groups):
    """``layers.csv`` (the paper's Fig. 10); returns its rows for the summary."""
    layers = sel.layer_summary(groups)
    columns = [c for c in layers if c != "group"]  # the selector's columns, in its order
    write_csv(
        path / "layers.csv",
        ("layer", *columns),
        (
            [name, *(csv_cell(layers[c][i]) for c in columns)]
            for i, name in enumerate(layers["group"])
        ),
    )
    return [
        {"name": str(name), **{c: layers[c][i] for c in columns}}
        for i, name in enumerate(layers["group"])
    ]


def _rule(sel):
    """The thresholds and the rule that set them: keys of ``thresholds.json`` and the summary.

    Per class, ``t_plus``/``t_minus`` are lists (one per class, in ``classes`` order) and
    ``d_avg_t_plus``/``d_avg_t_minus`` (the maxima of Eq. 4, which only the global rule
    uses) are None.
    """
    per_class = sel.thresholds == "per_class"
    return {
        "thresholds": sel.thresholds,
        "max_noise_share": float(sel.max_noise_share) if per_class else None,
        "t_plus": np.asarray(sel.t_plus_).tolist(),
        "t_minus": np.asarray(sel.t_minus_).tolist(),
        "d_avg_t_plus": None if per_class else float(np.max(sel.d_avg_plus_)),
        "d_avg_t_minus": None if per_class else float(np.max(sel.d_avg_minus_)),
        "unresolved_classes": [str(c) for c in sel.unresolved_classes_.tolist()],
    }


def _kept_shares(dks, null, t_plus, t_minus):
    """Shares of the pairs kept with the true labels and, averaged, with shuffled ones."""
    t_plus, t_minus = np.asarray(t_plus, float), np.asarray(t_minus, float)
    if t_plus.ndim:  # one per class
        t_plus, t_minus = t_plus[:, None], t_minus[:, None]
    kept = float(np.mean((dks > t_plus) | (dks < t_minus)))
    chance = np.mean([np.mean((n > t_plus) | (n < t_minus)) for n in null]) if len(null) else None
    return kept, None if chance is None else float(chance)


def _signal(sel):
    """The report's headline: the share of pairs kept with the true and with shuffled labels,
    the classes that are mostly noise, and, for classes of uneven sizes with one global pair
    of thresholds, what ``thresholds="per_class"`` would keep (:func:`per_class_thresholds`
    on the same shuffles)."""
    null = np.asarray(sel.null_dks_)
    kept, chance = _kept_shares(sel.dks_, null, sel.t_plus_, sel.t_minus_)
    sizes = np.asarray(sel.class_noise_["n_samples"])
    out = {
        "kept": kept,
        "kept_shuffled": chance,
        "n_mostly_noise": int(np.count_nonzero(sel.class_noise_["mostly_noise"])),
        "smallest_class": int(sizes.min()),
        "largest_class": int(sizes.max()),
        "per_class": None,
    }
    uneven = sizes.max() >= _config.REPORT_UNEVEN_RATIO * sizes.min()
    if sel.thresholds == "global" and uneven and null.shape[0] and sel.method == "shuffle":
        t_plus, t_minus, ok_plus, ok_minus = per_class_thresholds(
            sel.dks_, null, sizes, sel.grid_, sel.resolution, sel.max_noise_share
        )
        kept_pc, chance_pc = _kept_shares(sel.dks_, null, t_plus, t_minus)
        out["per_class"] = {
            "kept": kept_pc,
            "kept_shuffled": chance_pc,
            "max_noise_share": float(sel.max_noise_share),
            "n_unresolved": int(np.count_nonzero(~(ok_plus | ok_minus))),
        }
    return out


def _write_class_noise(path, sel):
    """``class_noise.csv``: the noise rate and thresholds of every class; returns its rows."""
    table = dict(sel.class_noise_)
    n_classes = len(table["class"])
    table["t_plus"] = np.broadcast_to(np.asarray(sel.t_plus_, dtype=float), (n_classes,))
    table["t_minus"] = np.broadcast_to(np.asarray(sel.t_minus_, dtype=float), (n_classes,))
    table["class"] = [str(c) for c in np.asarray(table["class"]).tolist()]
    table["mostly_noise"] = np.asarray(table["mostly_noise"], dtype=np.int8)  # 0/1 in the CSV
    write_csv(
        path / "class_noise.csv",
        CLASS_NOISE_COLUMNS,
        ([csv_cell(table[c][i]) for c in CLASS_NOISE_COLUMNS] for i in range(n_classes)),
    )
    unresolved = {str(c) for c in sel.unresolved_classes_.tolist()}
    rows = []
    for i in range(n_classes):
        row = {c: table[c][i] for c in CLASS_NOISE_COLUMNS}
        row["mostly_noise"] = bool(row["mostly_noise"])
        row["unresolved"] = row["class"] in unresolved
        rows.append(row)
    return rows


def _write_top_features(path, sel, names, layer_of):
    """``top_features.csv``; returns the per-class rows of the summary."""
    dks, relevance = sel.dks_, sel.relevance_
    counts = getattr(sel.characterizer_, "class_counts_", None)
    top_k, shown = _config.PIPELINE_TOP_FEATURES, _config.PIPELINE_SUMMARY_TOP_FEATURES
    rows, class_rows = [], []
    for i, cls in enumerate(str(c) for c in sel.classes_.tolist()):
        order = np.argsort(-dks[i], kind="stable")
        top_plus = [j for j in order[:top_k] if dks[i, j] > 0]
        top_minus = [j for j in order[::-1][:top_k] if dks[i, j] < 0]
        for side, top, code in (("presence", top_plus, 1), ("absence", top_minus, -1)):
            for rank, j in enumerate(top, start=1):
                kept = int(relevance[i, j] == code)
                rows.append((cls, side, rank, names[j], layer_of[j], csv_cell(dks[i, j]), kept))
        class_rows.append(
            {
                "name": cls,
                "n_images": None if counts is None else int(counts[i]),
                "n_plus": int(sel.n_characteristic_["presence"][i]),
                "n_minus": int(sel.n_characteristic_["absence"][i]),
                "top_presence": [[names[j], float(dks[i, j])] for j in top_plus[:shown]],
                "top_absence": [[names[j], float(dks[i, j])] for j in top_minus[:shown]],
            }
        )
    write_csv(
        path / "top_features.csv",
        ("class", "side", "rank", "feature", "layer", "dks", "kept"),
        rows,
    )
    return class_rows


def save_summary(path, summary, start, log):
    """Write ``summary.json``: ``summary`` with the wall time and stage timings stamped.

    The wall time is stamped once, before the report is drawn, so that ``summary.json``,
    the printed summary and ``report.html`` give the same one; the timings are updated
    (the report's own step is in them after the second call).

    Returns
    -------
    SummaryRecord
        The summary written.
    """
    wall = summary.wall_time_s
    summary = dataclasses.replace(
        summary,
        wall_time_s=round(time.perf_counter() - start, 1) if wall is None else wall,
        timings={k: round(v, 2) for k, v in log.timings.items()},
    )
    write_json(path / "summary.json", summary.to_dict())
    return summary


def _model_text(settings):
    model = settings.get("model")
    if model is None:
        return None
    weights = settings.get("weights")
    return f"{model} ({weights})" if weights else f"{model} (random weights)"


def _parameters(emb, sel, settings):
    crops = emb.get("crops")
    params = {
        "crops": crops,
        "resize (shorter side)": emb.get("resize"),
        "crop size": emb.get("crop_size") if crops != "none" else None,
        "layers": _layers_text(emb),
        "device": emb.get("device"),
        "threshold resolution": sel.resolution,
        "threshold rule": _rule_text(sel),
        "seed": settings["seed"],
    }
    return {k: v for k, v in params.items() if v is not None}


#: What ``layers="paper"`` hooks, per model family (the name's start), for the report.
_PAPER_LAYERS = {
    "vgg": "the paper's: the 16 convolutions after their ReLU and fc7 after its ReLU",
    "efficientnet_lite0": "the paper's rule: the stem after ReLU6, the 16 blocks' outputs "
    "(linear projections: signed, not rectified) and the pooled head after ReLU6",
}


def _layers_text(emb):
    """The layers in words: what ``"paper"`` hooks for this model, or ``"custom"``."""
    layers = emb.get("layers")
    if layers != "paper":
        return layers if isinstance(layers, str) else "custom"
    model = str(emb.get("model") or "")
    for start, text in _PAPER_LAYERS.items():
        if model.startswith(start):
            return text
    return (
        "the paper's rule: every block's output after its activation, and the pre-logits "
        "features (the docs' Supported models)"
    )


def _rule_text(sel):
    if sel.thresholds == "per_class":
        return f"per_class (max noise share {sel.max_noise_share:g})"
    return "global (the paper's Eq. 4)"
