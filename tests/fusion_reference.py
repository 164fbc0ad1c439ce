"""The dense (U x U) group matrices of Layer Fusion and OCCAM as they were before the banded
tables (issue #16 'Scale'), kept verbatim as the test oracle of :mod:`cnnmem.model.fusion_tables`:
O(L x U^2) time and O(U^2) memory, for small networks only."""

from __future__ import annotations

import numpy as np

from cnnmem.hardware import Hardware
from cnnmem.model.fusion_tables import Geometry
from cnnmem.model.receptive import overlap_rows, window_rows
from cnnmem.workload.network import Network


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
