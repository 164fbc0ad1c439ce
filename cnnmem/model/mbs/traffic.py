"""The MBS model of one (network, hardware, batch, capacities) and a group's DRAM traffic.

Part of :mod:`cnnmem.model.mbs` (the package docstring has the model)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from cnnmem.hardware import Hardware
from cnnmem.model.mbs.capacity import domain_fallback
from cnnmem.model.mbs.fallback import (
    LayerFallback,
    layer_fallback,
)
from cnnmem.model.mbs.tables import (
    CELLS,
    GroupTables,
    group_tables,
)
from cnnmem.model.precision import Precision
from cnnmem.workload.network import Network

# ------------------------------------------------------------------------------------------
# Group costs


@dataclass(frozen=True)
class Model:
    """Everything needed to cost groups of one (network, hardware, mode, batch, capacities)."""

    net: Network
    hw: Hardware
    prec: Precision
    batch: int
    training: bool
    caps: np.ndarray  # (C,)
    tables: GroupTables
    fallback: LayerFallback
    input_gradient: bool = False  # compute the network input's gradient (issue #12 item 2)


def build_model(net: Network, hw: Hardware, batch: int, capacity_bytes: Any, training: bool,
                weight_tile: str = "layer", input_gradient: bool = False) -> Model:
    """The model at ``capacity_bytes``. Inside :func:`cnnmem.model.mbs.capacity.capacity_domain`
    the fallback comes from the domain's table (built once, shared by every chunk; the table
    is of the default schedule, without the network input's gradient)."""
    cap_arr = np.atleast_1d(np.asarray(capacity_bytes, dtype=float))
    fallback = None if input_gradient else domain_fallback(net, hw, int(batch), training,
                                                            cap_arr)
    if fallback is not None:
        prec = Precision.of(hw)
        return Model(net, hw, prec, int(batch), training, cap_arr,
                     group_tables(net, prec, training, weight_tile), fallback)
    caps = tuple(float(c) for c in cap_arr)
    return _build_model(net, hw, int(batch), caps, training, weight_tile, input_gradient)


@lru_cache(maxsize=32)
def _build_model(net: Network, hw: Hardware, batch: int, caps: tuple[float, ...],
                 training: bool, weight_tile: str, input_gradient: bool = False) -> Model:
    """Cached: a sweep evaluates many groupings and sub-batches of one model."""
    cap_arr = np.array(caps)
    prec = Precision.of(hw)
    return Model(net, hw, prec, batch, training, cap_arr,
                 group_tables(net, prec, training, weight_tile, input_gradient),
                 layer_fallback(net, hw, batch, cap_arr, training, input_gradient),
                 input_gradient)


def sub_batch_candidates(batch: int) -> np.ndarray:
    """Sub-batch sizes worth trying, descending: the smallest n for each count S = ceil(N/n)
    (traffic depends on n only through S, the buffer need grows with n)."""
    s = np.arange(1, batch + 1)
    return np.unique(-(-batch // s))[::-1].astype(np.int64)


def mbs_cells(m: Model, s: np.ndarray, e: int, n: np.ndarray, cap: np.ndarray
              ) -> tuple[dict[tuple[str, str], np.ndarray], np.ndarray, np.ndarray]:
    """MBS-formula DRAM bytes of groups [s..e] at sub-batch n and capacity cap (broadcast).

    Returns (cells, buffer need bytes, feasible). Single-layer fallback is not applied here."""
    t, N = m.tables, float(m.batch)
    ea, ew, eg = m.prec.activation, m.prec.weight, m.prec.gradient
    n = np.asarray(n, dtype=float)
    S = np.ceil(N / n)
    g = (s, e)
    wsum = t.weight_elems[g]
    peak = t.peak_sample_bytes[g] * n
    need = peak + t.weight_ws_bytes[g]
    need_acc = peak + t.weight_acc_bytes[g]
    acc = need_acc <= cap
    feasible = need <= cap
    z = np.zeros(np.broadcast_shapes(np.shape(s), n.shape, np.shape(cap)))
    cells = {c: z for c in CELLS}
    cells[("forward", "activations")] = z + N * (t.in_elems[g] + t.out_elems[g]) * ea
    cells[("forward", "stash")] = z + N * t.stash_write_elems[g] * ea
    cells[("forward", "weights")] = z + S * wsum * ew
    if m.training:
        cells[("dgrad", "gradients")] = z + N * (t.grad_in_elems[g] + t.grad_out_elems[g]
                                                 + t.fork_elems[g]) * eg
        cells[("dgrad", "stash")] = z + N * t.stash_read_dgrad_elems[g] * ea
        cells[("dgrad", "weights")] = z + S * wsum * ew
        cells[("wgrad", "stash")] = z + N * t.stash_read_wgrad_elems[g] * ea
        cells[("wgrad", "weights")] = z + np.where(acc, 1.0, 2.0 * S - 1.0) * wsum * eg
    return cells, np.where(acc, need_acc, need) + z, np.broadcast_to(feasible, z.shape)


def group_dram(m: Model, s: np.ndarray, e: int | np.ndarray, n: np.ndarray, cap_idx: np.ndarray
               ) -> np.ndarray:
    """DRAM bytes of groups [s..e] at sub-batch n, capacity index cap_idx (broadcast), with
    the rule that a single-layer group at n = N is the baseline layer, and at any other n
    the cheaper of the baseline layer and its MBS sub-batch (infinite when it does not fit).
    The same sum as :func:`mbs_cells`, arranged so that only the last step touches the full
    (start, sub-batch, capacity) grid (the DP's inner loop)."""
    t, N = m.tables, float(m.batch)
    ea, ew, eg = m.prec.activation, m.prec.weight, m.prec.gradient
    s = np.asarray(s)
    n = np.asarray(n, dtype=float)
    g = (s, e)
    act = t.in_elems[g] + t.out_elems[g]
    base = N * (act + t.stash_write_elems[g]) * ea
    wsum = t.weight_elems[g]
    S = np.ceil(N / n)
    if m.training:
        grad = t.grad_in_elems[g] + t.grad_out_elems[g]
        base = base + N * ((grad + t.fork_elems[g]) * eg + (t.stash_read_dgrad_elems[g]
                                                            + t.stash_read_wgrad_elems[g]) * ea)
        wts = S * wsum * (2.0 * ew)
        dw_acc, dw_rmw = wsum * eg, (2.0 * S - 1.0) * wsum * eg
    else:
        wts = S * wsum * ew
        dw_acc = dw_rmw = 0.0
    peak = t.peak_sample_bytes[g] * n
    need = peak + t.weight_ws_bytes[g]
    need_acc = peak + t.weight_acc_bytes[g]
    cap = m.caps[cap_idx]
    dram = np.where(need_acc <= cap, base + wts + dw_acc,
                    np.where(need <= cap, base + wts + dw_rmw, np.inf))
    if not np.any(s == e):
        return dram
    fallback = m.fallback.fields["dram_bytes"][e, cap_idx]
    # a single-layer group: the baseline layer at n = N, else the cheaper of the two
    return np.where(s == e, np.where(n >= m.batch, fallback, np.minimum(dram, fallback)), dram)


def fitting_sub_batch(peak_sample_bytes: np.ndarray, weight_bytes: np.ndarray,
                      capacity_bytes: np.ndarray, limit: np.ndarray | float) -> np.ndarray:
    """The largest sub-batch whose live set (``peak_sample_bytes`` per sample, (G, 1)) fits
    beside ``weight_bytes`` (G,) in each capacity (1, C), at most ``limit``; 0 where even the
    weights do not fit. Arrays (G, C)."""
    room = capacity_bytes - weight_bytes[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        n_fit = np.where(peak_sample_bytes > 0,
                         np.floor(room / np.where(peak_sample_bytes > 0, peak_sample_bytes, 1.0)),
                         np.inf)
    return np.where(room >= 0, np.minimum(n_fit, limit), 0.0)


def best_group_dram(m: Model, s: np.ndarray, e: int | np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Least DRAM bytes of groups [s..e] over every sub-batch 1..N, for every capacity, and the
    sub-batch that gives it: arrays (len(s), C); ``e`` one group end or one per start (the DP
    evaluates a block of group ends at once). The DP's inner step.

    Within a regime (dW accumulated on chip, or read-modify-written) the traffic falls as the
    sub-batch n grows (fewer sub-batches S = ceil(N/n) re-read the weights) while the buffer
    need grows, so the best n of a regime at capacity c is the largest that fits; among the n
    with the same S the smallest is kept (same traffic, least buffer). That gives the same
    minimum as :func:`group_dram` over all n (tested against it) in O(1) per capacity instead
    of one evaluation per sub-batch size. Ties go to the larger sub-batch, as in a scan from
    n = N down. A single-layer group may also run as the baseline layer (n = N)."""
    t, N = m.tables, float(m.batch)
    ea, ew, eg = m.prec.activation, m.prec.weight, m.prec.gradient
    s = np.asarray(s)
    g = (s, e)
    act = t.in_elems[g] + t.out_elems[g]
    base = N * (act + t.stash_write_elems[g]) * ea
    wsum = t.weight_elems[g]
    if m.training:
        grad = t.grad_in_elems[g] + t.grad_out_elems[g]
        base = base + N * ((grad + t.fork_elems[g]) * eg + (t.stash_read_dgrad_elems[g]
                                                            + t.stash_read_wgrad_elems[g]) * ea)
    single = (s == e)[:, None]
    limit = np.where(single, N - 1.0, N)  # n = N of a single layer is the baseline layer
    peak = t.peak_sample_bytes[g][:, None]
    cap = m.caps[None, :]
    best = np.full((s.size, m.caps.size), np.inf)
    best_n = np.zeros((s.size, m.caps.size))
    for accumulate, ws in ((True, t.weight_acc_bytes[g]), (False, t.weight_ws_bytes[g])):
        n_fit = fitting_sub_batch(peak, ws, cap, limit)
        ok = n_fit >= 1
        S = np.ceil(N / np.maximum(n_fit, 1.0))
        n_best = np.ceil(N / S)
        if m.training:
            dw = wsum[:, None] * eg * (1.0 if accumulate else 2.0 * S - 1.0)
            cost = base[:, None] + S * wsum[:, None] * (2.0 * ew) + dw
        else:
            cost = base[:, None] + S * wsum[:, None] * ew
        cost = np.where(ok, cost, np.inf)
        take = cost <= best if not accumulate else cost < best  # ties: the larger n (rmw)
        best = np.where(take, cost, best)
        best_n = np.where(take, n_best, best_n)
    fallback = m.fallback.fields["dram_bytes"][np.broadcast_to(e, s.shape)]  # (len(s), C)
    use_fb = single & (fallback <= best)
    return np.where(use_fb, fallback, best), np.where(use_fb, N, best_n)


def _cost_table(m: Model, s: np.ndarray, e: int | np.ndarray, cands: np.ndarray
                ) -> np.ndarray:
    """DRAM bytes (len(s), len(cands), C) of groups [s..e] for every candidate and capacity
    (``e`` one group end, or one per start)."""
    return group_dram(m, s[:, None, None], np.broadcast_to(e, s.shape)[:, None, None],
                      cands[None, :, None],
                      np.arange(m.caps.size)[None, None, :])
