"""The explorer's JSON views of a results folder: what each page of ``dks explore`` shows.

The statistics (``n_classes x n_features``: 38 MB at ImageNet's shape) are read once through
:func:`dks.pipeline.load_results`. The embedding itself (49 GB at that shape) is never read
whole per request: when the explorer starts, a background thread reads a *sample* of it,
whole row chunks evenly spread over the store, all features, within
``dks.get_config()["explore_sample_bytes"]`` (an embedding that fits is read whole and every
view is exact). The other classes' histogram of the paper's Fig. 1 and the top-activating
images come from that sample; the chosen class's histogram reads the class's own rows of the
feature's column block (at most ``explore_class_chunks`` row chunks). A view computed from a
sample says so and gives its size. Nothing is ever written to the results folder.
"""

import contextlib
import threading
from collections import OrderedDict, defaultdict
from itertools import pairwise
from pathlib import Path

import numpy as np

from dks import _config
from dks._sign import SIGN_COLORS
from dks.explore._region_views import CropWorker
from dks.thresholds import class_noise_table
from dks.validity import UNSTABLE_JACCARD

__all__ = ["NotAResultsFolder", "Views", "safe_file"]

#: Class columns (one feature's values on one class) kept in memory.
CACHE_COLUMNS = 64


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
        self.classes = [str(c) for c in meta.classes]
        self.features = [str(f) for f in meta.feature_names]
        self.class_index = {c: i for i, c in enumerate(self.classes)}
        self.feature_index = {f: j for j, f in enumerate(self.features)}
        self.layers = [
            (str(name), np.asarray(cols, dtype=np.intp)) for name, cols in res["layers"].items()
        ]
        self.layer_of = np.zeros(len(self.features), dtype=np.int32)
        for k, (_, cols) in enumerate(self.layers):
            self.layer_of[cols] = k
        # one C-level dict lookup per image (1.28 M at ImageNet's shape); unknown labels: -1
        index = defaultdict(lambda: -1, self.class_index)
        index.update((c, i) for i, c in enumerate(meta.classes))  # labels as saved
        labels = meta.labels
        self.y = np.fromiter(map(index.__getitem__, labels), np.int32, len(labels))
        order = np.argsort(self.y, kind="stable")  # the rows of each class, increasing
        bounds = np.searchsorted(self.y[order], np.arange(len(self.classes) + 1))
        self.class_rows = [order[a:b] for a, b in pairwise(bounds)]
        self.images = meta.images
        self.grid = res.get("grid")
        self.curves = (res.get("d_avg_plus"), res.get("d_avg_minus"))
        self.t_plus = np.array(
            [_threshold(self.thresholds, "t_plus", c) for c in range(len(self.classes))]
        )
        # t_minus is stored signed (negative): a feature is kept by absence when D_KS < t_minus.
        self.t_minus = np.array(
            [_threshold(self.thresholds, "t_minus", c) for c in range(len(self.classes))]
        )
        self.noise = self._class_noise(res.get("class_noise"))
        self.stability = _stability_rows(res.get("stability"), res.get("ablation"))
        self._columns = OrderedDict()
        self._lock = threading.Lock()
        self._overview = None
        self._overview_lock = threading.Lock()
        self.block_rows = _block_rows(self.X)
        self.sample_rows = _sample_rows(len(self.y), self.block_rows, len(self.features))
        self.exact = self.sample_rows.size == len(self.y)
        self.crops = CropWorker(self)  # its thread starts with the first request for crops
        self._sample = None
        self._sample_error = None
        self._sample_ready = threading.Event()
        threading.Thread(
            target=_config.carry_context(self._read_sample), daemon=True, name="dks-explore-sample"
        ).start()

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

    def _read_sample(self):
        with contextlib.suppress(Exception):  # the request for it reports the error
            self.overview()  # the first page's view, ready before it is asked for
        try:
            if self.exact:
                sample = np.asarray(self.X[:, :], dtype=np.float32)
            else:
                runs = _runs(self.sample_rows)
                sample = np.concatenate(
                    [np.asarray(self.X[a:b, :], dtype=np.float32) for a, b in runs]
                )
            self._sample = sample
        except Exception as exc:  # reported by the views that need it
            self._sample_error = exc
        finally:
            self._sample_ready.set()

    def sample(self, timeout=None):
        """The sample of the embedding (``sample_rows`` x all features), once it is read."""
        if not self._sample_ready.wait(timeout):
            raise TimeoutError("the sample of the embedding is still being read")
        if self._sample_error is not None:
            raise ValueError(f"cannot read the embedding: {self._sample_error}")
        return self._sample

    def class_column(self, j, c):
        """``(rows, values)`` of feature ``j`` on class ``c``: all its rows, or those of
        at most ``explore_class_chunks`` row chunks evenly spread over the class."""
        rows = self.class_rows[c]
        if self.exact:
            return rows, self.sample()[rows, j]
        with self._lock:
            if (j, c) in self._columns:
                self._columns.move_to_end((j, c))
                return self._columns[(j, c)]
        blocks = np.unique(rows // self.block_rows)
        limit = max(1, int(_config.EXPLORE_CLASS_CHUNKS))
        if blocks.size > limit:
            blocks = blocks[np.unique(np.linspace(0, blocks.size - 1, limit).round().astype(int))]
            rows = rows[np.isin(rows // self.block_rows, blocks)]
        values = np.empty(rows.size, dtype=np.float32)
        done = 0
        for a, b in _runs(rows, gap=self.block_rows):
            take = rows[done : done + np.searchsorted(rows[done:], b)]
            read = np.asarray(self.X[a:b, j], dtype=np.float32)
            values[done : done + take.size] = read[take - a]
            done += take.size
        with self._lock:
            self._columns[(j, c)] = (rows, values)
            while len(self._columns) > CACHE_COLUMNS:
                self._columns.popitem(last=False)
        return rows, values

    def _kept(self, c):
        row = self.dks[c]
        return (row > self.t_plus[c]) | (row < self.t_minus[c])

    def _null_kept(self):
        """Pairs kept with each shuffled labeling, ``(n_shuffles, n_classes, n_features)``
        bool, with the classes' own thresholds; None without shuffles."""
        if self.null is None:
            return None
        return np.stack([self._null_kept_one(s) for s in range(self.null.shape[0])])

    def _null_kept_one(self, s):
        null = np.asarray(self.null[s], dtype=np.float32)
        return (null > self.t_plus[:, None]) | (null < self.t_minus[:, None])

    def _class_noise(self, table):
        """Per class (class order): ``kept``, ``kept_shuffled``, ``noise_share`` and
        ``mostly_noise``, as ``class_noise.csv`` has them (the report's numbers), else
        computed from the shuffled D_KS by the same rule (results written before it)."""
        n = len(self.classes)
        if table is not None:
            at = {str(c): i for i, c in enumerate(table["class"])}
            order = [at.get(c, -1) for c in self.classes]
            if all(i >= 0 for i in order):
                return {
                    k: np.asarray(table[k])[order]
                    for k in ("kept", "kept_shuffled", "noise_share", "mostly_noise")
                }
        kept = (self.dks > self.t_plus[:, None]) | (self.dks < self.t_minus[:, None])
        out = class_noise_table(self.classes, np.zeros(n), kept.astype(np.int8), self._null_kept())
        return {k: out[k] for k in ("kept", "kept_shuffled", "noise_share", "mostly_noise")}

    # -- views -------------------------------------------------------------------------
    def overview(self):
        """Thresholds, their curves, every class and the class x layer map of kept shares."""
        with self._overview_lock:  # computed once, by the first caller
            if self._overview is None:
                self._overview = self._make_overview()
        return self._overview

    def _make_overview(self):
        kept = (self.dks > self.t_plus[:, None]) | (self.dks < self.t_minus[:, None])
        share = np.stack([kept[:, cols].mean(axis=1) for _, cols in self.layers], axis=1)
        excess = None
        if self.null is not None and self.null.shape[0]:
            # what chance alone keeps, per class and layer (one shuffle at a time in memory)
            shuffled = np.zeros_like(share)
            for s in range(self.null.shape[0]):
                null_kept = self._null_kept_one(s)
                shuffled += np.stack([null_kept[:, c].mean(axis=1) for _, c in self.layers], 1)
            excess = np.clip(share - shuffled / self.null.shape[0], 0.0, None)
        medians = [_signed_medians(self.dks[:, cols]) for _, cols in self.layers]
        median_plus = np.stack([plus for plus, _ in medians], axis=1)
        median_minus = np.stack([minus for _, minus in medians], axis=1)
        counts = np.bincount(self.y[self.y >= 0], minlength=len(self.classes))
        return {
            "folder": self.path.name,
            "has_report": (self.path / "report.html").is_file(),
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
            "palette": SIGN_COLORS,
            "mostly_noise": [bool(v) for v in self.noise["mostly_noise"]],
            "noise_share": _round(self.noise["noise_share"]),
            "kept_share": _round(share),
            "kept_beyond_chance": None if excess is None else _round(excess),
            "median_plus": _round(median_plus),
            "median_minus": _round(median_minus),
            "features": self.features,
            "feature_layer": self.layer_of.tolist(),
        }

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
        return {
            "class": name,
            "n_samples": int((self.y == c).sum()),
            "t_plus": _clean(float(self.t_plus[c])),
            "t_minus": _clean(float(self.t_minus[c])),
            # the glossary's "noise share": kept with shuffled labels / kept with the true ones
            "kept": _clean(float(self.noise["kept"][c])),
            "kept_shuffled": _clean(float(self.noise["kept_shuffled"][c])),
            "noise_share": _clean(float(self.noise["noise_share"][c])),
            "mostly_noise": bool(self.noise["mostly_noise"][c]),
            "n_plus": int((row > self.t_plus[c]).sum()),
            "n_minus": int((row < self.t_minus[c]).sum()),
            "grid": _round(grid),
            "plus": _round(curve_plus),
            "minus": _round(curve_minus),
            "shuffled": shuffled,
            "dks": _round(row),  # every feature, filtered and ranked in the browser
            # how stable this class's verdict is (dks validate; None without validity/)
            "stability": self.stability.get(name),
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
        x = self.sample()[:, j]
        rows, ys = self.sample_rows, self.y[self.sample_rows]
        out["sample"] = {"n": int(rows.size), "of": int(self.y.size), "exact": self.exact}
        cand_rows, cand_x = rows, x
        if cls is not None:
            c = self.cls(cls)
            intra_rows, intra = self.class_column(j, c)
            inter = x[(ys != c) & (ys >= 0)]
            cand_rows = np.concatenate([rows, intra_rows])
            cand_x = np.concatenate([x, intra])
            intra, inter = intra[np.isfinite(intra)], inter[np.isfinite(inter)]
            both = np.concatenate([intra, inter])
            lo, hi = (float(np.min(both)), float(np.max(both))) if both.size else (0.0, 1.0)
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
                "n_class": int(self.class_rows[c].size),
                "n_other": int(self.y.size - self.class_rows[c].size),
                "gap_at": _gap_at(intra, inter),
            }
        cand_rows, first = np.unique(cand_rows, return_index=True)
        cand_x = cand_x[first]
        order = _top(cand_x, min(top, cand_x.size))
        out["top"] = [
            {
                "row": int(i),
                "image": str(self.images[i]) if i < len(self.images) else "",
                "class": self.classes[self.y[i]] if self.y[i] >= 0 else "",
                "value": float(v),
                "served": self.image_file(int(i)) is not None,
            }
            for i, v in zip(cand_rows[order], cand_x[order], strict=True)
        ]
        return out

    def pair_view(self, a, b, top=None):
        """The features that separate classes ``a`` and ``b``, largest D_KS difference first:
        all of them (the page filters them by layer and sign), or the ``top`` first."""
        ca, cb = self.cls(a), self.cls(b)
        diff = self.dks[ca] - self.dks[cb]
        n = diff.size if top is None else min(top, diff.size)
        order = np.argsort(-np.abs(diff), kind="stable")[:n]
        return {
            "a": a,
            "b": b,
            "t_plus": [_clean(float(self.t_plus[ca])), _clean(float(self.t_plus[cb]))],
            "t_minus": [_clean(float(self.t_minus[ca])), _clean(float(self.t_minus[cb]))],
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
        root = self.path / str(self.meta.images_root or "")
        return safe_file(self.path, root / str(self.images[row]))


def _stability_rows(stability, ablation):
    """Class name -> what ``dks validate`` says of it: the stability row of
    ``validity/stability.csv`` and, from ``ablation.csv``, the presence side at the middle
    ``k``; {} when the folder has no ``validity/``."""
    if stability is None:
        return {}
    rows = {}
    for i in np.flatnonzero(stability["scope"] == "class"):
        row = {key: _clean(stability[key][i].item()) for key in _STABILITY_KEYS}
        row["unstable"] = not stability["jaccard"][i] >= UNSTABLE_JACCARD  # NaN: unstable
        row["limit"] = UNSTABLE_JACCARD
        rows[str(stability["name"][i])] = row
    if ablation is not None and len(ablation["k"]):
        ks = np.unique(ablation["k"])
        k = ks[(ks.size - 1) // 2]
        for i in np.flatnonzero((ablation["k"] == k) & (ablation["side"] == "presence")):
            row = rows.get(str(ablation["class"][i]))
            if row is not None:
                row.update(k=int(k), drop=_clean(float(ablation["drop"][i])))
                row["ratio_random"] = _clean(float(ablation["ratio_random"][i]))
    return rows


#: The columns of ``stability.csv`` the class view shows.
_STABILITY_KEYS = ("size", "jaccard", "jaccard_min", "jaccard_max", "jaccard_chance", "kept")


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
    """Indices of the ``k`` largest values of ``x`` (NaN last), largest first."""
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    x = np.where(np.isnan(x), -np.inf, x)
    idx = np.argpartition(x, x.size - k)[x.size - k :]
    return idx[np.argsort(x[idx], kind="stable")[::-1]]


def _signed_medians(block):
    """Per row of ``block``: the medians of its positive and of its negative values (NaN
    when there are none). One sort per row: the negatives come first, the positives last."""
    block = np.sort(np.nan_to_num(block, nan=0.0), axis=1)
    n = block.shape[1]
    rows = np.arange(block.shape[0])
    out = []
    for first, count in (
        (n - (block > 0).sum(axis=1), (block > 0).sum(axis=1)),
        (np.zeros(block.shape[0], dtype=np.intp), (block < 0).sum(axis=1)),
    ):
        lo = np.minimum(first + (count - 1) // 2, n - 1)
        hi = np.minimum(first + count // 2, n - 1)
        median = (block[rows, lo].astype(np.float64) + block[rows, hi]) / 2
        out.append(np.where(count > 0, median, np.nan))
    return out


def _block_rows(X):
    """Rows of one chunk of the embedding's storage (contiguous reads come in these)."""
    array = getattr(X, "array", X)  # a store's RowView wraps its array
    chunks = getattr(array, "chunks", None)
    if chunks:
        return max(1, int(chunks[0]))
    return 256  # an .npy memmap: rows are contiguous; read in blocks of this many


def _sample_rows(n_rows, block_rows, n_features):
    """The rows of the sample: every row when they fit in ``explore_sample_bytes``, else
    whole blocks of ``block_rows`` evenly spread."""
    fits = max(block_rows, int(_config.EXPLORE_SAMPLE_BYTES) // (4 * max(n_features, 1)))
    if n_rows <= fits:
        return np.arange(n_rows)
    n_blocks = -(-n_rows // block_rows)
    k = max(1, fits // block_rows)
    blocks = np.unique(np.linspace(0, n_blocks - 1, k).round().astype(np.int64))
    rows = (blocks[:, None] * block_rows + np.arange(block_rows)).ravel()
    return rows[rows < n_rows]


def _runs(rows, gap=1):
    """``(start, stop)`` ranges covering increasing ``rows``; a new range starts where the
    next row is more than ``gap`` past the previous (``gap=1``: runs of consecutive rows)."""
    if rows.size == 0:
        return []
    cut = np.flatnonzero(np.diff(rows) > gap) + 1
    starts = np.concatenate([[0], cut])
    stops = np.concatenate([cut, [rows.size]])
    return [(int(rows[a]), int(rows[b - 1]) + 1) for a, b in zip(starts, stops, strict=True)]


def _exceedance(row, grid):
    """Share of ``row`` above each value of ``grid`` (the paper's Fig. 9 curve)."""
    s = np.sort(row)
    return 1.0 - np.searchsorted(s, grid, side="right") / max(s.size, 1)


def _gap_at(intra, inter):
    """The activation where the two ECDFs are farthest apart (the KS statistic's place)."""
    points = np.unique(np.concatenate([intra, inter]))
    if points.size == 0 or intra.size == 0 or inter.size == 0:
        return None
    gap = np.abs(_ecdf(intra, points) - _ecdf(inter, points))
    return float(points[np.argmax(gap)])


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
