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
    T(0) = 0, T(j) = min over i of T(i-1) + traffic(i..j) with Mem(i..j) <= capacity, O(U^2),
    vectorized over an array of capacities. With resident filters the pipeline holds at most
    ``chips`` partitions (a DP bounded in the number of groups); a partitioning with more groups
    than chips re-reads filters per image (see Pipeline), and the cheaper of the two is taken.
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
    The DSE picks the grouping of least traffic whose groups fit the buffer (same DP as OCCAM).

Energy comes from the single roll-up :func:`cnnmem.model.rollup.energy_latency` (DRAM bytes,
MACs, element-wise ops, and one buffer write and one buffer read of every intermediate map kept
on chip).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnmem.hardware import Hardware
from cnnmem.model import rollup
from cnnmem.model.array import pass_efficiency
from cnnmem.model.cost import layer_pass_costs
from cnnmem.model.gconv import layer_gconvs
from cnnmem.model.grouping import (
    budgeted_dp,
    consecutive_dp,
    format_cuts,
    path_from_cuts,
    replicas_needed,
    replicated_bottleneck_dp,
)
from cnnmem.model.layerwise import per_layer_totals
from cnnmem.model.receptive import effective_kernel, overlap_rows, window_rows
from cnnmem.model.result import GroupBlock, StrategyResult
from cnnmem.model.schedule import (
    INFERENCE,
    GroupingRule,
    OptionSpec,
    StrategySpec,
    SweepRequest,
    register,
)
from cnnmem.model.streaming import streaming_elementwise_ops
from cnnmem.workload.layers import CONV, FC
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
# Units: the layers no cut may separate


def cut_allowed(net: Network, pool: str = "fold") -> np.ndarray:
    """Boolean (L,): may a group end after layer c? (The last layer always ends one.)"""
    n = len(net)
    ok = np.ones(n, dtype=bool)
    for c in range(n - 1):
        nxt = net.layers[c + 1]
        role = nxt.behaviour.role  # the type's behaviour record
        attached = role in ("elementwise", "view") or (role == "window" and pool == "fold")
        if attached and net.producers[c + 1] == (c,):
            ok[c] = False
        if (pool == "separate" and net.layers[c].behaviour.role == "window"
                and net.consumers[c] == (c + 1,)):
            ok[c] = False
    ok[n - 1] = True
    return ok


def units_of(net: Network, pool: str = "fold") -> tuple[np.ndarray, np.ndarray]:
    """First and last layer index of every unit, arrays (U,)."""
    ends = np.flatnonzero(cut_allowed(net, pool))
    starts = np.concatenate([[0], ends[:-1] + 1])
    return starts, ends


# ------------------------------------------------------------------------------------------
# Per-layer geometry (arrays over layers)


@dataclass(frozen=True)
class Geometry:
    k_eff: np.ndarray  # window span in input rows (1 for non-window layers)
    stride: np.ndarray
    in_c: np.ndarray
    in_h: np.ndarray
    in_w: np.ndarray
    out_c: np.ndarray
    out_h: np.ndarray
    out_w: np.ndarray
    is_window: np.ndarray  # conv and pooling layers
    is_fc: np.ndarray
    in_elems: np.ndarray


def geometry(net: Network) -> Geometry:
    rows = []
    for lay in net.layers:
        c, h, w = lay.in_shapes[0]
        oc, oh, ow = lay.out_shape
        win = lay.family == CONV or lay.behaviour.role == "window"
        k = int(effective_kernel(lay.kernel[0], lay.dilation[0])) if win else 1
        stride = lay.stride[0] if win else 1
        if lay.behaviour.transposed:  # r output rows need ~r/s + K/s input rows: taken as
            k, stride = -(-k // stride), 1  # a stride-1 window of ceil(K/s) rows [conservative]
        rows.append((k, stride, c, h, w, oc, oh, ow, win,
                     lay.family == FC, lay.in_elems))
    a = np.array(rows, dtype=np.int64).T
    return Geometry(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8].astype(bool),
                    a[9].astype(bool), a[10])


# ------------------------------------------------------------------------------------------
# Group matrices over (first unit i, last unit j), i <= j


def _grid(n_units: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.meshgrid(np.arange(n_units), np.arange(n_units), indexing="ij")
    return i, j


def unit_index(net: Network, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Unit of every layer, (L,)."""
    return np.searchsorted(ends, np.arange(len(net)))


def boundary_matrices(net: Network, ends: np.ndarray, act_bytes: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Boundary bytes per image of every group (U, U): reads + writes; one staging row and one
    staging pixel (all channels) of the written tensors; bytes of the intermediate maps that
    stay on chip."""
    n_units = ends.size
    uidx = unit_index(net, None, ends)  # type: ignore[arg-type]
    gi, gj = _grid(n_units)
    traffic = np.zeros((n_units, n_units))
    staging = np.zeros((n_units, n_units))
    staging_px = np.zeros((n_units, n_units))
    inner = np.zeros((n_units, n_units))
    outputs = set(net.outputs)
    tensors = [(-1, net.input_elems, net.input_shape)] + [
        (p, lay.out_elems, lay.out_shape) for p, lay in enumerate(net.layers)]
    consumers_of = {-1: [j for j, prods in enumerate(net.producers) if -1 in prods]}
    for p in range(len(net)):
        consumers_of[p] = list(net.consumers[p])
    # one concat rule for every strategy (issue #12 item 7): a concat's output is the union of
    # its inputs' slices, never a tensor of its own; its consumers read the inputs' slices, so
    # a concat moves nothing at a group boundary (as in layer-by-layer inference)
    concat = {i for i, lay in enumerate(net.layers) if lay.type == "concat"}
    for c in sorted(concat, reverse=True):  # a concat's consumers come after it
        if c in outputs:  # a network output: its inputs' slices are written out
            outputs |= {q for q in net.producers[c] if q >= 0}
    for p in consumers_of:
        seen: list[int] = []
        stack = list(consumers_of[p])
        while stack:
            c = stack.pop()
            if c in concat:
                stack.extend(consumers_of[c])
            elif c not in seen:
                seen.append(c)
        consumers_of[p] = sorted(seen)
    for p, elems, shape in tensors:
        if p in concat:
            continue
        cu = np.unique(uidx[consumers_of[p]]) if consumers_of[p] else np.array([], np.int64)
        if p in outputs:
            cu = np.append(cu, n_units)  # consumed "after the network"
        if cu.size == 0:
            continue
        up = -1 if p < 0 else uidx[p]
        nbytes = elems * act_bytes
        nxt = np.searchsorted(cu, np.arange(n_units))  # first consumer unit >= i
        nc = np.where(nxt < cu.size, cu[np.minimum(nxt, cu.size - 1)], n_units + 1)
        read = (up < gi) & (nc[:, None] <= gj)
        write = (up >= gi) & (up <= gj) & (cu.max() > gj)
        traffic += nbytes * (read.astype(float) + write)
        staging += write * shape[0] * shape[2] * act_bytes
        staging_px += write * shape[0] * act_bytes
        if p >= 0:
            inner += ((up >= gi) & (cu.min() <= gj) & (cu.min() > up)) * nbytes
    return traffic, staging, staging_px, inner


def _add_layer_term(mat: np.ndarray, u: int, value: np.ndarray | float, first_le: int) -> None:
    """mat[i, j] += value for groups with i <= first_le and j >= u (value may vary over j)."""
    mat[: first_le + 1, u:] += np.broadcast_to(value, mat.shape[1:])[u:]


def closure_matrix(net: Network, ends: np.ndarray, geo: Geometry, hw: Hardware,
                   window: str, filters: str, staging: np.ndarray) -> np.ndarray:
    """OCCAM dependence-closure memory (bytes) of every partition (U, U)."""
    ea, ew = hw.bytes_per_activation, hw.bytes_per_weight
    n_units = ends.size
    uidx = unit_index(net, None, ends)  # type: ignore[arg-type]
    per_layer = np.where(geo.is_window,
                         window_rows(geo.k_eff, geo.stride, geo.in_h, 1, window)
                         * geo.in_w * geo.in_c, 0).astype(float)
    per_layer = np.where(geo.is_fc, geo.in_elems, per_layer) * ea
    if filters == "resident":
        per_layer = per_layer + net.weight_elems * ew
    mem = np.zeros((n_units, n_units))
    for layer_i in range(len(net)):
        u = uidx[layer_i]
        _add_layer_term(mem, u, per_layer[layer_i], u)
    for a, lay in enumerate(net.layers):  # delay buffers of joins
        if lay.behaviour.role != "join":
            continue
        for p in net.producers[a]:
            if p < 0:
                continue
            between = range(p + 1, a)
            rows = 1 + sum(int(geo.k_eff[m]) - 1 for m in between if geo.is_window[m])
            c, h, w = net.layers[p].out_shape
            _add_layer_term(mem, uidx[a], min(rows, h) * w * c * ea, uidx[p])
    return np.triu(mem + staging)


def fusion_storage(net: Network, ends: np.ndarray, geo: Geometry, hw: Hardware, opts: dict,
                   staging: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Layer Fusion storage (bytes) of every group (U, U) and the MAC multiplier (L, U) of each
    layer when its group ends at unit j (1 for the reuse variant)."""
    ea, ew = hw.bytes_per_activation, hw.bytes_per_weight
    n_units, n = ends.size, len(net)
    uidx = unit_index(net, None, ends)  # type: ignore[arg-type]
    mem = np.zeros((n_units, n_units))
    mac_factor = np.ones((n, n_units))
    if opts["filters"] == "resident":
        for layer_i in range(n):
            _add_layer_term(mem, uidx[layer_i], float(net.weight_elems[layer_i] * ew),
                            uidx[layer_i])
    if opts["variant"] == "reuse":
        log_s = np.cumsum(np.log2(np.where(geo.is_window, geo.stride, 1)))
        for layer_i in range(n):
            u = uidx[layer_i]
            prods = [p for p in net.producers[layer_i] if p >= 0]
            if geo.is_window[layer_i] and prods:
                ov = overlap_rows(geo.k_eff[layer_i], geo.stride[layer_i]) * geo.in_w[
                    layer_i] * geo.in_c[layer_i] * ea
                _add_layer_term(mem, u, float(ov), uidx[prods[0]])
            if not (geo.is_fc[layer_i] or geo.is_window[layer_i]):
                continue  # element-wise layers work in place on their producer's data
            if geo.is_fc[layer_i]:
                fresh = np.full(n_units, geo.in_elems[layer_i] * ea, dtype=float)
            else:
                before = log_s[layer_i - 1] if layer_i > 0 else 0.0
                s = np.exp2(log_s[ends] - before)
                fresh = (np.minimum(s, geo.in_h[layer_i]) * np.minimum(s, geo.in_w[layer_i])
                         * geo.in_c[layer_i] * ea)
            _add_layer_term(mem, u, fresh, u)
        return np.triu(mem + staging), mac_factor
    tile = int(opts["tile"])
    for j in range(n_units):  # recompute: pyramid tiles of tile x tile outputs of layer ends[j]
        end = int(ends[j])
        r_in = np.zeros(n)
        r_out = np.zeros(n)
        for layer_i in range(end, -1, -1):
            inside = [c for c in net.consumers[layer_i] if c <= end]
            r = max((r_in[c] for c in inside), default=0) or min(tile, geo.out_h[layer_i])
            r_out[layer_i] = r
            k, s = geo.k_eff[layer_i], geo.stride[layer_i]
            r_in[layer_i] = min((r - 1) * s + k, geo.in_h[layer_i]) if not geo.is_fc[
                layer_i] else geo.in_h[layer_i]
        tile_bytes = (r_in * np.minimum(r_in, geo.in_w) * geo.in_c * ea)[: end + 1]
        for layer_i in range(end + 1):
            mem[: uidx[layer_i] + 1, j] += tile_bytes[layer_i]
        oh, ow = geo.out_h[end], geo.out_w[end]
        t = min(tile, oh)
        n_tiles = -(-oh // t) * -(-ow // min(tile, ow))
        ro = r_out[: end + 1]
        mac_factor[: end + 1, j] = np.maximum(
            1.0, n_tiles * ro * np.minimum(ro, geo.out_w[: end + 1])
            / (geo.out_h[: end + 1] * geo.out_w[: end + 1]))
    return np.triu(mem + staging), mac_factor


# ------------------------------------------------------------------------------------------
# Per-group MACs and stage times (shared by evaluate and the balanced partition)


def _group_macs_vec(cm: np.ndarray, cv: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                    first_unit: np.ndarray, last_unit: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """MACs and element-wise ops of groups [first_unit..last_unit] (broadcasting index arrays)
    from the cumulative sums ``cm`` (L + 1, U) (per-layer MACs x the MAC factor when the group
    ends at unit j) and ``cv`` (L + 1,)."""
    first_l = starts[first_unit]
    last_l = ends[last_unit] + 0 * first_unit
    return cm[last_l + 1, last_unit] - cm[first_l, last_unit], cv[last_l + 1] - cv[first_l]


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
    """Cost of every group ending at unit j, (j + 1, C): inf where it does not fit."""
    fits = need_bytes[: j + 1, j, None] <= cap[None, :]
    c = np.where(fits, cost[: j + 1, j, None], np.inf)
    if fallback is not None:
        c[j] = np.minimum(c[j], fallback[j])  # a unit may always run tiled
    return c


def partition_dp(cost: np.ndarray, need_bytes: np.ndarray, capacity_bytes: np.ndarray,
                 fallback: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Least-total-cost partition of U units into consecutive groups, for every capacity.

    ``cost`` and ``need_bytes``: (U, U) over (first unit, last unit). A group fits when
    need <= capacity; a single unit may instead run tiled at ``fallback[u, c]`` (the only
    choice when it does not fit; none when ``fallback`` is None).
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


def group_cost_matrix(cost: np.ndarray, need_bytes: np.ndarray, capacity_bytes: np.ndarray,
                      fallback: np.ndarray | None) -> np.ndarray:
    """Cost of every allowed group (U, U, C) as :func:`partition_dp` sees it: ``cost`` where
    the group fits, a single unit at min(cost if it fits, ``fallback``); inf otherwise
    (including first > last)."""
    cap = np.atleast_1d(np.asarray(capacity_bytes, float))
    n_units = cost.shape[0]
    out = np.full((n_units, n_units, cap.size), np.inf)
    for j in range(n_units):
        out[: j + 1, j] = _group_costs(cost, need_bytes, cap, fallback, j)
    return out


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
    replicated_bottleneck_dp` (O(U^2 chips^2 C)) and :func:`cnnmem.model.grouping.
    budgeted_dp` (O(U^2 chips C)), vectorized over capacities.

    Returns (bottleneck_s (C,), traffic (C,), start (U, C)); inf and -1 where no partition
    with at most ``chips`` allowed groups exists.
    """
    bottleneck = replicated_bottleneck_dp(stage_s, chips)
    replicas = replicas_needed(stage_s, bottleneck, chips)
    result = budgeted_dp(group_cost, replicas, chips)
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


def groups_of(start: np.ndarray) -> list[tuple[int, int]]:
    """(first unit, last unit) of each group from one capacity's ``start`` column."""
    return [(int(s), j) for j, s in enumerate(start) if s >= 0]


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
    """Totals per capacity (C,) and the per-group arrays (U, C) at each group's end unit."""

    kind: str
    capacity_bytes: np.ndarray
    unit_first_layer: np.ndarray
    unit_last_layer: np.ndarray
    start: np.ndarray  # (U, C)
    group: dict[str, np.ndarray]  # per group, at its last unit; NaN where no group ends
    totals: dict[str, np.ndarray]
    options: dict[str, Any]


def _layer_sums(values: np.ndarray, uidx: np.ndarray, n_units: int) -> np.ndarray:
    out = np.zeros(n_units)
    np.add.at(out, uidx, values)
    return out


@dataclass(frozen=True)
class UnitCosts:
    """Everything the grouping choice and the roll-up need, per unit pair (U, U[, C])."""

    kind: str
    net: Network
    hw: Hardware
    opts: dict[str, Any]
    batch: int
    chips: int
    cap: np.ndarray  # (C,)
    n_units: int
    n_cap: int
    starts: np.ndarray  # first layer of each unit
    ends: np.ndarray  # last layer of each unit
    need: np.ndarray  # (U, U) buffer need of group [i..j]
    cost: np.ndarray  # (U, U) DRAM bytes of group [i..j] (feature maps + filters)
    feature: np.ndarray  # (U, U) feature-map boundary bytes
    group_w: np.ndarray  # (U, U) filter bytes of group [i..j]
    tiled: np.ndarray  # (U, C) tiled per-layer traffic of a unit alone (the fallback)
    inner: np.ndarray  # (U, U) bytes kept on chip inside a group (buffer energy)
    cm: np.ndarray  # cumulative MACs
    cv: np.ndarray  # cumulative vector ops
    cslots: np.ndarray  # cumulative MAC slots
    opb: float  # operand bytes per MAC


def unit_costs(kind: str, net: Network, hw: Hardware, capacity_bytes: np.ndarray,
               opts: dict[str, Any], batch: int, chips: int) -> UnitCosts:
    """Phase 1: units, group storage (OCCAM closure or fusion storage) and traffic."""
    cap = np.atleast_1d(np.asarray(capacity_bytes, float))
    ea, ew = hw.bytes_per_activation, hw.bytes_per_weight
    starts, ends = units_of(net, opts["pool"])
    n_units, n_cap = ends.size, cap.size
    uidx = unit_index(net, starts, ends)
    geo = geometry(net)
    traffic, staging, staging_px, inner = boundary_matrices(net, ends, ea)
    weights_u = _layer_sums(net.weight_elems * ew, uidx, n_units)
    cw = np.concatenate([[0.0], np.cumsum(weights_u)])
    gi, gj = _grid(n_units)
    group_w = np.where(gj >= gi, cw[np.minimum(gj + 1, n_units)] - cw[gi], 0.0)  # [i..j] filters
    if kind == OCCAM:
        need = closure_matrix(net, ends, geo, hw, opts["window"], opts["filters"], staging)
        mac_factor = np.ones((len(net), n_units))
        weight_traffic = group_w * batch if opts["filters"] == "streamed" else 0.0 * group_w
    else:
        need, mac_factor = fusion_storage(net, ends, geo, hw, opts, staging_px)
        weight_traffic = group_w * (batch if opts["filters"] == "streamed" else 1)
    feature = traffic * batch
    cost = feature + weight_traffic
    # tiled per-layer traffic for units that alone exceed the capacity: every layer of the unit
    # run layer by layer, its pool and element-wise layers too (issue #12 item 6: the pool's
    # traffic was dropped), the same per-layer traffic as the layerwise strategy
    lw = per_layer_totals(layer_pass_costs(net, hw, [batch], cap, training=False), len(net))
    tiled = np.zeros((n_units, n_cap))
    compute_layers = np.array([lay.is_compute for lay in net.layers])
    np.add.at(tiled, uidx, lw["dram_bytes"][:, 0, :])
    tiled = np.where(_layer_sums(compute_layers, uidx, n_units)[:, None] > 0, tiled,
                     np.diag(cost)[:, None])
    macs_l = net.macs.astype(float) * batch
    vec_l = np.array([streaming_elementwise_ops(lay, "forward") for lay in net.layers],
                     float) * batch
    cm = np.concatenate([np.zeros((1, n_units)), np.cumsum(macs_l[:, None] * mac_factor, 0)])
    cv = np.concatenate([[0.0], np.cumsum(vec_l)])
    # MAC slots on the hardware's systolic arrays (MACs / mapping efficiency at this batch)
    eff_l = np.array([pass_efficiency(hw, layer_gconvs(lay, i, ("forward",))[0], batch)
                      if lay.is_compute else 1.0 for i, lay in enumerate(net.layers)], float)
    cslots = np.concatenate([np.zeros((1, n_units)),
                             np.cumsum((macs_l / eff_l)[:, None] * mac_factor, 0)])
    opb = ea + ew
    return UnitCosts(kind, net, hw, opts, batch, chips, cap, n_units, n_cap, starts, ends,
                     need, cost, feature, group_w, tiled, inner, cm, cv, cslots, opb)


def choose_groups(uc: UnitCosts) -> tuple[np.ndarray, np.ndarray]:
    """Phase 2: the grouping per capacity, ``start`` (U, C), and where OCCAM chose to re-read
    filters per image rather than pipeline (C,)."""
    (kind, hw, opts, batch, chips, cap, n_units, n_cap, starts, ends, need, cost, group_w,
     tiled, cm, cv, cslots, opb) = (
        uc.kind, uc.hw, uc.opts, uc.batch, uc.chips, uc.cap, uc.n_units, uc.n_cap, uc.starts,
        uc.ends, uc.need, uc.cost, uc.group_w, uc.tiled, uc.cm, uc.cv, uc.cslots, uc.opb)
    reread_chosen = np.zeros(n_cap, dtype=bool)
    if opts["grouping"] == "optimal":
        total, start = partition_dp(cost, need, cap, tiled)
        if kind == OCCAM and opts["filters"] == "resident":
            # a pipeline holds at most `chips` partitions with resident filters; otherwise
            # every chip re-reads filters per image: take the cheaper of the two per capacity
            reread_cost = cost + group_w * batch
            tot_rr, start_rr = partition_dp(reread_cost, need, cap, tiled)
            # at most `chips` groups: the generic budgeted DP, every group of weight 1
            g_all = group_cost_matrix(cost, need, cap, tiled)
            bounded = budgeted_dp(g_all, np.ones(g_all.shape, np.int64),
                                  max(1, min(chips, n_units)))
            tot_pl, start_pl = bounded.total, bounded.path
            reread_chosen = tot_pl > tot_rr
            start = np.where(reread_chosen[None, :], start_rr, start_pl)
        if kind == OCCAM and opts["partition"] == "balanced":
            # every group's per-image stage time, computed as for the chosen groups below
            g_cost = group_cost_matrix(cost, need, cap, tiled)
            u = np.arange(n_units)
            m_macs, m_vec = _group_macs_vec(cm, cv, starts, ends, u[:, None], u[None, :])
            m_slots, _ = _group_macs_vec(cslots, cv, starts, ends, u[:, None], u[None, :])
            m_stage = _stage_parts(hw, np.where(np.isfinite(g_cost), g_cost, 0.0),
                                   m_macs[:, :, None], m_vec[:, :, None], opb,
                                   opts["stage_time"], m_slots[:, :, None],
                                   capacity_bytes=cap[None, None, :])["latency_s"]
            m_stage = np.where(np.isfinite(g_cost), m_stage / batch, np.inf)
            bottleneck, _, start_bal = partition_dp_balanced(m_stage, g_cost, chips)
            balanced = np.isfinite(bottleneck)
            start = np.where(balanced[None, :], start_bal, start)
            reread_chosen = reread_chosen & ~balanced
    else:
        start = path_from_cuts(unit_cuts(opts["grouping"], ends), n_units, n_cap)
    return start, reread_chosen


def evaluate(kind: str, net: Network, hw: Hardware, capacity_bytes: np.ndarray, *, batch: int = 1,
             chips: int = 1, options: dict[str, Any] | None = None,
             grouping: str | tuple[int, ...] | None = None) -> Evaluation:
    """Run Layer Fusion (``kind='fusion'``) or OCCAM (``'occam'``) for every capacity: unit
    costs, the grouping choice, then the shared per-group roll-up (:func:`roll_up`)."""
    opts = parse_options(kind, dict(options or {}))
    opts["grouping"] = SPECS[kind].resolve_grouping(
        net, grouping if grouping is not None else opts["grouping"])
    uc = unit_costs(kind, net, hw, capacity_bytes, opts, batch, chips)
    start, reread_chosen = choose_groups(uc)
    return roll_up(uc, start, reread_chosen)


def roll_up(uc: UnitCosts, start: np.ndarray, reread_chosen: np.ndarray) -> Evaluation:
    """Phase 3: per-group arrays (U, C) at each group's end unit, and totals (C,)."""
    (kind, hw, opts, batch, chips, cap, n_units, n_cap, starts, ends, need, cost, feature,
     group_w, tiled, inner, cm, cv, cslots, opb) = (
        uc.kind, uc.hw, uc.opts, uc.batch, uc.chips, uc.cap, uc.n_units, uc.n_cap, uc.starts,
        uc.ends, uc.need, uc.cost, uc.feature, uc.group_w, uc.tiled, uc.inner, uc.cm, uc.cv,
        uc.cslots, uc.opb)
    # per-group quantities at each group's end unit j: (U, C)
    s_idx = np.maximum(start, 0)
    cols = np.arange(n_cap)[None, :]
    jj = np.arange(n_units)[:, None]
    has = start >= 0
    g_need = np.where(has, need[s_idx, jj], np.nan)
    fits = g_need <= cap[None, :]
    single = s_idx == jj
    objective = cost[s_idx, jj] + np.where(reread_chosen[None, :], group_w[s_idx, jj] * batch, 0)
    fallback = has & single & (~fits | (tiled[jj, cols] < objective))
    g_feature = np.where(has, feature[s_idx, jj], np.nan)
    g_dram = np.where(fallback, tiled[jj, cols], np.where(has, cost[s_idx, jj], np.nan))
    g_w = np.where(has, group_w[s_idx, jj], np.nan)
    r_macs, r_vec = _group_macs_vec(cm, cv, starts, ends, s_idx, jj)
    r_slots, _ = _group_macs_vec(cslots, cv, starts, ends, s_idx, jj)
    g_slots = np.where(has, r_slots, np.nan)
    g_macs = np.where(has, r_macs, np.nan)
    g_vec = np.where(has, r_vec, np.nan)
    g_inner = np.where(has, inner[s_idx, jj] * batch, 0.0)
    n_groups = has.sum(axis=0)
    pipelined = (n_groups <= chips) & ~reread_chosen
    # OCCAM not pipelined: filters cannot stay resident, so every chip re-reads each group's
    # filters per image; those bytes are part of the group's DRAM traffic and memory time
    reread_case = (kind == OCCAM) & ~pipelined & (opts["filters"] == "resident")
    g_reread = np.where(has & ~fallback & reread_case[None, :], g_w * batch, 0.0)
    g_dram = g_dram + g_reread
    parts = _stage_parts(hw, np.nan_to_num(g_dram), np.nan_to_num(g_macs),
                         np.nan_to_num(g_vec), opb, opts["stage_time"], np.nan_to_num(g_slots),
                         kept_bytes=g_inner, capacity_bytes=cap[None, :])
    stage_s = np.where(has, parts["latency_s"], np.nan)
    latency_image_s = np.nansum(stage_s, axis=0) / batch
    dram = np.nansum(g_dram, axis=0)
    notes_filters = np.nansum(g_reread, axis=0)
    if kind == OCCAM:
        replicas = np.where(pipelined[None, :],
                            stap_replicas(np.where(has, stage_s / batch, np.nan), chips), 1.0)
        replicas = np.where(has, replicas, 0.0)
        thr = np.where(pipelined, pipeline_throughput_per_s(stage_s / batch, replicas),
                       chips / np.maximum(latency_image_s, 1e-300))
        chips_used = np.full(n_cap, float(chips))
        filter_once = np.where(pipelined & (opts["filters"] == "resident"),
                               np.nansum(np.where(fallback, 0.0, g_w), axis=0), 0.0)
    else:
        replicas = has.astype(float)
        thr = 1.0 / np.maximum(latency_image_s, 1e-300)
        chips_used = np.ones(n_cap)
        filter_once = np.zeros(n_cap)
    energy = {k: np.nansum(np.where(has, parts[k], 0.0), axis=0) for k in rollup.ENERGY_PARTS}
    totals = {
        "dram_bytes": dram,
        "feature_map_bytes": np.nansum(g_feature, axis=0),
        "filter_dram_bytes": dram - np.nansum(g_feature, axis=0),
        "filter_load_once_bytes": filter_once,
        "filter_reread_bytes": notes_filters,
        **energy,
        "energy_pj": sum(energy.values()),
        "latency_s": latency_image_s * batch,
        "throughput_per_s": thr,
        "chip_s_per_image": chips_used / thr,
        "compute_s": np.nansum(np.where(has, parts["compute_s"], 0.0), axis=0),
        "memory_s": np.nansum(np.where(has, parts["memory_s"], 0.0), axis=0),
        "macs": np.nansum(g_macs, axis=0),
        "groups": n_groups.astype(float),
        "chips_used": chips_used,
        "buffer_need_bytes": np.nanmax(np.where(fallback | ~has, np.nan, g_need), axis=0,
                                       initial=0.0),
        "tiled_fallback_groups": fallback.sum(axis=0).astype(float),
    }
    group = {"need_bytes": g_need, "dram_bytes": g_dram, "feature_map_bytes": g_feature,
             "filter_bytes": g_w, "macs": g_macs, "compute_s": parts["compute_s"],
             "memory_s": parts["memory_s"], "stage_s": stage_s, "replicas": replicas,
             "energy_pj": sum(np.where(has, parts[k], 0.0) for k in energy),
             **{k: np.where(has, parts[k], 0.0) for k in rollup.ENERGY_PARTS},
             "fits": fits, "fallback": fallback}
    return Evaluation(kind, cap, starts, ends, start, group, totals, opts)


# ------------------------------------------------------------------------------------------
# Strategy registrations


#: group costs a fusion result sums over a point's groups; its other totals (a pipeline's
#: latency and throughput, the filter loads, the buffer need of the fused groups) are the
#: evaluation's own
SUMMED = ("dram_bytes", "feature_map_bytes") + rollup.ENERGY_PARTS + (
    "compute_s", "memory_s", "macs")
TOTAL_KEYS = ("dram_bytes", "feature_map_bytes", "filter_dram_bytes", "filter_load_once_bytes",
              "filter_reread_bytes", *rollup.ENERGY_PARTS, "energy_pj", "latency_s",
              "throughput_per_s", "chip_s_per_image", "compute_s", "memory_s", "macs",
              "groups", "chips_used", "buffer_need_bytes", "tiled_fallback_groups")
COLUMNS = ("group", "layers", "n_layers", "buffer_need_bytes", "fits", "mode",
           "boundary_bytes", "dram_bytes", "macs", "compute_s", "memory_s", "stage_s")


def _notes(kind: str, ev: Evaluation, chips: int) -> tuple[str, ...]:
    """The schedule notes of capacity 0."""
    totals = {k: float(v[0]) for k, v in ev.totals.items()}
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
    if totals["tiled_fallback_groups"]:
        notes.append(f"{int(totals['tiled_fallback_groups'])} unit(s) alone exceed the buffer: "
                     "tiled per-layer traffic")
    return tuple(notes)


def evaluate_strategy(kind: str, req: SweepRequest) -> StrategyResult:
    """Layer Fusion's or OCCAM's one evaluator: :func:`evaluate` at every capacity, its groups
    (one per end unit) as one block over the capacities (no sub-batch axis)."""
    net = req.network
    ev = evaluate(kind, net, req.hardware, np.asarray(req.capacity_bytes, float),
                  batch=req.batch, chips=req.chips, options=dict(req.options),
                  grouping=req.grouping)
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
    rolled = set(SUMMED) | {"energy_pj", "filter_dram_bytes"}  # the roll-up's own
    return StrategyResult(
        kind, (n_cap, 1), lambda: (block,), total_keys=TOTAL_KEYS,
        columns=COLUMNS + (("replicas",) if kind == OCCAM else ()) + ("energy_pj",),
        summed=SUMMED,
        totals={k: v[:, None] for k, v in ev.totals.items() if k not in rolled},
        derive=lambda t: {"filter_dram_bytes": t["dram_bytes"] - t["feature_map_bytes"]},
        cuts=cuts[:, :-1], notes=_notes(kind, ev, req.chips))


@register(SPECS[FUSION])
def layer_fusion(req: SweepRequest) -> StrategyResult:
    return evaluate_strategy(FUSION, req)


@register(SPECS[OCCAM])
def occam(req: SweepRequest) -> StrategyResult:
    return evaluate_strategy(OCCAM, req)
