"""The public steps: :func:`analyze` and its parts :func:`embed`, :func:`characterize`,
:func:`report`, each committed to the results folder as one transaction (:doc:`/results`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from dks._options import on_command_line, option
from dks.analysis._embedding import check_shard_images, embedding_step
from dks.analysis._figures import report_step, require_matplotlib
from dks.analysis._image_set import prepare_images, user_images
from dks.analysis._parameters import check_parameters, parse_bins
from dks.analysis._statistics import save_summary, statistics_step
from dks.analysis._summary import format_summary
from dks.results import (
    EMBEDDING_FILES,
    EXPORT_FILES,
    FNE_FILE,
    IMAGES_DIR,
    REPORT_FILES,
    STATS_FILES,
    VALIDITY_DIR,
    AnalysisError,
    EmbedSettings,
    Log,
    SummaryRecord,
    check_out,
    damaged_store,
    disk_errors,
    format_seconds,
    read_json,
    transaction,
    writer_lock,
)
from dks.select import NoiseThresholdSelector

__all__ = ["Analysis", "analyze", "characterize", "embed", "report"]


@dataclass
class Analysis:
    """What :func:`analyze` (or :func:`characterize`, :func:`report`) produced.

    Attributes
    ----------
    out : pathlib.Path
        The results folder.
    summary : SummaryRecord or dict
        The contents of ``summary.json`` (:class:`dks.report.SummaryRecord`; it reads as
        the dict of the file too); an empty dict from a shard that leaves the statistics to
        the one that completes the store.
    selector : NoiseThresholdSelector or None
        The fitted selector (None after :func:`report` alone).
    embedding_reused : bool
        Whether a saved embedding was reused instead of computed.
    timings : dict of str to float
        Seconds spent in each step.
    """

    out: Path
    summary: SummaryRecord | dict
    selector: NoiseThresholdSelector | None = None
    embedding_reused: bool = False
    timings: dict = field(default_factory=dict)


def embed(
    images=None,
    *,
    out,
    model=None,
    weights="DEFAULT",
    layers="paper",
    crops="ten",
    resize="auto",
    crop_size="auto",
    device="auto",
    precision="auto",
    batch_size=8,
    limit_per_class=None,
    class_depth=1,
    seed=0,
    workers=None,
    on_error="skip",
    shard=None,
    export_npy=False,
    background="white",
    tokens="mean",
    max_image_pixels="auto",
    progress=True,
    data_home=None,
    download=False,
    verbose=True,
    wait=False,
):
    """Embed a folder of images (or the default dataset) into ``out/embedding.zarr``.

    If ``out`` already holds an embedding of the same images with the same model,
    weights, layers, crops and sizes, nothing is recomputed (the statistics and report
    already in ``out`` are kept); if a run was interrupted, this one continues where it
    stopped; otherwise the new embedding replaces the old one and the statistics and
    report made from the old one are removed.

    Parameters
    ----------
    images, out, model, weights, layers, crops, resize, crop_size, device, precision, batch_size, \
limit_per_class, class_depth, seed, workers, on_error, shard, background, tokens, \
max_image_pixels, progress, data_home, download, verbose, wait
        As for :func:`analyze`.
    export_npy : bool, default=False
        Also write the embedding to ``out/embedding.npy`` (for small results).

    Returns
    -------
    reused : bool
        Whether the saved embedding was reused.
    """
    log = Log(verbose)
    settings = EmbedSettings.of(locals())
    with _writing(out, "embed", settings, wait, log), disk_errors(out):
        out, reused, complete, _ = _embed(
            "embed", images, out, settings, (limit_per_class, class_depth), data_home,
            download, log,
        )  # fmt: skip
    if complete:
        log(f"embedding in {out}")
    return reused


def _writing(out, caller, settings=None, wait=False, log=None):
    """The writer's lock of the results folder ``out`` (checked first by :func:`check_out`)."""
    given = caller in ("characterize", "report")  # a results folder given, not chosen
    out = check_out(out, must_exist=given)
    command = f"dks {caller}" if on_command_line() else f"dks.pipeline.{caller}()"
    shard = settings is not None and settings.shard is not None
    if shard:
        command += f" --shard {settings.shard[0]}/{settings.shard[1]}"
    return writer_lock(out, command, shared=shard, wait=wait, log=log, elsewhere=not given)


def _embed(caller, images, out, settings, listing, data_home, download, log, defer=False):
    """Check, then commit the images and the embedding of ``out`` on their own.

    ``listing`` is ``(limit_per_class, class_depth)``: which images of a folder, and how deep
    its classes are.

    Returns the resolved results folder, whether the saved embedding was reused, and
    whether the store is complete (False: a shard whose siblings are still running).
    """
    check_shard_images(images, settings.shard)
    if settings.on_error not in ("skip", "raise"):
        raise AnalysisError(
            f"{option('on_error')} must be 'skip' or 'raise'; got {settings.on_error!r} instead."
        )
    limit_per_class, class_depth = listing
    check_parameters(
        caller,
        limit_per_class=limit_per_class,
        class_depth=class_depth,
        resize=settings.resize,
        crop_size=settings.crop_size,
        batch_size=settings.batch_size,
        workers=settings.workers,
    )
    out = check_out(out)
    if isinstance(settings.model, str):  # an unknown model fails before any image is read
        from dks.embed import LITE0, check_model_name

        if settings.model != LITE0:
            check_model_name(settings.model)
    seed = settings.seed
    if images is not None:
        with log.stage("images"):
            imgs = user_images(images, out, limit_per_class, seed, class_depth)
            depth = imgs.source.get("class_depth") if isinstance(imgs.source, dict) else None
            log(
                f"images: {len(imgs.relative)} images in {len(imgs.classes)} classes"
                + (f" (classes: the folder paths to depth {depth})" if depth else "")
            )
    else:
        # The default dataset is committed first: the store must read the images at their
        # final place (its image list is part of its fingerprint).
        with transaction(out) as stage, log.stage("images"):
            imgs = prepare_images(stage, None, limit_per_class, seed, data_home, download, log)
            log(f"images: {len(imgs.relative)} images in {len(imgs.classes)} classes")
            if imgs.reused:  # the same images: what was made from them stays
                stage.reuse(*EMBEDDING_FILES, *STATS_FILES, *REPORT_FILES, VALIDITY_DIR)
                stage.reuse(*EXPORT_FILES)
            elif stage.has_old("embedding.json"):
                log(
                    "embedding: settings changed (images: another subset of the default "
                    "dataset); recomputing it"
                )
        imgs = imgs.moved_to(out / IMAGES_DIR)
    return (out, *embedding_step(out, imgs, settings, log, defer=defer))


def _stats_keywords(caller, bins, shuffles, resolution, jobs, thresholds, max_noise_share, **rest):
    """The keywords of :func:`_statistics`, the statistics' own checked first (no torch)."""
    stats = dict(bins=bins, shuffles=shuffles, resolution=resolution, jobs=jobs)
    stats.update(thresholds=thresholds, max_noise_share=max_noise_share)
    check_parameters(caller, **stats)
    return {**stats, **rest}


def _statistics(stage, *, bins, log, embedding=None, **stats):
    """The statistics files in ``stage``, from the embedding carried over into it (or
    written there by ``embedding``, the deferred commit of :func:`embedding_step`)."""
    if embedding is None:
        stage.reuse(*EMBEDDING_FILES, IMAGES_DIR)
    else:
        embedding(stage)
    return statistics_step(stage.path, n_bins=parse_bins(bins), log=log, shown=stage.out, **stats)


def analyze(
    images=None,
    *,
    out,
    model=None,
    weights="DEFAULT",
    layers="paper",
    crops="ten",
    resize="auto",
    crop_size="auto",
    bins=100,
    shuffles=5,
    resolution=0.001,
    thresholds="global",
    max_noise_share=0.05,
    device="auto",
    precision="auto",
    batch_size=8,
    limit_per_class=None,
    class_depth=1,
    seed=0,
    workers=None,
    jobs=-1,
    scheduler=None,
    local_cluster=None,
    on_error="skip",
    shard=None,
    export_npy=False,
    background="white",
    tokens="mean",
    max_image_pixels="auto",
    progress=True,
    data_home=None,
    download=False,
    verbose=True,
    wait=False,
):
    """Run the whole analysis: embed, characterize, learn t+ and t-, write the report.

    Parameters
    ----------
    images : str, os.PathLike, dks.sources.Collection or None, default=None
        At least 2 classes of images (:doc:`/images`): a folder in ImageFolder layout
        (``images/<class>/<image>``); a manifest (``.csv``, ``.tsv``, ``.parquet``: a
        ``path`` and a ``label`` column); WebDataset shards (a ``.tar`` file or a brace
        pattern ``shard-{000000..000146}.tar``); a Hugging Face dataset saved to disk (or a
        folder of its Parquet files); or a :class:`~dks.sources.Collection`, for other
        columns or another split (``Manifest("val.csv", path_column="file")``,
        ``HFDataset("food101", split="validation")``). None: the default dataset
        (Fashion-MNIST test split, :data:`~dks.pipeline.DEFAULT_PER_CLASS` images per class,
        written to ``out/images``).
    out : str or os.PathLike
        The results folder (its files are described in :doc:`/results`). It must be new,
        empty, or a previous results folder; re-running with the same ``out`` reuses the
        saved embedding when the images and the embedding settings are unchanged, and
        continues an interrupted one (``kill -9`` included) where it stopped.
    model : str or None, default=None
        A model name of :class:`dks.embed.CNNEmbedder`; None: ``"efficientnet_lite0"``
        for the default dataset, ``"vgg19"`` (the paper's) for a folder.
    weights : str or None, default="DEFAULT"
        ``"DEFAULT"`` (torchvision download; for ``efficientnet_lite0`` the packaged file),
        a torchvision weights name, the path of a ``state_dict`` file, or None (random
        weights: for tests only).
    layers : "paper" or list of str, default="paper"
        Layers embedded (see :class:`~dks.embed.CNNEmbedder`).
    crops : {"ten", "center", "none"}, default="ten"
    resize : int, None or "auto", default="auto"
        Shorter side after resizing; "auto": the model's own (VGG19 and EfficientNet-Lite0:
        256, the paper's; a timm model: its pretrained configuration's).
    crop_size : int or "auto", default="auto"
        Side of the crops; "auto": the model's own (VGG19 and EfficientNet-Lite0: 224).
    tokens : {"mean", "cls", "both"}, default="mean"
        Vision transformers: the mean over patch tokens (the paper's spatial average), the
        class token, or both (see :class:`~dks.embed.CNNEmbedder`).
    bins : int or "exact", default=100
        Bins of the D_KS computation (the paper's 100), or the exact statistic.
    shuffles : int, default=5
        Shuffled labelings behind the thresholds (more: steadier thresholds; cheap). The
        estimators' defaults differ (``n_shuffles=1``, ``random_state=None``,
        ``on_error="raise"``): :ref:`cli-defaults` says why.
    resolution : float, default=0.001
        Step of the candidate thresholds.
    thresholds : {"global", "per_class"}, default="global"
        ``"global"``: one t+ and one t- for all classes (the paper's Eq. 4); ``"per_class"``:
        one pair per class, learned from the class's own shuffled null, for classes of
        uneven sizes (:class:`~dks.NoiseThresholdSelector`'s ``thresholds``; see
        :ref:`per-class-thresholds` for when to use which).
    max_noise_share : float, default=0.05
        With ``thresholds="per_class"``: the bound on the expected share of noise among the
        pairs kept in each class, in ``(0, 1)``.
    device : str, default="auto"
    precision : {"auto", "float32", "bfloat16", "float16"}, default="auto"
        Compute precision of the network; ``"auto"``: bfloat16 on a CUDA GPU that supports
        it, float32 elsewhere (see :ref:`gpu`). It is recorded in the store: a saved
        embedding is reused only with the same resolved precision.
    batch_size : int, default=8
        Images per forward pass.
    limit_per_class : int or None, default=None
        At most this many images per class, drawn at random (``seed``); for the default
        dataset, the images per class (default :data:`~dks.pipeline.DEFAULT_PER_CLASS`).
    class_depth : int, default=1
        For a folder of images: the classes are the folder paths to this depth, ``"a"``
        with 1 (``IMAGES_DIR/a/...``), ``"a/b"`` with 2 (every image under
        ``IMAGES_DIR/a/b/``); an image less deep than that belongs to the folder that holds
        it (``IMAGES_DIR/a/x.png`` is in class ``"a"`` with any depth). The run's summary
        and report say the depth used. See :ref:`class-depth`.
    seed : int, default=0
        Seeds the subsets, the shuffled labels and random weights.
    workers : int or None, default=None
        DataLoader processes decoding (on the CPU also cropping) images (None: the
        embedder's choice).
    jobs : int or None, default=-1
        Threads of the D_KS computation (-1: all cores).
    scheduler : str or None, default=None
        Address of a Dask scheduler (``"tcp://host:8786"``): the D_KS feature blocks run as
        tasks on its cluster, reading the store where they run (see :doc:`/scaling`).
    local_cluster : int or None, default=None
        Instead, start a Dask cluster of this many worker processes on this machine.
    background : str or tuple of 3 int, default="white"
        Colour that transparent pixels are composited over, in the embedding and in every
        thumbnail (see :class:`~dks.CNNEmbedder`).
    max_image_pixels : "auto", int or None, default="auto"
        Image files with more pixels are refused as possible decompression bombs (skipped or
        raised, as ``on_error`` says); "auto": PIL's limit (89,478,485 pixels unless
        changed), None: no limit. Recorded in ``embedding.json``: :func:`report` and
        :func:`visualize` read the images with the same limit.
    on_error : {"skip", "raise"}, default="skip"
        What an image that cannot be read does: ``"skip"`` leaves it out (listed in
        ``skipped.csv``, in the report and counted in the summary), so that one bad file of a
        large scraped collection never stops a long run; ``"raise"`` stops at it.
    shard : (int, int), str or None, default=None
        ``(k, n)`` or ``"k/n"`` (``k`` from 0): embed only the ``k``-th of ``n`` parts of
        the images into the one store ``out/embedding.zarr``, so that ``n`` processes (GPUs,
        machines, tasks of a SLURM array) fill it at once (:doc:`/store`). The process that
        completes the store commits the results folder and, for :func:`analyze`, goes on
        with the statistics and the report; the others stop after their part.
    export_npy : bool, default=False
        Also write the embedding to ``out/embedding.npy``.
    progress : bool, default=True
        Show the embedder's progress bar.
    data_home : str or None, default=None
        Where to look for (and download) Fashion-MNIST first; see
        :func:`dks.datasets.load_fashion_mnist`.
    download : bool, default=False
        Let torchvision download Fashion-MNIST if it is not installed.
    verbose : bool, default=True
        Print the steps with their timings (stderr) and the summary (stdout).
    wait : bool, default=False
        If another process is writing ``out``, wait for it to finish; by default the call
        fails at once with an :class:`AnalysisError` naming that process (a results folder
        has one writer at a time, :mod:`dks.results._lock`; the shards of one ``shard``
        run write together).

    Returns
    -------
    Analysis
        The results folder, the summary and the fitted selector.

    Examples
    --------
    >>> from dks import analyze
    >>> res = analyze(out="dks_results")  # doctest: +SKIP
    >>> res.summary["t_plus"], res.summary["t_minus"]  # doctest: +SKIP
    (0.151, -0.132)
    >>> res = analyze("flowers/train", out="flowers_results")  # doctest: +SKIP
    """
    start = time.perf_counter()
    log = Log(verbose)
    stats = _stats_keywords(
        "analyze", bins, shuffles, resolution, jobs, thresholds, max_noise_share,
        seed=seed, progress=progress, scheduler=scheduler, local_cluster=local_cluster,
    )  # fmt: skip
    require_matplotlib()
    settings = EmbedSettings.of(locals())
    with _writing(out, "analyze", settings, wait, log):
        where = (images, out, (limit_per_class, class_depth), data_home, download)
        return _analyze(*where, settings=settings, stats=stats, log=log, start=start)


def _analyze(images, out, listing, data_home, download, *, settings, stats, log, start):
    """:func:`analyze` inside its writer's lock."""
    verbose = log.verbose
    # The store (the long part) is filled in place, so that a failure in a later step does
    # not throw it away (the next run reuses it); its files, the statistics, figures and
    # report are one transaction: the previous ones stay until the new ones are complete.
    with disk_errors(out):
        out, reused, complete, embedding = _embed(
            "analyze", images, out, settings, listing, data_home,
            download, log, defer=True,
        )  # fmt: skip
    if not complete:  # a shard: the one that completes the store runs the rest
        return Analysis(out, {}, None, reused, dict(log.timings))
    try:
        damage = damaged_store(out, reopen=True)
        with damage, disk_errors(out, step="results"), transaction(out) as stage:
            selector, summary = _statistics(stage, **stats, log=log, embedding=embedding)
            seconds = read_json(stage.path / "embedding.json")["settings"].get("seconds")
            if seconds is not None:
                note = " (saved embedding reused)" if reused else ""
                time_text = format_seconds(seconds) + note
                parameters = {**summary.parameters, "embedding time": time_text}
                summary = replace(summary, parameters=parameters)
            summary = save_summary(stage.path, summary, start, log)  # the report reads it
            report_step(stage.path, log=log, shown=out)
            summary = save_summary(stage.path, summary, start, log)  # with the report's time
    except BaseException:
        log(f"the embedding is kept in {out}; the next run with the same settings reuses it")
        raise
    if verbose:
        print(format_summary(summary, out), flush=True)
    total = format_seconds(time.perf_counter() - start)
    log(f"results in {out} (open {out / 'report.html'}); total {total}, the report included")
    return Analysis(out, summary, selector, reused, dict(log.timings))


def characterize(
    results,
    *,
    bins=100,
    shuffles=5,
    resolution=0.001,
    thresholds="global",
    max_noise_share=0.05,
    seed=0,
    jobs=-1,
    scheduler=None,
    local_cluster=None,
    progress=True,
    verbose=True,
    wait=False,
):
    """D_KS, shuffled-label D_KS, thresholds and summaries from a saved embedding.

    Writes the statistics files of the results folder (see :doc:`/results`); a report
    made from older statistics is removed (run :func:`report` again).

    Parameters
    ----------
    results : str or os.PathLike
        A results folder with ``embedding.json`` and its embedding (``embedding.zarr``, or
        ``embedding.npy`` for folders written before the store).
    bins, shuffles, resolution, thresholds, max_noise_share, seed, jobs, scheduler, \
local_cluster, progress, verbose, wait
        As for :func:`analyze`.

    Returns
    -------
    Analysis
    """
    start = time.perf_counter()
    log = Log(verbose)
    stats = _stats_keywords(
        "characterize", bins, shuffles, resolution, jobs, thresholds, max_noise_share,
        seed=seed, progress=progress, scheduler=scheduler, local_cluster=local_cluster,
    )  # fmt: skip
    out = check_out(results, must_exist=True)
    lock = _writing(out, "characterize", wait=wait, log=log)
    damage = damaged_store(out, reopen=True)
    with lock, damage, disk_errors(out, "results"), transaction(out) as stage:
        selector, summary = _statistics(stage, **stats, log=log)
        summary = save_summary(stage.path, summary, start, log)
        if any(stage.has_old(n) for n in REPORT_FILES):
            log("characterize: the previous report was removed (stale); run `dks report`")
        if any(stage.has_old(n) for n in EXPORT_FILES):
            log(
                f"characterize: the previous {FNE_FILE} was removed (made from the statistics "
                "replaced); run `dks export RESULTS_DIR --format fne` again"
            )
    if verbose:
        print(format_summary(summary, out), flush=True)
    return Analysis(out, summary, selector, True, dict(log.timings))


def report(results, *, max_image_pixels="auto", verbose=True, wait=False):
    """Figures (PNG + SVG) and ``report.html`` from a characterized results folder.

    Parameters
    ----------
    results : str or os.PathLike
        A results folder with the statistics files (from :func:`characterize`).
    max_image_pixels : "auto", int or None, default="auto"
        The thumbnails' image files with more pixels are refused (decompression bombs);
        "auto": the limit the embedding was made with (``embedding.json``), None: no limit.
    verbose : bool, default=True
        Print the steps with their timings.
    wait : bool, default=False
        As for :func:`analyze`.

    Returns
    -------
    Analysis
    """
    log = Log(verbose)
    require_matplotlib()
    out = check_out(results, must_exist=True)
    missing = [n for n in STATS_FILES if not (out / n).is_file()]
    if missing:
        raise AnalysisError(
            f"{str(out)!r} has no statistics yet (missing {', '.join(missing)}); run "
            "`dks characterize` first."
        )
    lock = _writing(out, "report", wait=wait, log=log)
    damage = damaged_store(out, reopen=True)
    with lock, damage, disk_errors(out, "results"), transaction(out) as stage:
        stage.reuse(*EMBEDDING_FILES, IMAGES_DIR, *STATS_FILES, VALIDITY_DIR, *EXPORT_FILES)
        summary = report_step(stage.path, log=log, shown=out, limit=max_image_pixels)
    log(f"report written to {out / 'report.html'}")
    return Analysis(out, summary, None, True, dict(log.timings))
