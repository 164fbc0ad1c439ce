"""Groupings and sub-batches: the optimal DP, the published greedy rule, explicit cuts.

Part of :mod:`cnnmem.model.mbs` (the package docstring has the model)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnnmem.model.grouping import (
    consecutive_dp,
    path_from_cuts,
    structural_cuts,
)
from cnnmem.model.mbs.tables import check_group_depth
from cnnmem.model.mbs.traffic import (
    Model,
    _cost_table,
    best_group_dram,
    sub_batch_candidates,
)
from cnnmem.workload.network import Network

# ------------------------------------------------------------------------------------------
# Groupings -> (path, sub-batch) per problem. Problems are (capacity, sub-batch) pairs,
# flattened capacity-major: p = c * n_sub + k.


@dataclass(frozen=True)
class Plan:
    path: np.ndarray  # (L, P) group start at each group end, -1 elsewhere
    sub_batch: np.ndarray  # (L, P) sub-batch of the group ending there (0 elsewhere)
    cap_idx: np.ndarray  # (P,)
    n_sub: int


def _problems(m: Model, fixed: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(cap_idx (P,), fixed sub-batch per problem (P,) or None, n_sub)."""
    ncap = m.caps.size
    if fixed is None:
        return np.arange(ncap), None, 1
    k = fixed.size
    return np.repeat(np.arange(ncap), k), np.tile(fixed, ncap), k


#: group costs the DP evaluates at once (groups x problems): a block of group ends with all
#: their band starts, so that numpy's per-call overhead is paid per block, not per group end
BLOCK_VALUES = 1 << 17


def band_pairs(band: int, e0: int, e1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every group of the band ending in [e0, e1): (starts, ends, offsets), starts ascending
    per end, the groups ending at e0 + i at rows offsets[i]:offsets[i + 1]."""
    ends = np.arange(e0, e1)
    first = np.maximum(0, ends - band + 1)
    counts = ends - first + 1
    offsets = np.concatenate([[0], np.cumsum(counts)])
    within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], counts)
    return np.repeat(first, counts) + within, np.repeat(ends, counts), offsets


class BlockedCost:
    """``group_cost(e)`` of :func:`cnnmem.model.grouping.consecutive_dp` (the groups of the band
    ending at e) from ``pair_cost(starts, ends) -> (cost, choice)`` over arrays of groups,
    evaluated for a block of group ends at a time (the DP asks for e = 0, 1, ... in order)."""

    def __init__(self, m: Model, pair_cost: Callable[[np.ndarray, np.ndarray],
                                                     tuple[np.ndarray, np.ndarray]],
                 n_problems: int) -> None:
        self.m, self.pair_cost = m, pair_cost
        self.block = max(1, BLOCK_VALUES // (m.tables.band * max(1, n_problems)))
        self.e0 = self.e1 = 0
        self.offsets = np.zeros(1, dtype=np.int64)
        self.cost = self.choice = np.zeros((0, n_problems))

    def __call__(self, e: int) -> tuple[np.ndarray, np.ndarray]:
        if not self.e0 <= e < self.e1:
            self.e0, self.e1 = e, min(len(self.m.net), e + self.block)
            s, ends, self.offsets = band_pairs(self.m.tables.band, self.e0, self.e1)
            self.cost, self.choice = self.pair_cost(s, ends)
        rows = slice(self.offsets[e - self.e0], self.offsets[e - self.e0 + 1])
        return self.cost[rows], self.choice[rows]


def plan_optimal(m: Model, fixed: np.ndarray | None, cands: np.ndarray | None = None) -> Plan:
    """The DP: per capacity the grouping and sub-batches of least DRAM traffic (``fixed``: one
    DP per listed sub-batch size), over the groups of at most the tables' band of layers."""
    L = len(m.net)
    cap_idx, fix, k = _problems(m, fixed)

    def cost(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if fix is None and given_cands is None:  # free sub-batches: closed form per capacity
            dram, n_best = best_group_dram(m, starts, ends)
            return dram, n_best.astype(np.int64)
        c3 = _cost_table(m, starts, ends, cand_axis)  # (groups, K, C)
        if fix is None:
            ch = np.argmin(c3, axis=1)
            return np.take_along_axis(c3, ch[:, None, :], axis=1)[:, 0, :], cand_axis[ch]
        flat = c3.transpose(0, 2, 1).reshape(starts.size, -1)
        return flat, np.broadcast_to(np.tile(cand_axis, m.caps.size), flat.shape)

    given_cands = cands
    cand_axis: np.ndarray = ((sub_batch_candidates(m.batch) if cands is None else cands)
                             if fix is None or fixed is None else fixed)
    per_group = cap_idx.size * (1 if fix is None and given_cands is None else cand_axis.size)
    res = consecutive_dp(L, BlockedCost(m, cost, per_group), cap_idx.size)
    n = np.where(res.path >= 0, res.choice, 0)
    return Plan(res.path, n, cap_idx, k)


def plan_greedy(m: Model, fixed: np.ndarray | None) -> Plan:
    """The paper's greedy: extend the group while its largest feasible sub-batch stays (and
    it has fewer layers than the tables' band)."""
    L = len(m.net)
    cap_idx, fix, k = _problems(m, fixed)
    P = cap_idx.size
    cands = (sub_batch_candidates(m.batch)[None, :].repeat(P, 0) if fix is None
             else fix[:, None])
    cap = m.caps[cap_idx]
    t = m.tables

    def nmax(s: np.ndarray, e: int) -> np.ndarray:
        """Largest feasible candidate (as index into cands; -1 = none) of group [s..e]."""
        need = cands * t.peak_sample_bytes[s, e][:, None] + t.weight_ws_bytes[s, e][:, None]
        ok = need <= cap[:, None]
        return np.where(ok.any(axis=1), np.argmax(ok, axis=1), -1)

    path = np.full((L, P), -1, dtype=np.int64)
    nsub = np.zeros((L, P), dtype=np.int64)
    cols = np.arange(P)
    start = np.zeros(P, dtype=np.int64)
    gk = nmax(start, 0)

    def close(mask: np.ndarray, e: int) -> None:
        path[e, mask] = start[mask]
        n = np.where(gk >= 0, cands[cols, np.maximum(gk, 0)], m.batch)
        nsub[e, mask] = n[mask]

    band = t.band
    for e in range(1, L):
        inside = e - start < band
        ext = nmax(np.where(inside, start, e), e)
        extend = (gk >= 0) & (ext == gk) & inside
        close(~extend, e - 1)
        new = np.full(P, e, dtype=np.int64)
        gk = np.where(extend, gk, nmax(new, e))
        start = np.where(extend, start, new)
    close(np.ones(P, bool), L - 1)
    return Plan(path, nsub, cap_idx, k)


def plan_cuts(m: Model, cuts: tuple[int, ...], fixed: np.ndarray | None) -> Plan:
    """An explicit grouping; sub-batch fixed, or per group the best for each capacity."""
    L = len(m.net)
    cap_idx, fix, k = _problems(m, fixed)
    path = path_from_cuts(cuts, L, cap_idx.size)
    ends = np.flatnonzero(path[:, 0] >= 0)
    check_group_depth(path[ends, 0], ends)
    nsub = np.zeros(path.shape, dtype=np.int64)
    cands = sub_batch_candidates(m.batch)
    for e in np.flatnonzero(path[:, 0] >= 0):
        if fix is not None:
            nsub[e] = fix
            continue
        c3 = _cost_table(m, np.array([path[e, 0]]), int(e), cands)[0]  # (K, C)
        nsub[e] = cands[np.argmin(c3, axis=0)][cap_idx]
    return Plan(path, nsub, cap_idx, k)


def named_cuts(net: Network, grouping: str) -> tuple[int, ...]:
    """Cuts of the structural groupings (layer, block, stage, all): see
    :func:`cnnmem.model.grouping.structural_cuts`."""
    return structural_cuts([lay.name for lay in net.layers], grouping)
