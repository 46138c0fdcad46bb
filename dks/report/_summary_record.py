"""The summary of an analysis as one typed value: ``summary.json`` and the report's input.

:class:`SummaryRecord` is the one definition of the summary that ``dks characterize`` and
``dks analyze`` write (``summary.json``, described in :doc:`/results`) and that the report,
the printed summary and ``dks compare`` read: one field per key. It lives beside the report,
its first reader, so that :mod:`dks.results` (above the report) and the report share it.
:meth:`SummaryRecord.from_dict` reads any ``summary.json`` written before (missing keys take
their defaults, unknown keys are kept and written back) and the plain dicts that users give
:func:`~dks.report.write_report`; :meth:`SummaryRecord.to_dict` gives the JSON object. The
record is also a read-only mapping of that object (``record["t_plus"]``,
``record.get("layers")``), so code and users that read the parsed JSON read the record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["SummaryRecord"]


@dataclass(frozen=True, eq=False)  # __eq__ below: equal to its dict too
class SummaryRecord(Mapping):
    """``summary.json``: what an analysis found, for the report and the printed summary.

    Every field is optional for the report: a section whose data are missing is left out,
    and a missing cell shows "–". Numbers may be Python or numpy scalars, lists may be
    tuples or 1-D arrays (the writer stores JSON values). Change a value with
    :func:`dataclasses.replace`.

    Attributes
    ----------
    dataset_name : str or None
        The dataset's name (its folder's, its manifest's stem, a Hugging Face dataset's own):
        first column of the thresholds table and the page's heading.
    dataset : str or None
        Where the images are (and the subset taken); stands for the name when it is missing.
    source : str or None
        The kind of source: ``"folder"``, ``"manifest"``, ``"webdataset"``,
        ``"hf-dataset"`` or ``"default"``.
    class_depth : int or None
        A folder's classes are its folder paths to this depth (``--class-depth``).
    model : str or None
        The CNN and its weights.
    n_images, n_classes, n_features, n_shuffles : int or None
        Sizes of the analysis.
    n_skipped : int
        Images that could not be read and were left out.
    skipped : list of dict
        The first of them, each ``{"path", "class", "reason"}`` (all are in ``skipped.csv``).
    n_not_images : int
        Files of the image folder that are not read as images (their extension).
    not_images : list of str
        The first of them, relative to the folder.
    bins : int, str or None
        The characterizer's binning (``100``, or ``"exact"``).
    created : str or None
        When the analysis ran, shown as given.
    parameters : dict of str to scalar
        Other settings, shown as extra rows of the "Run" table.
    wall_time_s : float or None
        Wall time of the analysis in seconds, from the start of the call to the report
        (drawing the figures and the report, and Python's start-up, not counted).
    timings : dict of str to float
        Seconds of each step (``"embed"``, ``"characterize"``, ...).
    thresholds : str or None
        The rule: ``"global"`` (the paper's Eq. 4) or ``"per_class"``.
    max_noise_share : float or None
        The bound of the ``"per_class"`` rule (None with ``"global"``).
    t_plus, t_minus : float, list of float or None
        The thresholds (``t_minus <= 0 <= t_plus``); one per class with ``"per_class"``,
        shown as their median and range (``+-1``: the class keeps nothing on that side).
    d_avg_t_plus, d_avg_t_minus : float or None
        d_avg at each threshold (the maxima of the d_avg curves): the average number of
        features per class beyond the threshold, minus the same with shuffled labels;
        None with ``"per_class"``.
    unresolved_classes : list of str
        Classes whose thresholds could not be set (``"per_class"``).
    n_pairs : int or None
        n_classes * n_features.
    n_pairs_plus, n_pairs_minus : int or None
        Pairs with D_KS > t+ (characteristic by presence), with D_KS < t- (by absence).
    n_noise_features : int or None
        Features with no pair beyond t+ or t-: noise for every class (the paper: 38 for
        mit67); default ``len(noise_features)``.
    n_noise_features_plus, n_noise_features_minus : int or None
        The same counting only t+, or only t-.
    layers : list of dict
        In layer order (table "Per layer", the paper's Fig. 10): ``"name"``,
        ``"n_features"``, ``"kept"`` (share of the layer's pairs kept), ``"kept_shuffled"``
        (the same with shuffled labels), ``"kept_presence"``, ``"kept_absence"``,
        ``"n_noise"``: the columns of :meth:`dks.NoiseThresholdSelector.layer_summary`
        (``"group"`` is an alias of ``"name"``; NaN shows as "–").
    class_noise : list of dict
        One per class (section "Noise per class"): ``"class"``, ``"n_samples"``, ``"kept"``,
        ``"kept_shuffled"``, ``"noise_share"``, ``"mostly_noise"``, ``"unresolved"``,
        ``"t_plus"``, ``"t_minus"``: ``NoiseThresholdSelector.class_noise_`` as rows.
    signal : dict
        The headline of "At a glance": ``"kept"`` and ``"kept_shuffled"`` (shares of all
        pairs) and what ``thresholds="per_class"`` would keep.
    noise_features : list of str
        Names of the features that are noise for every class.
    classes : list of dict
        In class order (table "Per class"): ``"name"``, ``"n_images"``, ``"n_plus"`` and
        ``"n_minus"`` (features beyond t+ and t-; aliases ``"n_presence"``,
        ``"n_absence"``), ``"top_presence"`` and ``"top_absence"`` (top features, each a
        ``[name, dks]`` pair, a ``{"feature", "dks"}`` dict or a bare name).
    validity : dict or None
        Section "Validity" (from ``dks validate``; not in ``summary.json``): ``"ablation"``
        (rows of :meth:`dks.validity.AblationResult.summary`), ``"stability"`` (the
        ``scope="all"`` row of :attr:`dks.validity.StabilityResult.table`), ``"classes"``
        and ``"layers"`` (its class and layer rows).
    extra : dict
        Keys this version does not know, written back as they were.
    """

    dataset: str | None = None
    dataset_name: str | None = None
    source: str | None = None
    class_depth: int | None = None
    model: str | None = None
    n_images: int | None = None
    n_skipped: int = 0
    skipped: list = field(default_factory=list)
    n_not_images: int = 0
    not_images: list = field(default_factory=list)
    n_classes: int | None = None
    n_features: int | None = None
    n_shuffles: int | None = None
    bins: int | str | None = None
    created: str | None = None
    parameters: dict = field(default_factory=dict)
    thresholds: str | None = None
    max_noise_share: float | None = None
    t_plus: float | list | None = None
    t_minus: float | list | None = None
    d_avg_t_plus: float | None = None
    d_avg_t_minus: float | None = None
    unresolved_classes: list = field(default_factory=list)
    n_pairs: int | None = None
    n_pairs_plus: int | None = None
    n_pairs_minus: int | None = None
    n_noise_features: int | None = None
    n_noise_features_plus: int | None = None
    n_noise_features_minus: int | None = None
    layers: list = field(default_factory=list)
    class_noise: list = field(default_factory=list)
    signal: dict = field(default_factory=dict)
    noise_features: list | None = None  # None: not known (a count of 0 is not shown)
    classes: list = field(default_factory=list)
    wall_time_s: float | None = None
    timings: dict = field(default_factory=dict)
    validity: dict | None = field(default=None, metadata={"only_when_set": True})
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data):
        """The record of a parsed ``summary.json`` or of a summary dict (a record is
        returned as is).

        Parameters
        ----------
        data : Mapping
            Any version's keys; those of a field that are None take the field's default.

        Returns
        -------
        SummaryRecord
        """
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise TypeError(
                f"A summary must be a dict (or a SummaryRecord); got {type(data).__name__} "
                "instead."
            )
        known = _field_names(cls)
        values = {k: v for k, v in data.items() if k in known and v is not None}
        extra = {k: v for k, v in data.items() if k not in known and k != "extra"}
        return cls(**values, extra={**data.get("extra", {}), **extra})

    def to_dict(self):
        """The JSON object of ``summary.json``: every field, in order, then the unknown keys
        (``validity`` only when set)."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is None and f.metadata.get("only_when_set"):
                continue
            out[f.name] = value
        out.update(self.extra)
        return out

    # The record reads as the JSON object (Mapping): keys are those of to_dict().
    def __getitem__(self, key):
        if key in _field_names(type(self)):
            value = getattr(self, key)
            field_ = _FIELDS[key]
            if value is None and field_.metadata.get("only_when_set"):
                raise KeyError(key)
            return value
        return self.extra[key]

    def __iter__(self):
        return iter(self.to_dict())

    def __len__(self):
        return len(self.to_dict())

    def __eq__(self, other):
        # equal to the same summary as a record or as the dict it stands for
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other.items())
        return NotImplemented

    __hash__ = None  # lists inside: unhashable, like the dict it stands for


def _field_names(cls):
    return _FIELDS.keys() - {"extra"}


_FIELDS = {f.name: f for f in dataclasses.fields(SummaryRecord)}
