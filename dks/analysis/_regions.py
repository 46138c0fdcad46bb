"""What a feature looks at, from a results folder: :func:`visualize` and the report's crops.

The embedding averages every feature map over space; :func:`dks.embed.feature_crops` finds
*where* a filter fires with a second pass over the ``k`` images with the highest value of
the feature (the embedding's column ranks them, so only those ``k`` images go through the
network again), cropped to the receptive field of the peak. This module rebuilds the
embedder from the settings saved in ``embedding.json`` (model, weights, layers, resize,
normalization) and draws :func:`dks.plotting.plot_feature_crops`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dks import _config
from dks._optional import import_optional
from dks._options import option
from dks._sign import check_sign
from dks.analysis._image_set import Thumbnails, recorded_images
from dks.results import AnalysisError, embedding_reader, load_results

__all__ = [
    "crop_figures",
    "embedder_from_results",
    "image_paths",
    "missing_images",
    "signal_classes",
    "visualize",
]


def image_paths(meta, path, rows=None):
    """The embedded images, as recorded in ``embedding.json``: their files, or the collection
    of shards or dataset rows (:func:`dks.analysis._image_set.recorded_images`).

    ``rows``: only those rows' images (all of them by default; files are then not listed).
    """
    if rows is None:
        return recorded_images(meta, path)[0]
    rows = [int(i) for i in rows]
    if meta.source.get("kind") not in ("webdataset", "hf-dataset"):
        root = Path(meta.images_root)
        root = root if root.is_absolute() else Path(path) / root
        return [os.fspath(root / meta.images[i]) for i in rows]
    images = recorded_images(meta, path)[0]
    return images.subset(rows) if hasattr(images, "subset") else []


def missing_images(paths):
    """The files of ``paths`` that are not files (any more); none for a collection."""
    if not isinstance(paths, list):
        return []
    return [p for p in paths if not os.path.isfile(p)]


def _weights(meta):
    """The ``weights`` argument that made the embedding.

    Recorded in ``settings["weights_argument"]``; folders written before the store kept it in
    their fingerprint (a dict then).
    """
    settings = meta.settings
    if "weights_argument" in settings:
        return settings["weights_argument"]
    fingerprint = meta.fingerprint
    weights = fingerprint.get("weights", "DEFAULT") if isinstance(fingerprint, dict) else "DEFAULT"
    if isinstance(weights, str) and weights.startswith("file:"):
        return weights[len("file:") :].rsplit(":", 2)[0]  # file:<path>:<size>:<mtime>
    return weights


def embedder_from_results(data, path):
    """A fitted :class:`~dks.embed.CNNEmbedder` equal to the one that made the embedding.

    Raises
    ------
    ImportError
        torch (``dks[torch]``) is not installed.
    AnalysisError
        The saved settings do not give back the same feature names.
    """
    CNNEmbedder = import_optional(
        "dks.embed",
        "Showing what a feature looks at (the network runs again)",
        needs="torch and torchvision",
        extra="torch",
    ).CNNEmbedder
    meta = data["embedding_meta"]
    settings = meta.settings
    if not settings.get("model"):
        raise AnalysisError(f"embedding.json of {str(path)!r} does not name its model.")
    seed = data.get("thresholds", {}).get("seed", 0)
    embedder = CNNEmbedder(
        settings["model"],
        weights=_weights(meta),
        layers=settings.get("layers", "paper"),
        tokens=settings.get("tokens", "mean"),
        crops=settings.get("crops", "ten"),
        resize=settings.get("resize", 256),
        crop_size=settings.get("crop_size", 224),
        interpolation=settings.get("interpolation"),
        mean=settings.get("mean"),
        std=settings.get("std"),
        background=embedding_reader(meta).background,
        max_image_pixels=embedding_reader(meta).max_image_pixels,
        device="auto",
        progress=False,
        random_state=seed,
    )
    embedder.fit(image_paths(meta, path, rows=[0]))  # checks its input, reads no image
    if embedder.get_feature_names_out().tolist() != list(meta.feature_names):
        raise AnalysisError(
            f"The model rebuilt from embedding.json of {str(path)!r} ({settings['model']}, "
            f"layers {settings.get('layers')!r}) does not give the saved feature names; was "
            "the embedding made with another version of the model?"
        )
    return embedder


def _crops_of(embedder, paths, X, j, *, k, lowest=False):
    from dks.embed import feature_crops

    column = np.asarray(X[:, j], dtype=np.float64)
    return feature_crops(embedder, paths, int(j), activations=column, k=k, lowest=lowest)


def _class_images(y, cls, paths, k):
    shown = Thumbnails(paths)
    return [shown[i] for i in np.flatnonzero(y == cls)[:k]]


def _feature_figure(embedder, data, paths, j, *, k, sign, cls):
    """The crops figure of column ``j`` (absence: lowest images and the class's images too)."""
    from dks.plotting import plot_feature_crops

    meta, X = data["embedding_meta"], data["embedding"]
    name = str(meta.feature_names[j])
    crops = _crops_of(embedder, paths, X, j, k=k)
    reader = embedding_reader(meta)
    if sign == "presence":
        title = name if cls is None else f"{name} (characteristic of {cls} by presence)"
        return plot_feature_crops(crops, feature=title, background=reader.background)
    y = np.asarray(meta.labels, dtype=str)
    return plot_feature_crops(
        crops,
        feature=f"{name} (characteristic of {cls} by absence)",
        lowest=_crops_of(embedder, paths, X, j, k=k, lowest=True),
        class_images=_class_images(y, cls, paths, k),
        class_name=cls,
        background=reader.background,
        max_image_pixels=reader.max_image_pixels,
    )


def visualize(
    results, feature, *, k=9, sign="presence", cls=None, out=None, max_image_pixels="auto"
):
    """What a feature looks at: the images where it is highest, cropped to where it fires.

    The paper's Fig. 2 (and, with ``sign="absence"``, Figs. 3 and 4) for one feature of a
    results folder. The network is rebuilt from ``embedding.json`` and runs on ``k`` images
    only (``2 k`` for absence); it needs torch and the images still in place.

    Parameters
    ----------
    results : str or os.PathLike
        A results folder (``dks embed`` at least; ``sign="absence"`` without ``cls`` needs
        ``dks characterize`` too).
    feature : str or int
        A feature name (``"conv5_4_17"``) or its column.
    k : int, default=9
        Images per row (the paper shows 9).
    sign : {"presence", "absence"}, default="presence"
        ``"absence"`` adds the images where the feature is lowest and images of the class
        (``cls``, by default the class where the feature's D_KS is lowest).
    cls : str, optional
        The class shown with ``sign="absence"``.
    out : str or os.PathLike, optional
        Also write the figure there (PNG and SVG when no suffix is given, else that format).
    max_image_pixels : "auto", int or None, default="auto"
        Image files with more pixels are refused (decompression bombs); "auto": the limit
        the embedding was made with (``embedding.json``), None: no limit.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dks
    >>> fig = dks.visualize("dks_results", "blocks.15_120")  # doctest: +SKIP
    """
    sign = check_sign(sign, allowed=("presence", "absence"), name=option("sign"))
    if not (isinstance(k, (int, np.integer)) and k >= 1):
        raise AnalysisError(f"{option('k')} must be a positive integer; got {k!r}.")
    path = Path(results)
    if not (path / "embedding.json").is_file():
        raise AnalysisError(
            f"{str(path)!r} is not a results folder (no embedding.json); make one with "
            "`dks analyze`."
        )
    data = load_results(path)
    meta = data["embedding_meta"]
    meta.settings["max_image_pixels"] = embedding_reader(meta, max_image_pixels).max_image_pixels
    names = list(meta.feature_names)
    if isinstance(feature, (int, np.integer)) or str(feature).isdigit():
        j = int(feature)
        if not 0 <= j < len(names):
            raise AnalysisError(f"feature {feature!r} is not a column in 0..{len(names) - 1}.")
    elif feature in names:
        j = names.index(feature)
    else:
        import difflib

        close = difflib.get_close_matches(str(feature), names, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise AnalysisError(
            f"Unknown feature {feature!r} in {str(path)!r}: features are named "
            f"'<layer>_<index>', from {names[0]!r} to {names[-1]!r}.{hint}"
        )
    classes = list(meta.classes)
    if sign == "absence":
        if cls is None:
            if "dks" not in data:
                raise AnalysisError(
                    f"Name the class to show with {option('cls')}, or run `dks characterize "
                    f"{path}` so that the class where the feature is lowest can be found."
                )
            cls = classes[int(np.argmin(data["dks"][:, j]))]
        elif cls not in classes:
            raise AnalysisError(
                f"Unknown class {cls!r} in {option('cls')}; the classes are {classes}."
            )
    paths, missing = recorded_images(meta, path)
    if missing:
        raise AnalysisError(
            f"{len(missing)} of the {len(meta.images)} images of {str(path)!r} are gone (e.g. "
            f"{missing[0]}): the crops need the images that were embedded."
        )
    embedder = embedder_from_results(data, path)
    fig = _feature_figure(embedder, data, paths, j, k=int(k), sign=sign, cls=cls)
    if out is not None:
        from dks.plotting import save_figure

        out = Path(out)
        suffix = out.suffix.lower().lstrip(".")
        save_figure(fig, out, formats=(suffix,) if suffix else ("png", "svg"))
    return fig


def signal_classes(data):
    """The classes the report takes its examples from: those that are not mostly noise
    (``class_noise.csv``), least noisy first; all classes, in order, without that file or
    when every class is mostly noise. Indices into ``embedding.json``'s classes."""
    classes = list(data["embedding_meta"].classes)
    table = data.get("class_noise")
    if table is None:
        return list(range(len(classes)))
    row = {str(c): i for i, c in enumerate(table["class"])}
    at = [row.get(str(c)) for c in classes]
    if any(i is None for i in at):
        return list(range(len(classes)))
    share = np.asarray(table["noise_share"], dtype=float)[at]
    mostly = np.asarray(table["mostly_noise"], dtype=bool)[at]
    order = np.argsort(np.where(np.isnan(share), np.inf, share), kind="stable")
    kept = [int(c) for c in order if not mostly[c]]
    return kept or list(range(len(classes)))


def crop_figures(data, path, log):
    """The report's crops: for the classes that are least noise (:func:`signal_classes`), the
    top feature by presence and by absence.

    Bounded by :data:`dks._config.PIPELINE_CROP_CLASSES` and ``PIPELINE_CROP_IMAGES`` so the
    report stays fast. Left out, with a line in the log, when the images are gone or the
    network cannot be rebuilt (no torch, weights not available).
    """
    n_classes = int(_config.PIPELINE_CROP_CLASSES)
    if n_classes <= 0 or "dks" not in data:
        return {}
    meta, dks = data["embedding_meta"], data["dks"]
    paths, missing = recorded_images(meta, path)
    if missing:
        log(f"report: {len(missing)} image(s) not found; the feature crops are left out")
        return {}
    try:
        embedder = embedder_from_results(data, path)
    except (ImportError, OSError, ValueError, RuntimeError) as exc:
        log(f"report: the network cannot be rebuilt ({exc}); the feature crops are left out")
        return {}
    k = int(_config.PIPELINE_CROP_IMAGES)
    names = meta.feature_names
    figures = {}
    for c in signal_classes(data)[:n_classes]:
        cls = meta.classes[c]
        for sign, j in (("presence", int(np.argmax(dks[c]))), ("absence", int(np.argmin(dks[c])))):
            if dks[c, j] * (1 if sign == "presence" else -1) <= 0:
                continue  # no feature of this sign for the class
            key = f"feature_crops_{sign}_{_safe(cls)}_{_safe(names[j])}"
            figures[key] = _guarded(
                key,
                log,
                lambda j=j, sign=sign, cls=cls: _feature_figure(
                    embedder, data, paths, j, k=k, sign=sign, cls=cls
                ),
            )
    return figures


def _guarded(key, log, make):
    """``make`` or, if the second pass fails on this network, None and a line in the log.

    The crops are an illustration: a network the second pass cannot run on (an unusual
    input constraint, say) costs these figures, never the report.
    """

    def run():
        try:
            return make()
        except Exception as exc:
            log(f"report: {key} left out ({type(exc).__name__}: {exc})")
            return None

    return run


def _safe(text):
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in str(text))
