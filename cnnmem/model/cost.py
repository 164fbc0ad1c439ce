"""The shared per-layer, per-pass cost core: DRAM bytes, lower bound, energy and latency as
arrays over (layer-pass, batch size, buffer capacity).

Energy (pJ) of a layer-pass = DRAM bytes x pJ/byte + buffer bytes accessed x pJ/byte(capacity)
+ MACs x pJ/MAC (+ register bytes x pJ/byte when the hardware has a register level)
+ (static power + buffer leakage(capacity)) x latency, formed by the single roll-up
:mod:`cnnmem.model.rollup` that every strategy uses (:func:`energy_latency` here spells out its
arguments).

Buffer accesses are counted from the dataflow [reconstruction]:
* every byte moved to or from DRAM is written into or read out of the global buffer once
  (2 x DRAM bytes);
* conv/FC operands are fetched from the buffer into the MAC array; a square array of P MAC units
  broadcasts (or systolically passes) each fetched operand along one row or column, so a MAC's two
  operands cost (e_A + e_B) / sqrt(P) buffer bytes; partial sums stay in the array (output
  stationary) and leave it once, with the output written to DRAM;
* with a register level, every MAC reads its two operands from registers (e_A + e_B bytes).

Latency (s) of a layer-pass = max(compute time, memory time): compute time = MACs / (MAC units x
clock x utilization x array mapping efficiency (:mod:`cnnmem.model.array`; 1 when the hardware
gives no array shape)) (element-wise layers: one element per MAC unit per cycle), memory time =
DRAM bytes / DRAM bandwidth. Both are kept so reports can show which bound a layer is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cnnmem.hardware import Hardware
from cnnmem.model import rollup
from cnnmem.model.array import pass_efficiency
from cnnmem.model.bound import lower_bound_bytes
from cnnmem.model.dataflow import DataflowResult, best_tiling
from cnnmem.model.gconv import (
    INFERENCE_PASSES,
    PASSES,
    GConv,
    input_gradient_needed,
    layer_gconvs,
    tap_pairs,
)
from cnnmem.model.precision import Precision
from cnnmem.model.rollup import scale_cost  # noqa: F401  (re-exported)
from cnnmem.model.streaming import streaming_bytes, streaming_elementwise_ops, unwritten_inputs
from cnnmem.workload.layers import CONV, POOL, Layer
from cnnmem.workload.network import INPUT, Network


@dataclass(frozen=True)
class LayerPassCosts:
    """Costs of every layer-pass; arrays are (n_items, n_batch, n_capacity) unless noted."""

    layer_index: np.ndarray  # (n_items,)
    layer: tuple[str, ...]
    layer_type: tuple[str, ...]
    pass_name: tuple[str, ...]
    batch: np.ndarray  # (n_batch,)
    capacity_bytes: np.ndarray  # (n_capacity,)
    macs: np.ndarray  # (n_items, n_batch)
    dram_bytes: np.ndarray
    lower_bound_bytes: np.ndarray  # conv/FC: the bound; other layers: their streaming traffic
    buffer_need_bytes: np.ndarray  # buffer the chosen tile uses (nan for streaming layers)
    min_need_bytes: np.ndarray  # (n_items, n_batch) smallest buffer any tile needs (0: streaming)
    tile: np.ndarray  # (n_items, n_batch, n_capacity, 4), -1 for streaming layers
    buffer_access_bytes: np.ndarray
    compute_s: np.ndarray
    memory_s: np.ndarray
    latency_s: np.ndarray
    energy_dram_pj: np.ndarray
    energy_buffer_pj: np.ndarray
    energy_compute_pj: np.ndarray
    energy_static_pj: np.ndarray

    @property
    def energy_pj(self) -> np.ndarray:
        return (self.energy_dram_pj + self.energy_buffer_pj + self.energy_compute_pj
                + self.energy_static_pj)

    @property
    def feasible(self) -> np.ndarray:
        return np.isfinite(self.dram_bytes)


def energy_latency(hw: Hardware, dram_bytes: np.ndarray, macs: np.ndarray,
                   operand_bytes_per_mac: np.ndarray | float, vector_ops: np.ndarray | float,
                   array_macs: np.ndarray | None = None, *,
                   capacity_bytes: np.ndarray | float | None = None,
                   kept_bytes: np.ndarray | float = 0.0) -> dict[str, np.ndarray]:
    """Energy parts (pJ) and times (s) for given DRAM bytes and MACs (broadcasting arrays):
    :func:`cnnmem.model.rollup.energy_latency`, the single model, with the arguments spelled
    out. ``array_macs`` = MACs / array mapping efficiency (:mod:`cnnmem.model.array`), the MAC
    slots the work occupies (default: the MACs); ``capacity_bytes`` the buffer of each point
    (default: the hardware's)."""
    return rollup.energy_latency(hw, rollup.GroupCosts(
        dram_bytes=dram_bytes, macs=macs, operand_bytes_per_mac=operand_bytes_per_mac,
        vector_ops=vector_ops, array_macs=array_macs, kept_bytes=kept_bytes,
        capacity_bytes=capacity_bytes))


def layer_pass_costs(net: Network, hw: Hardware, batch: np.ndarray | list[int],
                     capacity_bytes: np.ndarray | list[float] | None = None, *,
                     training: bool = True, passes: tuple[str, ...] | None = None,
                     include_streaming: bool = True,
                     input_gradient: bool = False, layers: Sequence[int] | None = None
                     ) -> LayerPassCosts:
    """Evaluate every layer-pass of ``net`` for all batch sizes and capacities in one call.

    ``capacity_bytes`` defaults to the hardware's buffer. Loops run over layers only
    (``layers``: only these, e.g. one process's share of a parallel sweep's table; every
    layer's rows are those of the whole call).

    Training computes a layer's data gradient (dgrad) only where some parameter lies upstream
    of its input (:func:`cnnmem.model.gconv.input_gradient_needed`; issue #12 item 2: no
    framework computes the gradient of the network input). A skipped layer with parameters
    and several consumers keeps its fork accumulation (the sum of its consumers' gradients,
    which its own wgrad reads) as a dgrad row of zero MACs; a skipped element-wise layer with
    parameters (a norm's scale/shift) keeps its streaming row, whose traffic includes its
    parameter gradient. ``input_gradient=True`` computes every dgrad (input-gradient
    workloads).
    """
    batch = np.atleast_1d(np.asarray(batch, dtype=np.int64))
    cap = np.atleast_1d(np.asarray(
        [hw.buffer_bytes] if capacity_bytes is None else capacity_bytes, dtype=float))
    if passes is None:
        passes = PASSES if training else INFERENCE_PASSES
    prec = Precision.of(hw)
    shape = (batch.size, cap.size)
    tilings: dict[GConv, DataflowResult] = {}  # repeated layer shapes are searched once
    rows: dict[str, list] = {k: [] for k in ("idx", "name", "type", "pass", "macs", "dram", "lb",
                                             "need", "tile", "opb", "vec", "min_need",
                                             "eff")}
    unwritten = unwritten_inputs(net, training)
    needed = (input_gradient_needed(net) if training and not input_gradient
              else (True,) * len(net))
    for i in range(len(net)) if layers is None else layers:
        layer = net.layers[i]
        gconvs = {g.pass_name: g for g in layer_gconvs(layer, i, passes)}
        for p in passes:
            skipped = p == "dgrad" and not needed[i]
            if layer.is_compute and not skipped:
                g = gconvs[p]
                key = dataclasses.replace(g, layer="", layer_index=0)
                if key not in tilings:
                    tilings[key] = best_tiling(g, batch, cap, prec)
                df = tilings[key]
                fork = streaming_bytes(layer, p, batch, cap, prec, training=training,
                                       consumers=len(net.consumers[i]))
                dram = df.traffic_bytes + fork
                lb = lower_bound_bytes(g, batch, cap, prec) + fork
                need, tile, min_need = df.need_bytes, df.tile, df.min_need_bytes
                macs = (g.macs_per_sample * batch).astype(float)
                eff = pass_efficiency(hw, g, batch)
                opb = prec.bytes_of(g.a_kind) + prec.bytes_of(g.b_kind)
                vec = np.zeros(batch.size)
            else:  # a streaming layer, or a skipped dgrad (only the fork sum its wgrad reads)
                if not layer.is_compute and not include_streaming:
                    continue
                dram = streaming_bytes(layer, p, batch, cap, prec, training=training,
                                       consumers=len(net.consumers[i]),
                                       unwritten_input=unwritten[i],
                                       network_output=i in net.outputs)
                if layer.is_compute:
                    if layer.weight_elems == 0 or not np.any(dram):
                        continue
                    vec = np.zeros(batch.size)
                else:
                    if (skipped and layer.weight_elems == 0) or (p == "wgrad"
                                                                and not dram.any()):
                        continue
                    vec = (streaming_elementwise_ops(layer, p) * batch).astype(float)
                lb = dram
                need = np.full(shape, np.nan)
                min_need = np.zeros(batch.size)
                tile = np.full(shape + (4,), -1, dtype=np.int64)
                macs = np.zeros(batch.size)
                eff = np.ones(batch.size)
                opb = 0.0
            rows["idx"].append(i)
            rows["name"].append(layer.name)
            rows["type"].append(layer.type)
            rows["pass"].append(p)
            rows["macs"].append(macs)
            rows["dram"].append(np.broadcast_to(dram, shape))
            rows["lb"].append(np.broadcast_to(lb, shape))
            rows["need"].append(np.broadcast_to(need, shape))
            rows["tile"].append(np.broadcast_to(tile, shape + (4,)))
            rows["opb"].append(opb)
            rows["vec"].append(vec)
            rows["min_need"].append(min_need)
            rows["eff"].append(eff)
    n_items = len(rows["idx"])
    macs = np.array(rows["macs"], dtype=float).reshape(n_items, batch.size)
    dram = np.array(rows["dram"], dtype=float).reshape((n_items,) + shape)
    efficiency = np.array(rows["eff"], dtype=float).reshape(n_items, batch.size)
    parts = energy_latency(hw, dram, macs[:, :, None],
                           np.array(rows["opb"], dtype=float).reshape(n_items, 1, 1),
                           np.array(rows["vec"], dtype=float).reshape(n_items, batch.size, 1),
                           array_macs=(macs / efficiency)[:, :, None],
                           capacity_bytes=cap[None, None, :])
    return LayerPassCosts(
        layer_index=np.array(rows["idx"], dtype=np.int64), layer=tuple(rows["name"]),
        layer_type=tuple(rows["type"]), pass_name=tuple(rows["pass"]), batch=batch,
        capacity_bytes=cap, macs=macs, dram_bytes=dram,
        lower_bound_bytes=np.array(rows["lb"], dtype=float).reshape(dram.shape),
        buffer_need_bytes=np.array(rows["need"], dtype=float).reshape(dram.shape),
        min_need_bytes=np.array(rows["min_need"], dtype=float).reshape(n_items, batch.size),
        tile=np.array(rows["tile"], dtype=np.int64).reshape(dram.shape + (4,)), **parts)


def _rows_read(layer: Layer, size: int, axis: int) -> np.ndarray:
    """Which of ``size`` input rows (axis 0) or cols (axis 1) a conv or pooling layer's window
    taps reach (bool mask). For adaptive pooling the uniform-stride taps may miss rows the
    adaptive windows read: that only lowers the count, so the floor stays a lower bound."""
    mask = np.zeros(size, dtype=bool)
    _, rows = tap_pairs(size, layer.out_shape[axis + 1], layer.kernel[axis],
                        layer.stride[axis], layer.padding[axis], layer.dilation[axis])
    mask[rows] = True
    return mask


def input_elems_read(net: Network) -> int:
    """Elements of one sample's network input that some layer reads (issue #12 item 10): a
    strided 1x1 conv (or a pool with stride > kernel) on the input skips rows and columns, and
    no schedule needs to move an element no layer reads. Counted as the union, over the
    layers reading the input, of the (row x col) positions each reads, times the channels."""
    c, h, w = net.input_shape
    read = np.zeros((h, w), dtype=bool)
    for layer in net.layers:
        if INPUT not in layer.inputs:
            continue
        if layer.family == CONV or layer.family == POOL:
            read |= _rows_read(layer, h, 0)[:, None] & _rows_read(layer, w, 1)[None, :]
        else:
            read[:] = True
    return int(c * read.sum())


def compulsory_bytes(net: Network, hw: Hardware, batch: int | np.ndarray, *,
                     training: bool = True, include_weights: bool = True) -> np.ndarray:
    """A lower bound on DRAM bytes for ANY schedule of the whole network (cross-layer too).

    Every schedule must read the network input (the elements some layer reads,
    :func:`input_elems_read`) and every conv/FC kernel at least once and write
    the network outputs (inference) or every kernel gradient (training) at least once. Unlike the
    per-layer bound (which assumes each layer reads its inputs from DRAM, true for layer-by-layer
    schedules only), this holds for MBS, fusion and OCCAM schedules as well; it does not depend on
    the buffer capacity. ``include_weights=False`` gives the steady-state bound of a stream of
    images whose weights stay on chip (their one-time load amortized away), the basis of
    OCCAM's per-image pipeline traffic.
    """
    n = np.asarray(batch, dtype=float)
    prec = Precision.of(hw)
    # conv/FC kernels only: biases and normalization scale/shift are per-channel vectors that
    # inference folds into the kernels and the per-layer model does not move separately
    kernels = sum(g.b_elems for i, layer in enumerate(net.layers)
                  for g in layer_gconvs(layer, i, ("forward",)))
    weights = float(kernels) if include_weights else 0.0
    inputs = n * input_elems_read(net) * prec.activation
    if training:
        return inputs + weights * (prec.weight + prec.gradient)
    outputs = n * float(sum(net.layers[i].out_elems for i in net.outputs)) * prec.activation
    return inputs + weights * prec.weight + outputs
