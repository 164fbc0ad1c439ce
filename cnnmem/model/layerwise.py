"""The conventional baseline: every layer runs alone over the whole (mini-)batch.

Each conv/FC layer-pass uses the per-layer dataflow of :mod:`cnnmem.model.dataflow` (intra-layer
tiling, spilling when the layer's working set exceeds the buffer); every other layer streams its
tensors through DRAM as frameworks do (:mod:`cnnmem.model.streaming`). Training runs forward,
data-gradient and weight-gradient passes; inference runs forward only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cnnmem.model.cost import LayerPassCosts, layer_pass_costs
from cnnmem.model.schedule import (
    INFERENCE,
    INPUT_GRADIENT,
    TRAINING,
    PointCosts,
    ScheduleRequest,
    ScheduleResult,
    StrategySpec,
    SweepRequest,
    input_gradient_on,
    register,
    register_sweep,
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


def layerwise_costs(request: ScheduleRequest, capacity_bytes: np.ndarray | None = None
                    ) -> LayerPassCosts:
    return layer_pass_costs(request.network, request.hardware, [request.batch], capacity_bytes,
                            training=request.mode == TRAINING,
                            input_gradient=input_gradient_on(request.options))


SPEC = StrategySpec(
    "layerwise", (TRAINING, INFERENCE),
    "every layer alone over the whole batch, intra-layer tiling; the conventional baseline",
    sub_batch="whole", options=(INPUT_GRADIENT,),
    latency="sum over layer-passes of max(compute, memory)")


@register(SPEC)
def layerwise(request: ScheduleRequest) -> ScheduleResult:
    net = request.network
    costs = layerwise_costs(request)
    per = per_layer_totals(costs, len(net))
    rows = []
    for i, layer in enumerate(net.layers):
        need = costs.buffer_need_bytes[costs.layer_index == i, 0, 0]
        rows.append({
            "group": i, "layers": layer.name, "type": layer.type,
            "sub_batch": request.batch,
            "buffer_need_bytes": float(np.nanmax(need)) if np.isfinite(need).any() else 0.0,
            "dram_bytes": per["dram_bytes"][i, 0, 0],
            "lower_bound_bytes": per["lower_bound_bytes"][i, 0, 0],
            "energy_pj": per["energy_pj"][i, 0, 0],
            "latency_s": per["latency_s"][i, 0, 0],
            "bound": "memory" if per["memory_s"][i, 0, 0] > per["compute_s"][i, 0, 0]
            else "compute",
        })
    groups = pd.DataFrame(rows)
    totals = {k: float(per[k][:, 0, 0].sum()) for k in TOTAL_KEYS}
    need_all = costs.buffer_need_bytes[:, 0, 0]
    totals["buffer_need_bytes"] = float(np.where(np.isfinite(need_all), need_all, 0.0).max())
    totals["throughput_per_s"] = request.batch / totals["latency_s"]
    totals["chip_s_per_image"] = totals["latency_s"] / request.batch  # one chip
    notes = []
    if not np.isfinite(totals["dram_bytes"]):
        notes.append("some layer's smallest tile does not fit the buffer: infeasible")
    return ScheduleResult("layerwise", groups, totals, tuple(notes))


@register_sweep("layerwise")
def layerwise_points(req: SweepRequest) -> PointCosts:
    """All capacities at once; layerwise has no sub-batch axis (n_sub_batch = 1)."""
    costs = layer_pass_costs(req.network, req.hardware, [req.batch], req.capacity_bytes,
                             training=req.mode == TRAINING,
                             input_gradient=input_gradient_on(req.options))
    need = np.where(np.isfinite(costs.buffer_need_bytes), costs.buffer_need_bytes, 0.0)

    def total(a: np.ndarray) -> np.ndarray:
        return a.sum(axis=0)[0][:, None]  # (n_capacity, 1)

    return PointCosts(
        dram_bytes=total(costs.dram_bytes), buffer_need_bytes=need.max(axis=0)[0][:, None],
        energy_dram_pj=total(costs.energy_dram_pj),
        energy_buffer_pj=total(costs.energy_buffer_pj),
        energy_compute_pj=total(costs.energy_compute_pj),
        energy_static_pj=total(costs.energy_static_pj), latency_s=total(costs.latency_s),
        compute_s=total(costs.compute_s), memory_s=total(costs.memory_s),
        cuts=tuple(range(len(req.network))),
    )
