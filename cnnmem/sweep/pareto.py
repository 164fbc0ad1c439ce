"""Vectorized Pareto filtering (every objective minimized), for any number of objectives.

A point is on the front when it is finite in every objective and no other point is <= in every
objective and < in at least one. Exact duplicates of a front point are all kept.

Algorithm (exact, no floating-point arithmetic on the values, only comparisons):

1. Drop non-finite rows.
2. Replace each objective by its dense rank (ties keep equal ranks), sort the rows
   lexicographically (every dominator of a point then comes before it) and collapse exact
   duplicates: they share their fate, and among distinct points "<= in every objective"
   already means "dominates".
3. Ask for every distinct point
   whether an *earlier* point is <= in objectives 2..k. That question is answered by
   divide and conquer on the position (Kung et al. 1975; Jensen 2003; the "CDQ" offline
   dominance scheme): at each level of a binary split of the positions, the right halves are
   queried against the left halves in one dimension less, after one sort by the next
   objective; one dimension is answered by a segmented prefix minimum and zero by a segmented
   prefix count. Each level is a handful of whole-array numpy operations, and positions closer
   than a small window are compared pairwise in one array operation per offset. Cost
   O(n log^(k-2) n) array work for k >= 3 objectives. A point found dominated stops being a
   source at the top level (its dominator covers for it), so the levels shrink as they go.

Speed: ``benchmarks/bench_pareto.py``.
"""

from __future__ import annotations

import numpy as np

_WINDOW = 8  # positions closer than this are compared pairwise (base case)


def _segment_starts(seg: np.ndarray) -> np.ndarray:
    """Index of the first element of each element's segment (``seg`` non-decreasing)."""
    m = seg.size
    first = np.concatenate([[True], seg[1:] != seg[:-1]]) if m else np.zeros(0, bool)
    return np.maximum.accumulate(np.where(first, np.arange(m), 0))


def _sort_order(major: np.ndarray, minor: np.ndarray, flag: np.ndarray) -> np.ndarray:
    """Order by (major, minor, flag), all non-negative; one integer sort when the key fits
    in 63 bits (the order among equal keys does not matter to the callers)."""
    minor_bits = int(minor.max()).bit_length() + 1 if minor.size else 1
    major_bits = int(major.max()).bit_length() if major.size else 0
    if minor_bits + major_bits <= 63:
        key = (major << np.int64(minor_bits)) | (minor << np.int64(1)) | flag.astype(np.int64)
        return np.argsort(key)
    return np.lexsort((flag, minor, major))


def _earlier_source_dominates(seg: np.ndarray, src: np.ndarray, qry: np.ndarray,
                              ranks: np.ndarray, window: int, *, transitive: bool = False
                              ) -> np.ndarray:
    """For each query element: is there a source element strictly earlier in the same segment
    whose ranks are all <= the query's? Elements are given in processing order, ``seg``
    non-decreasing; ``ranks`` is (m, d) int64.

    ``transitive``: every element is a source and a query of one relation that is transitive
    (distinct points in lexicographic order): an element found dominated then stops being a
    source too, since its own dominator, earlier still, dominates whatever it would."""
    m, d = ranks.shape
    out = np.zeros(m, bool)
    if m == 0 or not src.any() or not qry.any():
        return out
    start = _segment_starts(seg)
    if d == 0:  # any source earlier in the segment
        before = np.cumsum(src) - src  # sources strictly before each element
        out = qry & (before - before[start] > 0)
        return out
    if d == 1:  # segmented exclusive prefix minimum of the sources' rank
        big = np.int64(0xFFFFFFFF)  # above every rank (ranks < 2**32 - 1)
        val = np.where(src, ranks[:, 0], big)
        # segments in decreasing key order: a running minimum never carries into a later one
        key = ((seg.max() - seg).astype(np.int64) << np.int64(32)) | val
        pm = np.minimum.accumulate(key)
        same = np.concatenate([[False], seg[1:] == seg[:-1]])
        prev = np.concatenate([[big], pm[:-1] & np.int64(0xFFFFFFFF)])
        return qry & same & (prev <= ranks[:, 0])
    pos = np.arange(m) - start
    # base case: pairs closer than `window` inside one window, one array operation per offset
    idx = np.arange(m)
    for off in range(1, min(window, m)):  # a loop over offsets, not over points
        i, j = idx[off:], idx[:-off]
        ok = (qry[i] & src[j] & (seg[i] == seg[j]) & (pos[i] // window == pos[j] // window)
              & (ranks[j] <= ranks[i]).all(axis=1))
        out[i[ok]] = True
    # divide and conquer on the position: left halves are sources, right halves queries
    level = window.bit_length() - 1
    longest = int(pos.max()) + 1
    while (1 << level) < longest:  # a loop over the log2(n) levels
        half = (pos >> level) & 1
        s = src & (half == 0) & ~out if transitive else src & (half == 0)
        q = qry & (half == 1) & ~out  # already dominated: nothing left to ask
        part = np.flatnonzero(s | q)
        if part.size and s.any() and q.any():
            block = seg[part].astype(np.int64) * (longest >> level) + (pos[part] >> (level + 1))
            order = _sort_order(block, ranks[part, 0], ~s[part])
            sel = part[order]
            bs = block[order]
            sub = np.cumsum(np.concatenate([[0], bs[1:] != bs[:-1]]))  # sorted: dense ids
            hit = _earlier_source_dominates(sub, s[sel], q[sel], ranks[sel, 1:], window)
            out[sel[hit]] = True
        level += 1
    return out


def _front_distinct(v: np.ndarray, window: int) -> np.ndarray:
    """Front mask of finite rows ``v`` (exact; duplicates share their fate)."""
    n, k = v.shape
    ranks = np.empty((n, k), np.int64)
    for c in range(k):  # a loop over objectives: dense ranks, ties equal
        ranks[:, c] = np.unique(v[:, c], return_inverse=True)[1].ravel()
    order = np.lexsort(ranks.T[::-1])  # lexicographic: every dominator comes first
    r = ranks[order]
    new = np.concatenate([[True], (r[1:] != r[:-1]).any(axis=1)])  # first of each duplicate run
    uniq = r[new]
    m = uniq.shape[0]
    dominated = _earlier_source_dominates(np.zeros(m, np.int64), np.ones(m, bool),
                                          np.ones(m, bool), uniq[:, 1:], window,
                                          transitive=True)
    keep = np.empty(n, bool)
    keep[order] = ~dominated[np.cumsum(new) - 1]
    return keep


def pareto_mask(values: np.ndarray, *, block: int = _WINDOW) -> np.ndarray:
    """Boolean mask of the Pareto-optimal rows of ``values`` (n, k), all objectives minimized.

    Rows with a non-finite objective are never on the front. ``block`` is the width of the
    pairwise base case (rounded up to a power of two); it does not change the result.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        raise ValueError("values must be a 2-D array (points, objectives)")
    n, k = v.shape
    mask = np.zeros(n, bool)
    idx = np.flatnonzero(np.isfinite(v).all(axis=1))
    if idx.size == 0 or k == 0:
        return mask
    window = 1 << max(0, int(block) - 1).bit_length()
    mask[idx[_front_distinct(v[idx], window)]] = True
    return mask


def pareto_mask_bruteforce(values: np.ndarray) -> np.ndarray:
    """Reference O(n^2) filter used by the tests."""
    v = np.asarray(values, dtype=float)
    n = v.shape[0]
    out = np.zeros(n, bool)
    for i in range(n):
        if not np.isfinite(v[i]).all():
            continue
        dominated = False
        for j in range(n):
            if j != i and np.isfinite(v[j]).all() and np.all(v[j] <= v[i]) and np.any(
                    v[j] < v[i]):
                dominated = True
                break
        out[i] = not dominated
    return out
