"""Energy and latency of the chosen groups, totals and per-group rows.

Part of :mod:`cnnmem.model.mbs` (the package docstring has the model)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from cnnmem.hardware import Hardware
from cnnmem.model.array import pass_efficiency
from cnnmem.model.cost import energy_latency
from cnnmem.model.gconv import PASSES, input_gradient_needed
from cnnmem.model.mbs.band import PairTable, band_event_sums
from cnnmem.model.mbs.plans import (
    Plan,
)
from cnnmem.model.mbs.tables import (
    CELLS,
    KINDS,
    cell_key,
    group_band,
    layer_gconv_table,
)
from cnnmem.model.mbs.traffic import (
    Model,
    mbs_cells,
)
from cnnmem.model.result import SUMMED, GroupBlock, StrategyResult, roll_up
from cnnmem.workload.network import Network

# ------------------------------------------------------------------------------------------
# Evaluating a plan


TOTAL_FIELDS = ("dram_bytes", "energy_dram_pj", "energy_buffer_pj", "energy_compute_pj",
                "energy_static_pj", "latency_s", "compute_s", "memory_s", "macs")


@lru_cache(maxsize=64)
def _layer_gconvs(net: Network) -> tuple[tuple[int, tuple[Any, ...]], ...]:
    """(layer index, its forward/dgrad/wgrad GConvs) of every conv/FC layer."""
    return tuple(layer_gconv_table(net).items())


class ArrayMacColumns:
    """Cumulative (over layers) MAC slots per sample of the forward and backward passes, one
    (L + 1,) column per sub-batch size, computed the first time a size is asked for (a loop
    over layers per new set of sizes) and kept: memory (L + 1) x the sizes used, not x the
    batch (issue #16 "Scale": 10,000 layers x 16,384 sizes would be 5 GB). A layer's dgrad
    counts only where backprop computes it (``input_gradient``)."""

    def __init__(self, net: Network, hw: Hardware, batch: int, input_gradient: bool) -> None:
        self.net, self.hw = net, hw
        L = len(net)
        self.needed = input_gradient_needed(net) if not input_gradient else (True,) * L
        self.column = np.full(batch + 1, -1, dtype=np.int64)  # sub-batch n -> its column
        self.fwd = np.zeros((L + 1, 0))
        self.bwd = np.zeros((L + 1, 0))
        self.lock = threading.Lock()  # a Dask worker may run tasks in threads

    def columns(self, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The forward and backward tables (L + 1, sizes so far) and the column of each
        sub-batch size in ``n`` (an array like n)."""
        n = np.asarray(n, dtype=np.int64)
        with self.lock:
            self._add(np.unique(n[self.column[n] < 0]).astype(float))
            return self.fwd, self.bwd, self.column[n]

    def _add(self, missing: np.ndarray) -> None:
        if missing.size:
            L = len(self.net)
            per_f = np.zeros((L, missing.size))
            per_b = np.zeros((L, missing.size))
            for i, (fwd, dgrad, wgrad) in _layer_gconvs(self.net):  # a loop over layers
                macs = float(fwd.macs_per_sample)
                per_f[i] = macs / pass_efficiency(self.hw, fwd, missing)
                per_b[i] = (macs / pass_efficiency(self.hw, dgrad, missing) if self.needed[i]
                            else 0.0) + macs / pass_efficiency(self.hw, wgrad, missing)
            zero = np.zeros((1, missing.size))
            self.column[missing.astype(np.int64)] = self.fwd.shape[1] + np.arange(missing.size)
            self.fwd = np.concatenate([self.fwd, np.concatenate([zero, np.cumsum(per_f, 0)])], 1)
            self.bwd = np.concatenate([self.bwd, np.concatenate([zero, np.cumsum(per_b, 0)])], 1)


@lru_cache(maxsize=64)
def _array_mac_tables(net: Network, hw: Hardware, batch: int, input_gradient: bool = False
                      ) -> ArrayMacColumns:
    """The cached :class:`ArrayMacColumns` of a (network, hardware, batch, input_gradient)."""
    return ArrayMacColumns(net, hw, batch, input_gradient)


@lru_cache(maxsize=64)
def kept_elems_table(net: Network) -> PairTable:
    """Per-sample elements every group [s..e] keeps on chip between its layers, ``K[s, e]`` for
    the groups of the tables' band (:mod:`cnnmem.model.mbs.band`): the tensors produced inside
    the group whose first consumer is inside it too (issue #12 item 8; the rule of fusion's
    ``inner`` bytes, :func:`cnnmem.model.fusion.boundary_matrices`). Each is written into and
    read out of the buffer once in the forward pass, and its gradient once in the backward pass
    (training). K[s, e] = sum of elements of tensors with producer p >= s and first consumer
    c <= e: one event per tensor (a group starting at or before p gains it at c)."""
    n = len(net)
    prods = [p for p, cons in enumerate(net.consumers) if cons]
    return band_event_sums(n, group_band(n), np.zeros(len(prods), dtype=np.int64),
                           np.array(prods, dtype=np.int64),
                           np.array([min(net.consumers[p]) for p in prods], dtype=np.int64),
                           np.array([float(net.layers[p].out_elems) for p in prods]))[0]


def group_kept_bytes(m: Model, s: np.ndarray, e: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Bytes groups [s..e] keep on chip over the whole batch: (forward activations, backward
    gradients; 0 at inference)."""
    k = float(m.batch) * kept_elems_table(m.net)[s, e]
    return k * m.prec.activation, (k * m.prec.gradient if m.training else 0.0 * k)


def group_array_macs(m: Model, s: np.ndarray, e: np.ndarray, n: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """MAC slots the forward and the backward (dgrad + wgrad) passes of groups [s..e] occupy
    on the hardware's systolic arrays at sub-batch n (MACs / mapping efficiency, whole batch;
    :mod:`cnnmem.model.array`). None when the hardware gives no array shape (slots = MACs)."""
    if m.hw.array_rows <= 0:
        return None
    cs_f, cs_b, inverse = _array_mac_tables(m.net, m.hw, m.batch, m.input_gradient).columns(n)
    N = float(m.batch)
    e1 = np.asarray(e) + 1
    return (N * (cs_f[e1, inverse] - cs_f[s, inverse]),
            N * (cs_b[e1, inverse] - cs_b[s, inverse]))


@dataclass(frozen=True)
class GroupWork:
    """What groups [s..e] move and compute, from their traffic cells: DRAM bytes of the forward
    and backward passes, MACs (backward: wgrad and the dgrad backprop computes), array MAC
    slots (forward, backward) and bytes kept on chip (forward, backward)."""

    fwd_bytes: np.ndarray
    bwd_bytes: np.ndarray
    macs_f: np.ndarray
    macs_b: np.ndarray
    slots: tuple[np.ndarray, np.ndarray] | None
    kept_f: np.ndarray
    kept_b: np.ndarray


def group_work(m: Model, s: np.ndarray, e: int, n: np.ndarray,
               cells: dict[tuple[str, str], np.ndarray]) -> GroupWork:
    """:class:`GroupWork` of groups [s..e] at sub-batches ``n`` (one place for MBS and
    mbs-recompute)."""
    t, N = m.tables, float(m.batch)
    g = (s, e)
    fwd: np.ndarray = sum(cells[("forward", k)] for k in KINDS)  # type: ignore[assignment]
    bwd: np.ndarray = sum(  # type: ignore[assignment]
        cells[(p, k)] for p in ("dgrad", "wgrad") for k in KINDS)
    macs_f = N * t.macs[g]
    s_arr, e_arr = np.asarray(s), np.broadcast_to(e, np.shape(s))
    kept_f, kept_b = group_kept_bytes(m, s_arr, e_arr)
    return GroupWork(fwd, bwd, macs_f, macs_f + N * t.macs_dgrad[g],
                     group_array_macs(m, s_arr, e_arr, n), kept_f, kept_b)


def _group_terms(m: Model, s: np.ndarray, e: int, n: np.ndarray, cap_idx: np.ndarray
                 ) -> dict[str, np.ndarray]:
    """Full terms (cells, energy, times, need) of groups [s..e] per problem (arrays (P,))."""
    cells, need, ok = mbs_cells(m, s, e, n, m.caps[cap_idx])
    t = m.tables
    N = float(m.batch)
    ea, ew, eg = m.prec.activation, m.prec.weight, m.prec.gradient
    g = (s, e)
    w = group_work(m, s, e, n, cells)
    fwd, bwd, macs_f, macs_b, kept_f, kept_b = (w.fwd_bytes, w.bwd_bytes, w.macs_f, w.macs_b,
                                                w.kept_f, w.kept_b)
    slots_f, slots_b = (None, None) if w.slots is None else w.slots
    cap = m.caps[cap_idx]
    ef = energy_latency(m.hw, fwd, macs_f, ea + ew, N * t.vec_forward[g], slots_f,
                        capacity_bytes=cap, kept_bytes=kept_f)
    out = {cell_key(*c): v for c, v in cells.items()}
    if m.training:
        eb = energy_latency(m.hw, bwd, macs_b, (2 * eg + ew + ea) / 2, N * t.vec_dgrad[g],
                            slots_b, capacity_bytes=cap, kept_bytes=kept_b)
    else:
        eb = {k: np.zeros_like(v) for k, v in ef.items()}
    for key in ("energy_dram_pj", "energy_buffer_pj", "energy_compute_pj", "energy_static_pj",
                "latency_s", "compute_s", "memory_s"):
        out[key] = ef[key] + eb[key]
    out["dram_bytes"] = fwd + bwd
    out["macs"] = macs_f + macs_b if m.training else macs_f
    out["buffer_need_bytes"] = need
    fb = m.fallback
    # a single-layer group runs as the baseline layer at n = N, when its sub-batch does not fit,
    # or whenever that is no more DRAM traffic (the cheaper of the two, always)
    single = (s == e) & ((n >= m.batch) | ~ok
                         | (fb.fields["dram_bytes"][e, cap_idx] <= out["dram_bytes"]))
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


def plan_groups(m: Model, plan: Plan
                ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """The groups of a plan, one per last layer e that ends a group in some problem:
    (e, mask of the problems where it does, first layers s, sub-batches n), arrays (P,)."""
    for e_end in np.flatnonzero((plan.path >= 0).any(axis=1)):
        e = int(e_end)
        mask = plan.path[e] >= 0
        yield (e, mask, np.where(mask, plan.path[e], e),
               np.where(mask, plan.sub_batch[e], m.batch))


#: group costs an MBS result sums over a point's groups: the common ones and the DRAM cells
MBS_SUMMED = SUMMED + tuple(cell_key(*c) for c in CELLS)
#: the group table's columns (``extra`` columns of a variant follow ``run``)
ROW_HEAD = ("group", "first", "last", "layers", "n_layers", "sub_batch", "run")
ROW_TAIL = ("buffer_need_bytes", "dram_bytes") + tuple(f"dram_{k}_bytes" for k in KINDS) + (
    "dram_gradient_forks_bytes", "energy_pj", "latency_s")


def group_block(m: Model, shape: tuple[int, int], e: int, mask: np.ndarray, s: np.ndarray,
                n: np.ndarray, terms: dict[str, np.ndarray],
                labels: Callable[[int, dict[str, Any]], dict[str, Any]]) -> GroupBlock:
    """One group of a plan (the group ending at layer ``e`` in the problems of ``mask``) as a
    block of the strategy result: its terms as arrays (1, C, S) over the design points."""
    P = mask.size

    def point_array(v: Any) -> np.ndarray:
        a = np.asarray(v)
        return (a if a.shape == (P,) else np.broadcast_to(a, (P,))).reshape((1,) + shape)

    costs = {k: point_array(v) for k, v in terms.items()}
    costs.update(first=point_array(s), last=point_array(np.full(P, e)),
                 sub_batch=point_array(n))
    return GroupBlock(costs, point_array(mask), labels)


def row_labels(m: Model, v: dict[str, Any], run: str, forks: float) -> dict[str, Any]:
    """The text and by-kind columns of a group's table row from its values at the point: the
    layers, the run, DRAM bytes by tensor kind. Gradient accumulation at forks is booked to the
    producer's group and credited to a group that sums several consumers on chip: a signed
    column of its own, so the gradient column is the group's dY in + dX out (the row still
    adds up)."""
    s0, e = int(v["first"]), int(v["last"])
    names = [lay.name for lay in m.net.layers[s0: e + 1]]
    out: dict[str, Any] = {
        "first": s0, "last": e,
        "layers": names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}",
        "n_layers": len(names), "sub_batch": int(v["sub_batch"]), "run": run}
    for kind in KINDS:
        out[f"dram_{kind}_bytes"] = float(sum(v[cell_key(p, kind)] for p in PASSES))
    out["dram_gradients_bytes"] -= forks
    out["dram_gradient_forks_bytes"] = forks
    return out


def fork_bytes(m: Model, s0: int, e: int) -> float:
    """Gradient bytes a group accumulates at forks (its signed table column)."""
    return float(m.batch * m.tables.fork_elems[s0, e] * m.prec.gradient)


def mbs_labels(m: Model) -> Callable[[int, dict[str, Any]], dict[str, Any]]:
    def labels(_: int, v: dict[str, Any]) -> dict[str, Any]:
        single = bool(v["layerwise_group"])
        forks = 0.0 if single or not m.training else fork_bytes(m, int(v["first"]),
                                                                int(v["last"]))
        return row_labels(m, v, "layerwise" if single else "mbs", forks)

    return labels


def plan_blocks(m: Model, plan: Plan, shape: tuple[int, int]) -> Iterator[GroupBlock]:
    """The groups of an MBS plan, one block each (evaluated one at a time)."""
    labels = mbs_labels(m)
    for e, mask, s, n in plan_groups(m, plan):
        yield group_block(m, shape, e, mask, s, n, _group_terms(m, s, e, n, plan.cap_idx),
                          labels)


def derive_totals(batch: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Point totals from the summed cells: DRAM bytes by pass and by kind, throughput."""

    def derive(tot: dict[str, Any]) -> dict[str, Any]:
        out = {f"dram_{p}_bytes": np.sum([tot[cell_key(p, k)] for k in KINDS], axis=0)
               for p in PASSES}
        out.update({f"dram_{k}_bytes": np.sum([tot[cell_key(p, k)] for p in PASSES], axis=0)
                    for k in KINDS})
        out["throughput_per_s"] = batch / tot["latency_s"]
        return out

    return derive


def flat_totals(result: StrategyResult, with_groups: bool = False
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The roll-up of a result with its point arrays flattened to problems (P,)."""
    r = roll_up(result, table=with_groups)
    return {k: np.ravel(v) if isinstance(v, np.ndarray) else v
            for k, v in r.totals.items()}, r.rows


def evaluate(m: Model, plan: Plan, with_groups: bool = False
             ) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Totals per problem (arrays (P,)) and, optionally, per-group rows of problem 0: the
    shared roll-up (:func:`cnnmem.model.result.roll_up`) of the plan's groups."""
    shape = (plan.cap_idx.size, 1)
    return flat_totals(StrategyResult(
        "mbs", shape, lambda: plan_blocks(m, plan, shape), total_keys=(),
        columns=ROW_HEAD + ROW_TAIL, summed=MBS_SUMMED, derive=derive_totals(m.batch)),
        with_groups)
