"""The baseline fallback: a layer that runs alone over the whole batch (single-layer group).

Part of :mod:`cnnmem.model.mbs` (the package docstring has the model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnmem.hardware import Hardware
from cnnmem.model.cost import layer_pass_costs
from cnnmem.model.gconv import PASSES
from cnnmem.model.mbs.tables import (
    CELLS,
    layer_gconv_table,
)
from cnnmem.model.precision import Precision
from cnnmem.model.streaming import streaming_bytes
from cnnmem.workload.network import Network

# ------------------------------------------------------------------------------------------
# The baseline's per-layer costs, used by single-layer full-batch groups


#: the per-layer arrays of :class:`LayerFallback` besides its cells: summed over a layer's
#: passes, and the buffer need (their maximum)
SUMMED_FIELDS = ("energy_dram_pj", "energy_buffer_pj", "energy_compute_pj", "energy_static_pj",
                 "latency_s", "compute_s", "memory_s", "dram_bytes")
FALLBACK_FIELDS = SUMMED_FIELDS + ("buffer_need_bytes",)


@dataclass(frozen=True)
class LayerFallback:
    """Per layer (L, n_capacity) arrays of the conventional layer: cells and energy/time."""

    cells: Mapping[tuple[str, str], np.ndarray]
    fields: Mapping[str, np.ndarray]  # energy_*_pj, latency_s, compute_s, memory_s, need


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
    if p == "dgrad" and costs.macs[item, 0] == 0:  # a skipped dgrad: its fork sum only
        return {"gradients": dram}
    g = layer_gconv_table(net)[i][PASSES.index(p)]
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
                   training: bool, input_gradient: bool = False,
                   layers: Sequence[int] | None = None) -> LayerFallback:
    """The baseline's cost of every layer alone over the whole batch, by pass and kind
    (rows: the layers, or only ``layers``, ascending: the same rows as the whole call's)."""
    rows = np.arange(len(net)) if layers is None else np.asarray(layers, dtype=np.int64)
    costs = layer_pass_costs(net, hw, [batch], capacity_bytes, training=training,
                             input_gradient=input_gradient, layers=rows.tolist())
    prec = Precision.of(hw)
    n, ncap = len(rows), capacity_bytes.size
    row_of = np.searchsorted(rows, costs.layer_index)
    cells = {c: np.zeros((n, ncap)) for c in CELLS}
    for item in range(costs.layer_index.size):
        i, p = int(row_of[item]), costs.pass_name[item]
        for kind, v in _split_layer_pass(net, costs, item, prec, batch).items():
            cells[(p, kind)][i] += v
    fields = {}
    for key in SUMMED_FIELDS:
        acc = np.zeros((n, ncap))
        np.add.at(acc, row_of, getattr(costs, key)[:, 0])
        fields[key] = acc
    need = np.zeros((n, ncap))
    np.maximum.at(need, row_of, np.nan_to_num(costs.buffer_need_bytes[:, 0], nan=0.0))
    fields["buffer_need_bytes"] = need
    return LayerFallback(cells, fields)
