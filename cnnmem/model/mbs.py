"""Mini-batch serialization (MBS, Lym et al., SysML 2019; papers.md section 2).

Layers, in the network's topological order, are cut into consecutive groups; group g runs its
sub-batch of n_g samples through all its layers before the next sub-batch, so tensors inside the
group stay on chip. Strategies registered here (both ``@register`` and ``@register_sweep``):

* ``mbs-greedy``  the published greedy grouping: a group is extended by the next layer while its
  largest feasible sub-batch does not shrink [reconstruction of "extend the group while the next
  layer's largest feasible sub-batch is not smaller than the group's"];
* ``mbs-optimal`` dynamic programming over cut points and per-group sub-batch sizes: minimal DRAM
  traffic for this model (:func:`cnnmem.model.grouping.consecutive_dp`);
* ``mbs-fs``      fully serialized: every group uses sub-batch 1 (cuts chosen by the DP);
* ``mbs``         an explicit grouping: ``-O cuts=3,7,12`` (a group ends after each listed layer
  index) or ``-O grouping=layer|block|stage|all|optimal|greedy``; ``--sub-batch`` fixes n.

The conventional baseline is :mod:`cnnmem.model.layerwise` (reused, not re-implemented).

Group cost model [reconstruction of papers.md section 2; per sample sizes in elements, N the
mini-batch, S = ceil(N / n) sub-batches, e_a/e_w/e_g bytes per activation/weight/gradient]:

* forward: each distinct tensor entering the group is read once (N x, "activations"); each tensor
  produced in the group and read after it (or a network output) is written once
  ("activations"); tensors backward needs that are produced inside the group and not already
  written as outputs are written once ("stash"); all group weights are read S times.
* data gradient: dY of each group output read once, dX of each group input written once
  ("gradients"); inner gradients stay on chip; every stashed or boundary tensor backward needs
  is read once ("stash"; booked to the weight-gradient pass when a conv/FC layer needs it, else
  to the data-gradient pass); weights read S times.
* weight gradient: dW accumulated on chip and written once when all the group's dW fit next to
  the working set, else read-modify-written per sub-batch (S writes + S-1 reads) ("weights" =
  parameter-sized traffic, W and dW).
* tensors needed in backward: conv/FC, batchnorm/groupnorm, max-pool: their input; activation
  functions, dropout (mask), softmax: their output; LRN both; add/concat/avg-pool/flatten none.
* gradient forks follow the baseline's framework convention (:mod:`cnnmem.model.streaming`): a
  tensor with k consumers outside its producer's group costs (k - 1) DRAM accumulations of
  (read 2, write 1) gradient tensors, charged to the producer group; a group holding m > 1 of
  those consumers sums their contributions on chip and is credited the (m - 1) accumulations
  it saves (so a group total can be lower than its dX writes alone).
* buffer need = n x peak live per-sample footprint + weight working set. The footprint at step
  l counts every tensor live there: produced and still awaited by a later layer of the group,
  entering the group and still awaited, branch tensors held until their add/concat; backward at
  step l holds the same tensors as gradients plus the activations layer l reloads. The weight
  working set is the largest layer's weights (and its dW in training), or with
  ``-O weight_tile=channel`` one output channel's weights (weights stream by channel).
* normalization: MBS needs per-sample statistics (the paper uses GroupNorm), so batchnorm inside
  an MBS group is modelled as per-sample norm: statistics and normalization in one pass over a
  sample that is on chip. A single-layer group run over the whole batch (n = N) is exactly the
  conventional layer of the baseline, with its intra-layer spill, and so is a single-layer group
  whose sub-batch does not fit; that makes the all-single-layer, full-batch grouping reproduce
  ``layerwise`` exactly.
* energy and latency from the per-layer core's :func:`cnnmem.model.cost.energy_latency` per
  group and pass direction, the compute time of each layer-pass at the group's sub-batch n
  divided by its systolic-array mapping efficiency (:mod:`cnnmem.model.array`: small n pays
  the array's fill and drain): latency = max(compute, memory) of the forward sweep + the same of the
  backward sweep (a group overlaps DRAM transfers with its own compute); the same MACs as the
  baseline. All tensors (including the network input's dX, as in the baseline) are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from cnnmem.errors import InputError
from cnnmem.hardware import Hardware
from cnnmem.model.array import pass_efficiency
from cnnmem.model.cost import energy_latency, layer_pass_costs
from cnnmem.model.gconv import PASSES, layer_gconvs
from cnnmem.model.grouping import (
    consecutive_dp,
    cut_mask,
    cuts_of_path,
    interval_events_cumsum,
    path_from_cuts,
    range_max,
    range_sum,
    structural_cuts,
)
from cnnmem.model.precision import Precision
from cnnmem.model.schedule import (
    INFERENCE,
    TRAINING,
    GroupingRule,
    OptionSpec,
    PointCosts,
    ScheduleRequest,
    ScheduleResult,
    StrategySpec,
    SweepRequest,
    register,
    register_sweep,
)
from cnnmem.model.streaming import streaming_bytes, streaming_elementwise_ops
from cnnmem.workload.network import Network

KINDS = ("activations", "stash", "weights", "gradients")
CELLS = tuple((p, k) for p in PASSES for k in KINDS)
NOTE_NORM = ("batchnorm inside an MBS group is modelled as per-sample norm (GroupNorm-like "
             "statistics, one pass over an on-chip sample); single-layer full-batch groups run "
             "it as conventional batchnorm")

_NEEDS_INPUT = {"batchnorm", "groupnorm", "maxpool", "globalmaxpool", "lrn"}
_NEEDS_NOTHING = {"add", "concat", "avgpool", "globalavgpool", "flatten"}


def cell_key(pass_name: str, kind: str) -> str:
    return f"dram_{pass_name}_{kind}_bytes"


# ------------------------------------------------------------------------------------------
# Per-(start, end) tables of a network, per sample


@dataclass(frozen=True)
class GroupTables:
    """Per-sample quantities of every group [s..e] (arrays (L, L), valid for e >= s)."""

    in_elems: np.ndarray  # distinct tensors entering the group
    out_elems: np.ndarray  # tensors leaving the group (or network outputs)
    stash_write_elems: np.ndarray
    stash_read_dgrad_elems: np.ndarray
    stash_read_wgrad_elems: np.ndarray
    fork_elems: np.ndarray  # signed gradient-accumulation elements (x 3 already)
    peak_sample_bytes: np.ndarray  # peak live bytes per sample
    weight_elems: np.ndarray  # sum of the group's parameters
    weight_ws_bytes: np.ndarray  # weight working set, dW re-read per sub-batch
    weight_acc_bytes: np.ndarray  # working set when all group dW accumulate on chip
    macs: np.ndarray  # per sample, one pass
    vec_forward: np.ndarray
    vec_dgrad: np.ndarray


def _needs(net: Network, training: bool) -> list[list[int]]:
    """Tensor indices (layer index; L = network input) each layer needs in backward."""
    n = len(net)
    out: list[list[int]] = []
    for i, layer in enumerate(net.layers):
        ins = sorted({n if p < 0 else p for p in net.producers[i]})
        if not training or layer.type in _NEEDS_NOTHING:
            need: list[int] = []
        elif layer.is_compute or layer.type in _NEEDS_INPUT:
            need = list(ins) + ([i] if layer.type == "lrn" else [])
        else:  # activation functions, dropout (mask), softmax
            need = [i]
        out.append(need)
    return out


@lru_cache(maxsize=16)
def group_tables(net: Network, prec: Precision, training: bool, weight_tile: str = "layer"
                 ) -> GroupTables:
    """Precompute every group's per-sample quantities in O(L^2) numpy work (cached)."""
    n = len(net)
    elems = np.append(net.out_elems.astype(float), float(net.input_elems))  # tensor L = input
    prod = np.append(np.arange(n), -1)
    cons_raw: list[list[int]] = [[] for _ in range(n + 1)]
    for i in range(n):
        for p in net.producers[i]:
            cons_raw[n if p < 0 else p].append(i)
    cons_raw = [sorted(c) for c in cons_raw]
    cons = [sorted(set(c)) for c in cons_raw]
    needs = _needs(net, training)
    needers: list[list[int]] = [[] for _ in range(n + 1)]
    needers_c: list[list[int]] = [[] for _ in range(n + 1)]
    for i, ts in enumerate(needs):
        for t in ts:
            needers[t].append(i)
            if net.layers[i].is_compute:
                needers_c[t].append(i)

    d_in, d_out, d_nin, d_nout, d_fork = (np.zeros((n, n)) for _ in range(5))
    d_need = {"all": np.zeros((n, n)), "compute": np.zeros((n, n))}

    def first_at_or_after(lst: list[int], rows: np.ndarray) -> np.ndarray:
        a = np.asarray(lst)
        return a[np.searchsorted(a, rows)]

    for t in range(n + 1):
        p, el, c = int(prod[t]), elems[t], cons[t]
        if c:  # entering groups that start after the producer
            rows = np.arange(p + 1, c[-1] + 1)
            np.add.at(d_in, (rows, first_at_or_after(c, rows)), el)
        if p >= 0:  # leaving the producer's group while a consumer is outside
            d_out[: p + 1, p] += el
            if c:
                d_out[: p + 1, c[-1]] -= el
        for key, nd in (("all", needers[t]), ("compute", needers_c[t])):
            if not nd:
                continue
            nd = sorted(set(nd))
            if p >= 0:
                d_need[key][: p + 1, nd[0]] += el
            rows = np.arange(p + 1, nd[-1] + 1)
            np.add.at(d_need[key], (rows, first_at_or_after(nd, rows)), el)
            if key == "all" and p >= 0:
                d_nin[: p + 1, nd[0]] += el
                if not c:
                    d_nout[: p + 1, nd[0]] += el
                elif nd[0] < c[-1]:
                    d_nout[: p + 1, nd[0]] += el
                    d_nout[: p + 1, c[-1]] -= el
        cr = cons_raw[t]
        if training and p >= 0 and len(cr) >= 2:
            d_fork[: p + 1, p] += 3.0 * (len(cr) - 1) * el
            for ci in cr[:-1]:
                d_fork[: p + 1, ci] -= 3.0 * el
            for j in range(1, len(cr)):
                d_fork[p + 1: cr[j - 1] + 1, cr[j]] -= 3.0 * el

    in_e, out_e = interval_events_cumsum(d_in), interval_events_cumsum(d_out)
    need_all = interval_events_cumsum(d_need["all"])
    need_c = interval_events_cumsum(d_need["compute"])
    stash_w = interval_events_cumsum(d_nin) - interval_events_cumsum(d_nout)

    # peak live footprint per sample, incrementally over the group end e
    ea, eg = prec.activation, prec.gradient
    need_col = np.array([sum(elems[t] for t in ts) for ts in needs])
    live = np.zeros((n, n))
    peak = np.zeros((n, n))
    last_use = {t: int(prod[t]) for t in range(n + 1)}
    for e in range(n):
        live[: e + 1, e] += elems[e]
        lo = e
        for t in sorted({n if p < 0 else p for p in net.producers[e]}):
            pc = last_use[t]
            if pc >= 0:
                live[: pc + 1, pc + 1: e + 1] += elems[t]
            live[pc + 1: e + 1, e] += elems[t]
            lo = min(lo, pc + 1)
            last_use[t] = e
        sub = live[: e + 1, lo: e + 1]
        vals = sub * ea
        if training:
            mask = np.arange(lo, e + 1)[None, :] >= np.arange(e + 1)[:, None]
            vals = np.maximum(vals, sub * eg + mask * need_col[None, lo: e + 1] * ea)
        best = vals.max(axis=1)
        peak[: e + 1, e] = np.maximum(peak[: e + 1, e - 1], best) if e > 0 else best

    w = net.weight_elems.astype(float)
    if weight_tile == "channel":
        ws = np.array([lay.weight_elems / max(1, lay.out_channels) if lay.weight_elems else 0.0
                       for lay in net.layers])
    else:
        ws = w
    ws_bytes = ws * (prec.weight + (prec.gradient if training else 0.0))
    macs = np.array([layer_gconvs(lay, i, ("forward",))[0].macs_per_sample if lay.is_compute
                     else 0 for i, lay in enumerate(net.layers)], dtype=float)
    vec_f = np.array([streaming_elementwise_ops(lay, "forward") for lay in net.layers], float)
    vec_d = np.array([streaming_elementwise_ops(lay, "dgrad") for lay in net.layers], float)
    wsum = range_sum(w)
    return GroupTables(
        in_elems=in_e, out_elems=out_e, stash_write_elems=stash_w,
        stash_read_dgrad_elems=need_all - need_c, stash_read_wgrad_elems=need_c,
        fork_elems=interval_events_cumsum(d_fork), peak_sample_bytes=peak, weight_elems=wsum,
        weight_ws_bytes=range_max(ws_bytes),
        weight_acc_bytes=range_max(ws * prec.weight) + (wsum * prec.gradient if training
                                                        else 0.0),
        macs=range_sum(macs), vec_forward=range_sum(vec_f), vec_dgrad=range_sum(vec_d))


# ------------------------------------------------------------------------------------------
# The baseline's per-layer costs, used by single-layer full-batch groups


@dataclass(frozen=True)
class LayerFallback:
    """Per layer (L, n_capacity) arrays of the conventional layer: cells and energy/time."""

    cells: dict[tuple[str, str], np.ndarray]
    fields: dict[str, np.ndarray]  # energy_*_pj, latency_s, compute_s, memory_s, need


def _split_layer_pass(net: Network, costs: Any, item: int, prec: Precision, batch: int
                      ) -> dict[str, np.ndarray]:
    """Split one layer-pass's DRAM bytes (n_capacity,) by tensor kind."""
    i, p = int(costs.layer_index[item]), costs.pass_name[item]
    layer = net.layers[i]
    dram = costs.dram_bytes[item, 0]
    zero = np.zeros_like(dram)
    if not layer.is_compute:
        if p != "dgrad":
            return {"activations": dram}
        caps, k = costs.capacity_bytes, len(net.consumers[i])
        f1, f2 = (streaming_bytes(layer, p, np.array([batch]), caps, Precision(prec.activation,
                                                                      prec.weight, g),
                                  consumers=k)[0] for g in (1.0, 2.0))
        stash = f1 - (f2 - f1)  # the part not proportional to the gradient precision
        return {"stash": stash, "gradients": dram - stash}
    g = layer_gconvs(layer, i, (p,))[0]
    tile = costs.tile[item, 0].astype(float)  # (n_capacity, 4)
    ok = tile[:, 0] > 0
    t = np.where(ok[:, None], tile, 1.0)
    ew, eg = prec.weight, prec.gradient
    if p == "wgrad":
        dy = eg * np.ceil(g.red_c / t[:, 0]) * g.out_c * g.groups * g.out_h * g.out_w * batch
        dw = eg * g.out_elems + zero
        parts = {"gradients": dy, "weights": dw, "stash": dram - dy - dw}
        rest = "stash"
    else:
        wts = ew * np.ceil(batch / t[:, 0]) * np.ceil(g.out_h / t[:, 1]) * np.ceil(
            g.out_w / t[:, 2]) * g.b_elems
        rest = "activations" if p == "forward" else "gradients"
        parts = {"weights": wts, rest: dram - wts}
    return {k: np.where(ok, v, np.inf if k == rest else 0.0) for k, v in parts.items()}


def layer_fallback(net: Network, hw: Hardware, batch: int, capacity_bytes: np.ndarray,
                   training: bool) -> LayerFallback:
    """The baseline's cost of every layer alone over the whole batch, by pass and kind."""
    costs = layer_pass_costs(net, hw, [batch], capacity_bytes, training=training)
    prec = Precision.of(hw)
    n, ncap = len(net), capacity_bytes.size
    cells = {c: np.zeros((n, ncap)) for c in CELLS}
    for item in range(costs.layer_index.size):
        i, p = int(costs.layer_index[item]), costs.pass_name[item]
        for kind, v in _split_layer_pass(net, costs, item, prec, batch).items():
            cells[(p, kind)][i] += v
    fields = {}
    for key in ("energy_dram_pj", "energy_buffer_pj", "energy_compute_pj", "energy_static_pj",
                "latency_s", "compute_s", "memory_s"):
        acc = np.zeros((n, ncap))
        np.add.at(acc, costs.layer_index, getattr(costs, key)[:, 0])
        fields[key] = acc
    need = np.zeros((n, ncap))
    np.maximum.at(need, costs.layer_index, np.nan_to_num(costs.buffer_need_bytes[:, 0], nan=0.0))
    fields["buffer_need_bytes"] = need
    dram = np.zeros((n, ncap))
    np.add.at(dram, costs.layer_index, costs.dram_bytes[:, 0])
    fields["dram_bytes"] = dram
    return LayerFallback(cells, fields)


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


def build_model(net: Network, hw: Hardware, batch: int, capacity_bytes: Any, training: bool,
                weight_tile: str = "layer") -> Model:
    caps = tuple(float(c) for c in np.atleast_1d(np.asarray(capacity_bytes, dtype=float)))
    return _build_model(net, hw, int(batch), caps, training, weight_tile)


@lru_cache(maxsize=32)
def _build_model(net: Network, hw: Hardware, batch: int, caps: tuple[float, ...],
                 training: bool, weight_tile: str) -> Model:
    """Cached: a sweep evaluates many groupings and sub-batches of one model."""
    cap_arr = np.array(caps)
    prec = Precision.of(hw)
    return Model(net, hw, prec, batch, training, cap_arr,
                 group_tables(net, prec, training, weight_tile),
                 layer_fallback(net, hw, batch, cap_arr, training))


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
        cells[("dgrad", "gradients")] = z + N * (t.in_elems[g] + t.out_elems[g]
                                                 + t.fork_elems[g]) * eg
        cells[("dgrad", "stash")] = z + N * t.stash_read_dgrad_elems[g] * ea
        cells[("dgrad", "weights")] = z + S * wsum * ew
        cells[("wgrad", "stash")] = z + N * t.stash_read_wgrad_elems[g] * ea
        cells[("wgrad", "weights")] = z + np.where(acc, 1.0, 2.0 * S - 1.0) * wsum * eg
    return cells, np.where(acc, need_acc, need) + z, np.broadcast_to(feasible, z.shape)


def group_dram(m: Model, s: np.ndarray, e: int, n: np.ndarray, cap_idx: np.ndarray
               ) -> np.ndarray:
    """DRAM bytes of groups [s..e] at sub-batch n, capacity index cap_idx (broadcast), with
    the rule that a single-layer group at n = N, or whose sub-batch does not fit, is the
    baseline layer. The same sum as :func:`mbs_cells`, arranged so that only the last step
    touches the full (start, sub-batch, capacity) grid (the DP's inner loop)."""
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
        base = base + N * ((act + t.fork_elems[g]) * eg + (t.stash_read_dgrad_elems[g]
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
    single = (s == e) & ((n >= m.batch) | ~(need <= cap))
    if not single.any():
        return dram
    return np.where(single, m.fallback.fields["dram_bytes"][e, cap_idx], dram)


def best_group_dram(m: Model, s: np.ndarray, e: int) -> tuple[np.ndarray, np.ndarray]:
    """Least DRAM bytes of groups [s..e] over every sub-batch 1..N, for every capacity, and the
    sub-batch that gives it: arrays (len(s), C). The DP's inner step.

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
        base = base + N * ((act + t.fork_elems[g]) * eg + (t.stash_read_dgrad_elems[g]
                                                            + t.stash_read_wgrad_elems[g]) * ea)
    single = (s == e)[:, None]
    limit = np.where(single, N - 1.0, N)  # n = N of a single layer is the baseline layer
    peak = t.peak_sample_bytes[g][:, None]
    cap = m.caps[None, :]
    best = np.full((s.size, m.caps.size), np.inf)
    best_n = np.zeros((s.size, m.caps.size))
    for accumulate, ws in ((True, t.weight_acc_bytes[g]), (False, t.weight_ws_bytes[g])):
        room = cap - ws[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            n_fit = np.where(peak > 0, np.floor(room / np.where(peak > 0, peak, 1.0)), np.inf)
        n_fit = np.where(room >= 0, np.minimum(n_fit, limit), 0.0)
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
    fallback = m.fallback.fields["dram_bytes"][e][None, :]
    use_fb = single & (fallback <= best)
    return np.where(use_fb, fallback, best), np.where(use_fb, N, best_n)


def _cost_table(m: Model, s: np.ndarray, e: int, cands: np.ndarray) -> np.ndarray:
    """DRAM bytes (len(s), len(cands), C) of groups [s..e] for every candidate and capacity."""
    return group_dram(m, s[:, None, None], e, cands[None, :, None],
                      np.arange(m.caps.size)[None, None, :])


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


def plan_optimal(m: Model, fixed: np.ndarray | None, cands: np.ndarray | None = None) -> Plan:
    """The DP: per capacity the grouping and sub-batches of least DRAM traffic (``fixed``: one
    DP per listed sub-batch size)."""
    L = len(m.net)
    cap_idx, fix, k = _problems(m, fixed)

    def cost(e: int) -> tuple[np.ndarray, np.ndarray]:
        if fix is None and given_cands is None:  # free sub-batches: closed form per capacity
            dram, n_best = best_group_dram(m, np.arange(e + 1), e)
            return dram, n_best.astype(np.int64)
        c3 = _cost_table(m, np.arange(e + 1), e, cand_axis)  # (e+1, K, C)
        if fix is None:
            ch = np.argmin(c3, axis=1)
            return np.take_along_axis(c3, ch[:, None, :], axis=1)[:, 0, :], cand_axis[ch]
        flat = c3.transpose(0, 2, 1).reshape(e + 1, -1)
        return flat, np.broadcast_to(np.tile(cand_axis, m.caps.size), flat.shape)

    given_cands = cands
    cand_axis: np.ndarray = ((sub_batch_candidates(m.batch) if cands is None else cands)
                             if fix is None or fixed is None else fixed)
    res = consecutive_dp(L, cost, cap_idx.size)
    n = np.where(res.path >= 0, res.choice, 0)
    return Plan(res.path, n, cap_idx, k)


def plan_greedy(m: Model, fixed: np.ndarray | None) -> Plan:
    """The paper's greedy: extend the group while its largest feasible sub-batch stays."""
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

    for e in range(1, L):
        ext = nmax(start, e)
        extend = (gk >= 0) & (ext == gk)
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


# ------------------------------------------------------------------------------------------
# Evaluating a plan


TOTAL_FIELDS = ("dram_bytes", "energy_dram_pj", "energy_buffer_pj", "energy_compute_pj",
                "energy_static_pj", "latency_s", "compute_s", "memory_s", "macs")


@lru_cache(maxsize=64)
def _layer_gconvs(net: Network) -> tuple[tuple[int, tuple[Any, ...]], ...]:
    """(layer index, its forward/dgrad/wgrad GConvs) of every conv/FC layer."""
    return tuple((i, tuple(layer_gconvs(layer, i, PASSES))) for i, layer in
                 enumerate(net.layers) if layer.is_compute)


@lru_cache(maxsize=64)
def _array_mac_tables(net: Network, hw: Hardware, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (over layers) MAC slots per sample of the forward and backward passes at every
    sub-batch size 1..batch: arrays (L + 1, batch), column n - 1 for sub-batch n (cached)."""
    n = np.arange(1, batch + 1, dtype=float)
    L = len(net)
    per_f = np.zeros((L, n.size))
    per_b = np.zeros((L, n.size))
    for i, (fwd, dgrad, wgrad) in _layer_gconvs(net):  # a loop over layers
        macs = float(fwd.macs_per_sample)
        per_f[i] = macs / pass_efficiency(hw, fwd, n)
        per_b[i] = macs / pass_efficiency(hw, dgrad, n) + macs / pass_efficiency(hw, wgrad, n)
    zero = np.zeros((1, n.size))
    return (np.concatenate([zero, np.cumsum(per_f, axis=0)]),
            np.concatenate([zero, np.cumsum(per_b, axis=0)]))


def group_array_macs(m: Model, s: np.ndarray, e: np.ndarray, n: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """MAC slots the forward and the backward (dgrad + wgrad) passes of groups [s..e] occupy
    on the hardware's systolic arrays at sub-batch n (MACs / mapping efficiency, whole batch;
    :mod:`cnnmem.model.array`). None when the hardware gives no array shape (slots = MACs)."""
    if m.hw.array_rows <= 0:
        return None
    col = np.asarray(n, dtype=np.int64) - 1  # sub-batch n -> column n - 1 of the tables
    cs_f, cs_b = _array_mac_tables(m.net, m.hw, m.batch)
    inverse = col
    N = float(m.batch)
    e1 = np.asarray(e) + 1
    return (N * (cs_f[e1, inverse] - cs_f[s, inverse]),
            N * (cs_b[e1, inverse] - cs_b[s, inverse]))


def _group_terms(m: Model, s: np.ndarray, e: int, n: np.ndarray, cap_idx: np.ndarray
                 ) -> dict[str, np.ndarray]:
    """Full terms (cells, energy, times, need) of groups [s..e] per problem (arrays (P,))."""
    cells, need, ok = mbs_cells(m, s, e, n, m.caps[cap_idx])
    t = m.tables
    N = float(m.batch)
    ea, ew, eg = m.prec.activation, m.prec.weight, m.prec.gradient
    g = (s, e)
    fwd: np.ndarray = sum(cells[("forward", k)] for k in KINDS)  # type: ignore[assignment]
    bwd: np.ndarray = sum(  # type: ignore[assignment]
        cells[(p, k)] for p in ("dgrad", "wgrad") for k in KINDS)
    macs_f = N * t.macs[g]
    slots = group_array_macs(m, np.asarray(s), np.broadcast_to(e, np.shape(s)), n)
    slots_f, slots_b = (None, None) if slots is None else slots
    ef = energy_latency(m.hw, fwd, macs_f, ea + ew, N * t.vec_forward[g], slots_f)
    out = {cell_key(*c): v for c, v in cells.items()}
    if m.training:
        eb = energy_latency(m.hw, bwd, 2 * macs_f, (2 * eg + ew + ea) / 2, N * t.vec_dgrad[g],
                            slots_b)
    else:
        eb = {k: np.zeros_like(v) for k, v in ef.items()}
    for key in ("energy_dram_pj", "energy_buffer_pj", "energy_compute_pj", "energy_static_pj",
                "latency_s", "compute_s", "memory_s"):
        out[key] = ef[key] + eb[key]
    out["dram_bytes"] = fwd + bwd
    out["macs"] = macs_f * (3 if m.training else 1)
    out["buffer_need_bytes"] = need
    single = (s == e) & ((n >= m.batch) | ~ok)
    fb = m.fallback
    for c in CELLS:
        key = cell_key(*c)
        out[key] = np.where(single, fb.cells[c][e, cap_idx], out[key])
    for key in TOTAL_FIELDS + ("buffer_need_bytes",):
        if key == "macs":
            continue
        out[key] = np.where(single, fb.fields[key][e, cap_idx], out[key])
    infeasible = ~ok & ~single
    for key in out:
        if key not in ("macs", "buffer_need_bytes"):
            out[key] = np.where(infeasible, np.inf, out[key])
    out["layerwise_group"] = single
    return out


def evaluate(m: Model, plan: Plan, with_groups: bool = False
             ) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Totals per problem (arrays (P,)) and, optionally, per-group rows of problem 0."""
    P = plan.cap_idx.size
    tot: dict[str, np.ndarray] = {}
    rows: list[dict[str, Any]] = []
    for e_end in np.flatnonzero((plan.path >= 0).any(axis=1)):
        e = int(e_end)
        mask = plan.path[e] >= 0
        s = np.where(mask, plan.path[e], e)
        n = np.where(mask, plan.sub_batch[e], m.batch)
        terms = _group_terms(m, s, e, n, plan.cap_idx)
        for key, v in terms.items():
            if key == "layerwise_group":
                continue
            v = np.where(mask, v, 0.0)
            if key == "buffer_need_bytes":
                tot[key] = np.maximum(tot.get(key, np.zeros(P)), v)
            else:
                tot[key] = tot.get(key, np.zeros(P)) + v
        tot["groups"] = tot.get("groups", np.zeros(P)) + mask
        if with_groups and mask[0]:
            s0 = int(s[0])
            names = [lay.name for lay in m.net.layers[s0: e + 1]]
            row: dict[str, Any] = {
                "group": len(rows), "first": s0, "last": e,
                "layers": names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}",
                "n_layers": len(names),
                "sub_batch": int(n[0]),
                "run": "layerwise" if terms["layerwise_group"][0] else "mbs",
                "buffer_need_bytes": float(terms["buffer_need_bytes"][0]),
                "dram_bytes": float(terms["dram_bytes"][0]),
            }
            for kind in KINDS:
                row[f"dram_{kind}_bytes"] = float(sum(terms[cell_key(p, kind)][0]
                                                      for p in PASSES))
            # gradient accumulation at forks is booked to the producer's group and credited
            # to a group that sums several consumers on chip: a signed column of its own, so
            # the gradient column is the group's dY in + dX out (the row still adds up)
            forks = 0.0 if terms["layerwise_group"][0] else float(
                m.batch * m.tables.fork_elems[s0, e] * m.prec.gradient) if m.training else 0.0
            row["dram_gradients_bytes"] -= forks
            row["dram_gradient_forks_bytes"] = forks
            row["energy_pj"] = float(sum(terms[k][0] for k in TOTAL_FIELDS
                                         if k.startswith("energy_")))
            row["latency_s"] = float(terms["latency_s"][0])
            rows.append(row)
    tot["energy_pj"] = (tot["energy_dram_pj"] + tot["energy_buffer_pj"]
                        + tot["energy_compute_pj"] + tot["energy_static_pj"])
    for p in PASSES:
        tot[f"dram_{p}_bytes"] = np.sum([tot[cell_key(p, k)] for k in KINDS], axis=0)
    for k in KINDS:
        tot[f"dram_{k}_bytes"] = np.sum([tot[cell_key(p, k)] for p in PASSES], axis=0)
    return tot, rows


# ------------------------------------------------------------------------------------------
# The sweep's hot path: one fixed grouping, uniform sub-batch sizes x capacities


POINT_KEYS = ("dram_bytes", "energy_dram_pj", "energy_buffer_pj", "energy_compute_pj",
              "energy_static_pj", "latency_s", "compute_s", "memory_s")


def _regime_values(m: Model, s: np.ndarray, e: np.ndarray, n: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Per group and sub-batch, the point fields in the two feasible regimes (dW accumulated on
    chip, or read-modify-written per sub-batch): arrays (G, K, 2, F) in POINT_KEYS order, plus
    the buffer needs (G, K) of both regimes. The same formulas as :func:`_group_terms`."""
    t, hw, N = m.tables, m.hw, float(m.batch)
    ea, ew, eg = m.prec.activation, m.prec.weight, m.prec.gradient
    g = (s[:, None], e[:, None])
    S = np.ceil(N / n)[None, :]
    wsum = t.weight_elems[g]
    act = t.in_elems[g] + t.out_elems[g]
    fwd = N * (act + t.stash_write_elems[g]) * ea + S * wsum * ew
    macs_f = N * t.macs[g]
    mac_rate, vec_rate = hw.effective_macs_per_s, hw.mac_units * hw.clock_hz
    slots = group_array_macs(m, s[:, None], e[:, None], n[None, :])  # (G, K) each
    slots_f, slots_b = (macs_f, 2 * macs_f) if slots is None else slots
    comp_f = slots_f / mac_rate + N * t.vec_forward[g] / vec_rate
    side = np.sqrt(hw.mac_units)
    reg = hw.register_energy_pj_per_byte if hw.register_bytes > 0 else 0.0
    opb_f, opb_b = ea + ew, (2 * eg + ew + ea) / 2
    bw = hw.dram_bandwidth_bytes_per_s
    out = np.zeros(fwd.shape + (2, len(POINT_KEYS)))
    for r, accumulate in enumerate((True, False)):
        if m.training:
            dw = wsum * eg if accumulate else (2.0 * S - 1.0) * wsum * eg
            bwd = (N * ((act + t.fork_elems[g]) * eg + (t.stash_read_dgrad_elems[g]
                                                       + t.stash_read_wgrad_elems[g]) * ea)
                   + S * wsum * ew + dw)
            comp_b = slots_b / mac_rate + N * t.vec_dgrad[g] / vec_rate
            lat = np.maximum(comp_f, fwd / bw) + np.maximum(comp_b, bwd / bw)
            buf = 2 * (fwd + bwd) + (macs_f * opb_f + 2 * macs_f * opb_b) / side
            ecomp = 3 * macs_f * hw.mac_energy_pj + reg * (macs_f * opb_f + 2 * macs_f * opb_b)
        else:
            bwd = comp_b = 0.0
            lat = np.maximum(comp_f, fwd / bw)
            buf = 2 * fwd + macs_f * opb_f / side
            ecomp = macs_f * hw.mac_energy_pj + reg * macs_f * opb_f
        dram = fwd + bwd
        fields = (dram, dram * hw.dram_energy_pj_per_byte, buf * hw.buffer_energy_pj_per_byte,
                  ecomp, lat * hw.static_power_w * 1e12, lat, comp_f + comp_b, dram / bw)
        for f, v in enumerate(fields):
            out[:, :, r, f] = v
    peak = t.peak_sample_bytes[g] * n[None, :]
    needs = {"acc": peak + t.weight_acc_bytes[g], "rmw": peak + t.weight_ws_bytes[g]}
    return out, np.stack([needs["acc"], needs["rmw"]], axis=2), needs


def fixed_grouping_points(m: Model, cuts: tuple[int, ...], sub_batch: np.ndarray
                          ) -> dict[str, np.ndarray]:
    """Totals of one fixed grouping for every capacity x uniform sub-batch: arrays (C, K).

    The same numbers as ``evaluate(m, plan_cuts(m, cuts, sub_batch))`` (tested), computed for
    the sweep's design points without a loop over them: per group, the feasible regimes' values
    are (G, K) arrays that do not depend on the capacity; which regime applies at capacity c is a
    (G, C, K) mask, and the sum over groups is one batched matrix product per regime.
    """
    L = len(m.net)
    e = np.array(sorted(cuts) + [L - 1], dtype=np.int64)
    s = np.concatenate([[0], e[:-1] + 1])
    n = np.asarray(sub_batch, dtype=float)
    vals, needs, _ = _regime_values(m, s, e, n)  # (G, K, 2, F), (G, K, 2)
    cap = m.caps[None, :, None]  # (1, C, 1)
    acc = needs[:, None, :, 0] <= cap  # (G, C, K)
    ok = needs[:, None, :, 1] <= cap
    single = (s == e)[:, None, None] & ((n >= m.batch)[None, None, :] | ~ok)
    use_acc = acc & ~single
    use_rmw = ok & ~acc & ~single
    infeasible = (~ok & ~single).any(axis=0)  # (C, K)
    # sum over groups: (K, C, G) @ (K, G, F) for each regime, and (C, K, G) @ (C, G, F)
    tot = (np.matmul(use_acc.transpose(2, 1, 0).astype(float), vals[:, :, 0, :].transpose(1, 0, 2))
           + np.matmul(use_rmw.transpose(2, 1, 0).astype(float),
                       vals[:, :, 1, :].transpose(1, 0, 2))).transpose(1, 0, 2)  # (C, K, F)
    fb = m.fallback.fields
    fb_vals = np.stack([fb[k][e] for k in POINT_KEYS], axis=-1)  # (G, C, F)
    fb_vals = np.where(np.isfinite(fb_vals), fb_vals, 1e300)  # inf x 0 would give nan
    fb_sum = np.matmul(single.transpose(1, 2, 0).astype(float), fb_vals.transpose(1, 0, 2))
    tot = tot + fb_sum
    tot = np.where((tot >= 1e299) | infeasible[:, :, None], np.inf, tot)
    need = np.where(single, fb["buffer_need_bytes"][e][:, :, None],
                    np.where(acc, needs[:, None, :, 0], needs[:, None, :, 1]))
    out = {k: tot[:, :, f] for f, k in enumerate(POINT_KEYS)}
    out["buffer_need_bytes"] = need.max(axis=0)
    return out


# ------------------------------------------------------------------------------------------
# Options, strategies


def _resolve(strategy: str, request: ScheduleRequest | SweepRequest
             ) -> tuple[str | tuple[int, ...], str]:
    """The grouping (a policy this module computes, or cuts) and weight tile of a request
    already checked against the strategy's spec."""
    grouping = request.grouping if request.grouping is not None else _OWN_GROUPING[strategy]
    return grouping, str(request.options["weight_tile"])


def plan(m: Model, grouping: str | tuple[int, ...], fixed: np.ndarray | None) -> Plan:
    if grouping == "optimal":
        return plan_optimal(m, fixed)
    if grouping == "fs":
        return plan_optimal(m, np.array([1]) if fixed is None else fixed)
    if grouping == "greedy":
        return plan_greedy(m, fixed)
    cuts = named_cuts(m.net, grouping) if isinstance(grouping, str) else grouping
    return plan_cuts(m, cuts, fixed)


def _check_sub_batch(sub: Any, batch: int) -> np.ndarray | None:
    if sub is None:
        return None
    arr = np.atleast_1d(np.asarray(sub, dtype=np.int64))
    if (arr < 1).any() or (arr > batch).any():
        raise InputError(f"sub-batch must be in 1..{batch} (the batch)", field="sub_batch")
    return arr


def run_schedule(name: str, request: ScheduleRequest) -> ScheduleResult:
    net, hw = request.network, request.hardware
    grouping, tile = _resolve(name, request)
    training = request.mode == TRAINING
    fixed = _check_sub_batch(request.sub_batch, request.batch)
    m = build_model(net, hw, request.batch, [hw.buffer_bytes], training, tile)
    p = plan(m, grouping, fixed)
    tot, rows = evaluate(m, p, with_groups=True)
    first = ("dram_bytes", "energy_pj", "latency_s", "energy_dram_pj", "energy_buffer_pj",
             "energy_compute_pj", "energy_static_pj", "compute_s", "memory_s", "macs",
             "buffer_need_bytes")
    keys = first + tuple(f"dram_{x}_bytes" for x in PASSES + KINDS) + tuple(
        cell_key(*c) for c in CELLS)
    totals: dict[str, Any] = {k: float(tot[k][0]) for k in keys}
    totals["groups"] = int(tot["groups"][0])
    totals["throughput_per_s"] = request.batch / totals["latency_s"]
    totals["cuts"] = ",".join(str(c) for c in cuts_of_path(p.path)[0])
    notes = [NOTE_NORM,
             "dram_gradient_forks_bytes is signed: summing the gradients of a tensor read by "
             "several layers is charged to the producer's group and credited to a group that "
             "sums several of those consumers on chip",
             "MBS group traffic, buffer need and greedy rule are cnnmem's reconstruction of "
             "Lym et al. 2019 (papers.md section 2)"]
    if not np.isfinite(totals["dram_bytes"]):
        notes.append("some group does not fit the buffer: infeasible")
    return ScheduleResult(name, pd.DataFrame(rows), totals, tuple(notes))


def run_sweep(name: str, req: SweepRequest) -> PointCosts:
    grouping, tile = _resolve(name, req)
    fixed = _check_sub_batch(req.sub_batch, req.batch)
    m = build_model(req.network, req.hardware, req.batch, req.capacity_bytes,
                    req.mode == TRAINING, tile)
    if fixed is not None and (isinstance(grouping, tuple)
                              or grouping in ("layer", "block", "stage", "all")):
        fixed_cuts = grouping if isinstance(grouping, tuple) else named_cuts(m.net, grouping)
        pts = fixed_grouping_points(m, fixed_cuts, fixed)  # the hot path: no DP, no group loop
        return PointCosts(cuts=fixed_cuts, **pts)
    p = plan(m, grouping, fixed)
    tot, _ = evaluate(m, p)
    shape = (m.caps.size, p.n_sub)

    def arr(key: str) -> np.ndarray:
        return tot[key].reshape(shape)

    if isinstance(grouping, tuple) or grouping in ("layer", "block", "stage", "all"):
        cuts: Any = cuts_of_path(p.path[:, :1])[0]
    else:  # chosen per capacity (and sub-batch): one boolean row per design point
        cuts = cut_mask(p.path).reshape(shape + (len(m.net) - 1,))
        if p.n_sub == 1:
            cuts = cuts[:, 0]
    return PointCosts(
        dram_bytes=arr("dram_bytes"), buffer_need_bytes=arr("buffer_need_bytes"),
        energy_dram_pj=arr("energy_dram_pj"), energy_buffer_pj=arr("energy_buffer_pj"),
        energy_compute_pj=arr("energy_compute_pj"), energy_static_pj=arr("energy_static_pj"),
        latency_s=arr("latency_s"), compute_s=arr("compute_s"), memory_s=arr("memory_s"),
        cuts=cuts)


_WEIGHT_TILE = OptionSpec("weight_tile", "layer", ("layer", "channel"),
                          help="weights of a group held per layer or per output channel")
_LATENCY = "sum over groups and sub-batches of max(compute, memory) per layer-pass"
#: the grouping each MBS strategy computes itself (mbs takes one: policies or cuts)
_OWN_GROUPING = {"mbs-greedy": "greedy", "mbs-optimal": "optimal", "mbs-fs": "fs"}
SPECS = (
    StrategySpec("mbs-greedy", (TRAINING, INFERENCE),
                 "MBS, the paper's greedy grouping (extend while the sub-batch holds)",
                 options=(_WEIGHT_TILE,), sub_batch="chooses", latency=_LATENCY),
    StrategySpec("mbs-optimal", (TRAINING, INFERENCE),
                 "MBS, DP-optimal grouping and per-group sub-batches (least DRAM traffic)",
                 options=(_WEIGHT_TILE,), sub_batch="chooses", latency=_LATENCY),
    StrategySpec("mbs-fs", (TRAINING, INFERENCE),
                 "MBS fully serialized: sub-batch 1 in every group, DP grouping",
                 options=(_WEIGHT_TILE,), sub_batch="chooses", latency=_LATENCY),
    StrategySpec("mbs", (TRAINING, INFERENCE),
                 "MBS with an explicit grouping (-O cuts=3,7,12 or -O grouping=block) and "
                 "--sub-batch",
                 options=(_WEIGHT_TILE,),
                 grouping=GroupingRule(("block", "stage", "layer", "all", "greedy", "optimal"),
                                       cuts=True, default="block"),
                 sub_batch="fixed", latency=_LATENCY),
)


def _make(spec: StrategySpec) -> None:
    name = spec.name

    def schedule(request: ScheduleRequest) -> ScheduleResult:
        return run_schedule(name, request)

    def sweep(req: SweepRequest) -> PointCosts:
        return run_sweep(name, req)

    register(spec)(schedule)
    register_sweep(name)(sweep)


for _spec in SPECS:
    _make(_spec)
