"""The MBS strategies: specs, schedule and sweep entry points, registration.

Part of :mod:`cnnmem.model.mbs` (the package docstring has the model)."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnmem.errors import InputError
from cnnmem.model.gconv import PASSES
from cnnmem.model.grouping import (
    cut_mask,
    cuts_of_path,
)
from cnnmem.model.mbs.plans import (
    Plan,
    named_cuts,
    plan_cuts,
    plan_greedy,
    plan_optimal,
)
from cnnmem.model.mbs.points import (
    fixed_grouping_points,
)
from cnnmem.model.mbs.rollup import (
    MBS_SUMMED,
    ROW_HEAD,
    ROW_TAIL,
    derive_totals,
    plan_blocks,
)
from cnnmem.model.mbs.tables import (
    CELLS,
    KINDS,
    NOTE_NORM,
    band_notes,
    cell_key,
    check_cuts_depth,
)
from cnnmem.model.mbs.traffic import (
    Model,
    build_model,
)
from cnnmem.model.result import StrategyResult
from cnnmem.model.schedule import (
    INFERENCE,
    INPUT_GRADIENT,
    POINT_FIELDS,
    STRUCTURAL_POLICIES,
    TRAINING,
    GroupingRule,
    OptionSpec,
    ScheduleRequest,
    StrategySpec,
    SweepRequest,
    input_gradient_on,
    register,
)

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


def _check_depth(net: Any, grouping: str | tuple[int, ...]) -> None:
    """An explicit grouping's groups against MAX_GROUP_LAYERS, before any table is built."""
    if isinstance(grouping, tuple):
        check_cuts_depth(grouping, len(net), "cuts")
    elif grouping in ("layer", "block", "stage", "all"):
        check_cuts_depth(named_cuts(net, grouping), len(net), "grouping")


def _check_sub_batch(sub: Any, batch: int) -> np.ndarray | None:
    if sub is None:
        return None
    arr = np.atleast_1d(np.asarray(sub, dtype=np.int64))
    if (arr < 1).any() or (arr > batch).any():
        raise InputError(f"sub-batch must be in 1..{batch} (the batch)", field="sub_batch")
    return arr


#: the schedule's totals
TOTAL_KEYS = (
    "dram_bytes", "energy_pj", "latency_s", "energy_dram_pj", "energy_buffer_pj",
    "energy_compute_pj", "energy_static_pj", "compute_s", "memory_s", "macs",
    "buffer_need_bytes") + tuple(f"dram_{x}_bytes" for x in PASSES + KINDS) + tuple(
    cell_key(*c) for c in CELLS) + ("groups", "throughput_per_s", "cuts")
NOTES = (NOTE_NORM,
         "dram_gradient_forks_bytes is signed: summing the gradients of a tensor read by "
         "several layers is charged to the producer's group and credited to a group that "
         "sums several of those consumers on chip",
         "MBS group traffic, buffer need and greedy rule are cnnmem's reconstruction of "
         "Lym et al. 2019 (papers.md section 2)")


def _notes(totals: dict[str, Any]) -> tuple[str, ...]:
    return NOTES + (() if np.isfinite(totals["dram_bytes"]) else (
        "some group does not fit the buffer: infeasible",))


def evaluate_strategy(name: str, req: SweepRequest) -> StrategyResult:
    """The one evaluator of the MBS strategies: the plan of the request's grouping at every
    capacity (x sub-batch size), its groups one block each.

    A fixed grouping over several uniform sub-batch sizes x capacities takes the sweep's hot
    path (:func:`fixed_grouping_points`: the point totals without a loop over groups or
    points; the same numbers as the plan's groups, tested); a single design point (a schedule)
    always has its groups."""
    grouping, tile = _resolve(name, req)
    _check_depth(req.network, grouping)
    fixed = _check_sub_batch(req.sub_batch, req.batch)
    m = build_model(req.network, req.hardware, req.batch, req.capacity_bytes,
                    req.mode == TRAINING, tile, input_gradient_on(req.options))
    structural = isinstance(grouping, tuple) or grouping in STRUCTURAL_POLICIES
    if fixed is not None and structural and m.caps.size * fixed.size > 1:
        fixed_cuts = grouping if isinstance(grouping, tuple) else named_cuts(m.net, grouping)
        pts = fixed_grouping_points(m, fixed_cuts, fixed)  # the hot path: no DP, no group loop
        return StrategyResult(name, (m.caps.size, fixed.size), lambda: (),
                              total_keys=POINT_FIELDS, totals=pts, cuts=fixed_cuts)
    p = plan(m, grouping, fixed)
    shape = (m.caps.size, p.n_sub)
    if structural:
        cuts: Any = cuts_of_path(p.path[:, :1])[0]
    else:  # chosen per capacity (and sub-batch): one boolean row per design point
        cuts = cut_mask(p.path).reshape(shape + (len(m.net) - 1,))
        if p.n_sub == 1:
            cuts = cuts[:, 0]
    return StrategyResult(
        name, shape, lambda: plan_blocks(m, p, shape), total_keys=TOTAL_KEYS,
        columns=ROW_HEAD + ROW_TAIL, summed=MBS_SUMMED,
        totals={"cuts": ",".join(str(c) for c in cuts_of_path(p.path)[0])},
        derive=derive_totals(req.batch), cuts=cuts,
        notes=_notes if structural else lambda t: _notes(t) + band_notes(len(m.net)))


_WEIGHT_TILE = OptionSpec("weight_tile", "layer", ("layer", "channel"),
                          help="weights of a group held per layer or per output channel")
_LATENCY = "sum over groups and sub-batches of max(compute, memory) per layer-pass"
#: the grouping each MBS strategy computes itself (mbs takes one: policies or cuts)
_OWN_GROUPING = {"mbs-greedy": "greedy", "mbs-optimal": "optimal", "mbs-fs": "fs"}
SPECS = (
    StrategySpec("mbs-greedy", (TRAINING, INFERENCE),
                 "MBS, the paper's greedy grouping (extend while the sub-batch holds)",
                 options=(_WEIGHT_TILE, INPUT_GRADIENT), sub_batch="chooses", latency=_LATENCY,
                 capacity_table=True),
    StrategySpec("mbs-optimal", (TRAINING, INFERENCE),
                 "MBS, DP-optimal grouping and per-group sub-batches (least DRAM traffic)",
                 options=(_WEIGHT_TILE, INPUT_GRADIENT), sub_batch="chooses", latency=_LATENCY,
                 capacity_table=True),
    StrategySpec("mbs-fs", (TRAINING, INFERENCE),
                 "MBS fully serialized: sub-batch 1 in every group, DP grouping",
                 options=(_WEIGHT_TILE, INPUT_GRADIENT), sub_batch="chooses", latency=_LATENCY,
                 capacity_table=True),
    StrategySpec("mbs", (TRAINING, INFERENCE),
                 "MBS with an explicit grouping (-O cuts=3,7,12 or -O grouping=block) and "
                 "--sub-batch",
                 options=(_WEIGHT_TILE, INPUT_GRADIENT),
                 grouping=GroupingRule(("block", "stage", "layer", "all", "greedy", "optimal"),
                                       cuts=True, default="block"),
                 sub_batch="fixed", latency=_LATENCY, capacity_table=True),
)


def _make(spec: StrategySpec) -> None:
    name = spec.name

    def evaluate(req: SweepRequest) -> StrategyResult:
        return evaluate_strategy(name, req)

    register(spec)(evaluate)


for _spec in SPECS:
    _make(_spec)
