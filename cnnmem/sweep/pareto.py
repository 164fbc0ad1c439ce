"""Vectorized Pareto filtering (every objective minimized), for any number of objectives.

A point is on the front when it is finite in every objective and no other point is <= in every
objective and < in at least one. Exact duplicates of a front point are all kept.
"""

from __future__ import annotations

import numpy as np


def _front_2d(v: np.ndarray) -> np.ndarray:
    """Exact O(n log n) front for two objectives (rows of ``v`` all finite)."""
    order = np.lexsort((v[:, 1], v[:, 0]))
    a, b = v[order, 0], v[order, 1]
    # best second objective among points with a strictly smaller first objective
    prev_min = np.minimum.accumulate(np.concatenate([[np.inf], b[:-1]]))
    first_of_a = np.concatenate([[True], a[1:] != a[:-1]])
    group_start = np.maximum.accumulate(np.where(first_of_a, np.arange(a.size), 0))
    best_before = prev_min[group_start]  # min b over points with smaller a
    group_min = np.minimum.reduceat(b, np.flatnonzero(first_of_a))
    gid = np.cumsum(first_of_a) - 1
    keep_sorted = (b < best_before) & (b == group_min[gid])
    keep = np.zeros(a.size, bool)
    keep[order] = keep_sorted
    return keep


def _dominated_by(pivots: np.ndarray, v: np.ndarray, block: int = 4096) -> np.ndarray:
    """Rows of ``v`` dominated by some row of ``pivots`` (vectorized, in blocks of rows)."""
    out = np.zeros(v.shape[0], bool)
    for start in range(0, v.shape[0], block):  # bounded memory: blocks of rows
        c = v[start:start + block]
        le = (pivots[:, None, :] <= c[None, :, :]).all(axis=2)
        lt = (pivots[:, None, :] < c[None, :, :]).any(axis=2)
        out[start:start + c.shape[0]] = (le & lt).any(axis=0)
    return out


def _front_nd(v: np.ndarray, block: int, pivots: int = 64) -> np.ndarray:
    """Front for k objectives: a cheap prefilter, then a sorted sweep in blocks.

    The prefilter takes the ``pivots`` points of least normalized objective sum (good points),
    keeps their own front, and drops every point one of them dominates: exact (a dominated point
    is never on the front) and usually most of the points."""
    n, k = v.shape
    if n > 4 * pivots:
        span = np.ptp(v, axis=0)
        score = ((v - v.min(axis=0)) / np.where(span > 0, span, 1.0)).sum(axis=1)
        best = np.argpartition(score, pivots)[:pivots]
        piv = v[best][_front_nd(v[best], block, pivots)]
        alive = np.flatnonzero(~_dominated_by(piv, v))
        keep = np.zeros(n, bool)
        keep[alive] = _front_nd(v[alive], block, n)  # pivots = n: no second prefilter
        return keep
    order = np.lexsort(v.T[::-1])  # lexicographic: a dominator always comes first
    s = v[order]
    keep_sorted = np.zeros(n, bool)
    front = np.empty((0, k))
    for start in range(0, n, block):  # blocks of points, each tested in one array operation
        cand = s[start:start + block]
        # dominated by a front point?
        if front.shape[0]:
            le = (front[:, None, :] <= cand[None, :, :]).all(axis=2)
            lt = (front[:, None, :] < cand[None, :, :]).any(axis=2)
            dom = (le & lt).any(axis=0)
        else:
            dom = np.zeros(cand.shape[0], bool)
        # dominated by another candidate of the block?
        le = (cand[:, None, :] <= cand[None, :, :]).all(axis=2)
        lt = (cand[:, None, :] < cand[None, :, :]).any(axis=2)
        dom |= (le & lt).any(axis=0)
        keep_sorted[start:start + cand.shape[0]] = ~dom
        if (~dom).any():
            front = np.concatenate([front, cand[~dom]])
    keep = np.zeros(n, bool)
    keep[order] = keep_sorted
    return keep


def pareto_mask(values: np.ndarray, *, block: int = 256) -> np.ndarray:
    """Boolean mask of the Pareto-optimal rows of ``values`` (n, k), all objectives minimized.

    Rows with a non-finite objective are never on the front.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        raise ValueError("values must be a 2-D array (points, objectives)")
    n, k = v.shape
    mask = np.zeros(n, bool)
    finite = np.isfinite(v).all(axis=1)
    idx = np.flatnonzero(finite)
    if idx.size == 0 or k == 0:
        return mask
    fv = v[idx]
    if k == 1:
        keep = fv[:, 0] == fv[:, 0].min()
    elif k == 2:
        keep = _front_2d(fv)
    else:
        keep = _front_nd(fv, block)
    mask[idx[keep]] = True
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
