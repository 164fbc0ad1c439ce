"""The conventional baseline: every layer runs alone over the whole (mini-)batch.

Each conv/FC layer-pass uses the per-layer dataflow of :mod:`cnnmem.model.dataflow` (intra-layer
tiling, spilling when the layer's working set exceeds the buffer); every other layer streams its
tensors through DRAM as frameworks do (:mod:`cnnmem.model.streaming`). Training runs forward,
data-gradient and weight-gradient passes; inference runs forward only.
"""

from __future__ import annotations

import numpy as np

from cnnmem.model.cost import LayerPassCosts, layer_pass_costs
from cnnmem.model.result import SUMMED, GroupBlock, StrategyResult
from cnnmem.model.schedule import (
    INFERENCE,
    INPUT_GRADIENT,
    TRAINING,
    StrategySpec,
    SweepRequest,
    input_gradient_on,
    register,
)

TOTAL_KEYS = ("dram_bytes", "lower_bound_bytes", "energy_pj", "energy_dram_pj",
              "energy_buffer_pj", "energy_compute_pj", "energy_static_pj", "latency_s",
              "compute_s", "memory_s", "macs")


def per_layer_totals(costs: LayerPassCosts, n_layers: int) -> dict[str, np.ndarray]:
    """Sum layer-pass costs per layer: arrays (n_layers, n_batch, n_capacity)."""
    out = {}
    fields = {
        "dram_bytes": costs.dram_bytes, "lower_bound_bytes": costs.lower_bound_bytes,
        "energy_pj": costs.energy_pj, "energy_dram_pj": costs.energy_dram_pj,
        "energy_buffer_pj": costs.energy_buffer_pj,
        "energy_compute_pj": costs.energy_compute_pj,
        "energy_static_pj": costs.energy_static_pj, "latency_s": costs.latency_s,
        "compute_s": costs.compute_s, "memory_s": costs.memory_s,
        "macs": np.broadcast_to(costs.macs[:, :, None], costs.dram_bytes.shape),
    }
    for key, arr in fields.items():
        acc = np.zeros((n_layers,) + arr.shape[1:])
        np.add.at(acc, costs.layer_index, arr)
        out[key] = acc
    return out


SPEC = StrategySpec(
    "layerwise", (TRAINING, INFERENCE),
    "every layer alone over the whole batch, intra-layer tiling; the conventional baseline",
    sub_batch="whole", options=(INPUT_GRADIENT,),
    latency="sum over layer-passes of max(compute, memory)")

COLUMNS = ("group", "layers", "type", "sub_batch", "buffer_need_bytes", "dram_bytes",
           "lower_bound_bytes", "energy_pj", "latency_s", "bound")


def layer_buffer_needs(costs: LayerPassCosts, n_layers: int) -> tuple[np.ndarray, np.ndarray]:
    """Per layer (n_layers, n_batch, n_capacity): the largest finite buffer need of its passes
    (0 without one; the totals' rule) and the shown need (the largest of its passes' needs when
    one is finite, inf included; else 0)."""
    need = costs.buffer_need_bytes
    finite = np.isfinite(need)
    shape = (n_layers,) + need.shape[1:]
    total = np.zeros(shape)
    np.maximum.at(total, costs.layer_index, np.where(finite, need, 0.0))
    shown = np.full(shape, np.nan)
    np.fmax.at(shown, costs.layer_index, need)
    any_finite = np.zeros(shape, dtype=bool)
    np.logical_or.at(any_finite, costs.layer_index, finite)
    return total, np.where(any_finite, shown, 0.0)


@register(SPEC)
def layerwise(req: SweepRequest) -> StrategyResult:
    """Every layer a group, at every capacity (no sub-batch axis: n_sub_batch = 1)."""
    net = req.network
    costs = layer_pass_costs(net, req.hardware, [req.batch], req.capacity_bytes,
                             training=req.mode == TRAINING,
                             input_gradient=input_gradient_on(req.options))
    L = len(net)
    per = per_layer_totals(costs, L)
    need, shown = layer_buffer_needs(costs, L)

    def group(a: np.ndarray) -> np.ndarray:
        return a[:, 0, :, None]  # (n_layers, n_capacity, 1)

    block = GroupBlock(
        {**{k: group(per[k]) for k in TOTAL_KEYS}, "buffer_need_bytes": group(need),
         "shown_need_bytes": group(shown)},
        labels=lambda i, v: {
            "layers": net.layers[i].name, "type": net.layers[i].type,
            "sub_batch": req.batch, "buffer_need_bytes": v["shown_need_bytes"],
            "bound": "memory" if v["memory_s"] > v["compute_s"] else "compute"},
        sums={k: getattr(costs, k).sum(axis=0)[0][:, None] for k in SUMMED
              + ("lower_bound_bytes",) if k != "macs"})
    notes = () if np.isfinite(costs.dram_bytes[:, 0, 0]).all() else (
        "some layer's smallest tile does not fit the buffer: infeasible",)
    return StrategyResult(
        "layerwise", (costs.capacity_bytes.size, 1), lambda: (block,),
        total_keys=TOTAL_KEYS + ("buffer_need_bytes", "throughput_per_s", "chip_s_per_image"),
        columns=COLUMNS, summed=SUMMED + ("lower_bound_bytes",),
        derive=lambda t: {"throughput_per_s": req.batch / t["latency_s"],
                          "chip_s_per_image": t["latency_s"] / req.batch},  # one chip
        cuts=tuple(range(L)), notes=notes)
