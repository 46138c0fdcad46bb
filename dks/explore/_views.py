"""The explorer's JSON views of a results folder: what each page of ``dks explore`` shows.

Everything is read once through :func:`dks.pipeline.load_results` (the statistics are small:
``n_classes x n_features``); the embedding's columns, for the paper's Fig. 1 and the
top-activating images, are read on demand from the store and kept in a small in-memory
LRU cache. Nothing is ever written to the results folder.
"""

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

__all__ = ["NotAResultsFolder", "Views"]

#: Columns of the embedding kept in memory (each is ``n_images`` float32).
CACHE_COLUMNS = 16
#: Rows of the ranked feature list sent at once.
MAX_ROWS = 500


class NotAResultsFolder(ValueError):
    """The folder cannot be explored; the message says what to run."""


def _threshold(thresholds, key, c):
    value = thresholds[key]
    return float(value[c]) if isinstance(value, list) else float(value)


class Views:
    """The JSON views of one results folder.

    Parameters
    ----------
    path : str or os.PathLike
        A results folder with its statistics (``dks characterize`` done).
    """

    def __init__(self, path):
        from dks.pipeline import load_results

        self.path = Path(path).resolve()
        if not (self.path / "embedding.json").is_file():
            raise NotAResultsFolder(
                f"{str(path)!r} is not a dks results folder (no embedding.json): make one "
                "with `dks analyze --out DIR` (or `dks embed` then `dks characterize DIR`)."
            )
        if not (self.path / "dks.npy").is_file() or not (self.path / "thresholds.json").is_file():
            raise NotAResultsFolder(
                f"{str(path)!r} has an embedding but no statistics yet: run "
                f"`dks characterize {path}` first."
            )
        res = load_results(self.path)
        meta = res["embedding_meta"]
        self.meta = meta
        self.X = res["embedding"]
        self.dks = np.asarray(res["dks"], dtype=np.float32)
        self.null = res.get("null_dks")
        self.thresholds = res["thresholds"]
        self.classes = [str(c) for c in meta["classes"]]
        self.features = [str(f) for f in meta["feature_names"]]
        self.class_index = {c: i for i, c in enumerate(self.classes)}
        self.feature_index = {f: j for j, f in enumerate(self.features)}
        self.layers = [
            (str(name), np.asarray(cols, dtype=np.intp)) for name, cols in res["layers"].items()
        ]
        self.layer_of = np.zeros(len(self.features), dtype=np.int32)
        for k, (_, cols) in enumerate(self.layers):
            self.layer_of[cols] = k
        labels = np.asarray(meta["labels"]).astype(str)
        self.y = np.full(labels.size, -1, dtype=np.int32)
        for c, name in enumerate(self.classes):
            self.y[labels == name] = c
        self.images = meta.get("images", [])
        self.grid = res.get("grid")
        self.curves = (res.get("d_avg_plus"), res.get("d_avg_minus"))
        self.class_noise = res.get("class_noise")
        self.t_plus = np.array(
            [_threshold(self.thresholds, "t_plus", c) for c in range(len(self.classes))]
        )
        # t_minus is stored signed (negative): a feature is kept by absence when D_KS < t_minus.
        self.t_minus = np.array(
            [_threshold(self.thresholds, "t_minus", c) for c in range(len(self.classes))]
        )
        self._columns = OrderedDict()
        self._lock = threading.Lock()
        self._overview = None

    # -- helpers -----------------------------------------------------------------------
    def cls(self, name):
        """Index of class ``name`` (KeyError with the name when unknown)."""
        if name not in self.class_index:
            raise KeyError(f"no class named {name!r}")
        return self.class_index[name]

    def feature(self, name):
        """Index of feature ``name``."""
        if name not in self.feature_index:
            raise KeyError(f"no feature named {name!r}")
        return self.feature_index[name]

    def column(self, j):
        """Column ``j`` of the embedding (float32), from the cache or the store."""
        with self._lock:
            if j in self._columns:
                self._columns.move_to_end(j)
                return self._columns[j]
        col = np.asarray(self.X[:, j], dtype=np.float32)
        with self._lock:
            self._columns[j] = col
            while len(self._columns) > CACHE_COLUMNS:
                self._columns.popitem(last=False)
        return col

    def _kept(self, c):
        row = self.dks[c]
        return (row > self.t_plus[c]) | (row < self.t_minus[c])

    # -- views -------------------------------------------------------------------------
    def overview(self):
        """Thresholds, their curves, every class and the class x layer map of kept shares."""
        if self._overview is not None:
            return self._overview
        kept = (self.dks > self.t_plus[:, None]) | (self.dks < self.t_minus[:, None])
        share = np.stack([kept[:, cols].mean(axis=1) for _, cols in self.layers], axis=1)
        counts = np.bincount(self.y[self.y >= 0], minlength=len(self.classes))
        noise = None
        if self.class_noise is not None and "mostly_noise" in self.class_noise:
            noise = [bool(v) for v in self.class_noise["mostly_noise"]]
        self._overview = {
            "folder": self.path.name,
            "n_images": len(self.images),
            "thresholds": {
                "rule": self.thresholds.get("thresholds", "global"),
                "t_plus": _clean(self.thresholds["t_plus"]),
                "t_minus": _clean(self.thresholds["t_minus"]),
            },
            "curves": None
            if self.grid is None
            else {
                "grid": _round(self.grid),
                "d_avg_plus": _round(self.curves[0]),
                "d_avg_minus": _round(self.curves[1]),
            },
            "layers": [name for name, _ in self.layers],
            "classes": self.classes,
            "n_samples": counts.tolist(),
            "mostly_noise": noise,
            "kept_share": _round(share),
            "features": self.features,
            "feature_layer": self.layer_of.tolist(),
        }
        return self._overview

    def class_view(self, name):
        """The features of class ``name`` ranked by D_KS, its Fig. 9 curves and thresholds."""
        c = self.cls(name)
        row = self.dks[c]
        grid = np.linspace(0.0, 1.0, 101)
        curve_plus = _exceedance(row, grid)
        curve_minus = _exceedance(-row, grid)
        shuffled = []
        if self.null is not None:
            for s in range(self.null.shape[0]):
                nrow = np.asarray(self.null[s, c], dtype=np.float32)
                shuffled.append(
                    {
                        "plus": _round(_exceedance(nrow, grid)),
                        "minus": _round(_exceedance(-nrow, grid)),
                    }
                )
        kept = self._kept(c)
        return {
            "class": name,
            "n_samples": int((self.y == c).sum()),
            "t_plus": _clean(float(self.t_plus[c])),
            "t_minus": _clean(float(self.t_minus[c])),
            "noise_share": float(1.0 - kept.mean()),
            "n_plus": int((row > self.t_plus[c]).sum()),
            "n_minus": int((row < self.t_minus[c]).sum()),
            "grid": _round(grid),
            "plus": _round(curve_plus),
            "minus": _round(curve_minus),
            "shuffled": shuffled,
            "dks": _round(row),  # every feature, filtered and ranked in the browser
        }

    def feature_view(self, name, cls=None, bins=40, top=12):
        """D_KS of feature ``name`` across classes; for ``cls``, the paper's Fig. 1."""
        j = self.feature(name)
        col = self.dks[:, j]
        out = {
            "feature": name,
            "layer": self.layers[self.layer_of[j]][0],
            "dks": _round(col),
            "t_plus": _round(self.t_plus),
            "t_minus": _round(self.t_minus),
        }
        x = self.column(j)
        order = np.argsort(x)[::-1][:top] if x.size <= top else _top(x, top)
        out["top"] = [
            {
                "row": int(i),
                "image": str(self.images[i]) if i < len(self.images) else "",
                "class": self.classes[self.y[i]] if self.y[i] >= 0 else "",
                "value": float(x[i]),
                "served": self.image_file(int(i)) is not None,
            }
            for i in order
        ]
        if cls is not None:
            c = self.cls(cls)
            intra, inter = x[self.y == c], x[(self.y != c) & (self.y >= 0)]
            lo, hi = float(np.min(x)), float(np.max(x))
            if hi <= lo:
                hi = lo + 1.0
            edges = np.linspace(lo, hi, bins + 1)
            points = np.linspace(lo, hi, 200)
            out["fig1"] = {
                "class": cls,
                "dks": float(self.dks[c, j]),
                "edges": _round(edges),
                "intra": _round(np.histogram(intra, edges)[0] / max(intra.size, 1)),
                "inter": _round(np.histogram(inter, edges)[0] / max(inter.size, 1)),
                "points": _round(points),
                "ecdf_intra": _round(_ecdf(intra, points)),
                "ecdf_inter": _round(_ecdf(inter, points)),
                "n_intra": int(intra.size),
                "n_inter": int(inter.size),
            }
        return out

    def pair_view(self, a, b, top=50):
        """The features that separate classes ``a`` and ``b``: largest D_KS differences."""
        ca, cb = self.cls(a), self.cls(b)
        diff = self.dks[ca] - self.dks[cb]
        n = min(top, diff.size)
        order = np.argsort(-np.abs(diff), kind="stable")[:n]
        return {
            "a": a,
            "b": b,
            "rows": [
                {
                    "feature": self.features[j],
                    "layer": self.layers[self.layer_of[j]][0],
                    "a": float(self.dks[ca, j]),
                    "b": float(self.dks[cb, j]),
                    "diff": float(diff[j]),
                }
                for j in order
            ],
        }

    def image_file(self, row):
        """The file of image ``row`` when it lies inside the results folder, else None."""
        if not 0 <= row < len(self.images):
            return None
        root = self.path / str(self.meta.get("images_root") or "")
        return safe_file(self.path, root / str(self.images[row]))


def safe_file(base, candidate):
    """``candidate`` resolved (symlinks followed) if it is a file inside ``base``, else None."""
    try:
        real = Path(candidate).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_file() or not real.is_relative_to(Path(base).resolve()):
        return None
    return real


def _top(x, k):
    idx = np.argpartition(x, x.size - k)[x.size - k :]
    return idx[np.argsort(x[idx])[::-1]]


def _exceedance(row, grid):
    """Share of ``row`` above each value of ``grid`` (the paper's Fig. 9 curve)."""
    s = np.sort(row)
    return 1.0 - np.searchsorted(s, grid, side="right") / max(s.size, 1)


def _ecdf(values, points):
    s = np.sort(values)
    return np.searchsorted(s, points, side="right") / max(s.size, 1)


def _clean(value):
    """A threshold (or list of them) with NaN as None, for JSON."""
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return None if value is None or value != value else float(value)


def _round(a):
    """A JSON-ready list, rounded to 4 decimals (NaN -> None)."""
    a = np.round(np.asarray(a, dtype=np.float64), 4)
    return (
        [None if v != v else v for v in a.tolist()]
        if a.ndim == 1
        else [[None if v != v else v for v in r] for r in a.tolist()]
    )
