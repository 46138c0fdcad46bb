"""Slow, obviously right references for the dks kernels (used only by the tests)."""

from fractions import Fraction

import numpy as np
from scipy.stats import ks_2samp


def signed_ks_scipy(inter, intra):
    """Signed KS from ``scipy.stats.ks_2samp``, with exact ties resolved to positive.

    scipy compares the largest positive and negative gaps in floating point, so a true tie
    (e.g. 3/20 against 3/20) may come out with either sign from rounding. The ties are
    recomputed here with fractions, and dks's documented rule (positive wins) applied.
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # one sample each: p-value NaN
        res = ks_2samp(inter, intra, method="asymp")
    values = np.concatenate([inter, intra])
    s_inter, s_intra = np.sort(inter), np.sort(intra)
    pos = neg = Fraction(0)
    for v in values:
        gap = Fraction(int(np.searchsorted(s_inter, v, side="right")), len(inter)) - Fraction(
            int(np.searchsorted(s_intra, v, side="right")), len(intra)
        )
        pos, neg = max(pos, gap), min(neg, gap)
    sign = 1.0 if pos >= -neg else -1.0
    assert abs(res.statistic - float(max(pos, -neg))) < 1e-12
    return sign * res.statistic, res.pvalue


def signed_ks_binned(x, in_class, n_bins):
    """Signed KS at the edges of ``n_bins`` equal-width bins, with a plain numpy loop."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = x.min(), x.max()
    if hi > lo:
        codes = np.minimum(np.floor((x - lo) * n_bins / (hi - lo)), n_bins - 1).astype(int)
    else:
        codes = np.zeros(x.shape[0], dtype=int)
    best = Fraction(0)
    n_in, n_out = int(in_class.sum()), int((~in_class).sum())
    for b in range(n_bins):
        f_intra = Fraction(int(np.sum(codes[in_class] <= b)), n_in)
        f_inter = Fraction(int(np.sum(codes[~in_class] <= b)), n_out)
        gap = f_inter - f_intra
        if abs(gap) > abs(best) or (abs(gap) == abs(best) and gap > 0):
            best = gap
    return float(best)


def dks_matrix(X, y, n_bins=None):
    """(classes, dks) by calling the references pair by pair."""
    X = np.asarray(X)
    y = np.asarray(y)
    classes = np.unique(y)
    out = np.empty((classes.shape[0], X.shape[1]))
    for i, c in enumerate(classes):
        mask = y == c
        for f in range(X.shape[1]):
            if n_bins is None:
                out[i, f] = signed_ks_scipy(X[~mask, f], X[mask, f])[0]
            else:
                out[i, f] = signed_ks_binned(X[:, f], mask, n_bins)
    return classes, out
