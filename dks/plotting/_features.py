"""One feature's intra- vs inter-class activation histograms (the paper's Fig. 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dks._sign import check_sign, sign_code
from dks.plotting._mpl import Tex, setup_axes
from dks.plotting._summaries import signed_ks_1d

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def plot_feature_histograms(
    values,
    y,
    feature=None,
    classes=None,
    top=3,
    *,
    dks=None,
    among=None,
    sign="both",
    bins=50,
    log=False,
    ncols=3,
    ax=None,
    fig=None,
) -> Figure:
    """Intra- vs inter-class activation histograms of one feature (the paper's Fig. 1).

    For each of the ``top`` classes with the largest ``|D_KS|`` for this feature, the histogram of
    its activations on the images of the class (intra, filled) is drawn over that on all other
    images (inter, line), both as densities over the same bins.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
        Activations of the feature.
    y : array-like of shape (n_samples,)
        Class labels.
    feature : str or int, optional
        Feature name for the title.
    classes : sequence, optional
        The class labels, in the order of ``dks``; default ``np.unique(y)``.
    top : int, default=3
        Number of classes shown.
    dks : array-like of shape (n_classes,), optional
        This feature's D_KS per class (a column of the characterizer's ``dks_``), used to rank
        and annotate the classes. Default: computed exactly here (:func:`signed_ks_1d`).
    among : sequence, optional
        The classes to choose the shown ones from (default: all); the report leaves out
        the classes whose kept pairs are mostly noise.
    sign : {"both", "presence", "absence"}, default="both"
        Rank all classes by ``|D_KS|``, or only those with ``D_KS > 0`` (presence) or
        ``< 0`` (absence).
    bins : int, default=50
        Equal-width bins over the feature's range.
    log : bool, default=False
        Logarithmic density axis (helps with ReLU features, whose many zeros make a tall spike).
    ncols : int, default=3
        Panels per row.
    ax : sequence of Axes, optional
        One per class shown.
    fig : Figure, optional

    Returns
    -------
    Figure
    """
    values = np.asarray(values, dtype=float).ravel()
    y = np.asarray(y).ravel()
    if values.shape != y.shape:
        raise ValueError(
            f"'values' and 'y' must have the same length; got {values.size} and {y.size}."
        )
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("'values' must be a non-empty array of finite activations.")
    classes = list(np.unique(y)) if classes is None else list(classes)
    if dks is None:
        d = signed_ks_1d(values, y, classes)
    else:
        d = np.asarray(dks, dtype=float).ravel()
        if d.size != len(classes):
            raise ValueError(f"'dks' has {d.size} values for {len(classes)} classes.")
    code = sign_code(check_sign(sign))
    score = np.where(np.isfinite(d), np.abs(d), -1.0)
    if among is not None:
        score = np.where(np.isin(np.asarray(classes, dtype=object), list(among)), score, -1.0)
    if code != 0:
        score = np.where(np.sign(d) == code, score, -1.0)
    order = [i for i in np.argsort(-score, kind="stable") if score[i] >= 0][: int(top)]
    if not order:
        raise ValueError("No class to show (no class with a D_KS of the requested sign).")
    n = len(order)
    ncols = max(1, min(int(ncols), n))
    fig, axes = setup_axes(
        ax,
        fig,
        n,
        figsize=(3.6 * ncols, 3.0 * -(-n // ncols) + 0.4),
        ncols=ncols,
        what="the feature histograms",
    )
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, int(bins) + 1)
    for axis, i in zip(axes, order, strict=True):
        in_c = y == classes[i]
        for data, kwargs in (
            (values[in_c], dict(histtype="stepfilled", color="C1", alpha=0.55, label="intra")),
            (values[~in_c], dict(histtype="step", color="C0", linewidth=1.3, label="inter")),
        ):
            if data.size:
                axis.hist(data, bins=edges, density=True, log=log, **kwargs)
        axis.set_title(f"{classes[i]}: {Tex.DKS} = {d[i]:+.3f}", fontsize="medium")
        axis.set_xlabel(f"activation of {feature}" if feature is not None else "activation")
        axis.set_ylabel("density")
        axis.legend(fontsize="small")
    if feature is not None:
        fig.suptitle(f"Feature {feature}: intra/inter class histograms")
    return fig
