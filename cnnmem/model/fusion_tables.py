"""Per-group tables of Layer Fusion and OCCAM (:mod:`cnnmem.model.fusion`), in a band: memory
linear in units x group depth (issue #16 'Scale').

Units and groups
    Layers that no cut may separate form a *unit* (:func:`units_of`); a group is a run of
    consecutive units [i..j]. Every quantity the grouping DPs and the roll-up need of a group
    (buffer need, boundary traffic, bytes kept on chip, MACs, filter bytes) is a *table* over
    (first unit i, last unit j).

Band layout
    A table is kept for the groups of at most ``D`` units only: ``band[j, k]`` is the group
    ``[j - D + 1 + k .. j]`` (``k = D - 1``: unit j alone); entries whose first unit would be
    negative hold a fill value (inf for a need or a cost: such a group is never allowed). A band
    has U x D entries. ``D`` = min(U, :data:`cnnmem.limits.MAX_FUSED_GROUP_UNITS`), then cut
    to the deepest group whose need fits the largest capacity considered
    (:func:`fitting_depth`). A group's need never decreases when it grows to the left (every
    term of a need is a sum over the layers or tensors of the group that grows with the group),
    so a group deeper than the band fits no capacity unless the deepest band entry of its last
    unit fits it; :func:`depth_limited` is that exact check. Fixed groupings (``grouping=all``
    and the like) are not limited: :func:`tables_at` evaluates any list of groups.

Accumulation
    Every static term of a table is a *quadrant*: a value added to each group [i..j] with
    ``i <= a`` and ``j >= b`` (``a <= b``): a layer's filters or window rows (a = b = its unit),
    a join's delay buffer (a = the producer's unit, b = the join's), a tensor read or written at
    a group boundary (a signed pair of quadrants). Sweeping the last unit j from 0 to U - 1, the
    terms with ``b <= j`` sit in a vector over ``a``; group [i..j] is the sum of that vector
    over ``a`` in [i..j], a reverse cumulative sum over the window of column j. Terms that
    depend on j (Layer Fusion's pyramid step, the recompute variant's tiles and MAC factors)
    are added to the window of column j only. Work O(U x D + terms), memory O(U x D); the
    dense (U, U) matrices of before, O(L x U^2) work, are kept as the test oracle
    (tests/fusion_reference.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnmem import limits
from cnnmem.hardware import Hardware
from cnnmem.model.array import pass_efficiency
from cnnmem.model.gconv import layer_gconvs
from cnnmem.model.receptive import effective_kernel, overlap_rows, window_rows
from cnnmem.model.streaming import streaming_elementwise_ops
from cnnmem.workload.layers import CONV, FC
from cnnmem.workload.network import Network

#: Rows of the table array of :func:`tables_at`.
NEED, TRAFFIC, INNER, MACS, SLOTS = range(5)
N_TABLES = 5

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


def unit_index(net: Network, starts: np.ndarray | None, ends: np.ndarray) -> np.ndarray:
    """Unit of every layer, (L,)."""
    return np.searchsorted(ends, np.arange(len(net)))


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
# Quadrant terms


@dataclass(frozen=True)
class Quadrants:
    """Static table terms: ``value`` added to table ``table`` of every group [i..j] with
    ``i <= first_le`` and ``j >= last_ge`` (``first_le <= last_ge``), arrays (T,)."""

    first_le: np.ndarray
    last_ge: np.ndarray
    table: np.ndarray
    value: np.ndarray


def quadrants(parts: list[tuple[Any, Any, int, Any]]) -> Quadrants:
    """One :class:`Quadrants` from ``(first_le, last_ge, table, value)`` parts (arrays or
    scalars, broadcast together within a part)."""
    cols: list[list[np.ndarray]] = [[], [], [], []]
    for a, b, table, value in parts:
        a_, b_, v_ = np.broadcast_arrays(np.asarray(a, np.int64), np.asarray(b, np.int64),
                                         np.asarray(value, float))
        for col, arr in zip(cols, (a_.ravel(), b_.ravel(), np.full(a_.size, table, np.int64),
                                   v_.ravel()), strict=True):
            col.append(arr)
    a, b, t, v = (np.concatenate(c) if c else np.zeros(0) for c in cols)
    if np.any(a > b):
        raise ValueError("a quadrant term must have first_le <= last_ge")
    return Quadrants(a.astype(np.int64), b.astype(np.int64), t.astype(np.int64),
                     v.astype(float))


@dataclass(frozen=True)
class Tensors:
    """The tensors that can cross a group boundary: the network input (unit -1) and every
    layer output except a concat's (the union of its inputs' slices, issue #12 item 7)."""

    unit: np.ndarray  # (T,) producing unit, -1 for the network input
    elems: np.ndarray  # (T,) elements per image
    channels: np.ndarray  # (T,)
    width: np.ndarray  # (T,)
    consumer_units: tuple[np.ndarray, ...]  # sorted distinct units; U appended for outputs


def concat_layers(net: Network) -> set[int]:
    """The concat layers: their output is the union of their inputs' slices, not a tensor."""
    return {i for i, lay in enumerate(net.layers) if lay.type == "concat"}


def output_tensors(net: Network, concat: set[int]) -> set[int]:
    """The tensors written out as network outputs: the network's outputs and, for a concat
    output, its inputs' slices (nested concats too)."""
    outputs = set(net.outputs)
    for c in sorted(concat, reverse=True):  # a concat's consumers come after it
        if c in outputs:
            outputs |= {q for q in net.producers[c] if q >= 0}
    return outputs


def consumers_through_concat(net: Network, concat: set[int]) -> dict[int, list[int]]:
    """The consuming layers of every tensor (-1: the network input), sorted; a concat's
    consumers read its inputs' slices, so they count as consumers of those inputs."""
    direct = {-1: [j for j, prods in enumerate(net.producers) if -1 in prods]}
    for p in range(len(net)):
        direct[p] = list(net.consumers[p])
    out = {}
    for p, consumers in direct.items():
        seen: set[int] = set()
        stack = list(consumers)
        while stack:
            c = stack.pop()
            if c in concat:
                stack.extend(direct[c])
            else:
                seen.add(c)
        out[p] = sorted(seen)
    return out


def tensors_of(net: Network, uidx: np.ndarray, n_units: int) -> Tensors:
    """Producer unit, size and consumer units of every tensor (:func:`consumers_through_concat`,
    :func:`output_tensors`); tensors nothing consumes are left out."""
    concat = concat_layers(net)
    outputs = output_tensors(net, concat)
    consumers_of = consumers_through_concat(net, concat)
    shapes = [(-1, net.input_elems, net.input_shape)] + [
        (p, lay.out_elems, lay.out_shape) for p, lay in enumerate(net.layers)]
    unit, elems, chans, width, cus = [], [], [], [], []
    for p, n_elems, shape in shapes:
        cu = np.unique(uidx[consumers_of[p]]).astype(np.int64)
        if p in outputs:
            cu = np.append(cu, n_units)  # consumed "after the network"
        if p in concat or cu.size == 0:
            continue
        unit.append(-1 if p < 0 else int(uidx[p]))
        elems.append(n_elems)
        chans.append(shape[0])
        width.append(shape[2])
        cus.append(cu)
    return Tensors(np.array(unit, np.int64), np.array(elems, float), np.array(chans, float),
                   np.array(width, float), tuple(cus))


def read_terms(t: Tensors, n_units: int, nbytes: np.ndarray, table: int
               ) -> list[tuple[Any, Any, int, Any]]:
    """A tensor produced before group [i..j] that a unit of the group consumes is read once:
    for each consumer unit c (after the producer) and the previous consumer unit (or the
    producer) ``prev``, the groups with ``prev < i <= c <= j``."""
    terms: list[tuple[int, int, float]] = []
    for k, cu in enumerate(t.consumer_units):
        prev = int(t.unit[k])
        for c in cu[(cu > t.unit[k]) & (cu < n_units)]:
            terms.append((int(c), int(c), nbytes[k]))
            if prev >= 0:
                terms.append((prev, int(c), -nbytes[k]))
            prev = int(c)
    a, b, v = (np.array(col) for col in zip(*terms, strict=True)) if terms else ([], [], [])
    return [(np.asarray(a, np.int64), np.asarray(b, np.int64), table, np.asarray(v, float))]


def write_terms(t: Tensors, n_units: int, nbytes: np.ndarray, table: int
                ) -> list[tuple[Any, Any, int, Any]]:
    """A tensor produced in group [i..j] that a later unit (or the network's output) consumes
    is written once: the groups with ``i <= producer <= j < last consumer``."""
    last = np.array([cu.max() for cu in t.consumer_units], np.int64)
    w = (t.unit >= 0) & (last > t.unit)
    ends = w & (last < n_units)
    return [(t.unit[w], t.unit[w], table, nbytes[w]),
            (t.unit[ends], last[ends], table, -nbytes[ends])]


def inner_terms(t: Tensors, n_units: int, nbytes: np.ndarray, table: int
                ) -> list[tuple[Any, Any, int, Any]]:
    """A layer output whose first consumer is in a later unit of the same group stays on chip
    (written and read once in the buffer): the groups with ``i <= producer``,
    ``j >= first consumer``."""
    first = np.array([cu.min() for cu in t.consumer_units], np.int64)
    k = (t.unit >= 0) & (first > t.unit) & (first < n_units)
    return [(t.unit[k], first[k], table, nbytes[k])]


def layer_terms(uidx: np.ndarray, values: np.ndarray, table: int
                ) -> list[tuple[Any, Any, int, Any]]:
    """A per-layer value held whenever the layer is in the group."""
    keep = values != 0
    return [(uidx[keep], uidx[keep], table, values[keep])]


def closure_terms(net: Network, uidx: np.ndarray, geo: Geometry, hw: Hardware, window: str,
                  filters: str) -> list[tuple[Any, Any, int, Any]]:
    """OCCAM dependence-closure memory without the staging rows: every layer's filters
    (``filters=resident``) and its window rows (or an FC layer's whole input), every join
    input's delay buffer."""
    ea, ew = hw.bytes_per_activation, hw.bytes_per_weight
    per_layer = np.where(geo.is_window,
                         window_rows(geo.k_eff, geo.stride, geo.in_h, 1, window)
                         * geo.in_w * geo.in_c, 0).astype(float)
    per_layer = np.where(geo.is_fc, geo.in_elems, per_layer) * ea
    if filters == "resident":
        per_layer = per_layer + net.weight_elems * ew
    parts = layer_terms(uidx, per_layer, NEED)
    for a, lay in enumerate(net.layers):  # delay buffers of joins
        if lay.behaviour.role != "join":
            continue
        for p in net.producers[a]:
            if p < 0:
                continue
            between = range(p + 1, a)
            rows = 1 + sum(int(geo.k_eff[m]) - 1 for m in between if geo.is_window[m])
            c, h, w = net.layers[p].out_shape
            parts.append((uidx[p], uidx[a], NEED, min(rows, h) * w * c * ea))
    return parts


def fusion_storage_terms(net: Network, uidx: np.ndarray, geo: Geometry, hw: Hardware,
                         opts: dict[str, Any]) -> list[tuple[Any, Any, int, Any]]:
    """Layer Fusion storage that does not depend on the group's last unit: resident filters;
    ``variant=reuse``: the overlap buffer of every window layer whose producer is in the group
    and an FC layer's whole input."""
    ea, ew = hw.bytes_per_activation, hw.bytes_per_weight
    parts = []
    if opts["filters"] == "resident":
        parts += layer_terms(uidx, (net.weight_elems * ew).astype(float), NEED)
    if opts["variant"] != "reuse":
        return parts
    for layer_i in range(len(net)):
        prods = [p for p in net.producers[layer_i] if p >= 0]
        if geo.is_window[layer_i] and prods:
            ov = overlap_rows(geo.k_eff[layer_i], geo.stride[layer_i]) * geo.in_w[
                layer_i] * geo.in_c[layer_i] * ea
            parts.append((uidx[prods[0]], uidx[layer_i], NEED, float(ov)))
    fc = geo.is_fc
    parts += layer_terms(uidx[fc], (geo.in_elems[fc] * ea).astype(float), NEED)
    return parts


# ------------------------------------------------------------------------------------------
# Terms that depend on the group's last unit


ColumnTerms = Callable[[int, int], np.ndarray]


def pyramid_step_column(starts: np.ndarray, ends: np.ndarray, uidx: np.ndarray, geo: Geometry,
                        ea: float) -> ColumnTerms:
    """Layer Fusion (reuse): one pyramid step of fresh data at each window layer's input,
    S x S x channels with S the product of the strides from the layer to the group's last
    layer. Returns ``column(j, lo)``: the per-unit sums (N_TABLES, j - lo + 1) of units lo..j
    when the group ends at unit j."""
    log_s = np.cumsum(np.log2(np.where(geo.is_window, geo.stride, 1)))
    before = np.concatenate([[0.0], log_s[:-1]])

    def column(j: int, lo: int) -> np.ndarray:
        out = np.zeros((N_TABLES, j - lo + 1))
        layers = np.arange(starts[lo], ends[j] + 1)
        layers = layers[geo.is_window[layers]]
        s = np.exp2(log_s[ends[j]] - before[layers])
        fresh = (np.minimum(s, geo.in_h[layers]) * np.minimum(s, geo.in_w[layers])
                 * geo.in_c[layers] * ea)
        out[NEED] = np.bincount(uidx[layers] - lo, weights=fresh, minlength=j - lo + 1)
        return out

    return column


def recompute_tile_column(net: Network, starts: np.ndarray, ends: np.ndarray,
                          uidx: np.ndarray, geo: Geometry, ea: float, tile: int,
                          macs: np.ndarray, slots: np.ndarray) -> ColumnTerms:
    """Layer Fusion (recompute): a pyramid tile of ``tile`` x ``tile`` outputs of the group's
    last layer needs R x R x channels at each layer's input (receptive arithmetic, walked back
    from the last layer); overlapping tiles recompute the shared region, which multiplies each
    layer's MACs (and MAC slots) by tiles x R_out^2 / (H_out x W_out)."""
    consumers = net.consumers

    def column(j: int, lo: int) -> np.ndarray:
        end, first = int(ends[j]), int(starts[lo])
        n = end - first + 1
        r_in = np.zeros(n)
        r_out = np.zeros(n)
        for layer_i in range(end, first - 1, -1):
            inside = [c for c in consumers[layer_i] if c <= end]
            r = (max((r_in[c - first] for c in inside), default=0)
                 or min(tile, geo.out_h[layer_i]))
            r_out[layer_i - first] = r
            k, s = geo.k_eff[layer_i], geo.stride[layer_i]
            r_in[layer_i - first] = min((r - 1) * s + k, geo.in_h[layer_i]) if not geo.is_fc[
                layer_i] else geo.in_h[layer_i]
        sl = slice(first, end + 1)
        tile_bytes = r_in * np.minimum(r_in, geo.in_w[sl]) * geo.in_c[sl] * ea
        oh, ow = geo.out_h[end], geo.out_w[end]
        t = min(tile, oh)
        n_tiles = -(-oh // t) * -(-ow // min(tile, ow))
        factor = np.maximum(1.0, n_tiles * r_out * np.minimum(r_out, geo.out_w[sl])
                            / (geo.out_h[sl] * geo.out_w[sl]))
        units = uidx[sl] - lo
        out = np.zeros((N_TABLES, j - lo + 1))
        out[NEED] = np.bincount(units, weights=tile_bytes, minlength=j - lo + 1)
        out[MACS] = np.bincount(units, weights=macs[sl] * factor, minlength=j - lo + 1)
        out[SLOTS] = np.bincount(units, weights=slots[sl] * factor, minlength=j - lo + 1)
        return out

    return column


# ------------------------------------------------------------------------------------------
# The specification of a strategy's tables, and their evaluation


@dataclass(frozen=True)
class TableSpec:
    """Everything needed to evaluate the tables of any group: O(layers + edges) memory."""

    n_units: int
    starts: np.ndarray  # (U,) first layer of each unit
    ends: np.ndarray  # (U,) last layer of each unit
    terms: Quadrants
    column: ColumnTerms | None  # terms that depend on the group's last unit
    column_macs: bool  # MACS and SLOTS come from ``column`` (else from the prefix sums)
    macs_cum: np.ndarray  # (L + 1,) prefix sums of per-layer MACs (x batch)
    slots_cum: np.ndarray  # (L + 1,) prefix sums of MAC slots on the arrays
    vec_cum: np.ndarray  # (L + 1,) prefix sums of element-wise ops
    weight_cum: np.ndarray  # (U + 1,) prefix sums of filter bytes per unit


@dataclass(frozen=True)
class Units:
    """A network cut into units, with what every strategy's table terms are built from."""

    net: Network
    hw: Hardware
    starts: np.ndarray  # (U,) first layer of each unit
    ends: np.ndarray  # (U,) last layer of each unit
    uidx: np.ndarray  # (L,) unit of every layer
    geo: Geometry
    tensors: Tensors


def units(net: Network, hw: Hardware, pool: str) -> Units:
    """The units of ``net`` under the ``pool`` option, their geometry and tensors."""
    starts, ends = units_of(net, pool)
    uidx = unit_index(net, starts, ends)
    return Units(net, hw, starts, ends, uidx, geometry(net), tensors_of(net, uidx, ends.size))


@dataclass(frozen=True)
class LayerWork:
    """Per-layer work of one batch: MACs, MAC slots on the systolic arrays (MACs / mapping
    efficiency at this batch) and element-wise ops, (L,) each."""

    macs: np.ndarray
    slots: np.ndarray
    vec_ops: np.ndarray


def layer_work(net: Network, hw: Hardware, batch: int) -> LayerWork:
    macs_l = net.macs.astype(float) * batch
    eff_l = np.array([pass_efficiency(hw, layer_gconvs(lay, i, ("forward",))[0], batch)
                      if lay.is_compute else 1.0 for i, lay in enumerate(net.layers)], float)
    vec_l = np.array([streaming_elementwise_ops(lay, "forward") for lay in net.layers],
                     float) * batch
    return LayerWork(macs_l, macs_l / eff_l, vec_l)


def boundary_parts(u: Units) -> list[tuple[Any, Any, int, Any]]:
    """TRAFFIC (boundary bytes per image) and INNER (bytes kept on chip per image) terms,
    the same for every strategy."""
    n_units = u.ends.size
    nbytes = u.tensors.elems * u.hw.bytes_per_activation
    return (read_terms(u.tensors, n_units, nbytes, TRAFFIC)
            + write_terms(u.tensors, n_units, nbytes, TRAFFIC)
            + inner_terms(u.tensors, n_units, nbytes, INNER))


def spec_of(u: Units, parts: list[tuple[Any, Any, int, Any]], work: LayerWork,
            column: ColumnTerms | None = None, column_macs: bool = False) -> TableSpec:
    """The :class:`TableSpec` of units ``u`` with the static ``parts`` and per-column terms."""
    weights_u = np.zeros(u.ends.size)
    np.add.at(weights_u, u.uidx, u.net.weight_elems * u.hw.bytes_per_weight)

    def cum(x: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(x)])

    return TableSpec(u.ends.size, u.starts, u.ends, quadrants(parts), column, column_macs,
                     cum(work.macs), cum(work.slots), cum(work.vec_ops), cum(weights_u))


def occam_table_spec(net: Network, hw: Hardware, opts: dict[str, Any], batch: int
                     ) -> TableSpec:
    """OCCAM's tables: NEED is the dependence-closure memory (filters when resident, window
    rows, join delay buffers, one staging row of every tensor the group writes)."""
    u = units(net, hw, opts["pool"])
    t = u.tensors
    need = (closure_terms(net, u.uidx, u.geo, hw, opts["window"], opts["filters"])
            + write_terms(t, u.ends.size, t.channels * t.width * hw.bytes_per_activation,
                          NEED))
    return spec_of(u, boundary_parts(u) + need, layer_work(net, hw, batch))


def fusion_table_spec(net: Network, hw: Hardware, opts: dict[str, Any], batch: int
                      ) -> TableSpec:
    """Layer Fusion's tables: NEED is the fused group's storage (resident filters; reuse:
    overlap buffers and a pyramid step of fresh data; recompute: pyramid tiles, which also
    multiply MACS and SLOTS) plus one staging pixel of every tensor the group writes."""
    u = units(net, hw, opts["pool"])
    t = u.tensors
    ea = hw.bytes_per_activation
    work = layer_work(net, hw, batch)
    need = (fusion_storage_terms(net, u.uidx, u.geo, hw, opts)
            + write_terms(t, u.ends.size, t.channels * ea, NEED))
    if opts["variant"] == "reuse":
        return spec_of(u, boundary_parts(u) + need, work,
                       pyramid_step_column(u.starts, u.ends, u.uidx, u.geo, ea))
    column = recompute_tile_column(net, u.starts, u.ends, u.uidx, u.geo, ea, int(opts["tile"]),
                                   work.macs, work.slots)
    return spec_of(u, boundary_parts(u) + need, work, column, column_macs=True)


def tables_at(spec: TableSpec, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The tables (N_TABLES, N) of the groups [first[n]..last[n]] (first <= last), in one sweep
    over the last unit; the work per unit is the window from its deepest requested group."""
    first = np.asarray(first, np.int64)
    last = np.asarray(last, np.int64)
    n_units = spec.n_units
    out = np.zeros((N_TABLES, first.size))
    order = np.argsort(last, kind="stable")
    req_at = np.searchsorted(last[order], np.arange(n_units + 1))
    q = spec.terms
    t_order = np.argsort(q.last_ge, kind="stable")
    t_at = np.searchsorted(q.last_ge[t_order], np.arange(n_units + 1))
    acc = np.zeros((N_TABLES, n_units))  # static terms with last_ge <= j, at their first_le
    for j in range(n_units):
        new = t_order[t_at[j]: t_at[j + 1]]
        if new.size:
            np.add.at(acc, (q.table[new], q.first_le[new]), q.value[new])
        req = order[req_at[j]: req_at[j + 1]]
        if not req.size:
            continue
        lo = int(first[req].min())
        window = acc[:, lo: j + 1]
        if spec.column is not None:
            window = window + spec.column(j, lo)
        suffix = np.cumsum(window[:, ::-1], axis=1)[:, ::-1]  # suffix[:, i - lo]: units i..j
        out[:, req] = suffix[:, first[req] - lo]
    if not spec.column_macs:
        lf, ll = spec.starts[first], spec.ends[last] + 1
        out[MACS] = spec.macs_cum[ll] - spec.macs_cum[lf]
        out[SLOTS] = spec.slots_cum[ll] - spec.slots_cum[lf]
    return out


def group_vec_ops(spec: TableSpec, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Element-wise ops (x batch) of groups [first..last] (broadcasting index arrays)."""
    return spec.vec_cum[spec.ends[last] + 1] - spec.vec_cum[spec.starts[first]]


def group_filter_bytes(spec: TableSpec, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Filter bytes of groups [first..last] (broadcasting index arrays)."""
    return spec.weight_cum[np.minimum(last + 1, spec.n_units)] - spec.weight_cum[first]


# ------------------------------------------------------------------------------------------
# Bands


def band_first(n_units: int, depth: int) -> np.ndarray:
    """First unit of every band entry, (U, D); negative where the group would start before
    unit 0."""
    return np.arange(n_units)[:, None] - (depth - 1) + np.arange(depth)[None, :]


def band_of(dense: np.ndarray, depth: int | None = None, fill: float = np.inf) -> np.ndarray:
    """The band (U, D, ...) of a dense table (U, U, ...) over (first unit, last unit): small
    networks and tests. ``depth`` defaults to U (every group); ``fill`` where no group is."""
    n_units = dense.shape[0]
    first = band_first(n_units, n_units if depth is None else depth)
    last = np.broadcast_to(np.arange(n_units)[:, None], first.shape)
    out = np.asarray(dense)[np.maximum(first, 0), last]
    valid = (first >= 0).reshape(first.shape + (1,) * (out.ndim - 2))
    return np.where(valid, out, fill)


@dataclass(frozen=True)
class Band:
    """The tables of every group of at most ``depth`` units, ``[table][j, k]`` (see the module
    docstring); entries without a group hold inf (NEED) or 0."""

    depth: int
    tables: np.ndarray  # (N_TABLES, U, D)
    vec_ops: np.ndarray  # (U, D)
    filter_bytes: np.ndarray  # (U, D)
    valid: np.ndarray  # (U, D) a group exists (first unit >= 0)


def band_tables(spec: TableSpec, depth: int) -> Band:
    """The tables of every group of at most ``depth`` units."""
    n_units = spec.n_units
    depth = max(1, min(int(depth), n_units))
    first = band_first(n_units, depth)
    valid = first >= 0
    last = np.broadcast_to(np.arange(n_units)[:, None], first.shape)
    tables = np.zeros((N_TABLES, n_units, depth))
    tables[:, valid] = tables_at(spec, first[valid], last[valid])
    tables[NEED][~valid] = np.inf
    f = np.maximum(first, 0)
    vec = np.where(valid, group_vec_ops(spec, f, last), 0.0)
    weights = np.where(valid, group_filter_bytes(spec, f, last), 0.0)
    return Band(depth, tables, vec, weights, valid)


def fitting_depth(need: np.ndarray, capacity_bytes: float) -> int:
    """Units of the deepest group of a NEED band (U, D) that fits ``capacity_bytes`` (>= 1)."""
    depth = need.shape[1]
    fits = np.flatnonzero((need <= capacity_bytes).any(axis=0))
    return int(depth - fits[0]) if fits.size else 1


def shrink(band: Band, depth: int) -> Band:
    """The same band cut to its ``depth`` deepest-last entries (groups of at most ``depth``
    units)."""
    if depth >= band.depth:
        return band
    k = band.depth - depth
    return Band(depth, band.tables[:, :, k:], band.vec_ops[:, k:], band.filter_bytes[:, k:],
                band.valid[:, k:])


def depth_limited(need: np.ndarray, n_units: int, capacity_bytes: np.ndarray) -> np.ndarray:
    """Per capacity (C,): might a group deeper than the band (``D`` = need.shape[1] units) fit?
    Exact, as a group's need never decreases when it grows to the left: only when the deepest
    band entry of some last unit j >= D (a deeper group ends there) fits."""
    depth = need.shape[1]
    if depth >= n_units:
        return np.zeros(np.size(capacity_bytes), dtype=bool)
    edge = need[depth:, 0]  # groups [j - D + 1 .. j] with j - D >= 0
    return (edge.min(initial=np.inf) <= np.atleast_1d(capacity_bytes))


def unit_band(spec: TableSpec, capacity_bytes: np.ndarray, max_units: int | None = None
              ) -> tuple[Band, np.ndarray]:
    """The band the grouping DPs use: groups of at most ``max_units`` units (default the limit
    :data:`cnnmem.limits.MAX_FUSED_GROUP_UNITS`), cut to the deepest one that fits the largest
    capacity; and per capacity whether the limit may have excluded a fitting group
    (:func:`depth_limited`)."""
    if max_units is None:
        max_units = limits.MAX_FUSED_GROUP_UNITS
    cap = np.atleast_1d(np.asarray(capacity_bytes, float))
    band = band_tables(spec, min(spec.n_units, max_units))
    limited = depth_limited(band.tables[NEED], spec.n_units, cap)
    finite = cap[np.isfinite(cap)]
    if finite.size == cap.size:
        band = shrink(band, fitting_depth(band.tables[NEED], float(finite.max(initial=0.0))))
    return band, limited
