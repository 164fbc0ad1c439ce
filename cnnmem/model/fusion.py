"""Cross-layer fusion for inference: Layer Fusion (Alwani et al., MICRO 2016) and OCCAM
(Gondimalla et al., arXiv 2106.14138), papers.md section 3.

Both keep intermediate feature maps on chip by streaming rows through a group of consecutive
layers (in the network's topological order); only tensors that cross a group boundary go to DRAM.
Everything below the abstracts of the two papers is this project's **reconstruction**.

Units and cuts
    Element-wise, norm and reshape layers are applied on the fly by their producer (no cut
    between them). ``pool=fold``: a pooling layer is folded into its producer (the producer
    writes the pooled map); ``pool=separate``: the pool is applied on the fly by its consumer
    (the producer writes the unpooled map, the consumer pools while reading it; this is the
    accounting of papers.md's exact Layer Fusion reproduction). Layers that cannot be separated
    form a *unit*; groups (partitions) are runs of consecutive units.

Boundary traffic of a group [i..j] (bytes per image)
    every tensor produced before the group (or the network input) that a layer of the group
    reads, read once; every tensor produced in the group that a later group reads or that is a
    network output, written once. A branch tensor live across a cut therefore counts at the
    boundary (DAG networks: residual, inception).

OCCAM dependence-closure memory of a partition (bytes, the exact accounting)
    sum of the partition's filters (``filters=resident``; ``streamed``: none, and the filters
    are re-read per image instead) + for each window layer (conv, pooling) the last K rows of its
    input (``window=k``) or K + s - 1 rows (``window=k+s-1``), x input width x channels; an FC
    layer keeps its whole input + for each add/concat input produced inside the partition a
    delay buffer of 1 + sum(K - 1 of the window layers between producer and join) rows + one
    output staging row of every tensor the partition writes.
    A partition's filters and closure stay on its chip while images stream through: the filters
    are loaded once (``filter_load_once_bytes``), not per image.

OCCAM DP
    T(0) = 0, T(j) = min over i of T(i-1) + traffic(i..j) with Mem(i..j) <= capacity, over the
    groups of at most :data:`cnnmem.limits.MAX_FUSED_GROUP_UNITS` units (O(U x D), the
    banded tables of :mod:`cnnmem.model.fusion_tables`; exact unless a deeper group fits, which
    the schedule notes), vectorized over an array of capacities. With resident filters the
    pipeline holds at most ``chips`` partitions (a DP bounded in the number of groups); a
    partitioning with more groups than chips re-reads filters per image (see Pipeline), and
    the cheaper of the two is taken.
    A unit whose closure alone exceeds the capacity falls back to the tiled per-layer
    traffic of :mod:`cnnmem.model.cost` (the layerwise dataflow).
    ``partition=traffic`` (default) is this least-traffic partition, the paper's stated
    objective. ``partition=balanced`` (this project's option, not the paper's) instead takes,
    among the partitions with at most ``chips`` groups that fit (same closure ``need`` and the
    same single-unit tiled fallback), the one of greatest pipeline throughput after STAP, ties
    broken by least traffic; see :func:`partition_dp_balanced`. Where no such partition exists
    it falls back to the ``traffic`` choice (data parallel, filters re-read).

Pipeline (OCCAM)
    one partition per chip; stage time = max(compute, memory) (``stage_time=sum``: their sum);
    throughput = 1 / max_s(t_s / r_s); latency per image = sum of stage times; STAP gives one more
    replica to the current bottleneck stage until the chip budget (``--chips``) is spent. When the
    partitions outnumber the chips, the chips cannot hold every partition's filters: each chip
    runs the whole partitioned network on its own images (data parallel), re-reading filters per
    image. Comparisons are iso-chip-count: ``chip_s_per_image`` = chips used / throughput, the
    same quantity the layerwise base case reports for one chip.

Layer Fusion
    one accelerator runs the fused groups one after another, image by image, so each group's
    filters are read once per image (``filters=streamed``, the default; ``resident`` keeps them
    in the group's storage, still loaded once per image). Storage of a fused group,
    ``variant=reuse``: overlap buffers (K - s rows x width x channels of every fused intermediate
    map, i.e. every window layer whose producer is in the group) + one pyramid step of fresh data
    (S x S x channels at each layer's input, S = product of the strides from that layer to the
    group's end) + one output pixel (all channels) of staging. ``variant=recompute``: no
    overlap buffers; a pyramid tile of ``tile`` x ``tile`` output pixels of the group's last
    layer needs R x R x channels at each layer (receptive arithmetic, see
    :mod:`cnnmem.model.receptive`); overlapping tiles recompute
    the shared region, which multiplies each layer's MACs by tiles x R_out^2 / (H_out x W_out).
    The DSE picks the grouping of least traffic whose groups fit the buffer (same DP as OCCAM,
    same group depth limit).

Structure
    Layer Fusion (:func:`evaluate_fusion`) and OCCAM (:func:`evaluate_occam`) are two short
    compositions of shared pure phases: the group tables (``fusion_table_spec`` /
    ``occam_table_spec`` in :mod:`cnnmem.model.fusion_tables`), :func:`unit_costs` (each with its
    filter reads per batch), a grouping choice (:func:`least_traffic_grouping`; OCCAM adds
    :func:`pipeline_or_reread` and :func:`balanced_grouping`), :func:`chosen_groups` (OCCAM adds
    :func:`reread_filters`), :func:`stage_times`, how the groups run (:func:`one_accelerator` or
    :func:`occam_pipeline`) and :func:`assemble` (the per-group arrays and the totals that are
    not sums over groups). :func:`evaluate` dispatches on the name; :func:`strategy_result`
    makes the one :class:`~cnnmem.model.result.StrategyResult`, whose roll-up is the only place
    groups are summed into totals (:func:`rolled_totals`: every total at every capacity).

Energy comes from the single roll-up :func:`cnnmem.model.rollup.energy_latency` (DRAM bytes,
MACs, element-wise ops, and one buffer write and one buffer read of every intermediate map kept
on chip).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cnnmem import limits
from cnnmem.hardware import Hardware
from cnnmem.model import rollup
from cnnmem.model.cost import layer_pass_costs
from cnnmem.model.fusion_tables import (
    INNER,
    MACS,
    NEED,
    SLOTS,
    TRAFFIC,
    Band,
    TableSpec,
    fusion_table_spec,
    group_filter_bytes,
    group_vec_ops,
    occam_table_spec,
    tables_at,
    unit_band,
    unit_index,
)
from cnnmem.model.grouping import (
    budgeted_dp_columns,
    consecutive_dp,
    format_cuts,
    path_from_cuts,
    replicas_needed,
    replicated_bottleneck_dp_columns,
)
from cnnmem.model.layerwise import per_layer_totals
from cnnmem.model.result import GroupBlock, StrategyResult, point_totals
from cnnmem.model.schedule import (
    INFERENCE,
    GroupingRule,
    OptionSpec,
    StrategySpec,
    SweepRequest,
    register,
)
from cnnmem.workload.network import Network

OCCAM, FUSION = "occam", "fusion"

_POOL = OptionSpec("pool", "fold", ("fold", "separate"),
                   help="pooling folded into its producer's group, or a layer of its own")
_STAGE_TIME = OptionSpec("stage_time", "max", ("max", "sum"),
                         help="a group's time: max(compute, memory) or their sum")
_GROUPING = GroupingRule(("optimal", "layer", "block", "stage", "all"), cuts=True,
                         default="optimal")
SPECS: dict[str, StrategySpec] = {
    FUSION: StrategySpec(
        FUSION, (INFERENCE,),
        "Layer Fusion (MICRO 2016): fused layer groups on one accelerator, DSE over groupings",
        options=(OptionSpec("filters", "streamed", ("streamed", "resident"),
                            help="each group's filters read per image or held on chip"),
                 _POOL, _STAGE_TIME,
                 OptionSpec("variant", "reuse", ("reuse", "recompute"),
                            help="overlapping tiles reuse or recompute the halo"),
                 OptionSpec("tile", 1, minimum=1, help="output rows x cols of a fused tile")),
        grouping=_GROUPING,
        latency="sum over groups of max(compute, memory) (stage_time=sum: their sum)"),
    OCCAM: StrategySpec(
        OCCAM, (INFERENCE,),
        "OCCAM: optimal DP partitioning by dependence closure, multi-chip pipeline with STAP",
        options=(OptionSpec("window", "k", ("k", "k+s-1"),
                            help="rows of a layer's input held per output row"),
                 OptionSpec("filters", "resident", ("resident", "streamed"),
                            help="filters resident on their chip or streamed per image"),
                 _POOL, _STAGE_TIME,
                 OptionSpec("partition", "traffic", ("traffic", "balanced"),
                            help="DP objective: least boundary traffic or greatest pipeline "
                                 "throughput after STAP")),
        grouping=_GROUPING, chips=True,
        latency="pipeline: images / throughput of the bottleneck stage after STAP replicas; "
                "without a pipeline the sum of stage times"),
}


def parse_options(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """Validate ``-O`` switches of ``kind`` ('occam' or 'fusion') and fill in defaults; a
    ``grouping``/``cuts`` entry is returned unresolved under "grouping" (default "optimal")."""
    spec = SPECS[kind]
    rest, grouping = spec.split_grouping(options)
    out = spec.parse_options(rest)
    out["grouping"] = grouping if grouping is not None else spec.grouping.default
    return out


# ------------------------------------------------------------------------------------------
# Units, geometry and the per-group tables (banded): cnnmem.model.fusion_tables
# Per-group stage times (shared by evaluate and the balanced partition)


def _stage_parts(hw: Hardware, dram_bytes: np.ndarray, macs: np.ndarray, vec_ops: np.ndarray,
                 operand_bytes_per_mac: float, stage_time: str,
                 array_macs: np.ndarray | None = None, *, kept_bytes: np.ndarray | float = 0.0,
                 capacity_bytes: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The single roll-up (:func:`cnnmem.model.rollup.energy_latency`) of groups, with the
    ``stage_time`` switch: ``max`` keeps latency = max(compute, memory), ``sum`` makes it their
    sum. ``array_macs``: the MAC slots on the systolic arrays (:mod:`cnnmem.model.array`), for
    the compute time; ``kept_bytes``: feature maps a group keeps on chip (written and read
    once in the buffer); ``capacity_bytes``: the buffer of each point."""
    return rollup.energy_latency(hw, rollup.GroupCosts(
        dram_bytes=dram_bytes, macs=macs, operand_bytes_per_mac=operand_bytes_per_mac,
        vector_ops=vec_ops, array_macs=array_macs, kept_bytes=kept_bytes,
        capacity_bytes=capacity_bytes), stage_time)


# ------------------------------------------------------------------------------------------
# The DP over cut points (vectorized over capacities)


def _group_costs(cost: np.ndarray, need_bytes: np.ndarray, cap: np.ndarray,
                 fallback: np.ndarray | None, j: int) -> np.ndarray:
    """Cost of the band's groups ending at unit j, (n, C) for the starts j - n + 1 .. j: inf
    where a group does not fit; the unit alone may instead run tiled at ``fallback[j]``."""
    depth = cost.shape[1]
    n = min(j + 1, depth)
    fits = need_bytes[j, depth - n:, None] <= cap[None, :]
    c = np.where(fits, cost[j, depth - n:, None], np.inf)
    if fallback is not None:
        c[-1] = np.minimum(c[-1], fallback[j])  # a unit may always run tiled
    return c


def partition_dp(cost: np.ndarray, need_bytes: np.ndarray, capacity_bytes: np.ndarray,
                 fallback: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Least-total-cost partition of U units into consecutive groups, for every capacity.

    ``cost`` and ``need_bytes``: bands (U, D), ``[j, k]`` the group [j - D + 1 + k .. j]
    (:mod:`cnnmem.model.fusion_tables`; groups of more than D units are not considered; a
    dense (U, U) table is the band of D = U, :func:`cnnmem.model.fusion_tables.band_of`).
    A group fits when need <= capacity; a single unit may instead run tiled at
    ``fallback[u, c]`` (the only choice when it does not fit; none when ``fallback`` is None).
    Returns (total (C,), start (U, C)): ``start[j, c]`` is the first unit of the group ending at
    j in the optimum, -1 when no group ends at j. Ties go to the fewest groups (smallest start).
    The DP itself is the shared :func:`cnnmem.model.grouping.consecutive_dp`.
    """
    cap = np.atleast_1d(np.asarray(capacity_bytes, float))

    def group_cost(j: int) -> tuple[np.ndarray, np.ndarray]:
        c = _group_costs(cost, need_bytes, cap, fallback, j)
        return c, np.zeros(c.shape, dtype=np.int64)

    result = consecutive_dp(cost.shape[0], group_cost, cap.size)
    return result.total, result.path


def partition_dp_balanced(stage_s: np.ndarray, group_cost: np.ndarray, chips: int
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Throughput-optimal pipeline partition (``partition=balanced``), for every capacity.

    ``stage_s`` (U, U, C): the per-image stage time of every group, inf where the group is not
    allowed; ``group_cost`` (U, U, C): its traffic (tie-break), inf where not allowed.
    Exact objective: the least bottleneck ``T* = min over partitions P with at most ``chips``
    groups, and over replica counts r_g >= 1 with sum_g r_g <= chips, of max_g t_g / r_g``.
    STAP's greedy (:func:`stap_replicas`, one more replica to the current argmax) attains the
    least ``max_g t_g / r_g`` of a fixed partition, so ``T*`` is exactly 1 / (the greatest
    pipeline throughput after STAP) over those partitions; this is *not* the plain min-max
    stage time (which ignores the spare chips STAP replicates onto). Ties are broken exactly
    by least summed ``group_cost``: among partitions whose groups can reach ``T*`` with
    ``r_g = min{r : t_g / r <= T*}`` replicas summing to <= chips, the least-traffic one
    (then the smallest group start). Two DPs, :func:`cnnmem.model.grouping.
    replicated_bottleneck_dp_columns` (O(U D chips^2 C) for groups of at most D units) and
    :func:`cnnmem.model.grouping.budgeted_dp_columns` (O(U D chips C)), vectorized over
    capacities; :func:`partition_dp_balanced_columns` takes the groups column by column.

    Returns (bottleneck_s (C,), traffic (C,), start (U, C)); inf and -1 where no partition
    with at most ``chips`` allowed groups exists.
    """
    return partition_dp_balanced_columns(stage_s.shape[0], lambda e: stage_s[: e + 1, e],
                                         lambda e: group_cost[: e + 1, e], chips,
                                         stage_s.shape[2])


def partition_dp_balanced_columns(n_units: int, stage_s: Callable[[int], np.ndarray],
                                  group_cost: Callable[[int], np.ndarray], chips: int,
                                  n_cap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`partition_dp_balanced` with the groups ending at unit e given column by column:
    ``stage_s(e)`` and ``group_cost(e)``, (n, C) for the starts e - n + 1 .. e."""
    bottleneck = replicated_bottleneck_dp_columns(n_units, stage_s, chips, n_cap)

    def group(e: int) -> tuple[np.ndarray, np.ndarray]:
        return group_cost(e), replicas_needed(stage_s(e), bottleneck, chips)

    result = budgeted_dp_columns(n_units, group, chips, n_cap)
    return bottleneck, result.total, result.path


def brute_force_partition(cost: np.ndarray, need_bytes: np.ndarray, capacity_bytes: float,
                          fallback: np.ndarray | None = None) -> float:
    """Reference for tests: try every cut set (2^(U-1)); least total cost."""
    n_units = cost.shape[0]
    best: Any = np.inf
    for mask in range(1 << max(n_units - 1, 0)):
        ends = [k for k in range(n_units - 1) if mask >> k & 1] + [n_units - 1]
        total: Any = 0.0
        first = 0
        for e in ends:
            fused = cost[first, e] if need_bytes[first, e] <= capacity_bytes else np.inf
            if first == e and fallback is not None:
                total += min(fused, fallback[e])
            elif np.isfinite(fused):
                total += fused
            else:
                total = np.inf
            first = e + 1
        best = min(best, total)
    return best


def unit_cuts(cuts: tuple[int, ...], ends_layer: np.ndarray) -> tuple[int, ...]:
    """Layer cuts (a group ends after each listed layer index) as unit cuts: each snapped to
    the end of the unit holding that layer."""
    n_units = ends_layer.size
    return tuple(sorted({int(np.searchsorted(ends_layer, c)) for c in cuts
                         if 0 <= c < ends_layer[-1]} - {n_units - 1}))


# ------------------------------------------------------------------------------------------
# STAP


def stap_replicas(stage_s: np.ndarray, chips: int) -> np.ndarray:
    """Replicas per stage: one each, then one more to the current bottleneck (largest
    t_s / r_s, lowest index on ties) until ``chips`` are used. ``stage_s``: (P,) or (P, C)
    with non-stages marked NaN; the chip count is the budget per column."""
    t = np.asarray(stage_s, float)
    squeeze = t.ndim == 1
    if squeeze:
        t = t[:, None]
    is_stage = np.isfinite(t)
    r = is_stage.astype(float)
    spare = chips - is_stage.sum(axis=0)
    cols = np.arange(t.shape[1])
    for k in range(int(max(spare.max(initial=0), 0))):
        per = np.where(is_stage, np.nan_to_num(t) / np.maximum(r, 1), -np.inf)
        arg = np.argmax(per, axis=0)
        give = spare > k
        r[arg[give], cols[give]] += 1
    return r[:, 0] if squeeze else r


def pipeline_throughput_per_s(stage_s: np.ndarray, replicas: np.ndarray) -> np.ndarray:
    """Images per second of a pipeline: 1 / max over stages of t_s / r_s."""
    t = np.where(np.isfinite(stage_s), stage_s, 0.0)
    r = np.where(replicas > 0, replicas, 1.0)
    return 1.0 / np.max(t / r, axis=0)


# ------------------------------------------------------------------------------------------
# Evaluation of every capacity at once


@dataclass(frozen=True)
class Evaluation:
    """The per-group arrays (U, C) at each group's end unit and the point totals (C,) that are
    not a sum over groups (a pipeline's latency and throughput, the chips used, the filters
    loaded once, the largest fused group's buffer need); the summed totals (DRAM bytes,
    energy, times, MACs, ...) come only from the one roll-up (:func:`rolled_totals`)."""

    kind: str
    capacity_bytes: np.ndarray
    unit_first_layer: np.ndarray
    unit_last_layer: np.ndarray
    start: np.ndarray  # (U, C)
    group: dict[str, np.ndarray]  # per group, at its last unit; NaN where no group ends
    totals: dict[str, np.ndarray]  # per capacity (C,), not sums over groups
    options: dict[str, Any]
    #: per capacity (C,): the optimal grouping considered groups of at most
    #: limits.MAX_FUSED_GROUP_UNITS units and a deeper group might have fit
    depth_limited: np.ndarray | None = None


def depth_note(ev: Evaluation, column: int = 0) -> str | None:
    """The schedule's note where the group depth limit may have changed the grouping."""
    if ev.depth_limited is None or not ev.depth_limited[column]:
        return None
    return (f"groups of at most {limits.MAX_FUSED_GROUP_UNITS} units considered "
            "(cnnmem.limits.MAX_FUSED_GROUP_UNITS); a deeper group would fit the buffer")


def _layer_sums(values: np.ndarray, uidx: np.ndarray, n_units: int) -> np.ndarray:
    out = np.zeros(n_units)
    np.add.at(out, uidx, values)
    return out


# Layer Fusion and OCCAM are two compositions (evaluate_fusion, evaluate_occam) of the shared
# phases below: the group tables (fusion_tables.fusion_table_spec / occam_table_spec), unit
# costs, a grouping choice, the chosen groups' arrays, their stage times, and how the groups
# run (one accelerator, or OCCAM's multi-chip pipeline).


def resolve_options(kind: str, net: Network, options: dict[str, Any] | None,
                    grouping: str | tuple[int, ...] | None) -> dict[str, Any]:
    """``kind``'s options, validated, with the grouping resolved (``grouping`` overrides)."""
    opts = parse_options(kind, dict(options or {}))
    opts["grouping"] = SPECS[kind].resolve_grouping(
        net, grouping if grouping is not None else opts["grouping"])
    return opts


def group_dram_bytes(feature_bytes: np.ndarray, filter_bytes: np.ndarray,
                     filter_reads: float) -> np.ndarray:
    """DRAM bytes of groups: their boundary feature maps (every image) + their filters read
    ``filter_reads`` times per batch."""
    return feature_bytes + filter_bytes * filter_reads


def occam_filter_reads(opts: dict[str, Any], batch: int) -> float:
    """OCCAM: filters read per image (``streamed``) or not by the groups at all (``resident``:
    loaded once onto the pipeline's chips, see Pipeline)."""
    return batch if opts["filters"] == "streamed" else 0


def fusion_filter_reads(opts: dict[str, Any], batch: int) -> float:
    """Layer Fusion: each group's filters read per image (``streamed``) or once (resident)."""
    return batch if opts["filters"] == "streamed" else 1


@dataclass(frozen=True)
class UnitCosts:
    """Everything the grouping choice and the roll-up need: the tables of the groups the DP
    considers as bands (U, D) (``[j, k]``: group [j - D + 1 + k .. j]), and the table
    specification to evaluate any other group (fixed groupings)."""

    net: Network
    hw: Hardware
    opts: dict[str, Any]
    batch: int
    cap: np.ndarray  # (C,)
    n_units: int
    n_cap: int
    starts: np.ndarray  # first layer of each unit
    ends: np.ndarray  # last layer of each unit
    spec: TableSpec  # evaluates the tables of any group
    band: Band  # every table of the groups of at most band.depth units
    need: np.ndarray  # (U, D) buffer need of group [j - D + 1 + k .. j]
    cost: np.ndarray  # (U, D) DRAM bytes of the group (feature maps + filters)
    group_w: np.ndarray  # (U, D) filter bytes of the group
    tiled: np.ndarray  # (U, C) tiled per-layer traffic of a unit alone (the fallback)
    depth_limited: np.ndarray  # (C,) see Evaluation.depth_limited
    opb: float  # operand bytes per MAC
    filter_reads: float  # times per batch a group's filters are read (group_dram_bytes)


def unit_costs(spec: TableSpec, net: Network, hw: Hardware, capacity_bytes: np.ndarray,
               opts: dict[str, Any], batch: int, filter_reads: float) -> UnitCosts:
    """Phase 1: the band of group tables the optimal grouping considers (single units only
    for a fixed grouping), each group's DRAM bytes and the tiled fallback of each unit."""
    cap = np.atleast_1d(np.asarray(capacity_bytes, float))
    starts, ends = spec.starts, spec.ends
    n_units, n_cap = ends.size, cap.size
    uidx = unit_index(net, starts, ends)
    if opts["grouping"] == "optimal":
        band, limited = unit_band(spec, cap)
    else:  # a fixed grouping: its groups are evaluated in the roll-up
        band, limited = unit_band(spec, cap, max_units=1)
        limited = np.zeros(n_cap, dtype=bool)
    group_w = band.filter_bytes
    cost = group_dram_bytes(band.tables[TRAFFIC] * batch, group_w, filter_reads)
    # tiled per-layer traffic for units that alone exceed the capacity: every layer of the unit
    # run layer by layer, its pool and element-wise layers too (issue #12 item 6: the pool's
    # traffic was dropped), the same per-layer traffic as the layerwise strategy
    lw = per_layer_totals(layer_pass_costs(net, hw, [batch], cap, training=False), len(net))
    tiled = np.zeros((n_units, n_cap))
    compute_layers = np.array([lay.is_compute for lay in net.layers])
    np.add.at(tiled, uidx, lw["dram_bytes"][:, 0, :])
    tiled = np.where(_layer_sums(compute_layers, uidx, n_units)[:, None] > 0, tiled,
                     cost[:, -1][:, None])
    return UnitCosts(net, hw, opts, batch, cap, n_units, n_cap, starts, ends, spec, band,
                     band.tables[NEED], cost, group_w, tiled, limited,
                     hw.bytes_per_activation + hw.bytes_per_weight, filter_reads)


# Phase 2: the grouping choice


def least_traffic_grouping(uc: UnitCosts) -> np.ndarray:
    """``start`` (U, C): the partition of least DRAM traffic whose groups fit (a unit alone
    may run tiled), or the fixed grouping of the ``grouping`` option."""
    if uc.opts["grouping"] != "optimal":
        return path_from_cuts(unit_cuts(uc.opts["grouping"], uc.ends), uc.n_units, uc.n_cap)
    return partition_dp(uc.cost, uc.need, uc.cap, uc.tiled)[1]


def _allowed_costs(uc: UnitCosts, e: int) -> np.ndarray:
    return _group_costs(uc.cost, uc.need, uc.cap, uc.tiled, e)


def pipeline_or_reread(uc: UnitCosts, chips: int) -> tuple[np.ndarray, np.ndarray]:
    """OCCAM with resident filters: a pipeline holds at most ``chips`` partitions (the
    generic budgeted DP, every group of weight 1); otherwise every chip re-reads filters per
    image. The cheaper of the two per capacity: ``start`` (U, C) and where re-reading was
    chosen (C,)."""
    reread_cost = uc.cost + uc.group_w * uc.batch
    tot_rr, start_rr = partition_dp(reread_cost, uc.need, uc.cap, uc.tiled)

    def unit_weight(e: int) -> tuple[np.ndarray, np.ndarray]:
        c = _allowed_costs(uc, e)
        return c, np.ones(c.shape, np.int64)

    bounded = budgeted_dp_columns(uc.n_units, unit_weight, max(1, min(chips, uc.n_units)),
                                  uc.n_cap)
    reread_chosen = bounded.total > tot_rr
    return np.where(reread_chosen[None, :], start_rr, bounded.path), reread_chosen


def _stage_column(uc: UnitCosts, e: int) -> np.ndarray:
    """Per-image stage time (n, C) of the band's groups ending at unit e (inf where a group is
    not allowed), computed as for the chosen groups in the roll-up."""
    g = _allowed_costs(uc, e)
    k = uc.band.depth - g.shape[0]
    macs = uc.band.tables[MACS][e, k:, None]
    slots = uc.band.tables[SLOTS][e, k:, None]
    vec = uc.band.vec_ops[e, k:, None]
    stage = _stage_parts(uc.hw, np.where(np.isfinite(g), g, 0.0), macs, vec, uc.opb,
                         uc.opts["stage_time"], slots,
                         capacity_bytes=uc.cap[None, :])["latency_s"]
    return np.where(np.isfinite(g), stage / uc.batch, np.inf)


def balanced_grouping(uc: UnitCosts, chips: int, start: np.ndarray, reread_chosen: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """OCCAM ``partition=balanced``: where a partition into at most ``chips`` fitting groups
    exists, the one of greatest pipeline throughput after STAP (:func:`partition_dp_balanced`);
    elsewhere ``start`` and ``reread_chosen`` as given."""
    bottleneck, _, start_bal = partition_dp_balanced_columns(
        uc.n_units, lambda e: _stage_column(uc, e), lambda e: _allowed_costs(uc, e), chips,
        uc.n_cap)
    balanced = np.isfinite(bottleneck)
    return np.where(balanced[None, :], start_bal, start), reread_chosen & ~balanced


# Phase 3: the chosen groups, their stage times and how they run


@dataclass(frozen=True)
class Groups:
    """The chosen groups' arrays (U, C) at each group's last unit; NaN (0 for ``kept`` and
    ``reread``) where no group ends."""

    start: np.ndarray
    has: np.ndarray  # a group ends here
    need: np.ndarray  # buffer need (bytes)
    fits: np.ndarray
    fallback: np.ndarray  # a unit alone running tiled per layer
    feature: np.ndarray  # boundary feature-map bytes (all images)
    dram: np.ndarray  # DRAM bytes (the tiled traffic for a fallback)
    filter_bytes: np.ndarray
    macs: np.ndarray
    slots: np.ndarray  # MAC slots on the arrays
    vec: np.ndarray  # element-wise ops
    kept: np.ndarray  # bytes kept on chip (all images)
    reread: np.ndarray  # filter bytes re-read per image on top of ``dram`` (OCCAM)


def chosen_tables(uc: UnitCosts, start: np.ndarray) -> dict[str, np.ndarray]:
    """The tables of the chosen groups, (U, C) at each group's last unit (NaN where no group
    ends), evaluated for exactly those groups (any depth: fixed groupings too)."""
    has = start >= 0
    n_units = uc.n_units
    key = np.arange(n_units)[:, None] * n_units + np.maximum(start, 0)
    pairs, inverse = np.unique(key[has], return_inverse=True)
    first, last = pairs % n_units, pairs // n_units
    t = tables_at(uc.spec, first, last)
    w = group_filter_bytes(uc.spec, first, last)
    feature = t[TRAFFIC] * uc.batch
    per_group = {"need": t[NEED], "feature": feature, "inner": t[INNER], "macs": t[MACS],
                 "slots": t[SLOTS], "vec": group_vec_ops(uc.spec, first, last),
                 "group_w": w, "cost": group_dram_bytes(feature, w, uc.filter_reads)}
    out = {}
    for name, values in per_group.items():
        grid = np.full(start.shape, np.nan)
        grid[has] = values[inverse]
        out[name] = grid
    return out


def chosen_groups(uc: UnitCosts, start: np.ndarray, reread_chosen: np.ndarray) -> Groups:
    """The groups of ``start`` (U, C): a unit alone runs tiled when it does not fit or when
    that moves less than fusing it (its filters re-read per image where ``reread_chosen``)."""
    chosen = chosen_tables(uc, start)
    has = start >= 0
    fits = chosen["need"] <= uc.cap[None, :]
    single = np.maximum(start, 0) == np.arange(uc.n_units)[:, None]
    objective = chosen["cost"] + np.where(reread_chosen[None, :],
                                          chosen["group_w"] * uc.batch, 0)
    fallback = has & single & (~fits | (uc.tiled < objective))
    return Groups(start, has, chosen["need"], fits, fallback, chosen["feature"],
                  np.where(fallback, uc.tiled, chosen["cost"]), chosen["group_w"],
                  chosen["macs"], chosen["slots"], chosen["vec"],
                  np.where(has, chosen["inner"] * uc.batch, 0.0), np.zeros(start.shape))


def reread_filters(g: Groups, capacities: np.ndarray, batch: int) -> Groups:
    """Every fused group's filters read once more per image at ``capacities`` (C,) (OCCAM
    without a pipeline: the chips cannot hold every partition's filters)."""
    extra = np.where(g.has & ~g.fallback & capacities[None, :], g.filter_bytes * batch, 0.0)
    return replace(g, dram=g.dram + extra, reread=extra)


def stage_times(uc: UnitCosts, g: Groups) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                      np.ndarray]:
    """The roll-up parts of every group (energy, times), its stage time (U, C) (NaN where no
    group ends) and the latency per image when the groups run one after another (C,)."""
    parts = _stage_parts(uc.hw, np.nan_to_num(g.dram), np.nan_to_num(g.macs),
                         np.nan_to_num(g.vec), uc.opb, uc.opts["stage_time"],
                         np.nan_to_num(g.slots), kept_bytes=g.kept,
                         capacity_bytes=uc.cap[None, :])
    stage_s = np.where(g.has, parts["latency_s"], np.nan)
    return parts, stage_s, np.nansum(stage_s, axis=0) / uc.batch


@dataclass(frozen=True)
class Run:
    """How the groups run: replicas per group (U, C), and per capacity (C,) images per second,
    chips used and filter bytes loaded once (not per image)."""

    replicas: np.ndarray
    throughput_per_s: np.ndarray
    chips_used: np.ndarray
    filter_load_once_bytes: np.ndarray


def one_accelerator(g: Groups, latency_image_s: np.ndarray) -> Run:
    """Layer Fusion: the groups run one after another, image by image, on one accelerator."""
    n_cap = latency_image_s.size
    return Run(g.has.astype(float), 1.0 / np.maximum(latency_image_s, 1e-300), np.ones(n_cap),
               np.zeros(n_cap))


def occam_pipeline(g: Groups, stage_s: np.ndarray, latency_image_s: np.ndarray, chips: int,
                   pipelined: np.ndarray, resident: bool, batch: int) -> Run:
    """OCCAM: where ``pipelined`` (C,), one partition per chip with STAP replicas on the
    bottleneck stages (filters loaded once when resident); elsewhere every chip runs all
    partitions on its own images (data parallel)."""
    replicas = np.where(pipelined[None, :],
                        stap_replicas(np.where(g.has, stage_s / batch, np.nan), chips), 1.0)
    replicas = np.where(g.has, replicas, 0.0)
    thr = np.where(pipelined, pipeline_throughput_per_s(stage_s / batch, replicas),
                   chips / np.maximum(latency_image_s, 1e-300))
    filter_once = np.where(pipelined & resident,
                           np.nansum(np.where(g.fallback, 0.0, g.filter_bytes), axis=0), 0.0)
    return Run(replicas, thr, np.full(latency_image_s.size, float(chips)), filter_once)


def assemble(kind: str, uc: UnitCosts, g: Groups, parts: dict[str, np.ndarray],
             stage_s: np.ndarray, latency_image_s: np.ndarray, run: Run) -> Evaluation:
    """The per-group arrays (U, C) of an evaluation and its point totals (C,) that are not a
    sum over groups (the sums come from the one roll-up, :func:`strategy_result`)."""
    has, batch = g.has, uc.batch
    totals = {
        "filter_load_once_bytes": run.filter_load_once_bytes,
        "latency_s": latency_image_s * batch,
        "throughput_per_s": run.throughput_per_s,
        "chip_s_per_image": run.chips_used / run.throughput_per_s,
        "chips_used": run.chips_used,
        # the largest fused group: a unit running tiled per layer needs no fused storage
        "buffer_need_bytes": np.nanmax(np.where(g.fallback | ~has, np.nan, g.need), axis=0,
                                       initial=0.0),
    }
    energy = {k: np.where(has, parts[k], 0.0) for k in rollup.ENERGY_PARTS}
    group: dict[str, Any] = {
        "need_bytes": g.need, "dram_bytes": g.dram, "feature_map_bytes": g.feature,
        "filter_bytes": g.filter_bytes, "filter_reread_bytes": g.reread, "macs": g.macs,
        "compute_s": parts["compute_s"], "memory_s": parts["memory_s"], "stage_s": stage_s,
        "replicas": run.replicas, "energy_pj": sum(energy.values()), **energy,
        "fits": g.fits, "fallback": g.fallback,
        "tiled_fallback_groups": g.fallback.astype(float)}
    return Evaluation(kind, uc.cap, uc.starts, uc.ends, g.start, group, totals, uc.opts,
                      uc.depth_limited)


# The two strategies


def evaluate_fusion(net: Network, hw: Hardware, capacity_bytes: np.ndarray, *, batch: int = 1,
                    options: dict[str, Any] | None = None,
                    grouping: str | tuple[int, ...] | None = None) -> Evaluation:
    """Layer Fusion for every capacity: the least-traffic fitting grouping (or a fixed one),
    run group after group on one accelerator."""
    opts = resolve_options(FUSION, net, options, grouping)
    uc = unit_costs(fusion_table_spec(net, hw, opts, batch), net, hw, capacity_bytes, opts,
                    batch, fusion_filter_reads(opts, batch))
    g = chosen_groups(uc, least_traffic_grouping(uc), np.zeros(uc.n_cap, dtype=bool))
    parts, stage_s, latency_image_s = stage_times(uc, g)
    return assemble(FUSION, uc, g, parts, stage_s, latency_image_s,
                    one_accelerator(g, latency_image_s))


def evaluate_occam(net: Network, hw: Hardware, capacity_bytes: np.ndarray, *, batch: int = 1,
                   chips: int = 1, options: dict[str, Any] | None = None,
                   grouping: str | tuple[int, ...] | None = None) -> Evaluation:
    """OCCAM for every capacity: the least-traffic partition by dependence closure (with
    resident filters: into at most ``chips`` partitions, or with filters re-read per image
    where cheaper; ``partition=balanced``: of greatest pipeline throughput), on a multi-chip
    pipeline with STAP when it holds every partition."""
    opts = resolve_options(OCCAM, net, options, grouping)
    resident = opts["filters"] == "resident"
    uc = unit_costs(occam_table_spec(net, hw, opts, batch), net, hw, capacity_bytes, opts,
                    batch, occam_filter_reads(opts, batch))
    reread_chosen = np.zeros(uc.n_cap, dtype=bool)
    if opts["grouping"] == "optimal" and resident:
        start, reread_chosen = pipeline_or_reread(uc, chips)
    else:
        start = least_traffic_grouping(uc)
    if opts["grouping"] == "optimal" and opts["partition"] == "balanced":
        start, reread_chosen = balanced_grouping(uc, chips, start, reread_chosen)
    g = chosen_groups(uc, start, reread_chosen)
    pipelined = (g.has.sum(axis=0) <= chips) & ~reread_chosen
    if resident:  # not pipelined: the chips cannot keep every partition's filters
        g = reread_filters(g, ~pipelined, batch)
    parts, stage_s, latency_image_s = stage_times(uc, g)
    return assemble(OCCAM, uc, g, parts, stage_s, latency_image_s,
                    occam_pipeline(g, stage_s, latency_image_s, chips, pipelined, resident,
                                   batch))


def evaluate(kind: str, net: Network, hw: Hardware, capacity_bytes: np.ndarray, *, batch: int = 1,
             chips: int = 1, options: dict[str, Any] | None = None,
             grouping: str | tuple[int, ...] | None = None) -> Evaluation:
    """:func:`evaluate_fusion` (``kind='fusion'``; one accelerator, ``chips`` unused) or
    :func:`evaluate_occam` (``'occam'``)."""
    if kind == OCCAM:
        return evaluate_occam(net, hw, capacity_bytes, batch=batch, chips=chips,
                              options=options, grouping=grouping)
    if kind == FUSION:
        return evaluate_fusion(net, hw, capacity_bytes, batch=batch, options=options,
                               grouping=grouping)
    raise ValueError(f"unknown fusion strategy {kind!r}")


# ------------------------------------------------------------------------------------------
# Strategy registrations


#: group costs a fusion result sums over a point's groups (the one roll-up, the only place
#: they are summed); its other totals (a pipeline's latency and throughput, the chips used,
#: the filters loaded once, the buffer need of the fused groups) are the evaluation's own
SUMMED = ("dram_bytes", "feature_map_bytes", "filter_reread_bytes") + rollup.ENERGY_PARTS + (
    "compute_s", "memory_s", "macs", "tiled_fallback_groups")
TOTAL_KEYS = ("dram_bytes", "feature_map_bytes", "filter_dram_bytes", "filter_load_once_bytes",
              "filter_reread_bytes", *rollup.ENERGY_PARTS, "energy_pj", "latency_s",
              "throughput_per_s", "chip_s_per_image", "compute_s", "memory_s", "macs",
              "groups", "chips_used", "buffer_need_bytes", "tiled_fallback_groups")
COLUMNS = ("group", "layers", "n_layers", "buffer_need_bytes", "fits", "mode",
           "boundary_bytes", "dram_bytes", "macs", "compute_s", "memory_s", "stage_s")


def _notes(kind: str, ev: Evaluation, chips: int, totals: dict[str, Any]) -> tuple[str, ...]:
    """The schedule notes of capacity 0 (``totals``: the schedule's, rolled up)."""
    o = ev.options
    notes = [", ".join(f"{k}={format_cuts(v) if isinstance(v, tuple) else v}"
                       for k, v in sorted(o.items()))]
    if kind == OCCAM:
        if totals["groups"] <= chips:
            notes.append(f"pipeline: {int(totals['groups'])} partitions on {chips} chips "
                         "(STAP replicas on the bottleneck stages); filters loaded once "
                         f"({totals['filter_load_once_bytes']:.4g} B), not per image")
        else:
            notes.append(f"{int(totals['groups'])} partitions > {chips} chips: no "
                         "pipeline; each chip runs all partitions on its own images and re-reads "
                         "filters per image")
        notes.append("iso-chip comparison: chip_s_per_image = chips / throughput")
    else:
        notes.append("one accelerator; each group's filters read once per image")
    g = ev.group
    present = ev.start[:, 0] >= 0
    if (present & ~g["fits"][:, 0] & ~g["fallback"][:, 0]).any():
        notes.append("a forced group exceeds the buffer (its traffic assumes it fits)")
    if depth_note(ev):
        notes.append(str(depth_note(ev)))
    if totals["tiled_fallback_groups"]:
        notes.append(f"{int(totals['tiled_fallback_groups'])} unit(s) alone exceed the buffer: "
                     "tiled per-layer traffic")
    return tuple(notes)


def evaluate_strategy(kind: str, req: SweepRequest) -> StrategyResult:
    """Layer Fusion's or OCCAM's one evaluator: :func:`evaluate` at every capacity, as
    :func:`strategy_result`."""
    ev = evaluate(kind, req.network, req.hardware, np.asarray(req.capacity_bytes, float),
                  batch=req.batch, chips=req.chips, options=dict(req.options),
                  grouping=req.grouping)
    return strategy_result(ev, req.network, req.chips)


def strategy_result(ev: Evaluation, net: Network, chips: int = 1) -> StrategyResult:
    """The result of an evaluation of ``net``: its groups (one per end unit) as one block over
    the capacities (no sub-batch axis), summed by the one roll-up (:data:`SUMMED`), and its
    own point totals; ``chips`` (OCCAM) is for the schedule's notes."""
    kind = ev.kind
    n_cap = ev.capacity_bytes.size
    present = ev.start >= 0  # (U, C): a group ends at this unit
    costs = {k: v[:, :, None] for k, v in ev.group.items()}
    costs["start_unit"] = np.maximum(ev.start, 0)[:, :, None]

    def labels(j: int, v: dict[str, Any]) -> dict[str, Any]:
        first, last = ev.unit_first_layer[int(v["start_unit"])], ev.unit_last_layer[j]
        return {"layers": f"{net.layers[first].name}..{net.layers[last].name}",
                "n_layers": int(last - first + 1), "buffer_need_bytes": v["need_bytes"],
                "mode": "tiled per-layer" if v["fallback"] else "fused",
                "boundary_bytes": v["feature_map_bytes"], "replicas": int(v["replicas"])}

    block = GroupBlock(costs, present[:, :, None], labels)
    # the grouping used per capacity: a group ends after the last layer of each end unit
    cuts = np.zeros((n_cap, len(net)), dtype=bool)
    cuts[:, ev.unit_last_layer] = present.T
    return StrategyResult(
        kind, (n_cap, 1), lambda: (block,), total_keys=TOTAL_KEYS,
        columns=COLUMNS + (("replicas",) if kind == OCCAM else ()) + ("energy_pj",),
        summed=SUMMED, totals={k: v[:, None] for k, v in ev.totals.items()},
        derive=lambda t: {"filter_dram_bytes": t["dram_bytes"] - t["feature_map_bytes"]},
        cuts=cuts[:, :-1], notes=lambda totals: _notes(kind, ev, chips, totals))


def rolled_totals(ev: Evaluation, net: Network) -> dict[str, np.ndarray]:
    """Every total of :data:`TOTAL_KEYS` at each capacity (C,) of ``ev`` (an evaluation of
    ``net``): :func:`strategy_result` through the one roll-up, as for a schedule or a sweep."""
    return {k: v[:, 0] for k, v in point_totals(strategy_result(ev, net), TOTAL_KEYS).items()}


@register(SPECS[FUSION])
def layer_fusion(req: SweepRequest) -> StrategyResult:
    return evaluate_strategy(FUSION, req)


@register(SPECS[OCCAM])
def occam(req: SweepRequest) -> StrategyResult:
    return evaluate_strategy(OCCAM, req)
