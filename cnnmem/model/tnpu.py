"""TNPU: concurrent conv (CVL) and FC (FCL) work in CNN training, and its two baselines.

TNPU (ASP-DAC 2019, papers.md section 4) "runs CVL and FCL work concurrently in one computing unit
with a simplified out-of-order scheduler": while the FC work of the current sample runs, conv work
of the next sample of the mini-batch fills the rest of the unit. Strategies:

* ``tnpu``: conv and FC work busy concurrently, out-of-order across samples;
* ``dnpu-like``: two separate units (P_c conv PEs, P_f FC PEs); a sample's phases run one after
  another and the next sample starts when the previous one is done (no overlap across the
  dependency);
* ``dadiannao-like``: one unit of all ``mac_units`` PEs, time-multiplexed between conv and FC
  work, sequential.

How TNPU's PEs are shared (option ``pe_sharing``):

* ``dynamic`` (default): the abstract's reading, ONE processing unit (PU) of P_c + P_f PEs
  (17x16 = 272) whose PE rows the scheduler assigns to conv or FC work. When both kinds have an
  event running, the PU is split as the reading notes give it (P_c = 256 conv + P_f = 16 FC PEs);
  when only one kind has work, that work gets the whole PU (work-conserving). The allocation is
  re-evaluated whenever an event starts or finishes (PE rows re-assigned at event boundaries, not
  fixed for the whole phase): a running event progresses at the rate 1 / (its time at the current
  allocation), i.e. the fraction of its work done so far is assumed to be spread evenly over its
  layer-passes [reconstruction]. Consequences: batch 1 has no cross-sample overlap and every
  event runs alone on all PEs, i.e. equals ``dadiannao-like`` exactly; the PU is never idle while
  work remains; because t(split) <= t(all) x P/P_c for conv and <= t(all) x P/P_f for FC, the
  PU always does at least one all-PE second of work per second, so without bandwidth
  contention TNPU is never slower than ``dadiannao-like`` (and likewise ``dnpu-like``), and at
  most 2x faster than ``dadiannao-like`` (its sequential schedule); with the shared DRAM
  bandwidth slowing concurrent memory-bound events it can lose a little. Its speedup over
  ``dnpu-like`` CAN exceed 2: when conv work has nothing ready, FC work borrows all 272 PEs,
  while DNPU-like's FC unit has 16.
  (A simpler rule "allocation fixed when an event starts" was rejected: an FC event started
  beside conv work keeps 16 PEs after the conv work runs dry, which for compute-bound FC work,
  e.g. LeNet-5 with its FC weights on chip, is slower than DaDianNao-like.)
* ``static``: a fixed split into a conv unit (P_c) and an FC unit (P_f), the secondary reading
  "a PU of 17x16 PEs split into a conv part and a small FC part". It loses to ``dadiannao-like``
  where FC work is compute-bound (LeNet-5) and at batch 1 (nothing to overlap, 16 PEs idle).

Model [reconstruction; the paper's text gives the idea, not the equations]:

* Work per sample. The network splits at its first FC layer: layers before it are conv work
  (CVL), the rest FC work (FCL). Each part has three phases, the paper's FP, BP and GD
  (= the cost core's ``forward``, ``dgrad`` and ``wgrad`` passes); WU is ignored as in the
  paper. MACs and DRAM bytes of each layer-pass come from the shared cost core
  (:func:`cnnmem.model.cost.layer_pass_costs`) evaluated at batch 1, because all three
  strategies process the mini-batch sample by sample: FC weights are streamed per sample
  (read in FP and BP; in GD the running sum of dW read back, except by the first sample, and
  written: a read-modify-write per sample). When a part's weights and weight gradients fit in the
  buffer (option ``resident=auto``; for the conv part: with the FC weights as well), they stay
  on chip for the whole mini-batch: their per-sample weight traffic is replaced by one load of W
  and one store of dW per mini-batch, amortised over the samples.
* Time of one (sample, part, phase) item = sum over its layer-passes of the roofline
  max(MACs / (P x clock x utilization), DRAM bytes / bandwidth), P = the PEs that run it.
  Element-wise layers are fused into their producers by default (no time, no traffic,
  as papers.md's t_C / t_F); ``elementwise=stream`` adds the cost core's streaming traffic and
  vector operations. Fused, an element-wise layer keeps no stash for backward, which must then
  re-derive its values from the stored conv/FC tensors next to it (as in-place activated
  batchnorm does): a schedule with recomputation, so ``dram_over_bound`` is against bound 2 of
  :mod:`cnnmem.model.training_bound` (bound 1 with ``elementwise=stream``). The re-derivation's
  element-wise work is not charged, like the fused forward's [reconstruction].
* Event schedule of one mini-batch: per sample six events (conv FP, FC FP, FC BP, FC GD,
  conv BP, conv GD; samples x phases x 2 events), chained by the bidirectional dependency
  (conv FP -> FC FP -> FC BP -> conv BP -> conv GD, and FC BP -> FC GD: backprop needs only
  the FC data gradient; the sequential baselines run the six in the order listed). Samples
  are independent (WU ignored). Conv work and FC work each run their events one at a time in
  a fixed order (two lanes: the conv and FC units for ``static``, the conv and FC shares of
  the PU for
  ``dynamic``); an event starts when its predecessor in the chain and its lane are both free.
  TNPU's conv lane looks ``lookahead`` samples ahead (default 1, "the next sample", as the paper
  describes): its order is FP(0..k), then per sample s BP(s), GD(s), FP(s+k+1). The FC lane
  takes samples in order. With batch 1 there is nothing to overlap: static TNPU equals
  DNPU-like and dynamic TNPU equals DaDianNao-like exactly.
* Steady state (papers.md, static split): TNPU ~ N x max(t_C, t_F) + fill; DNPU-like =
  N x (t_C + t_F); DaDianNao-like = N x (t_C(all PEs) + t_F(all PEs)). Speedup over the
  sequential schedule of the same PEs (DNPU-like for static, DaDianNao-like for dynamic) <= 2.
* The two lanes share the DRAM bandwidth, always (issue #12 item 1): concurrent events slow
  down together when their byte rates add up to more than the bandwidth
  (:func:`simulate_shared_pu`), so the makespan is never below all DRAM bytes / bandwidth.
  The paper's timing model (and papers.md) ignore the conv work's traffic while FC work
  streams; that reading let AlexNet batch 50 move 37.36 GB in 2.078 s on 17.1 GB/s.
* Energy (pJ) = static power x makespan (time-proportional power) + MACs x pJ/MAC + DRAM and
  buffer accesses x pJ/byte. The paper sets memory energy to zero: hw/tnpu.yaml and the
  baseline presets have zero memory energies, and ``memory_energy=off`` zeroes them for any
  hardware (the scenario switch). With equal power and zero memory energy the energy reduction
  is exactly 1 - 1/speedup.
* ``pe_sharing`` applies to ``tnpu`` only; the baselines ignore it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cnnmem.errors import InputError
from cnnmem.hardware import Hardware
from cnnmem.model import rollup
from cnnmem.model.cost import layer_pass_costs
from cnnmem.model.gconv import PASSES
from cnnmem.model.result import GroupBlock, StrategyResult
from cnnmem.model.schedule import (
    INPUT_GRADIENT,
    TRAINING,
    OptionSpec,
    StrategySpec,
    SweepRequest,
    TimelineData,
    register,
)
from cnnmem.workload.layers import FC
from cnnmem.workload.network import INPUT, Network

CONV, FCP = "conv", "fc"  # the two parts (and the two units of tnpu / dnpu-like)
PARTS = (CONV, FCP)
PHASES = PASSES  # forward, dgrad, wgrad
PHASE_LABEL = {"forward": "FP", "dgrad": "BP", "wgrad": "GD"}
#: one sample's events in dependency order (part, phase)
CHAIN = ((CONV, "forward"), (FCP, "forward"), (FCP, "dgrad"), (FCP, "wgrad"),
         (CONV, "dgrad"), (CONV, "wgrad"))
#: chain position each event of TNPU waits for (-1: none). Backprop needs only the FC data
#: gradient: conv BP waits for FC BP, not for FC GD (issue #12 item 9); the sequential
#: baselines keep the whole chain (a sample's phases one after another)
TNPU_PREDECESSOR = (-1, 0, 1, 2, 2, 4)
CHAIN_PREDECESSOR = (-1, 0, 1, 2, 3, 4)
STRATEGIES = ("tnpu", "dnpu-like", "dadiannao-like")
SHARED = "shared"  # the single time-multiplexed unit of dadiannao-like

_OPTIONS = (
    OptionSpec("lookahead", 1, minimum=0,
               help="samples ahead a unit may run out of order"),
    OptionSpec("resident", "auto", ("auto", "never"),
               help="keep a part's W + dW on chip over the mini-batch when they fit"),
    OptionSpec("elementwise", "fused", ("fused", "stream"),
               help="element-wise layers fused into their producer, or streamed"),
    OptionSpec("memory_energy", "on", ("on", "off"),
               help="charge DRAM and buffer energy (off: the TNPU paper's assumption)"),
    OptionSpec("timeline_samples", 4, minimum=1, help="samples drawn by --timeline"),
    INPUT_GRADIENT,
)
_PE_SHARING = OptionSpec("pe_sharing", "dynamic", ("dynamic", "static"),
                         help="one PU re-split at event boundaries, or fixed conv/FC units")
_LATENCY = "makespan of the simulated unit timeline over the mini-batch"
#: fused element-wise layers keep no stash of their own: backward re-derives their values from
#: the stored conv/FC outputs next to them (as in-place activated batchnorm does), which is
#: recomputation, so the training bound of these settings is bound 2 (docs/training_bound.md;
#: the re-derivation's element-wise work is not charged, like the fused forward's)
_RECOMPUTES = (("elementwise", "fused"),)
SPECS: dict[str, StrategySpec] = {
    "tnpu": StrategySpec(
        "tnpu", (TRAINING,),
        "TNPU: conv and FC work busy concurrently in one PU, out-of-order across the samples "
        "of a mini-batch (training; -O pe_sharing=dynamic|static)",
        options=_OPTIONS + (_PE_SHARING,), latency=_LATENCY,
        recomputes_when=_RECOMPUTES),
    "dnpu-like": StrategySpec(
        "dnpu-like", (TRAINING,),
        "separate conv and FC units, a sample's conv and FC work not overlapped (TNPU's DNPU "
        "baseline)", options=_OPTIONS, latency=_LATENCY,
        recomputes_when=_RECOMPUTES),
    "dadiannao-like": StrategySpec(
        "dadiannao-like", (TRAINING,),
        "all PEs time-multiplexed between conv and FC work, sequential (TNPU's DaDianNao "
        "baseline)", options=_OPTIONS, latency=_LATENCY,
        recomputes_when=_RECOMPUTES),
}


def parse_options(options: dict[str, Any]) -> dict[str, Any]:
    """Validate ``-O`` options (strings from the CLI or YAML values) and fill in defaults (the
    union of the three strategies' options: ``tnpu``'s spec)."""
    return SPECS["tnpu"].parse_options(options)


def unit_pes(hw: Hardware) -> tuple[float, float]:
    """(conv PEs, FC PEs) of a split-unit hardware; one missing count is the rest of mac_units."""
    conv, fc = hw.conv_mac_units, hw.fc_mac_units
    if conv is None and fc is None:
        raise InputError(f"hardware '{hw.name}' has no conv/FC unit split: give conv_mac_units "
                         "and fc_mac_units (or use --strategy dadiannao-like)",
                         field="conv_mac_units")
    if conv is None:
        assert fc is not None
        conv = hw.mac_units - fc
    if fc is None:
        fc = hw.mac_units - conv
    if conv <= 0 or fc <= 0:
        raise InputError(f"conv_mac_units + fc_mac_units must leave both positive, got "
                         f"{conv:g} + {fc:g}", field="conv_mac_units")
    return float(conv), float(fc)


def part_of_layers(net: Network) -> np.ndarray:
    """Part of every layer: 0 = conv (before the first FC layer), 1 = FC (from it on)."""
    fams = [layer.family for layer in net.layers]
    first_fc = fams.index(FC) if FC in fams else len(fams)
    return (np.arange(len(fams)) >= first_fc).astype(np.int64)


@dataclass(frozen=True)
class SampleWork:
    """Per-sample work of each (part, phase) item, vectorized over buffer capacities.

    ``macs[item]``, ``vector_ops[item]``: (n_layer_passes,); ``dram_bytes[item]``:
    (n_layer_passes, n_capacity). ``resident[part]``: (n_capacity,) whether that part's weights
    stay on chip over the mini-batch. ``buffer_need_bytes``: (n_capacity,).
    """

    macs: dict[tuple[str, str], np.ndarray]
    vector_ops: dict[tuple[str, str], np.ndarray]
    dram_bytes: dict[tuple[str, str], np.ndarray]
    operand_buffer_bytes: dict[tuple[str, str], np.ndarray]  # (n_layer_passes,) per sample
    resident: dict[str, np.ndarray]
    buffer_need_bytes: np.ndarray
    capacity_bytes: np.ndarray


def sample_work(net: Network, hw: Hardware, batch: int, capacity_bytes: np.ndarray | None = None,
                *, resident: str = "auto", elementwise: str = "fused",
                input_gradient: bool = False) -> SampleWork:
    """Per-sample MACs and DRAM bytes of every (part, phase), from the cost core at batch 1."""
    if not any(layer.is_compute for layer in net.layers):
        raise InputError(f"network '{net.name}' has no conv or FC layer: the TNPU strategies "
                         "schedule conv/FC work (element-wise layers are fused into it)",
                         field="network")
    cap = np.atleast_1d(np.asarray([hw.buffer_bytes] if capacity_bytes is None
                                   else capacity_bytes, float))
    costs = layer_pass_costs(net, hw, [1], cap, training=True, include_streaming=True,
                             input_gradient=input_gradient)
    # fused: element-wise layers run in their producer's output path and cost nothing, except
    # one that reads the network input (no producer to fuse into): its forward pass streams it
    rows = np.array([elementwise == "stream" or net.layers[i].is_compute
                     or (INPUT in net.layers[i].inputs and p == "forward")
                     for i, p in zip(costs.layer_index, costs.pass_name, strict=True)])
    layer_index = costs.layer_index[rows]
    part = part_of_layers(net)[layer_index]
    w_elems = net.weight_elems.astype(float)
    wbytes_layer = {  # weight traffic of one pass of one sample, per layer
        "forward": w_elems * hw.bytes_per_weight, "dgrad": w_elems * hw.bytes_per_weight,
        "wgrad": w_elems * hw.bytes_per_gradient}
    part_w = np.array([w_elems[part_of_layers(net) == p].sum() for p in (0, 1)])
    # W + dW of a part kept on chip for the whole mini-batch [reconstruction]
    keep = part_w * (hw.bytes_per_weight + hw.bytes_per_gradient)
    if resident == "auto":
        res_fc = keep[1] <= cap
        res_conv = keep[0] + np.where(res_fc, keep[1], 0.0) <= cap
    else:
        res_fc = res_conv = np.zeros(cap.size, bool)
    res = {CONV: res_conv, FCP: res_fc}
    pass_names = np.array(costs.pass_name)[rows]
    dram = costs.dram_bytes[rows, 0, :]  # (n_items, n_cap)
    opnd = costs.buffer_access_bytes[rows, 0, 0] - 2.0 * np.nan_to_num(dram[:, 0], posinf=0.0)
    item_macs, item_compute_s = costs.macs[rows, 0], costs.compute_s[rows, 0, 0]
    macs, vec, byts, ob = {}, {}, {}, {}
    for p_idx, p in enumerate(PARTS):
        for ph in PHASES:
            sel = (part == p_idx) & (pass_names == ph)
            wb = wbytes_layer[ph][layer_index[sel]][:, None]
            per_sample = dram[sel]
            if ph == "wgrad":  # streamed dW: every sample after the first reads the running
                # sum back before adding its own (read-modify-write; issue #12 item 9)
                per_sample = per_sample + wb * (batch - 1) / batch
            amortised = np.maximum(dram[sel] - wb, 0.0) + wb / batch
            byts[(p, ph)] = np.where(res[p][None, :], amortised, per_sample)
            macs[(p, ph)] = item_macs[sel]
            vec[(p, ph)] = (np.zeros(int(sel.sum())) if elementwise == "fused"
                            else _vector_ops(item_compute_s[sel], item_macs[sel], hw))
            ob[(p, ph)] = opnd[sel]
    need_rows = costs.buffer_need_bytes[rows, 0, :]
    need = np.where(np.isfinite(need_rows), need_rows, 0.0).max(axis=0, initial=0.0)
    need = need + np.where(res_fc, keep[1], 0.0) + np.where(res_conv, keep[0], 0.0)
    return SampleWork(macs, vec, byts, ob, res, need, cap)


def _vector_ops(compute_s: np.ndarray, macs: np.ndarray, hw: Hardware) -> np.ndarray:
    """Recover the cost core's element-wise operation counts from its compute time."""
    return np.maximum(compute_s - macs / hw.effective_macs_per_s, 0.0) * hw.mac_units * hw.clock_hz


def item_seconds(macs: np.ndarray, vector_ops: np.ndarray, dram_bytes: np.ndarray, pes: float,
                 hw: Hardware, bandwidth_bytes_per_s: np.ndarray) -> np.ndarray:
    """Time of one work item: sum over its layer-passes of max(compute, memory) time.

    ``dram_bytes`` (n, n_capacity), ``bandwidth_bytes_per_s`` (n_bw,) -> (n_capacity, n_bw).
    """
    compute_s = macs / (pes * hw.clock_hz * hw.utilization) + vector_ops / (pes * hw.clock_hz)
    memory_s = dram_bytes[:, :, None] / np.asarray(bandwidth_bytes_per_s, float)[None, None, :]
    return np.maximum(compute_s[:, None, None], memory_s).sum(axis=0)


@dataclass(frozen=True)
class Event:
    sample: int
    part: str  # conv or fc work
    phase: str  # forward, dgrad, wgrad
    unit: str  # the unit that runs it: conv, fc or shared


def unit_orders(strategy: str, batch: int, lookahead: int = 1) -> dict[str, list[Event]]:
    """Each unit's static event order for one mini-batch (the out-of-order policy of TNPU)."""
    if strategy == "dadiannao-like":
        return {SHARED: [Event(s, p, ph, SHARED) for s in range(batch) for p, ph in CHAIN]}
    fc = [Event(s, FCP, ph, FCP) for s in range(batch) for ph in PHASES]
    if strategy == "dnpu-like":
        lookahead = 0
    conv = [Event(s, CONV, "forward", CONV) for s in range(min(lookahead + 1, batch))]
    for s in range(batch):
        conv += [Event(s, CONV, "dgrad", CONV), Event(s, CONV, "wgrad", CONV)]
        if s + lookahead + 1 < batch:
            conv.append(Event(s + lookahead + 1, CONV, "forward", CONV))
    return {CONV: conv, FCP: fc}


#: one stretch of an event at a fixed PE count: (event index, start_s, finish_s, PEs)
Segment = tuple[int, float, float, float]


@dataclass(frozen=True)
class Timeline:
    """Start and finish times (s) of every event; arrays of the design-point shape.

    ``unit_pes`` gives each lane's PEs when its PEs are fixed (``static``, the baselines).
    ``segment_steps`` (``dynamic`` PE sharing only): per simulation step and lane, arrays
    (steps, lanes, points) of (event index, start_s, finish_s, PEs, recorded); ``segments_at``
    turns one design point's steps into its stretches of constant PE allocation.
    """

    events: list[Event]
    start_s: list[np.ndarray]
    finish_s: list[np.ndarray]
    serial: bool  # dnpu-like / dadiannao-like: next sample waits for the previous one
    unit_pes: dict[str, float] = field(default_factory=dict)
    segment_steps: tuple[np.ndarray, ...] | None = None

    def segments_at(self, index: tuple[int, ...]) -> list[Segment]:
        """Stretches of every event at one design point; consecutive stretches of one event at
        the same PE count are merged (zero-length stretches of zero-time events are kept)."""
        if self.segment_steps is None:
            return []
        ev, t0, t1, share, rec = self.segment_steps
        point = int(np.ravel_multi_index(index, np.shape(self.makespan_s))) if index else 0
        segs: list[Segment] = []
        last: dict[int, int] = {}  # lane -> index in segs of its latest stretch
        for step in range(ev.shape[0]):  # one design point: a loop over its events
            for lane in range(ev.shape[1]):
                if not rec[step, lane, point]:
                    continue
                seg = (int(ev[step, lane, point]), float(t0[step, lane, point]),
                       float(t1[step, lane, point]), float(share[step, lane, point]))
                j = last.get(lane)
                if j is not None and segs[j][0] == seg[0] and segs[j][3] == seg[3] \
                        and segs[j][2] == seg[1]:
                    segs[j] = (seg[0], segs[j][1], seg[2], seg[3])  # same allocation: extend
                else:
                    segs.append(seg)
                    last[lane] = len(segs) - 1
        return segs

    @property
    def makespan_s(self) -> np.ndarray:
        return np.max(np.stack(self.finish_s), axis=0)

    def busy_s(self, unit: str) -> np.ndarray:
        parts = [f - s for e, s, f in zip(self.events, self.start_s, self.finish_s, strict=True)
                 if e.unit == unit or (unit in PARTS and e.unit == SHARED and e.part == unit)]
        return np.sum(np.stack(parts), axis=0) if parts else np.zeros_like(self.makespan_s)

    def intervals(self, index: tuple[int, ...] = ()) -> pd.DataFrame:
        """Busy intervals at one design point: unit, part, phase, sample, start_s, finish_s, pes.

        One row per event, or with dynamic PE sharing one row per stretch of an event at a
        constant PE count (an event whose allocation changes mid-way has several rows).
        """
        def row(e: Event, start: float, finish: float, pes: float) -> dict[str, Any]:
            return {"unit": e.unit, "part": e.part, "phase": PHASE_LABEL[e.phase],
                    "sample": e.sample, "start_s": start, "finish_s": finish, "pes": pes}

        key = tuple(index) if index else tuple(0 for _ in np.shape(self.makespan_s))
        if self.segment_steps is not None:
            return pd.DataFrame([row(self.events[i], a, b, p)
                                 for i, a, b, p in self.segments_at(key)],
                                columns=["unit", "part", "phase", "sample", "start_s",
                                         "finish_s", "pes"])
        return pd.DataFrame([
            row(e, float(np.asarray(s)[index]), float(np.asarray(f)[index]),
                self.unit_pes.get(e.unit, float("nan")))
            for e, s, f in zip(self.events, self.start_s, self.finish_s, strict=True)])


def simulate(strategy: str, batch: int, durations: dict[tuple[str, str], np.ndarray],
             lookahead: int = 1, unit_pes: dict[str, float] | None = None) -> Timeline:
    """Event schedule of one mini-batch, vectorized over design points.

    ``durations[(part, phase)]`` is the time of that item on the unit that runs it (any array
    shape, the same for all items). Events start when their chain predecessor and their unit are
    done; the dnpu-like and dadiannao-like baselines also wait for the previous sample.
    """
    orders = unit_orders(strategy, batch, lookahead)
    serial = strategy != "tnpu"
    pred = TNPU_PREDECESSOR if strategy == "tnpu" else CHAIN_PREDECESSOR
    shape = np.broadcast(*durations.values()).shape
    zero = np.zeros(shape)
    position = {CHAIN[i]: i for i in range(len(CHAIN))}
    unit_free = {u: zero for u in orders}
    cursor = {u: 0 for u in orders}
    events, starts, finishes = [], [], []
    chain_done: dict[tuple[int, int], np.ndarray] = {}  # (sample, chain position) -> finish
    remaining = sum(len(o) for o in orders.values())
    while remaining:
        progressed = False
        for u, order in orders.items():
            while cursor[u] < len(order):
                e = order[cursor[u]]
                k = position[(e.part, e.phase)]
                if k > 0:
                    dep = chain_done.get((e.sample, pred[k]))
                elif serial and e.sample > 0:
                    dep = chain_done.get((e.sample - 1, len(CHAIN) - 1))
                else:
                    dep = zero
                if dep is None:
                    break
                start = np.maximum(dep, unit_free[u])
                end = start + durations[(e.part, e.phase)]
                chain_done[(e.sample, k)] = end
                unit_free[u] = end
                events.append(e)
                starts.append(start)
                finishes.append(end)
                cursor[u] += 1
                remaining -= 1
                progressed = True
        if not progressed:  # cannot happen with the orders above; guards against edits
            raise RuntimeError("event schedule deadlocked")
    return Timeline(events, starts, finishes, serial, dict(unit_pes or {}))


def simulate_shared_pu(batch: int, split_durations: dict[tuple[str, str], np.ndarray],
                       all_pe_durations: dict[tuple[str, str], np.ndarray], lookahead: int = 1,
                       split_pes: tuple[float, float] = (1.0, 1.0),
                       item_bytes: dict[tuple[str, str], np.ndarray] | None = None,
                       bandwidth_bytes_per_s: np.ndarray | float | None = None,
                       work_conserving: bool = True) -> Timeline:
    """TNPU with dynamic PE sharing: one PU, conv and FC lanes, work-conserving allocation.

    ``split_durations[(part, phase)]``: the item's time on its share of the split PU (conv on
    P_c, FC on P_f PEs), used while both lanes run an event; ``all_pe_durations``: its time on the
    whole PU, used while it runs alone. The allocation is re-evaluated at every event start and
    finish; a running event progresses at rate 1 / (its time at the current allocation). Lanes
    keep TNPU's static orders (:func:`unit_orders`). ``split_pes`` = (P_c, P_f), only recorded
    in the segments (the whole PU is P_c + P_f). A design point with any non-finite duration
    gets infinite start and finish times.

    All design points advance in lock step: each step starts every lane's next event that is
    ready, then runs until the first running event finishes, at every point at once (arrays
    over points). Every step finishes at least one event at every unfinished point, so there
    are at most as many steps as events; the loop is over steps, not design points.

    Shared DRAM bandwidth (``item_bytes``: DRAM bytes of each item per sample, with
    ``bandwidth_bytes_per_s``, both broadcast to the durations' shape): a running event moves its
    bytes at an even rate over its progress (the same spreading as the compute progress
    [reconstruction]), so it asks for bytes / duration bytes per second. When the running
    events together ask for more than the bandwidth, all of them slow down by the same factor
    until the sum equals the bandwidth (issue #12 item 1). Each item alone never asks for more
    (its roofline time is >= its bytes / bandwidth), so the makespan is >= all bytes /
    bandwidth at every point. ``work_conserving=False`` (``pe_sharing=static``): ``all_pe_
    durations`` are ignored, an event always runs at its unit's split time, and the recorded
    PEs are its unit's.
    """
    orders = unit_orders("tnpu", batch, lookahead)
    lanes = list(orders)
    events = [e for order in orders.values() for e in order]
    index_of = {(e.sample, e.part, e.phase): i for i, e in enumerate(events)}
    shape = np.broadcast(*split_durations.values(), *all_pe_durations.values()).shape
    n_pts = int(np.prod(shape, dtype=np.int64))
    pos = {item: k for k, item in enumerate(CHAIN)}

    def table(durations: dict[tuple[str, str], np.ndarray]) -> np.ndarray:
        return np.stack([np.broadcast_to(np.asarray(durations[item], float), shape).ravel()
                         for item in CHAIN])  # (chain position, point)

    d_split, d_all = table(split_durations), table(all_pe_durations)
    if not work_conserving:
        d_all = d_split
    finite = np.isfinite(d_split).all(axis=0) & np.isfinite(d_all).all(axis=0)
    if item_bytes is None or bandwidth_bytes_per_s is None:
        b_item, bw = np.zeros_like(d_split), np.full(n_pts, np.inf)
    else:
        b_item = table(item_bytes)
        bw = np.broadcast_to(np.asarray(bandwidth_bytes_per_s, float), shape).ravel()
    pred = np.array(TNPU_PREDECESSOR)
    # static lane orders as arrays: sample, chain position and event index of the k-th event
    lane_sample = [np.array([e.sample for e in orders[u]]) for u in lanes]
    lane_pos = [np.array([pos[(e.part, e.phase)] for e in orders[u]]) for u in lanes]
    lane_event = [np.array([index_of[(e.sample, e.part, e.phase)] for e in orders[u]])
                  for u in lanes]
    share_split = np.array([split_pes[0] if u == CONV else split_pes[1] for u in lanes])
    total_pes = float(sum(split_pes))
    points = np.arange(n_pts)
    n_lanes = len(lanes)
    t = np.zeros(n_pts)
    cursor = np.zeros((n_lanes, n_pts), np.int64)
    current = np.zeros((n_lanes, n_pts), np.int64)
    running = np.zeros((n_lanes, n_pts), bool)
    left = np.zeros((n_lanes, n_pts))
    done = np.full((batch, len(CHAIN), n_pts), np.nan)  # finish time of (sample, chain position)
    start = np.full((len(events), n_pts), np.inf)
    finish = np.full((len(events), n_pts), -np.inf)
    remaining = np.where(finite, len(events), 0)
    steps: list[tuple[np.ndarray, ...]] = []
    # divisions by zero-time or denormal durations happen only where np.where discards them
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        while (remaining > 0).any():  # a loop over simulation steps
            active = remaining > 0
            for i in range(n_lanes):  # start each lane's next event where it is ready
                k = np.minimum(cursor[i], len(lane_sample[i]) - 1)
                smp, p = lane_sample[i][k], lane_pos[i][k]
                q = pred[p]
                dep = np.where(q < 0, 0.0, done[smp, np.maximum(q, 0), points])
                ready = (active & ~running[i] & (cursor[i] < len(lane_sample[i]))
                         & (dep <= t))
                running[i] |= ready
                left[i] = np.where(ready, 1.0, left[i])
                current[i] = np.where(ready, k, current[i])
                cursor[i] += ready
            if (active & ~running.any(axis=0)).any():  # cannot happen with TNPU's orders
                raise RuntimeError("event schedule deadlocked")
            both = running.all(axis=0)
            item = np.stack([lane_pos[i][current[i]] for i in range(n_lanes)])  # (lane, pt)
            dur = np.where(both, d_split[item, points], d_all[item, points])
            # shared bandwidth: every running event slowed by the same factor <= 1
            demand = np.where(running & (dur > 0), b_item[item, points] / dur, 0.0).sum(axis=0)
            slow = np.where(demand > bw, bw / demand, 1.0)
            dur = dur / slow
            to_go = np.where(running, left * dur, np.inf)
            dt = to_go.min(axis=0)
            t_next = t + dt
            ev = np.stack([lane_event[i][current[i]] for i in range(n_lanes)])
            rec = running & active
            share = (np.where(both, share_split[:, None], total_pes) if work_conserving
                     else np.broadcast_to(share_split[:, None], running.shape))
            steps.append((ev, np.broadcast_to(t, ev.shape).copy(),
                          np.broadcast_to(t_next, ev.shape).copy(), share, rec))
            for i in range(n_lanes):
                r = rec[i]
                start[ev[i][r], points[r]] = np.minimum(start[ev[i][r], points[r]], t[r])
                finish[ev[i][r], points[r]] = np.maximum(finish[ev[i][r], points[r]],
                                                         t_next[r])
            ends = rec & (to_go <= dt * (1 + 1e-12))
            for i in range(n_lanes):
                f = ends[i]
                k = current[i][f]
                done[lane_sample[i][k], lane_pos[i][k], points[f]] = t_next[f]
            left = np.where(ends, 0.0, np.where(rec, left - dt / dur, left))
            running &= ~ends
            remaining = remaining - ends.sum(axis=0)
            t = np.where(active, t_next, t)
    start[:, ~finite] = np.inf
    finish[:, ~finite] = np.inf
    step_arrays = tuple(np.stack([st[j] for st in steps]) if steps else
                        np.zeros((0, n_lanes, n_pts)) for j in range(5))
    return Timeline(events, [a.reshape(shape) for a in start],
                    [a.reshape(shape) for a in finish], False, {}, step_arrays)


# ------------------------------------------------------------------------------------------
# Costs of one strategy over a grid (capacities x bandwidths)


@dataclass(frozen=True)
class StrategyCosts:
    """Mini-batch totals of one strategy, arrays (n_capacity, n_bw)."""

    strategy: str
    timeline: Timeline
    latency_s: np.ndarray
    dram_bytes: np.ndarray
    macs: float
    energy_dram_pj: np.ndarray
    energy_buffer_pj: np.ndarray
    energy_compute_pj: np.ndarray
    energy_static_pj: np.ndarray
    item_s: dict[tuple[str, str], np.ndarray]  # per-sample time of each item
    unit_pes: dict[str, float]
    conv_busy_s: np.ndarray
    fc_busy_s: np.ndarray
    pe_sharing: str = "-"  # tnpu: dynamic or static; "-" for the baselines
    #: per-sample time of each item when it runs alone (dynamic: on the whole PU; else = item_s)
    alone_item_s: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    @property
    def energy_pj(self) -> np.ndarray:
        return (self.energy_dram_pj + self.energy_buffer_pj + self.energy_compute_pj
                + self.energy_static_pj)


def fused_parameter_bytes(net: Network, hw: Hardware) -> float:
    """DRAM bytes per mini-batch of the parameters of fused element-wise layers (batchnorm
    scale and shift): read once and their gradients written once; too small to affect timing."""
    w = float(sum(layer.weight_elems for layer in net.layers if not layer.is_compute))
    return w * (hw.bytes_per_weight + hw.bytes_per_gradient)


def strategy_costs(strategy: str, net: Network, hw: Hardware, batch: int,
                   capacity_bytes: np.ndarray | None = None,
                   bandwidth_bytes_per_s: np.ndarray | None = None,
                   options: dict[str, Any] | None = None,
                   work: SampleWork | None = None) -> StrategyCosts:
    """Simulate one strategy on all capacities x bandwidths at once."""
    opts = parse_options(options or {})
    if strategy not in STRATEGIES:
        raise InputError(f"unknown TNPU strategy '{strategy}'", field="strategy")
    if work is None:
        work = sample_work(net, hw, batch, capacity_bytes, resident=opts["resident"],
                           elementwise=opts["elementwise"],
                           input_gradient=opts["input_gradient"] == "on")
    bw = np.atleast_1d(np.asarray([hw.dram_bandwidth_bytes_per_s] if bandwidth_bytes_per_s
                                  is None else bandwidth_bytes_per_s, float))
    if strategy == "dadiannao-like":
        pes = {CONV: float(hw.mac_units), FCP: float(hw.mac_units)}
    else:
        pes = dict(zip(PARTS, unit_pes(hw), strict=True))
    item_s = {k: item_seconds(work.macs[k], work.vector_ops[k], work.dram_bytes[k], pes[k[0]],
                              hw, bw) for k in work.macs}
    dynamic = strategy == "tnpu" and opts["pe_sharing"] == "dynamic"
    if strategy == "tnpu":  # concurrent lanes: they share the DRAM bandwidth
        pu_pes = pes[CONV] + pes[FCP]
        alone_s = ({k: item_seconds(work.macs[k], work.vector_ops[k], work.dram_bytes[k],
                                    pu_pes, hw, bw) for k in work.macs} if dynamic else item_s)
        per_sample_bytes = {k: work.dram_bytes[k].sum(axis=0)[:, None] for k in work.dram_bytes}
        tl = simulate_shared_pu(batch, item_s, alone_s, opts["lookahead"],
                                (pes[CONV], pes[FCP]), per_sample_bytes, bw[None, :],
                                work_conserving=dynamic)
    else:  # one event at a time: each at its roofline time
        alone_s = item_s
        units = {SHARED: pes[CONV]} if strategy == "dadiannao-like" else pes
        tl = simulate(strategy, batch, item_s, opts["lookahead"], units)
    dram = sum(work.dram_bytes[k].sum(axis=0) for k in work.dram_bytes) * batch  # (n_cap,)
    if opts["elementwise"] == "fused":  # fused layers' parameters (norm scale/shift): read
        dram = dram + fused_parameter_bytes(net, hw)  # once, gradients written once [recon.]
    dram = np.broadcast_to(dram[:, None], tl.makespan_s.shape)
    # the fused parameters' one read and one gradient write (not in the sample events) take
    # their DRAM time after the mini-batch [reconstruction]
    latency = tl.makespan_s + (fused_parameter_bytes(net, hw) / bw[None, :]
                               if opts["elementwise"] == "fused" else 0.0)
    macs = float(sum(m.sum() for m in work.macs.values())) * batch
    operand = float(sum(o.sum() for o in work.operand_buffer_bytes.values())) * batch
    mem_on = opts["memory_energy"] == "on"

    # energy through the single roll-up (cnnmem.model.rollup) with TNPU's own latency; the
    # register level: every MAC reads its operands from registers (operand bytes per MAC), the
    # cost core's rule: operand fetches x sqrt(P) = MACs x operand bytes
    reg_bytes = operand * np.sqrt(hw.mac_units) if hw.register_bytes > 0 else 0.0
    parts = rollup.energy_parts(hw, dram_bytes=dram, buffer_bytes=2.0 * dram + operand,
                                macs=np.full(latency.shape, macs), register_bytes=reg_bytes,
                                latency_s=latency, capacity_bytes=work.capacity_bytes[:, None],
                                memory_energy=mem_on)
    e_dram, e_buf, e_comp, e_static = (parts[k] for k in rollup.ENERGY_PARTS)
    return StrategyCosts(strategy, tl, latency, dram, macs, e_dram, e_buf, e_comp, e_static,
                         item_s, pes, tl.busy_s(CONV), tl.busy_s(FCP),
                         opts["pe_sharing"] if strategy == "tnpu" else "-", alone_s)


# ------------------------------------------------------------------------------------------
# Registry: schedule (one design point, with a timeline) and sweep (capacities)


COLUMNS = ("group", "unit", "unit_pes", "unit_pes_alone", "layer_passes", "macs_per_sample",
           "dram_bytes_per_sample", "latency_s_per_sample", "latency_s_per_sample_alone",
           "bound")
TOTAL_KEYS = ("dram_bytes", "energy_pj", *rollup.ENERGY_PARTS, "latency_s", "macs",
              "throughput_per_s", "conv_s_per_sample", "fc_s_per_sample",
              "conv_unit_utilization", "fc_unit_utilization", "mac_utilization",
              "buffer_need_bytes", "compute_s", "memory_s")


def _notes(strategy: str, c: StrategyCosts, work: SampleWork, opts: dict[str, Any]
           ) -> tuple[str, ...]:
    """The schedule notes (capacity 0)."""
    pu_pes = sum(c.unit_pes.values())
    notes = [
        "per-sample work: cost core at batch 1; conv part = layers before the first FC layer",
        "FC weights " + ("stay on chip over the mini-batch (they fit the buffer)"
                         if bool(work.resident[FCP][0]) else "are streamed per sample"),
    ]
    if strategy == "dadiannao-like":
        notes.append("one shared unit: conv/fc_unit_utilization = share of time on conv/FC work")
    if c.pe_sharing == "dynamic":
        notes.append(f"pe_sharing=dynamic: one PU of {pu_pes:g} PEs, split "
                     f"{c.unit_pes[CONV]:g} conv + {c.unit_pes[FCP]:g} FC while both kinds "
                     "of work run, all PEs to the one that runs alone (re-assigned at event "
                     "boundaries); conv/fc_unit_utilization = share of time with conv/FC work")
    elif strategy == "tnpu":
        notes.append(f"pe_sharing=static: fixed {c.unit_pes[CONV]:g}-PE conv unit and "
                     f"{c.unit_pes[FCP]:g}-PE FC unit")
    if opts["memory_energy"] == "off":
        notes.append("memory energy off (the TNPU paper's assumption)")
    return tuple(notes)


def chain_block(strategy: str, c: StrategyCosts, work: SampleWork, hw: Hardware) -> GroupBlock:
    """The six (part, phase) items of one sample as groups: per-sample work and time at every
    capacity, arrays (6, C, 1). They describe the timeline; the mini-batch totals are the
    event schedule's (no sum over items)."""
    pu_pes = sum(c.unit_pes.values())
    dynamic = c.pe_sharing == "dynamic"
    n_cap = work.capacity_bytes.size

    def per_item(f: Any) -> np.ndarray:
        return np.stack([np.broadcast_to(np.asarray(f(k), float), (n_cap, 1))
                         for k in CHAIN])

    costs = {
        "unit_pes": per_item(lambda k: c.unit_pes[k[0]]),
        # dynamic sharing: the PEs the item gets when the other kind has no work
        "unit_pes_alone": per_item(lambda k: pu_pes if dynamic else c.unit_pes[k[0]]),
        "layer_passes": per_item(lambda k: work.macs[k].size),
        "macs_per_sample": per_item(lambda k: work.macs[k].sum()),
        "dram_bytes_per_sample": per_item(lambda k: work.dram_bytes[k].sum(axis=0)[:, None]),
        "latency_s_per_sample": per_item(lambda k: c.item_s[k]),
        "latency_s_per_sample_alone": per_item(lambda k: c.alone_item_s[k]),
        "memory_s_per_sample": per_item(lambda k: (work.dram_bytes[k]
                                                   / hw.dram_bandwidth_bytes_per_s).sum(axis=0)
                                        [:, None]),
    }

    def labels(i: int, v: dict[str, Any]) -> dict[str, Any]:
        part, ph = CHAIN[i]
        t, mem = v["latency_s_per_sample"], v["memory_s_per_sample"]
        return {"group": f"{part} {PHASE_LABEL[ph]}",
                "unit": SHARED if strategy == "dadiannao-like" else part,
                "layer_passes": int(v["layer_passes"]),
                "bound": "memory" if t > 0 and mem >= 0.5 * t else ("compute" if t > 0
                                                                     else "-")}

    return GroupBlock(costs, labels=labels)


def evaluate_strategy(strategy: str, req: SweepRequest) -> StrategyResult:
    """One TNPU-family strategy's one evaluator: the event schedule of the mini-batch at every
    capacity. Its totals are the schedule's (makespan, busy units), not sums over the six
    chain items, which are its groups (per-sample work and time)."""
    net, hw, n = req.network, req.hardware, req.batch
    opts = parse_options(req.options)
    cap = np.atleast_1d(np.asarray(req.capacity_bytes, float))
    work = sample_work(net, hw, n, cap, resident=opts["resident"],
                       elementwise=opts["elementwise"],
                       input_gradient=opts["input_gradient"] == "on")
    c = strategy_costs(strategy, net, hw, n, cap, options=req.options, work=work)
    latency = c.latency_s
    total_pes = c.unit_pes[CONV] if strategy == "dadiannao-like" else sum(c.unit_pes.values())
    totals: dict[str, Any] = {
        "dram_bytes": c.dram_bytes, **{k: getattr(c, k) for k in rollup.ENERGY_PARTS},
        "latency_s": latency, "macs": c.macs, "throughput_per_s": n / latency,
        "conv_s_per_sample": sum(c.item_s[(CONV, ph)] for ph in PHASES),
        "fc_s_per_sample": sum(c.item_s[(FCP, ph)] for ph in PHASES),
        "conv_unit_utilization": c.conv_busy_s / latency,
        "fc_unit_utilization": c.fc_busy_s / latency,
        "mac_utilization": c.macs / (total_pes * hw.clock_hz * latency),
        "buffer_need_bytes": work.buffer_need_bytes[:, None],
        "compute_s": bottleneck_busy_s(c),
        "memory_s": c.dram_bytes / hw.dram_bandwidth_bytes_per_s,
    }
    block = chain_block(strategy, c, work, hw)
    k = opts["timeline_samples"]
    title = f"{net.name} on {hw.name}: {strategy}, batch {n} (first {min(k, n)} samples)"

    def timeline() -> TimelineData:
        return TimelineData(c.timeline.intervals((0, 0)), title=title, samples=k,
                            total_pes=float(hw.mac_units) if strategy == "dadiannao-like"
                            else sum(c.unit_pes.values()),
                            shared_pu=c.pe_sharing == "dynamic")

    return StrategyResult(strategy, latency.shape, lambda: (block,), total_keys=TOTAL_KEYS,
                          columns=COLUMNS, summed=(), totals=totals, cuts=(),
                          notes=_notes(strategy, c, work, opts), timeline=timeline)


def bottleneck_busy_s(c: StrategyCosts) -> np.ndarray:
    """Busy time of the bottleneck unit (the shared unit's total busy time for dadiannao-like;
    with dynamic sharing the PU is busy whenever work remains: the whole makespan)."""
    return (c.conv_busy_s + c.fc_busy_s if c.strategy == "dadiannao-like"
            else c.timeline.makespan_s if c.pe_sharing == "dynamic"
            else np.maximum(c.conv_busy_s, c.fc_busy_s))


def _make(spec: StrategySpec) -> None:
    def evaluate(req: SweepRequest) -> StrategyResult:
        return evaluate_strategy(spec.name, req)

    register(spec)(evaluate)


for _spec in SPECS.values():
    _make(_spec)


# ------------------------------------------------------------------------------------------
# Bandwidth sweep: the paper's scalability figure


def bandwidth_speedups(net: Network, hw: Hardware, bandwidth_bytes_per_s: np.ndarray | list[float],
                       batch: int = 50, options: dict[str, Any] | None = None,
                       baseline_hw: dict[str, Hardware] | None = None) -> pd.DataFrame:
    """Speedup of ``tnpu`` over both baselines at each DRAM bandwidth (one vectorized call each).

    ``baseline_hw`` maps a baseline strategy to its hardware (default: ``hw`` for both, the
    iso-resource comparison).
    """
    bw = np.atleast_1d(np.asarray(bandwidth_bytes_per_s, float))
    if not (bw > 0).all() or not np.isfinite(bw).all():
        raise InputError("bandwidths must be positive", field="bandwidths")
    opts = parse_options(options or {})
    hws = {"tnpu": hw, **{s: (baseline_hw or {}).get(s, hw) for s in STRATEGIES[1:]}}
    lat = {}
    for s in STRATEGIES:
        work = sample_work(net, hws[s], batch, None, resident=opts["resident"],
                           elementwise=opts["elementwise"],
                           input_gradient=opts["input_gradient"] == "on")
        lat[s] = strategy_costs(s, net, hws[s], batch, None, bw, options, work).latency_s[0]
    return pd.DataFrame({
        "network": net.name, "dram_bandwidth_gb_per_s": bw / 1e9,
        "tnpu_latency_s": lat["tnpu"], "dadiannao_like_latency_s": lat["dadiannao-like"],
        "dnpu_like_latency_s": lat["dnpu-like"],
        "speedup_vs_dadiannao_like_x": lat["dadiannao-like"] / lat["tnpu"],
        "speedup_vs_dnpu_like_x": lat["dnpu-like"] / lat["tnpu"],
    })
