"""``mbs-recompute``: the MBS DP with a per-group choice to stash or recompute (issue 18).

Part of :mod:`cnnmem.model.mbs` (the package docstring has the MBS group model this extends).

Each group of the MBS grouping either *stashes* (the MBS model unchanged: tensors its backward
needs that are produced inside it are written to DRAM in forward and read back in backward) or
*recomputes*: in backward, per sub-batch, the group re-reads its inputs from DRAM, runs its
forward again holding every tensor its backward needs on chip, then runs its backward.

A recomputing group of sub-batch n, relative to the same group stashing [cnnmem's model,
a reconstruction in the spirit of Checkmate-style rematerialization applied per MBS group]:

* forward: no stash writes (its outputs to later groups are written as before);
* backward: instead of every tensor its layers need (stashed or entering), it reads every
  tensor entering the group once more (``in_elems``; the tensors its layers need that enter
  the group are among them), booked as ``(dgrad, stash)``: under recomputation the group's
  input is its stash; the recomputed forward reads the group's weights once more per sub-batch
  (``S`` x the group's weights, booked as ``(dgrad, weights)``);
* MACs: the group's forward MACs again (and its element-wise forward operations), in the
  backward sweep's time and energy;
* buffer need: n x (peak live bytes per sample) + the weight working set, the peak taken over
  the group's steps (:func:`recompute_peak_bytes`): forward, the stash-mode live set plus every
  tensor produced so far that the group's backward needs (held from its recomputation on);
  backward, the stash-mode backward set plus the held tensors not yet consumed. Held and live
  tensors are added, not merged (one in both counts twice): conservative;
* a recomputing group never falls back to the conventional layer (that is the stash choice of
  a single-layer group); it runs the MBS way at any n <= N whose need fits.

The last group (any suffix [k..L-1] of the network, the loss at its end) has a third choice,
*one pass*: per sub-batch its forward and then at once its backward (gradient accumulation over
the sub-batches), holding the tensors its backward needs in between: no stash traffic, no
input re-read, no second forward; weights read once per sub-batch in each pass and dW
accumulated or read-modify-written as in MBS; buffer need as a recomputing group's. It
recomputes nothing (class R0 of :mod:`cnnmem.model.training_bound`). A suffix of several
groups run in one pass per sub-batch is not modelled.

The DP minimizes the summed DRAM bytes over cut points, sub-batches and the per-group choice;
each group's cost is the cheapest of its stash cost (:func:`best_group_dram`, exactly
mbs-optimal's), its recompute cost and (last group) its one-pass cost, ties going to stashing,
so the optimum is never above mbs-optimal's. The choice is recorded in the schedule table's
``recompute`` and ``backward`` (stash / recompute / one-pass) columns and in the totals
(``recompute_groups``, ``one_pass_groups``, ``recompute_macs``); a sweep row records the cuts
only and is re-run by strategy name (the DP is deterministic, so it reproduces the same
per-group choices).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np

from cnnmem.model.cost import energy_latency
from cnnmem.model.gconv import PASSES
from cnnmem.model.grouping import consecutive_dp, cut_mask, cuts_of_path
from cnnmem.model.mbs.band import Banded, PairTable, band_event_sums, band_store
from cnnmem.model.mbs.plans import BlockedCost, Plan
from cnnmem.model.mbs.rollup import (
    MBS_SUMMED,
    ROW_HEAD,
    ROW_TAIL,
    _group_terms,
    derive_totals,
    flat_totals,
    fork_bytes,
    group_block,
    group_work,
    plan_groups,
    row_labels,
)
from cnnmem.model.mbs.tables import (
    CELLS,
    KINDS,
    NOTE_NORM,
    LiveWindow,
    _needs,
    band_notes,
    cell_key,
    group_band,
)
from cnnmem.model.mbs.traffic import Model, best_group_dram, build_model, fitting_sub_batch
from cnnmem.model.precision import Precision
from cnnmem.model.result import GroupBlock, StrategyResult
from cnnmem.model.schedule import (
    INPUT_GRADIENT,
    TRAINING,
    OptionSpec,
    StrategySpec,
    SweepRequest,
    input_gradient_on,
    register,
)
from cnnmem.workload.network import Network

NAME = "mbs-recompute"


def _first_needs(net: Network, input_gradient: bool) -> np.ndarray:
    """Per layer output t: the first layer whose backward needs it (L: none)."""
    n = len(net)
    first_need = np.full(n, n, dtype=np.int64)
    for i, ts in enumerate(_needs(net, True, input_gradient)):
        for t in ts:
            if t < n:
                first_need[t] = min(first_need[t], i)
    return first_need


@lru_cache(maxsize=16)
def inner_needed_elems(net: Network, input_gradient: bool = False) -> PairTable:
    """Per-sample elements of the tensors produced in group [s..e] that a layer of the group
    needs in backward (what a recomputing group holds on chip), for the groups of the tables'
    band: a group holds t when s <= t (producer inside) and e >= its first needer."""
    n = len(net)
    first = _first_needs(net, input_gradient)
    held = np.flatnonzero(first < n)
    return band_event_sums(n, group_band(n), np.zeros(held.size, dtype=np.int64), held,
                           first[held], net.out_elems[held].astype(float))[0]


@lru_cache(maxsize=16)
def recompute_peak_bytes(net: Network, prec: Precision, held: bool = True,
                         input_gradient: bool = False) -> PairTable:
    """Peak live bytes per sample of a recomputing group [s..e], for the groups of the tables'
    band (``held=False``: the stash-mode peak of
    :func:`cnnmem.model.mbs.tables.group_tables`, the same sweep, a check).

    At each step l of the group: forward, the stash-mode forward live set plus every tensor
    produced in [s..l] that a layer of the group needs in backward (held from its recomputation
    on); backward, the stash-mode backward set (gradients of the live tensors and the tensors
    layer l reads) plus every tensor produced in [s..l] needed by a layer in [s..l] (not yet
    back-propagated). The held tensors are added to the live set, not merged with it (a tensor
    in both counts twice): an upper bound on the live bytes.

    Swept over the group end e with the stash-mode live set (:class:`LiveWindow`): every
    value at a step l only grows with e, so the peak of [s..e] is that of [s..e-1] or a value
    at a step changed by layer e (the live set's, or held tensors first needed at e); O(L x
    band x changed steps) numpy work and O(L x band) memory, cached."""
    n = len(net)
    ea, eg = prec.activation, prec.gradient
    band = group_band(n)
    needs = _needs(net, True, input_gradient)
    first_need = _first_needs(net, input_gradient)
    win = LiveWindow(net, band, extra=2)  # buffers: live, held forward, held backward
    need_col = np.array([sum(win.elems[t] for t in ts) for ts in needs])
    el = win.elems[:n] if held else np.zeros(n)
    newly: list[list[int]] = [[] for _ in range(n)]  # layer e: tensors t < e first needed at e
    for t in range(n):
        if first_need[t] < n and t < first_need[t]:
            newly[int(first_need[t])].append(t)
    running = np.zeros(n)
    # live set + held tensors, each at most every tensor once: integers up to these bytes
    out = band_store(n, band, (2 * win.elems.sum() + need_col.max(initial=0.0)) * max(ea, eg),
                     float(ea).is_integer() and float(eg).is_integer())
    for e in range(n):
        lo = win.advance(e)
        w0 = win.window(e)
        o = win.base
        # held at step e of [s..e]: produced in [s..e], first needed at or before e
        heldv = el[w0: e + 1] * (first_need[w0: e + 1] <= e)
        q = np.cumsum(heldv[::-1])[::-1]  # q[s - w0] = sum over t in [s..e]
        win.bufs[1][w0 - o: e - o + 1, e - o] = q
        win.bufs[2][w0 - o: e - o + 1, e - o] = q
        for t in newly[e]:  # now held in the forward of the groups holding t, at steps t..e-1
            if t >= w0:
                win.bufs[1][w0 - o: t - o + 1, t - o: e - o] += el[t]
                lo = min(lo, t)
        sub = win.block(0, w0, lo, e)
        fwd = (sub + win.block(1, w0, lo, e)) * ea
        bwd = sub * eg + (need_col[None, lo: e + 1] + win.block(2, w0, lo, e)) * ea
        mask = np.arange(lo, e + 1)[None, :] >= np.arange(w0, e + 1)[:, None]
        best = np.where(mask, np.maximum(fwd, bwd), 0.0).max(axis=1)
        running[w0: e + 1] = np.maximum(running[w0: e + 1], best)
        out[e, : e - w0 + 1] = running[w0: e + 1][::-1]
    return Banded(out)


#: a group's backward: stash (MBS), recompute, or one pass (last group only)
STASH, RECOMPUTE, ONE_PASS = 0, 1, 2
MODE_NAMES = ("stash", "recompute", "one-pass")


def recompute_parts(m: Model, s: np.ndarray, e: int | np.ndarray, one_pass: bool = False
                    ) -> dict[str, Any]:
    """Sub-batch-independent DRAM bytes (``base``), per-sample buffer bytes (``peak``) and
    weight reads per sub-batch (``weight_passes``) of recomputing groups [s..e] (arrays like
    s); ``one_pass``: the last group run forward then backward per sub-batch (no input re-read,
    no second forward)."""
    t, N = m.tables, float(m.batch)
    ea, eg = m.prec.activation, m.prec.gradient
    g = (s, e)
    act = t.in_elems[g] + t.out_elems[g]
    reread = 0.0 if one_pass else t.in_elems[g] * ea
    base = N * (act * ea + (act + t.fork_elems[g]) * eg + reread)
    peak = recompute_peak_bytes(m.net, m.prec, input_gradient=m.input_gradient)[g]
    return {"base": base, "peak": peak, "weight_passes": 2.0 if one_pass else 3.0}


def recompute_group_dram(m: Model, s: np.ndarray, e: int, n: np.ndarray, cap_idx: np.ndarray,
                         one_pass: bool = False) -> np.ndarray:
    """DRAM bytes of recomputing groups [s..e] at sub-batch n, capacity index cap_idx
    (broadcast; inf where the need does not fit). The explicit form the DP's closed form is
    tested against."""
    t, N = m.tables, float(m.batch)
    ew, eg = m.prec.weight, m.prec.gradient
    s = np.asarray(s)
    n = np.asarray(n, dtype=float)
    g = (s, e)
    parts = recompute_parts(m, s, e, one_pass)
    wsum = t.weight_elems[g]
    S = np.ceil(N / n)
    peak = parts["peak"] * n
    cap = m.caps[cap_idx]
    wts = parts["base"] + S * wsum * (parts["weight_passes"] * ew)
    return np.where(peak + t.weight_acc_bytes[g] <= cap, wts + wsum * eg,
                    np.where(peak + t.weight_ws_bytes[g] <= cap,
                             wts + (2.0 * S - 1.0) * wsum * eg, np.inf))


def best_recompute_dram(m: Model, s: np.ndarray, e: int | np.ndarray, one_pass: bool = False
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Least DRAM bytes of recomputing groups [s..e] over every sub-batch 1..N per capacity and
    the sub-batch giving it, arrays (len(s), C): the closed form of :func:`best_group_dram`
    (within a regime the largest fitting n is best; ties to the larger n)."""
    t, N = m.tables, float(m.batch)
    ew, eg = m.prec.weight, m.prec.gradient
    s = np.asarray(s)
    g = (s, e)
    parts = recompute_parts(m, s, e, one_pass)
    wsum = t.weight_elems[g][:, None]
    peak = parts["peak"][:, None]
    cap = m.caps[None, :]
    best = np.full((s.size, m.caps.size), np.inf)
    best_n = np.zeros((s.size, m.caps.size))
    for accumulate, ws in ((True, t.weight_acc_bytes[g]), (False, t.weight_ws_bytes[g])):
        n_fit = fitting_sub_batch(peak, ws, cap, N)
        S = np.ceil(N / np.maximum(n_fit, 1.0))
        dw = wsum * eg * (1.0 if accumulate else 2.0 * S - 1.0)
        cost = np.where(n_fit >= 1, parts["base"][:, None]
                        + S * wsum * (parts["weight_passes"] * ew) + dw, np.inf)
        take = cost < best if accumulate else cost <= best
        best = np.where(take, cost, best)
        best_n = np.where(take, np.ceil(N / S), best_n)
    return best, best_n


def plan_recompute(m: Model) -> tuple[Plan, np.ndarray]:
    """The DP over cuts, sub-batches and each group's backward mode: the plan and the (L, C)
    mode (STASH, RECOMPUTE, ONE_PASS) of the group ending at each layer (STASH elsewhere)."""
    L = len(m.net)

    def cost(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        best, n_best = best_group_dram(m, starts, ends)
        mode = np.zeros(best.shape, dtype=np.int64)
        last = ends == L - 1  # one pass: the last group only
        options = [(RECOMPUTE, False, None)] + ([(ONE_PASS, True, last)] if last.any() else [])
        for code, one_pass, only in options:
            c, n = best_recompute_dram(m, starts, ends, one_pass)
            use = c < best  # ties: the earlier mode (stash first: the mbs-optimal choice)
            if only is not None:
                use &= only[:, None]
            best, n_best = np.where(use, c, best), np.where(use, n, n_best)
            mode = np.where(use, code, mode)
        return best, 3 * n_best.astype(np.int64) + mode

    res = consecutive_dp(L, BlockedCost(m, cost, m.caps.size), m.caps.size)
    ends = res.path >= 0
    plan = Plan(res.path, np.where(ends, res.choice // 3, 0), np.arange(m.caps.size), 1)
    return plan, np.where(ends, res.choice % 3, STASH)


def _recompute_terms(m: Model, s: np.ndarray, e: int, n: np.ndarray, cap_idx: np.ndarray,
                     one_pass: bool = False) -> dict[str, np.ndarray]:
    """Cells, energy, times and need of recomputing (or ``one_pass``) groups [s..e] per
    problem (arrays (P,))."""
    t, N = m.tables, float(m.batch)
    ea, ew, eg = m.prec.activation, m.prec.weight, m.prec.gradient
    g = (s, e)
    n = np.asarray(n, dtype=float)
    S = np.ceil(N / n)
    cap = m.caps[cap_idx]
    wsum = t.weight_elems[g]
    peak = recompute_parts(m, s, e)["peak"] * n
    acc = peak + t.weight_acc_bytes[g] <= cap
    ok = peak + t.weight_ws_bytes[g] <= cap
    zero = np.zeros(np.broadcast_shapes(np.shape(s), n.shape, cap.shape))
    cells = {c: zero for c in CELLS}
    cells[("forward", "activations")] = zero + N * (t.in_elems[g] + t.out_elems[g]) * ea
    cells[("forward", "weights")] = zero + S * wsum * ew
    cells[("dgrad", "gradients")] = zero + N * (t.in_elems[g] + t.out_elems[g]
                                                + t.fork_elems[g]) * eg
    if not one_pass:  # re-read the group's inputs; the recomputed forward re-reads weights
        cells[("dgrad", "stash")] = zero + N * t.in_elems[g] * ea
    cells[("dgrad", "weights")] = zero + (1.0 if one_pass else 2.0) * S * wsum * ew
    cells[("wgrad", "weights")] = zero + np.where(acc, 1.0, 2.0 * S - 1.0) * wsum * eg
    w = group_work(m, s, e, n, cells)
    fwd, bwd, macs_f, macs_b, slots, kept_f, kept_b = (w.fwd_bytes, w.bwd_bytes, w.macs_f,
                                                       w.macs_b, w.slots, w.kept_f, w.kept_b)
    ef = energy_latency(m.hw, fwd, macs_f, ea + ew, N * t.vec_forward[g],
                        None if slots is None else slots[0], capacity_bytes=cap,
                        kept_bytes=kept_f)
    if one_pass:  # backward as in MBS
        eb = energy_latency(m.hw, bwd, macs_b, (2 * eg + ew + ea) / 2,
                            N * t.vec_dgrad[g], None if slots is None else slots[1],
                            capacity_bytes=cap, kept_bytes=kept_b)
    else:  # backward: the recomputed forward (operands ea + ew) and dgrad + wgrad (as in MBS)
        eb = energy_latency(m.hw, bwd, macs_f + macs_b,
                            (macs_f * (ea + ew) + macs_b * (2 * eg + ew + ea) / 2)
                            / np.maximum(macs_f + macs_b, 1.0),
                            N * (t.vec_forward[g] + t.vec_dgrad[g]),
                            None if slots is None else slots[0] + slots[1],
                            capacity_bytes=cap, kept_bytes=kept_f + kept_b)
    out = {cell_key(*c): v for c, v in cells.items()}
    for key in ("energy_dram_pj", "energy_buffer_pj", "energy_compute_pj", "energy_static_pj",
                "latency_s", "compute_s", "memory_s"):
        out[key] = ef[key] + eb[key]
    out["dram_bytes"] = fwd + bwd
    out["macs"] = zero + macs_f + macs_b + (0.0 if one_pass else macs_f)
    out["buffer_need_bytes"] = zero + np.where(acc, peak + t.weight_acc_bytes[g],
                                               peak + t.weight_ws_bytes[g])
    for key in out:
        if key not in ("macs", "buffer_need_bytes"):
            out[key] = np.where(ok, out[key], np.inf)
    return out


#: the group table's columns: MBS's, with the backward mode after ``run``
COLUMNS = ROW_HEAD + ("recompute", "backward", "recompute_macs") + ROW_TAIL
#: the schedule's totals
TOTAL_KEYS = (
    "dram_bytes", "energy_pj", "latency_s", "energy_dram_pj", "energy_buffer_pj",
    "energy_compute_pj", "energy_static_pj", "compute_s", "memory_s", "macs", "recompute_macs",
    "buffer_need_bytes") + tuple(f"dram_{x}_bytes" for x in PASSES + KINDS) + tuple(
    cell_key(*c) for c in CELLS) + ("groups", "recompute_groups", "one_pass_groups",
                                    "throughput_per_s", "cuts")
NOTES = (NOTE_NORM,
         "recompute: a group marked True re-reads its inputs and reruns its forward in "
         "backward instead of stashing (cnnmem's reconstruction; mbs/recompute.py)",
         "dram_over_bound of mbs-recompute is against bound 2 (recomputation allowed, "
         "docs/training_bound.md): bound 1 does not hold for recomputing schedules")


def _labels(m: Model) -> Any:
    def labels(_: int, v: dict[str, Any]) -> dict[str, Any]:
        single = bool(v["layerwise_group"]) and not (v["recompute_groups"]
                                                     or v["one_pass_groups"])
        forks = 0.0 if single else fork_bytes(m, int(v["first"]), int(v["last"]))
        return {**row_labels(m, v, "layerwise" if single else "mbs", forks),
                "recompute": bool(v["recompute_groups"]), "backward": MODE_NAMES[v["mode"]]}

    return labels


def recompute_blocks(m: Model, plan: Plan, mode: np.ndarray, shape: tuple[int, int]
                     ) -> Iterator[GroupBlock]:
    """The groups of a plan and their (L, C) backward modes, one block each: the stash terms
    of MBS, or the recomputing / one-pass terms where the group's mode says so."""
    labels = _labels(m)
    for e, mask, s, n in plan_groups(m, plan):
        stash = _group_terms(m, s, e, n, plan.cap_idx)
        rec = _recompute_terms(m, s, e, n, plan.cap_idx)
        one = _recompute_terms(m, s, e, n, plan.cap_idx, one_pass=True)
        r = (mode[e] == RECOMPUTE) & mask
        o = (mode[e] == ONE_PASS) & mask
        terms = {k: np.where(r, rec[k], np.where(o, one[k], stash[k])) for k in rec}
        terms.update(layerwise_group=stash["layerwise_group"], mode=mode[e],
                     recompute_groups=r.astype(np.int64), one_pass_groups=o.astype(np.int64),
                     recompute_macs=np.where(r, float(m.batch) * m.tables.macs[s, e], 0.0))
        yield group_block(m, shape, e, mask, s, n, terms, labels)


def recompute_result(m: Model, plan: Plan, mode: np.ndarray) -> StrategyResult:
    """The strategy result of a plan and its backward modes, over the model's capacities."""
    shape = (m.caps.size, 1)
    return StrategyResult(
        NAME, shape, lambda: recompute_blocks(m, plan, mode, shape), total_keys=TOTAL_KEYS,
        columns=COLUMNS,
        summed=MBS_SUMMED + ("recompute_groups", "one_pass_groups", "recompute_macs"),
        totals={"cuts": ",".join(str(c) for c in cuts_of_path(plan.path)[0])},
        derive=derive_totals(m.batch), cuts=cut_mask(plan.path),
        notes=NOTES + band_notes(len(m.net)))


def evaluate_recompute(m: Model, plan: Plan, mode: np.ndarray, with_groups: bool = False
                       ) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Totals per capacity (arrays (C,)) and, optionally, per-group rows of capacity 0, of a
    plan and its (L, C) backward modes (:func:`plan_recompute`)."""
    return flat_totals(recompute_result(m, plan, mode), with_groups)


def evaluate_strategy(req: SweepRequest) -> StrategyResult:
    """mbs-recompute's one evaluator: the DP's plan at every capacity."""
    m = build_model(req.network, req.hardware, req.batch, req.capacity_bytes, True,
                    str(req.options["weight_tile"]), input_gradient_on(req.options))
    plan, mode = plan_recompute(m)
    return recompute_result(m, plan, mode)


SPEC = StrategySpec(
    NAME, (TRAINING,),
    "MBS DP-optimal grouping with a per-group choice: stash activations or recompute them "
    "from the group's input in backward",
    options=(OptionSpec("weight_tile", "layer", ("layer", "channel"),
                        help="weights of a group held per layer or per output channel"),
             INPUT_GRADIENT),
    sub_batch="chooses", recomputes=True, capacity_table=True,
    latency="sum over groups of max(compute, memory) per pass; recomputed forward in backward")

register(SPEC)(evaluate_strategy)
