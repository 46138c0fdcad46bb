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
level (largest ``T``) or at a class level itself (smallest ``T``). Visiting the samples in
level order once, with a small state per class, therefore finds the supremum of every class
in ``O(N)`` per feature and labeling, independent of the number of bins and classes.

What is shared and what is not: sorting a feature by level (a counting sort of the bins, or
a radix sort of the values) and the start of each level in that order (``T`` before and
after the level) are done once per feature; each labeling then costs one pass over the
sorted samples (two labelings per pass, see :func:`_labelings_gaps`). The lowest level (the
zeros of a ReLU, often half the samples) is never visited nor sorted: its members only shift
each class's extremes by a constant, applied at the end. Columns are copied a group at a
time from ``X`` to a contiguous buffer, in small square tiles, so that ``X`` is read in long
runs whatever its layout.

Hot loops index arrays with unsigned integers (``np.uint64``): numba then omits the
wraparound of negative indices, which costs a compare and a select per access.
"""

import numpy as np
from numba import njit

# One place for numba settings. No fastmath: NaN and inf must keep their meaning, and the
# integer arithmetic of the statistic must not be reassociated. ``cache=True`` only on these
# serial kernels; parallelism comes from the engine's threads over feature blocks (``nogil``).
_JIT = {"nogil": True, "cache": True, "fastmath": False}

_RADIX_BITS = 8
_RADIX_SIZE = 1 << _RADIX_BITS
# Independent counters of the exceedance histogram (a power of two).
_LANES = 2
# Side of the square tiles in which columns are copied out of ``X``.
_TILE = 8


@njit(**_JIT)
def column_stats(X, mins, maxs, n_bad, first_bad):
    """Per-column minimum, maximum and count of non-finite values, in one row-major pass.

    ``first_bad[j]`` is the first row where column ``j`` is non-finite (``-1`` if none).
    The pass has no branch (non-finite values count and are replaced by a neutral value),
    so that it runs over whole rows in SIMD; the first bad rows are searched only when
    there are bad values.
    """
    n_samples, n_features = X.shape
    bad = np.zeros(n_features, dtype=np.int64)
    for j in range(n_features):
        mins[j] = np.inf
        maxs[j] = -np.inf
    for i in range(n_samples):
        for j in range(n_features):
            x = np.float64(X[i, j])
            finite = np.abs(x) < np.inf  # False for NaN and +-inf
            lo = x if finite else np.inf
            hi = x if finite else -np.inf
            mins[j] = lo if lo < mins[j] else mins[j]
            maxs[j] = hi if hi > maxs[j] else maxs[j]
            bad[j] += not finite
    for j in range(n_features):
        n_bad[j] = bad[j]
        first_bad[j] = -1
        if bad[j]:
            for i in range(n_samples):
                if not np.isfinite(X[i, j]):
                    first_bad[j] = i
                    break


@njit(**_JIT)
def load_columns(X, g0, g1, cols):
    """Copy columns ``g0:g1`` of ``X`` into the rows of ``cols``, in 8 x 8 tiles.

    A tile reads 8 short runs of a row of ``X`` and writes 8 short runs of a row of
    ``cols``, so that both sides stay in a few cache lines; a row-at-a-time copy would
    write to every row of ``cols`` for each row of ``X``.
    """
    n_samples = X.shape[0]
    width = g1 - g0
    n_tiled = n_samples - n_samples % _TILE
    w_tiled = width - width % _TILE
    for i0 in range(0, n_tiled, _TILE):
        for h0 in range(0, w_tiled, _TILE):
            for a in range(_TILE):
                for b in range(_TILE):
                    cols[h0 + b, i0 + a] = X[i0 + a, g0 + h0 + b]
        for h in range(w_tiled, width):
            for a in range(_TILE):
                cols[h, i0 + a] = X[i0 + a, g0 + h]
    for i in range(n_tiled, n_samples):
        for h in range(width):
            cols[h, i] = X[i, g0 + h]


@njit(**_JIT)
def _binned_levels(col, lo, hi, n_bins, codes, rest, cursor, order, starts):
    """Bin one column and sort it by bin (a counting sort).

    The bin of ``x`` is ``min(floor((x - lo) * n_bins / (hi - lo)), n_bins - 1)`` in float64,
    in that order of operations, and 0 for a constant column. Fills ``order`` (sample
    indices sorted by bin) and ``starts``: level ``v`` (bin ``v + 1``) holds the positions
    ``starts[v]:starts[v + 1]`` of ``order``. Bin 0 (the zeros of a ReLU, often half the
    samples) is only counted, not sorted: the first ``n_low`` positions of ``order`` are
    left unspecified, and ``starts[0] == n_low``. ``cursor`` and ``starts`` have at least
    ``n_bins + 1`` entries. The order inside a bin does not matter to the statistic.

    Returns
    -------
    n_low, n_levels : int
        The size of bin 0 and the number of levels above it (``n_bins - 1``).
    """
    n = col.shape[0]
    width = hi - lo
    top = np.float64(n_bins - 1)
    if width > 0.0:
        for i in range(n):  # branch-free, so that it runs in SIMD
            b = np.floor((np.float64(col[i]) - lo) * n_bins / width)
            codes[i] = np.uint32(b if b < top else top)
    else:
        for i in range(n):
            codes[i] = 0
    # Branch-free partition: the indices of the samples above bin 0, in increasing order.
    n_rest = np.uint64(0)
    for i in range(n):
        rest[n_rest] = i
        n_rest += np.uint64(codes[i] != 0)
    n_low = n - np.int64(n_rest)
    for b in range(n_bins + 1):
        cursor[b] = 0
    for k in range(n_rest):
        cursor[np.uint64(codes[np.uint64(rest[k])])] += 1
    # cursor[b] becomes the first slot of bin b; it moves as the bin fills.
    total = n_low
    starts[0] = n_low
    for b in range(1, n_bins):
        count = cursor[b]
        cursor[b] = total
        total += count
        starts[b] = total
    # The scatter writes one array only, so that its n_bins write streams stay in L1.
    for k in range(n_rest):
        i = rest[k]
        b = np.uint64(codes[np.uint64(i)])
        pos = np.uint64(cursor[b])
        order[pos] = i
        cursor[b] = pos + np.uint64(1)
    return n_low, n_bins - 1


@njit(**_JIT)
def _sort_keys(col, index, n, keys):
    """Unsigned keys whose integer order is the order of the values ``col[index[:n]]``.

    Returns the number of significant key bits: 32 for float32 data, 64 for float64.
    """
    if col.itemsize == 4:
        bits32 = col.view(np.uint32)
        sign32 = np.uint32(1) << np.uint32(31)
        for k in range(n):
            b = bits32[index[k]]
            keys[k] = np.uint64(~b) if b & sign32 else np.uint64(b | sign32)
        return 32
    bits = col.view(np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    for k in range(n):
        b = bits[index[k]]
        keys[k] = ~b if b & sign else b | sign
    return 64


@njit(**_JIT)
def _radix_sort(keys, values, n, n_bits, tmp_keys, tmp_values, hist):
    """Stable LSD radix sort of ``keys[:n]`` (low ``n_bits``), carrying ``values[:n]``.

    Keys move with their values so every pass reads sequentially; digits that all keys
    share are skipped. Both arrays hold the sorted result on return.
    """
    n_digits = n_bits // _RADIX_BITS
    mask = np.uint64(_RADIX_SIZE - 1)
    for d in range(n_digits):
        for r in range(_RADIX_SIZE):
            hist[d, r] = 0
    for i in range(n):
        k = keys[i]
        for d in range(n_digits):
            hist[d, (k >> np.uint64(d * _RADIX_BITS)) & mask] += 1
    k_src, k_dst = keys, tmp_keys
    v_src, v_dst = values, tmp_values
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
            v_dst[pos] = v_src[i]
            hist[d, r] = pos + 1
        k_src, k_dst = k_dst, k_src
        v_src, v_dst = v_dst, v_src
    if v_src is not values:
        for i in range(n):
            values[i] = v_src[i]
            keys[i] = k_src[i]


@njit(**_JIT)
def _exact_levels(col, lo, order, starts, keys, tmp_keys, tmp_order, hist):
    """Sort one column in exact mode.

    Fills ``order`` and ``starts`` as :func:`_binned_levels` does, with one level per
    distinct value (``-0.0 == 0.0``); ``starts`` has at least ``len(col) + 1`` entries.
    ``lo`` is the column's minimum: its ties (the zeros of a ReLU, often half the samples)
    form the lowest level and are set aside before sorting, since the statistic only needs
    their number; the first ``n_low`` positions of ``order`` are left unspecified.

    Returns
    -------
    n_low, n_levels : int
        The number of samples equal to the minimum and the number of distinct values above.
    """
    n = col.shape[0]
    # Branch-free partition: the indices of the other samples, in increasing order.
    n_rest = 0
    for i in range(n):
        tmp_order[n_rest] = i
        n_rest += np.float64(col[i]) != lo
    n_low = n - n_rest
    rest = order[n_low:]
    for k in range(n_rest):
        rest[k] = tmp_order[k]
    n_bits = _sort_keys(col, rest, n_rest, keys)
    _radix_sort(keys, rest, n_rest, n_bits, tmp_keys, tmp_order, hist)
    # A level starts wherever the value changes (compared as values: -0.0 == 0.0).
    n_levels = 0
    starts[0] = n_low
    for j in range(n_low + 1, n):
        starts[n_levels + 1] = j
        n_levels += col[order[j]] != col[order[j - 1]]
    if n_rest:
        n_levels += 1
        starts[n_levels] = n
    return n_low, n_levels


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
    labelings : ndarray (n_labelings, n_samples), uint8, uint16 or int32
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
    codes = np.empty(n_samples, dtype=np.uint32)
    cursor = np.empty(max(n_bins, 1) + 1, dtype=np.int64)
    order = np.empty(n_samples, dtype=np.int32)
    starts = np.empty(max(n_samples, n_bins) + 2, dtype=np.int64)
    keys = np.empty(n_samples if exact else 1, dtype=np.uint64)
    tmp_keys = np.empty(n_samples if exact else 1, dtype=np.uint64)
    tmp_order = np.empty(n_samples, dtype=np.int32)
    hist = np.empty((64 // _RADIX_BITS, _RADIX_SIZE), dtype=np.int64)
    state = np.empty((n_labelings * n_classes, 4), dtype=np.float64)
    for lab in range(n_labelings):
        for c in range(n_classes):
            state[lab * n_classes + c, 3] = np.float64(class_counts[c])
            _reset(state, lab * n_classes + c)
    res = np.empty((n_labelings, width, n_classes), dtype=np.float64)
    big_n = np.float64(n_samples)

    for g0 in range(f0, f1, width):
        g1 = min(g0 + width, f1)
        load_columns(X, g0, g1, cols)
        for f in range(g0, g1):
            if exact:
                n_low, n_levels = _exact_levels(
                    cols[f - g0], mins[f], order, starts, keys, tmp_keys, tmp_order, hist
                )
            else:
                n_low, n_levels = _binned_levels(
                    cols[f - g0], mins[f], maxs[f], n_bins, codes, tmp_order, cursor, order, starts
                )
            _labelings_gaps(order, starts, n_levels, n_low, labelings, big_n, state, res, f - g0)
        for lab in range(n_labelings):
            for c in range(n_classes):
                for f in range(g0, g1):
                    out[lab, c, f] = res[lab, f - g0, c]


@njit(**_JIT)
def _reset(state, k):
    """Start state row ``k`` anew (see :func:`_labelings_gaps`); its column 3 is kept."""
    state[k, 0] = 0.0  # N * (members seen)
    state[k, 1] = -np.inf  # max of n * before - N * seen, before each member
    state[k, 2] = np.inf  # min of n * after - N * seen, after each member


@njit(**_JIT)
def _visit(state, k, before, after, big_n):
    """Count one member of the class of state row ``k`` (see :func:`_labelings_gaps`)."""
    n_in = state[k, 3]
    seen = state[k, 0]  # N times the members seen so far
    gap = n_in * before - seen
    best = state[k, 1]
    state[k, 1] = gap if gap > best else best
    seen += big_n
    state[k, 0] = seen
    gap = n_in * after - seen
    best = state[k, 2]
    state[k, 2] = gap if gap < best else best


@njit(**_JIT)
def _labelings_gaps(order, starts, n_levels, n_low, labelings, big_n, state, res, col):
    """Signed D of every class and labeling of one feature, in one pass in level order.

    ``order``, ``starts``, ``n_levels`` and ``n_low`` describe the feature (see
    :func:`_binned_levels`); ``labelings[lab, i]`` is the class of sample ``i`` in labeling
    ``lab``; ``state[lab * n_classes + c, 3]`` holds the size ``n`` of class ``c``, and the
    other columns come from :func:`_reset` and are reset on return. Writes
    ``res[lab, col, c]``.

    For a class, let ``I`` count its members at levels ``<= v``. The largest positive gap
    ``n * T - N * I`` is reached just before some member's level (``T = starts[v]``, ``I``
    the members seen before it) and the most negative one at some member's level once it is
    counted (``T = starts[v + 1]``); counting a tie group one member at a time only adds
    values that cannot beat those, so the pass needs no branch. The lowest level (e.g. the
    zeros of a ReLU) is often one large tie group and is not visited: its ``L`` members of
    the class are known only at the end (``n`` minus the members seen), but they shift every
    candidate of the class by the same ``-N * L``, which is applied then. The gaps are
    integers below 2**53, exact in float64.
    """
    n_labelings = labelings.shape[0]
    n_classes = state.shape[0] // max(n_labelings, 1)
    # Two labelings at a time: they share the reads of ``order`` and ``starts``, and their
    # independent updates overlap in the processor.
    for lab in range(0, n_labelings - 1, 2):
        labels_a = labelings[lab]
        labels_b = labelings[lab + 1]
        base_a = lab * n_classes
        base_b = base_a + n_classes
        for v in range(n_levels):
            before = np.float64(starts[v])
            after = np.float64(starts[v + 1])
            for j in range(np.uint64(starts[v]), np.uint64(starts[v + 1])):
                i = np.uint64(order[j])
                _visit(state, np.uint64(base_a + labels_a[i]), before, after, big_n)
                _visit(state, np.uint64(base_b + labels_b[i]), before, after, big_n)
    if n_labelings % 2:
        lab = n_labelings - 1
        labels_a = labelings[lab]
        base_a = lab * n_classes
        for v in range(n_levels):
            before = np.float64(starts[v])
            after = np.float64(starts[v + 1])
            for j in range(np.uint64(starts[v]), np.uint64(starts[v + 1])):
                i = np.uint64(order[j])
                _visit(state, np.uint64(base_a + labels_a[i]), before, after, big_n)
    low = np.float64(n_low)
    for lab in range(n_labelings):
        for c in range(n_classes):
            k = lab * n_classes + c
            n_in = state[k, 3]
            shift = big_n * n_in - state[k, 0]  # N * (members at the lowest level)
            best_pos = max(0.0, state[k, 1] - shift)
            best_neg = min(0.0, n_in * low - shift, state[k, 2] - shift)
            # A select, not a branch: with shuffled labels the sign is a coin toss.
            best = best_pos if best_pos >= -best_neg else best_neg
            res[lab, col, c] = best / (n_in * (big_n - n_in))
            _reset(state, k)


@njit(**_JIT)
def exceedance_histogram(values, grid, resolution, hist):
    """Add to ``hist`` the position of every ``|v|`` in ``grid``, one half for each sign.

    ``grid`` is :func:`dks.select.threshold_grid` of ``resolution``; ``values`` is flat.
    Each ``|v|`` gets ``below = #{i : grid[i] < |v|}`` (``|v| > grid[i]`` if and only if
    ``below > i``) and counts at ``hist[below]`` when ``v >= 0`` (NaN too), at
    ``hist[n_grid + 1 + below]`` when ``v < 0``. For ``|v| <= 1``, ``ceil(|v| / resolution)``
    is ``below`` up to one unit of rounding (the grid values are rounded to 12 decimals and
    ``resolution >= 1e-7``) and one comparison each way corrects it; other values are
    searched. Counts go to ``_LANES`` interleaved histograms, so that runs of equal values
    (zeros) do not chain each update on the last.
    """
    n_grid = grid.shape[0]
    size = 2 * (n_grid + 1)
    lanes = np.zeros((_LANES, size), dtype=np.int64)
    # padded[j] = grid[j - 1], with -inf and +inf at the ends.
    padded = np.empty(n_grid + 2, dtype=np.float64)
    padded[0] = -np.inf
    padded[n_grid + 1] = np.inf
    for j in range(n_grid):
        padded[j + 1] = grid[j]
    scale = 1.0 / resolution
    for i in range(values.shape[0]):
        v = values[i]
        a = np.abs(v)
        if a <= 1.0:
            below = np.uint64(np.ceil(a * scale))
            below -= np.uint64(padded[below] >= a)
            below += np.uint64(padded[below + np.uint64(1)] < a)
        else:
            below = np.uint64(np.searchsorted(grid, a))  # NaN and values above 1: n_grid
        # No branch: the signs come in random order.
        below += np.uint64(v < 0.0) * np.uint64(n_grid + 1)
        lanes[np.uint64(i) & np.uint64(_LANES - 1), below] += 1
    for q in range(_LANES):
        for j in range(size):
            hist[j] += lanes[q, j]
