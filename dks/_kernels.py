"""Numba kernels of dks: the only module that holds jitted code.

The kernels compute on clean, validated arrays only; every check and every error message
lives in the Python callers (:mod:`dks.characterize`).

How the signed two-sample KS statistic is computed
-------------------------------------------------
For one feature, each sample gets an integer *level*: its bin index in binned mode, or the
dense rank of its value among the distinct values in exact mode. ``T[v]`` is the number of
samples with level ``<= v``. Both depend on the feature only, not on the labels, so they are
computed once and reused for every labeling (the true one and the shuffled ones).

For a class ``c`` with ``n`` members among ``N`` samples (``m = N - n`` outside it), let ``I``
be the number of members with level ``<= v``. Then::

    F_inter(v) - F_intra(v) = (T[v] - I) / m - I / n = (n * T[v] - N * I) / (n * m)

so the integer ``n * T[v] - N * I`` carries the sign and the comparison of gaps exactly
(ties between the largest positive and largest negative gap are decided without rounding).
These integers are held in float64, exact while ``N**2 < 2**53`` (``N`` below 9e7 samples).
Between two consecutive levels occupied by the class, ``I`` is constant and ``T`` is
non-decreasing, so the extremes of the gap are reached at the level just before a class
level (largest ``T``) or at a class level itself (smallest ``T``). Visiting the class members
in level order therefore finds the supremum in ``O(n)`` per class, ``O(N)`` per feature and
labeling, independent of the number of bins.
"""

import numpy as np
from numba import njit

# One place for numba settings. No fastmath: NaN and inf must keep their meaning, and the
# integer arithmetic of the statistic must not be reassociated. ``cache=True`` only on these
# serial kernels; parallelism comes from joblib threads over feature blocks (``nogil``).
_JIT = {"nogil": True, "cache": True, "fastmath": False}

_RADIX_BITS = 8
_RADIX_SIZE = 1 << _RADIX_BITS


@njit(**_JIT)
def column_stats(X, mins, maxs, n_bad, first_bad):
    """Per-column minimum, maximum and count of non-finite values, in one row-major pass.

    ``first_bad[j]`` is the first row where column ``j`` is non-finite (``-1`` if none).
    """
    n_samples, n_features = X.shape
    for j in range(n_features):
        mins[j] = np.inf
        maxs[j] = -np.inf
        n_bad[j] = 0
        first_bad[j] = -1
    for i in range(n_samples):
        for j in range(n_features):
            x = np.float64(X[i, j])
            if np.isfinite(x):
                if x < mins[j]:
                    mins[j] = x
                if x > maxs[j]:
                    maxs[j] = x
            else:
                if n_bad[j] == 0:
                    first_bad[j] = i
                n_bad[j] += 1


@njit(**_JIT)
def _load_columns(X, g0, g1, cols):
    """Copy columns ``g0:g1`` of ``X`` into the rows of ``cols``, tile by tile."""
    n_samples = X.shape[0]
    tile = 64
    for i0 in range(0, n_samples, tile):
        i1 = min(i0 + tile, n_samples)
        for i in range(i0, i1):
            for f in range(g0, g1):
                cols[f - g0, i] = X[i, f]


@njit(**_JIT)
def _binned_levels(col, lo, hi, n_bins, codes, cursor, order, levels, cum):
    """Bin one column and sort it by bin (a counting sort).

    The bin of ``x`` is ``min(floor((x - lo) * n_bins / (hi - lo)), n_bins - 1)`` in float64,
    in that order of operations, and 0 for a constant column. Fills ``order`` (sample
    indices sorted by bin, stable), ``levels`` (the bin of each position of ``order``) and
    ``cum`` (``cum[b + 1]`` = number of samples in bins ``<= b``, ``cum[0] = 0``).
    """
    n = col.shape[0]
    width = hi - lo
    top = np.float64(n_bins - 1)
    if width > 0.0:
        for i in range(n):
            codes[i] = np.int32(min(np.floor((np.float64(col[i]) - lo) * n_bins / width), top))
    else:
        for i in range(n):
            codes[i] = 0
    for b in range(n_bins + 1):
        cursor[b] = 0
    for i in range(n):
        cursor[codes[i] + 1] += 1
    for b in range(n_bins):
        cursor[b + 1] += cursor[b]
        cum[b + 1] = cursor[b + 1]
    cum[0] = 0.0
    # cursor[b] is the first slot of bin b; it moves as the bin fills.
    for i in range(n):
        b = codes[i]
        pos = cursor[b]
        order[pos] = i
        levels[pos] = b
        cursor[b] = pos + 1


@njit(**_JIT)
def _sort_keys(col, keys):
    """Unsigned keys whose integer order is the order of the float values of ``col``.

    Returns the number of significant key bits: 32 for float32 data, 64 for float64.
    """
    if col.itemsize == 4:
        bits32 = col.view(np.uint32)
        sign32 = np.uint32(1) << np.uint32(31)
        for i in range(col.shape[0]):
            b = bits32[i]
            keys[i] = np.uint64(~b) if b & sign32 else np.uint64(b | sign32)
        return 32
    bits = col.view(np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    for i in range(col.shape[0]):
        b = bits[i]
        keys[i] = ~b if b & sign else b | sign
    return 64


@njit(**_JIT)
def _radix_argsort(keys, n_bits, order, tmp_keys, tmp_order, hist):
    """Stable LSD radix argsort of the low ``n_bits`` of ``keys`` into ``order``.

    Keys move with their indices so every pass reads sequentially; digits that all keys
    share are skipped. ``keys`` is left in an unspecified order.
    """
    n = keys.shape[0]
    n_digits = n_bits // _RADIX_BITS
    mask = np.uint64(_RADIX_SIZE - 1)
    for d in range(n_digits):
        for r in range(_RADIX_SIZE):
            hist[d, r] = 0
    for i in range(n):
        k = keys[i]
        for d in range(n_digits):
            hist[d, (k >> np.uint64(d * _RADIX_BITS)) & mask] += 1
    for i in range(n):
        order[i] = i
    k_src, k_dst = keys, tmp_keys
    o_src, o_dst = order, tmp_order
    for d in range(n_digits):
        trivial = False
        for r in range(_RADIX_SIZE):
            if hist[d, r] == n:
                trivial = True
                break
        if trivial:
            continue
        total = 0
        for r in range(_RADIX_SIZE):
            c = hist[d, r]
            hist[d, r] = total
            total += c
        shift = np.uint64(d * _RADIX_BITS)
        for i in range(n):
            k = k_src[i]
            r = (k >> shift) & mask
            pos = hist[d, r]
            k_dst[pos] = k
            o_dst[pos] = o_src[i]
            hist[d, r] = pos + 1
        k_src, k_dst = k_dst, k_src
        o_src, o_dst = o_dst, o_src
    if o_src is not order:
        for i in range(n):
            order[i] = o_src[i]


@njit(**_JIT)
def _exact_levels(col, order, levels, cum, keys, tmp_keys, tmp_order, hist):
    """Levels of one column in exact mode: dense ranks of the distinct values.

    Fills ``order``, ``levels`` and ``cum`` as :func:`_binned_levels` does, with one level per
    distinct value (``-0.0 == 0.0``).
    """
    n = col.shape[0]
    n_bits = _sort_keys(col, keys)
    _radix_argsort(keys, n_bits, order, tmp_keys, tmp_order, hist)
    level = 0
    prev = col[order[0]]
    cum[0] = 0
    for j in range(n):
        v = col[order[j]]
        if v != prev:
            level += 1
            cum[level] = j
            prev = v
        levels[j] = level
    cum[level + 1] = n


@njit(**_JIT)
def block_signed_ks(X, f0, f1, mins, maxs, n_bins, labelings, class_counts, out, max_cols):
    """Signed D_KS of columns ``f0:f1`` of ``X`` for several labelings.

    Parameters
    ----------
    X : ndarray (n_samples, n_features), float32 or float64, all finite
    f0, f1 : int
        Column range of this block.
    mins, maxs : ndarray (n_features,) float64
        Column minima and maxima (used in binned mode).
    n_bins : int
        Number of bins; ``0`` means exact mode.
    labelings : ndarray (n_labelings, n_samples) int32
        Class codes in ``0 .. n_classes - 1`` for each labeling; each labeling has the class
        sizes ``class_counts``.
    class_counts : ndarray (n_classes,) int64
    out : ndarray (n_labelings, n_classes, n_features) float64
        Receives column ``f`` at ``out[:, :, f]``. Results are gathered per column group in
        a small feature-major buffer and copied out a group at a time, so that ``out`` is
        written in contiguous runs.
    max_cols : int
        Columns prepared at once (a buffer of ``max_cols * n_samples`` values).
    """
    n_samples = X.shape[0]
    n_labelings = labelings.shape[0]
    n_classes = class_counts.shape[0]
    exact = n_bins == 0
    width = max(1, min(max_cols, f1 - f0))
    cols = np.empty((width, n_samples), dtype=X.dtype)
    codes = np.empty(n_samples, dtype=np.int32)
    cursor = np.empty(max(n_bins, 1) + 1, dtype=np.int64)
    order = np.empty(n_samples, dtype=np.int32)
    levels = np.empty(n_samples, dtype=np.int32)
    buf = np.empty(n_samples, dtype=np.int32)
    cum = np.empty((n_samples if exact else n_bins) + 1, dtype=np.float64)
    keys = np.empty(n_samples if exact else 1, dtype=np.uint64)
    tmp_keys = np.empty(n_samples if exact else 1, dtype=np.uint64)
    tmp_order = np.empty(n_samples if exact else 1, dtype=np.int32)
    hist = np.empty((64 // _RADIX_BITS, _RADIX_SIZE), dtype=np.int64)
    starts = np.empty(n_classes + 1, dtype=np.int64)
    fill = np.empty(n_classes, dtype=np.int64)
    res = np.empty((n_labelings, width, n_classes), dtype=np.float64)
    starts[0] = 0
    for c in range(n_classes):
        starts[c + 1] = starts[c] + class_counts[c]
    big_n = np.float64(n_samples)

    for g0 in range(f0, f1, width):
        g1 = min(g0 + width, f1)
        _load_columns(X, g0, g1, cols)
        for f in range(g0, g1):
            if exact:
                _exact_levels(cols[f - g0], order, levels, cum, keys, tmp_keys, tmp_order, hist)
            else:
                _binned_levels(
                    cols[f - g0], mins[f], maxs[f], n_bins, codes, cursor, order, levels, cum
                )
            # The lowest level (e.g. the zeros of a ReLU) is often one large tie group:
            # only its count per class matters, which is what the other levels leave.
            n_low = np.int64(cum[1])
            for lab in range(n_labelings):
                labels = labelings[lab]
                for c in range(n_classes):
                    fill[c] = starts[c]
                # Bucket the other levels by class, keeping level order inside each class.
                for j in range(n_low, n_samples):
                    c = labels[order[j]]
                    buf[fill[c]] = levels[j]
                    fill[c] += 1
                for c in range(n_classes):
                    res[lab, f - g0, c] = _class_gap(
                        buf,
                        starts[c],
                        fill[c],
                        cum,
                        np.float64(class_counts[c]),
                        big_n,
                        np.float64(class_counts[c] - (fill[c] - starts[c])),
                    )
        for lab in range(n_labelings):
            for c in range(n_classes):
                for f in range(g0, g1):
                    out[lab, c, f] = res[lab, f - g0, c]


@njit(**_JIT)
def _class_gap(buf, start, end, cum, n_in, big_n, n_low):
    """Signed D of one class from its member counts and levels.

    ``n_low`` members are at level 0; the others' levels are in ``buf[start:end]``, sorted.

    ``cum[v + 1]`` is the number of samples with level ``<= v`` and ``cum[0] == 0`` (float64
    holding integers). The largest positive gap is reached just before some member's level
    and the most negative one at some member's level once all its ties are counted; counting
    a tie group one member at a time only adds values that cannot beat those, so the loop
    needs no branch. The gaps are integers below 2**53, exact in float64.
    """
    best_pos = 0.0
    inside = n_low
    best_neg = min(0.0, n_in * cum[1] - big_n * inside)  # at level 0 (0 if no member there)
    for k in range(start, end):
        v = buf[k]
        best_pos = max(best_pos, n_in * cum[v] - big_n * inside)
        inside += 1.0
        best_neg = min(best_neg, n_in * cum[v + 1] - big_n * inside)
    denom = n_in * (big_n - n_in)
    if best_pos >= -best_neg:
        return best_pos / denom
    return best_neg / denom
