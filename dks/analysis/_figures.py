"""The report step: which figures to draw from a characterized results folder, and the page.

Draws ``figures/*.png|svg`` with :mod:`dks.plotting` and writes ``report.html`` with
:func:`dks.report.write_report` (see :doc:`/results`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dks import _config
from dks._optional import import_optional
from dks.analysis._image_set import Thumbnails, recorded_images
from dks.analysis._regions import crop_figures, signal_classes
from dks.plotting import PER_CLASS_CAPTIONS
from dks.results import VALIDITY_DIR, SummaryRecord, embedding_reader, load_results

__all__ = ["layer_kept", "report_step", "require_matplotlib", "validity_summary"]


def require_matplotlib():
    """Fail early, with the install command, if matplotlib is missing."""
    import_optional("matplotlib", "The figures and the report", needs="matplotlib", extra="plot")


def layer_kept(summary):
    """The per-layer figure's data from a summary: layer names, kept shares, shuffled ones.

    The shares are float arrays (``summary["layers"]`` rows, the columns of
    :meth:`dks.NoiseThresholdSelector.layer_summary`); NaN where the share is unknown.
    """
    rows = SummaryRecord.from_dict(summary).layers
    names = [row.get("name") for row in rows]
    kept = np.array([row.get("kept", np.nan) for row in rows], dtype=float)
    shuffled = [row.get("kept_shuffled") for row in rows]
    return names, kept, np.array([np.nan if v is None else v for v in shuffled], dtype=float)


def validity_summary(data):
    """``summary["validity"]`` of the report (:mod:`dks.report`) from the tables of
    ``validity/`` in ``data`` (:func:`~dks.pipeline.load_results`); {} without them."""
    if "ablation" not in data or "stability" not in data:
        return {}
    from dks.validity import AblationResult, StabilityResult

    summary = AblationResult(data["ablation"], min_drop=1e-3).summary()
    stab = StabilityResult(data["stability"])

    def rows(table):
        return [{k: v[i] for k, v in table.items()} for i in range(len(table["name"]))]

    return {
        "ablation": [{k: v[i] for k, v in summary.items()} for i in range(summary["k"].size)],
        "stability": rows(stab.rows("all"))[0] if stab.rows("all")["name"].size else {},
        "classes": rows(stab.rows("class")),
        "layers": rows(stab.rows("layer")),
    }


def _figure_name(text):
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text))


def _explained_features(dks, groups, rows):
    """Columns shown in Fig. 1 and top images: the most characteristic feature (highest
    D_KS) of the last layer and of the lower half of the layers, to contrast the two, among
    the classes ``rows`` (those that are not mostly noise: a 6-image class's chance D_KS
    would otherwise lead the report)."""
    best = dks[rows].max(axis=0)
    layers = list(groups.values())
    chosen = []
    for idx in (layers[-1], np.concatenate(layers[: max(1, len(layers) // 2)])):
        if idx.size:
            j = int(idx[np.argmax(best[idx])])
            if j not in chosen:
                chosen.append(j)
    return chosen


def _summary_figures(data):
    """The figures drawn from the statistics alone (name -> function making it)."""
    from dks.plotting import (
        plot_class_curves,
        plot_class_noise,
        plot_davg,
        plot_dks_histograms,
        plot_layer_distribution,
        plot_layer_kept,
    )

    summary, th, groups = data["summary"], data["thresholds"], data["layers"]
    dks, null = data["dks"], data["null_dks"]
    t_plus, t_minus = np.asarray(th["t_plus"], float), np.asarray(th["t_minus"], float)
    # One pair per class: the figures of all pairs at once draw no threshold line.
    line_plus, line_minus = (None, None) if t_plus.ndim else (t_plus, t_minus)
    # one point per class against its size: says nothing when every class has one size
    noise = "class_noise" in data and np.unique(data["class_noise"]["n_samples"]).size > 1
    layer_names, kept, kept_null = layer_kept(summary)
    return {
        "layer_distribution": lambda: plot_layer_distribution(
            dks, groups, t_plus=line_plus, t_minus=line_minus
        ),
        "dks_histograms": lambda: plot_dks_histograms(
            dks, groups, t_plus=line_plus, t_minus=line_minus
        ),
        "class_curves": lambda: plot_class_curves(dks, null, t_plus, t_minus, sign="presence"),
        "class_curves_negative": lambda: plot_class_curves(
            dks, null, t_plus, t_minus, sign="absence"
        ),
        "davg": lambda: plot_davg(
            data["grid"], data["d_avg_plus"], data["d_avg_minus"], t_plus, t_minus
        ),
        "layer_kept": lambda: plot_layer_kept(kept, kept_null, layer_names),
        **({"class_noise": lambda: plot_class_noise(data["class_noise"])} if noise else {}),
    }


def _feature_figures(data, path, log):
    """Fig. 1 and the top images of the features chosen by :func:`_explained_features`."""
    from dks.plotting import plot_feature_histograms, plot_top_images

    meta, dks, X = data["embedding_meta"], data["dks"], data["embedding"]
    names = np.asarray(meta.feature_names, dtype=object)
    y = np.asarray(meta.labels, dtype=str)
    classes = meta.classes
    images, missing = recorded_images(meta, path)
    reader = embedding_reader(meta)  # as the network saw them
    figures = {}
    rows = signal_classes(data)
    for j in _explained_features(dks, data["layers"], rows):
        values = np.asarray(X[:, j], dtype=np.float64)
        name = str(names[j])
        figures[f"feature_histograms_{_figure_name(name)}"] = (
            lambda values=values, j=j, name=name: plot_feature_histograms(
                values,
                y,
                feature=name,
                classes=classes,
                dks=dks[:, j],
                top=_config.PIPELINE_HISTOGRAM_CLASSES,
                among=[classes[c] for c in rows],
            )
        )
        if missing:
            log(
                f"report: {len(missing)} image(s) not found (e.g. {missing[0]}); "
                "the top-images figures are left out"
            )
        else:
            figures[f"top_images_{_figure_name(name)}"] = lambda values=values, name=name: (
                plot_top_images(
                    Thumbnails(images, reader),
                    values,
                    k=_config.PIPELINE_TOP_IMAGES,
                    labels=y,
                    feature=name,
                    ncols=_config.PIPELINE_TOP_IMAGES_COLUMNS,
                    background=reader.background,
                    max_image_pixels=reader.max_image_pixels,
                )
            )
    return figures


def report_step(path, *, log, shown=None, limit="auto", drawn=False):
    """Figures and ``report.html`` from the saved results in ``path``.

    ``shown`` is the folder named in messages (the results folder, not the transaction's
    temporary folder); ``limit`` the pixel limit the images are read with, the
    ``max_image_pixels`` given to :func:`~dks.pipeline.report`
    (:func:`~dks.results.embedding_reader`). ``drawn``: the figures in ``path/figures``
    were drawn from these same statistics (carried over by ``dks validate``, which only
    adds its section): they are embedded as they are, and only those missing are drawn.
    Returns the summary.
    """
    from dks.plotting import save_figure
    from dks.report import write_report

    shown = path if shown is None else shown
    data = load_results(path, shown=shown)
    settings = data["embedding_meta"].settings
    reader = embedding_reader(data["embedding_meta"], limit)
    settings["max_image_pixels"] = reader.max_image_pixels
    summary = data["summary"]
    figures = {**_summary_figures(data), **_feature_figures(data, path, log)}
    figures.update(crop_figures(data, path, log))  # what a feature looks at (Fig. 2)
    per_class = np.ndim(data["thresholds"]["t_plus"]) == 1
    made = {}
    with log.stage("figures", f"{len(figures)} figures -> {shown / 'figures'}"):
        for key, make in figures.items():
            png = path / "figures" / f"{key}.png"
            if drawn and png.is_file() and png.with_suffix(".svg").is_file():
                made[key] = (png, PER_CLASS_CAPTIONS.get(key)) if per_class else png
                continue
            fig = make()
            if fig is None:  # an optional figure that could not be made (logged)
                continue
            written = save_figure(fig, path / "figures" / key, formats=("png", "svg"))
            # the report embeds the PNG just written rather than rendering the figure again
            png = next(p for p in written if p.suffix == ".png")
            made[key] = (png, PER_CLASS_CAPTIONS.get(key)) if per_class else png
    validity = validity_summary(data)
    if validity:
        summary = dataclasses.replace(summary, validity=validity)
        png = path / VALIDITY_DIR / "validity.png"
        if png.is_file():
            made["validity"] = png
    with log.stage("report"):
        title = f"dks analysis: {summary.dataset or 'images'}"
        write_report(path / "report.html", summary, made, title=title)
    return summary
