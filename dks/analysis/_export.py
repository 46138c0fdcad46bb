"""The export step: :func:`export_fne` writes what reusing the folder's embedding needs.

A characterized results folder knows which features are noise; the full-network embedding
(:class:`dks.FullNetworkEmbedding`) needs, besides the CNN settings, only the kept columns
and the mean and standard deviation of each on the target images, and the two thresholds.
:func:`export_fne` writes them to one small JSON file (``fne.json``, format
:data:`FNE_FORMAT`, described in :doc:`/results`); :func:`load_fne` reads it back as a fitted
:class:`~dks.FullNetworkEmbedding` that ``transform``\\ s new embeddings of the same model.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from dks import __version__
from dks._options import on_command_line
from dks.fne import FullNetworkEmbedding
from dks.pruning import check_pruning, kept_features
from dks.results import (
    FNE_FILE,
    OUTPUTS,
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

__all__ = ["FNE_FILE", "FNE_FORMAT", "export_fne", "load_fne"]

#: Version tag of the export.
FNE_FORMAT = "dks-fne/1"


def export_fne(
    results,
    *,
    out=None,
    min_classes=1,
    top_k_per_class=None,
    top_k_within="all",
    positive_threshold=0.15,
    negative_threshold=-0.25,
    verbose=True,
    wait=False,
):
    """Write the pruned full-network embedding of a characterized results folder.

    The kept features follow the folder's relevance (``relevance.npy``) and the pruning
    rules (:mod:`dks.pruning`); their mean and standard deviation are computed on the
    folder's embedding (read in column blocks, as the statistics read it).

    Parameters
    ----------
    results : str or os.PathLike
        A results folder with its statistics (``dks characterize`` done).
    out : str, os.PathLike or None, default=None
        The file to write; None: ``fne.json`` in the results folder (written, like every
        command's output, in a new version of the folder swapped in when complete).
    min_classes, top_k_per_class, top_k_within
        The pruning rules of :class:`~dks.NoiseThresholdSelector`; the defaults keep the
        features relevant for some class.
    positive_threshold, negative_threshold : float, default=0.15, -0.25
        The discretization thresholds of :class:`~dks.FullNetworkEmbedding`.
    verbose : bool, default=True
        Print what was written.
    wait : bool, default=False
        If another process is writing the results folder, wait for it to finish; by
        default the call stops at once, naming that process. The export holds the folder's
        writer lock while it reads the folder and writes, as the other commands do.

    Returns
    -------
    path : pathlib.Path
        The file written.
    """
    start = time.perf_counter()
    log = Log(verbose)
    folder = check_out(results, must_exist=True)
    command = "dks export" if on_command_line() else "dks.pipeline.export_fne()"
    with writer_lock(folder, command, wait=wait, log=log, elsewhere=False):
        path, n_kept, n_features = _export(
            folder,
            out,
            log,
            {"min_classes": min_classes, "top_k_per_class": top_k_per_class},
            top_k_within,
            FullNetworkEmbedding(
                positive_threshold=positive_threshold, negative_threshold=negative_threshold
            ),
        )
    log(
        f"fne: {n_kept} of {n_features} features kept, {n_kept} bytes per image (int8) "
        f"-> {path}; total {format_seconds(time.perf_counter() - start)}"
    )
    return path


def _export(folder, out, log, pruning, top_k_within, fne):
    """Read the folder and write the export (under its writer's lock): ``(path, kept, n)``.

    ``pruning``: ``min_classes`` and ``top_k_per_class``; ``fne``: the unfitted
    :class:`~dks.FullNetworkEmbedding` with the discretization thresholds.
    """
    min_classes, top_k_per_class = pruning["min_classes"], pruning["top_k_per_class"]
    needed = ("relevance.npy", "dks.npy", "thresholds.json")
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise AnalysisError(
            f"{str(folder)!r} has no statistics yet (missing {', '.join(missing)}); run "
            "`dks characterize` first."
        )
    try:
        check_pruning(min_classes, top_k_per_class, top_k_within)
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None
    meta = read_embedding_meta(folder)
    relevance = np.load(folder / "relevance.npy")
    dks = np.load(folder / "dks.npy")
    groups = layer_groups(meta, folder) if top_k_within == "layer" else None
    try:
        check_pruning(min_classes, top_k_per_class, top_k_within, n_classes=relevance.shape[0])
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None
    keep = kept_features(
        relevance, dks, min_classes=min_classes, top_k_per_class=top_k_per_class, groups=groups
    )
    with log.stage("statistics", f"mean and std of {len(meta.feature_names)} features"):
        fne.fit(read_embedding(folder, meta))
    idx = np.flatnonzero(keep)
    names = np.asarray(meta.feature_names, dtype=object)
    th = read_json(folder / "thresholds.json")
    document = {
        "format": FNE_FORMAT,
        "dks_version": __version__,
        "settings": meta.settings,
        "dataset": meta.dataset_name or meta.dataset,
        "classes": meta.classes,
        "n_images": len(meta.labels),
        "n_features_in": int(names.size),
        "positive_threshold": float(fne.positive_threshold),
        "negative_threshold": float(fne.negative_threshold),
        "pruning": {
            "min_classes": int(min_classes),
            "top_k_per_class": top_k_per_class,
            "top_k_within": top_k_within,
            "rule": th.get("thresholds", "global"),
            "t_plus": th.get("t_plus"),
            "t_minus": th.get("t_minus"),
            "kept_per_class": np.count_nonzero(relevance[:, idx] != 0, axis=1),
        },
        "kept_features": idx,
        "feature_names": names[idx],
        "feature_names_in": names,
        "mean": fne.mean_[idx],
        "scale": fne.scale_[idx],
    }
    if out is None:
        path = folder / FNE_FILE
        with disk_errors(folder), transaction(folder) as stage:
            stage.reuse(*[n for n in OUTPUTS if n != FNE_FILE and stage.has_old(n)])
            write_json(stage.path / FNE_FILE, document)
    else:
        path = Path(out)
        with disk_errors(path.parent):
            write_json(path, document)
    return path, idx.size, names.size


def load_fne(path):
    """Read a file written by :func:`export_fne` as a fitted :class:`~dks.FullNetworkEmbedding`.

    Parameters
    ----------
    path : str or os.PathLike
        An ``fne.json`` file.

    Returns
    -------
    fne : FullNetworkEmbedding
        Fitted: ``fne.transform(X)`` takes embeddings with the folder's ``n_features_in``
        columns (the same model and settings, ``document["settings"]``) and returns the
        kept features, discretized. ``n_features_in_`` is set and, when the file lists the
        names of all the embedding's columns (``feature_names_in``; earlier exports list
        only the kept ones), ``feature_names_in_`` too, as if the estimator
        had been fitted on a DataFrame with those columns: ``transform`` then checks the
        columns of a DataFrame by name (an embedding of other layers is refused) and, as
        in scikit-learn, warns for input without column names (use
        ``CNNEmbedder(...).set_output(transform="pandas")``), and
        ``get_feature_names_out()`` gives the kept features' names.
    """
    doc = read_json(path)
    if doc.get("format") != FNE_FORMAT:
        raise AnalysisError(
            f"{str(path)!r} is not a full-network embedding export (format "
            f"{doc.get('format')!r}, expected {FNE_FORMAT!r}); write one with `dks export "
            "RESULTS_DIR --format fne`."
        )
    fne = FullNetworkEmbedding(
        positive_threshold=doc["positive_threshold"], negative_threshold=doc["negative_threshold"]
    )
    # The fitted state, as fit sets it: public attributes only.
    fne.n_features_in_ = int(doc["n_features_in"])
    names = doc.get("feature_names_in")
    if names is not None:
        if len(names) != fne.n_features_in_ or not all(isinstance(n, str) for n in names):
            raise AnalysisError(
                f"{str(path)!r} is damaged: its 'feature_names_in' should list "
                f"{fne.n_features_in_} column names (its 'n_features_in'), not {len(names)} "
                "values; write it again with `dks export RESULTS_DIR --format fne`."
            )
        fne.feature_names_in_ = np.asarray(names, dtype=object)
    fne.selector_ = None
    fne.kept_features_ = np.asarray(doc["kept_features"], dtype=np.int64)
    fne.mean_ = np.asarray(doc["mean"], dtype=np.float64)
    fne.scale_ = np.asarray(doc["scale"], dtype=np.float64)
    return fne
