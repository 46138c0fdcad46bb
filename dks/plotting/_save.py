"""Figure files: PNG and SVG, written atomically (:mod:`dks._atomic`)."""

from pathlib import Path

from dks._atomic import atomic_open


def save_figure(fig, path_stem, *, formats=("png", "svg"), dpi=150):
    """Write a figure as PNG and SVG (by default), each atomically.

    Each file is written to a temporary file in the target folder, then renamed over the
    target, so a reader never sees a half-written figure. SVGs carry no date, so re-running
    gives identical files.

    Parameters
    ----------
    fig : Figure
    path_stem : str or path-like
        Target without extension (``out/fig5`` -> ``out/fig5.png``, ``out/fig5.svg``); a
        trailing ``.png``/``.svg``/... matching one of ``formats`` is dropped. Missing parent
        folders are created.
    formats : sequence of str, default=("png", "svg")
    dpi : float, default=150
        Resolution of raster formats.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``formats``.
    """
    import matplotlib

    stem = Path(path_stem)
    formats = [f.lower().lstrip(".") for f in ([formats] if isinstance(formats, str) else formats)]
    if stem.suffix.lower().lstrip(".") in formats:
        stem = stem.with_suffix("")
    written = []
    for fmt in formats:
        target = stem.with_name(f"{stem.name}.{fmt}")
        metadata = {"Date": None} if fmt in ("svg", "pdf") else None
        with atomic_open(target) as fh, matplotlib.rc_context({"svg.hashsalt": "dks"}):
            fig.savefig(fh, format=fmt, dpi=dpi, metadata=metadata)
        written.append(target)
    return written
