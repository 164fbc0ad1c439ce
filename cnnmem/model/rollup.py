"""The single energy / latency / area roll-up every strategy goes through (issues #11, #14).

A strategy describes its groups (or layer-passes) as :class:`GroupCosts`: arrays over design
points of DRAM bytes, bytes it keeps on chip between the layers of a group, MACs, MAC slots on
the array, operand bytes per MAC, element-wise ops and the buffer capacity of each point. One
function, :func:`energy_latency`, turns them into the energy parts and times, and
:func:`chip_columns` gives the capacity-dependent area and leakage columns of a design point.
Adding a strategy's groups up into point totals is :func:`cnnmem.model.result.roll_up`.

Energy (pJ) = DRAM bytes x pJ/B (``dram_energy``)
            + buffer bytes x pJ/B(capacity) (``buffer_energy`` constant, or ``buffer_cost``)
            + MACs x pJ/MAC (+ register bytes x pJ/B with a register level)
            + (static power + buffer leakage(capacity)) x latency.

Buffer bytes accessed [reconstruction]: every DRAM byte is written into or read out of the
buffer once (2 x DRAM bytes); a tensor a group keeps on chip is written and read once
(2 x kept bytes); conv/FC operands are fetched into a square array of P MAC units and
broadcast along a row or column (MACs x operand bytes / sqrt(P)). With a register level,
every MAC reads its operands from registers (MACs x operand bytes).

Latency (s) = max(compute, memory) (``stage_time="max"``) or their sum (``"sum"``); compute =
MAC slots / effective MAC rate + element-wise ops / (MAC units x clock), memory = DRAM bytes /
DRAM bandwidth. A strategy with its own timing (TNPU's event schedule) passes its latency
in with :func:`energy_parts` and still gets its energy here.

With the constant form (a hardware file without ``buffer_cost``) the numbers are those of the
former per-strategy roll-ups, bit for bit up to the summation order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnmem.hardware import Hardware

ENERGY_PARTS = ("energy_dram_pj", "energy_buffer_pj", "energy_compute_pj", "energy_static_pj")
TIME_FIELDS = ("latency_s", "compute_s", "memory_s")
#: the chip's columns that depend on the buffer capacity only (one value per design point)
CHIP_COLUMNS = ("area_buffer_mm2", "area_array_mm2", "area_mm2", "buffer_leakage_w")


@dataclass(frozen=True)
class GroupCosts:
    """What a strategy knows of its groups: broadcasting arrays over (group, design point...).

    ``capacity_bytes`` broadcasts against the others (the buffer of each design point; it sets
    the buffer's per-byte energy and leakage when the hardware has a capacity-dependent
    ``buffer_cost``). ``array_macs`` = MACs / array mapping efficiency (None: the MACs).
    ``kept_bytes``: bytes a group keeps on chip between its layers (written and read once).
    """

    dram_bytes: Any
    macs: Any
    operand_bytes_per_mac: Any
    vector_ops: Any = 0.0
    array_macs: Any = None
    kept_bytes: Any = 0.0
    capacity_bytes: Any = None

    def __post_init__(self) -> None:
        try:  # every array must broadcast against the others
            np.broadcast_shapes(*(np.shape(v) for v in (
                self.dram_bytes, self.macs, self.operand_bytes_per_mac, self.vector_ops,
                self.kept_bytes) if v is not None))
        except ValueError:
            raise ValueError("GroupCosts: arrays do not broadcast against each other") from None


def scale_cost(x: Any, per_unit: Any) -> np.ndarray:
    """``x * per_unit`` where an infeasible (inf) ``x`` stays inf even at zero unit cost."""
    return np.where(np.isfinite(x), np.nan_to_num(x, posinf=0.0) * per_unit, np.inf)


def capacity_of(hw: Hardware, capacity_bytes: Any) -> Any:
    return hw.buffer_bytes if capacity_bytes is None else capacity_bytes


def buffer_pj_per_byte(hw: Hardware, capacity_bytes: Any = None) -> Any:
    """Energy per byte read or written in the buffer at each capacity (constant form: the
    hardware's ``buffer_energy``, a plain number)."""
    if hw.buffer_cost is None:
        return hw.buffer_energy_pj_per_byte
    return hw.buffer_cost.energy_pj_per_byte(capacity_of(hw, capacity_bytes))


def buffer_leakage_w(hw: Hardware, capacity_bytes: Any = None) -> Any:
    if hw.buffer_cost is None:
        return 0.0
    return hw.buffer_cost.leakage_w(capacity_of(hw, capacity_bytes))


def static_power_w(hw: Hardware, capacity_bytes: Any = None) -> Any:
    """The chip's static power: its other static power plus the buffer's leakage."""
    if hw.buffer_cost is None:
        return hw.static_power_w
    return hw.static_power_w + buffer_leakage_w(hw, capacity_bytes)


def buffer_access_bytes(hw: Hardware, g: GroupCosts) -> np.ndarray:
    """Bytes read or written in the global buffer (module docstring)."""
    macs = np.asarray(g.macs, float)
    out = 2.0 * g.dram_bytes + macs * g.operand_bytes_per_mac / np.sqrt(hw.mac_units)
    kept = np.asarray(g.kept_bytes, float)
    return out + 2.0 * kept if kept.any() else out


def register_access_bytes(hw: Hardware, macs: Any, operand_bytes_per_mac: Any) -> Any:
    """Register-level bytes (0 without a register level): every MAC reads its operands."""
    return np.asarray(macs, float) * operand_bytes_per_mac if hw.register_bytes > 0 else 0.0


def times(hw: Hardware, g: GroupCosts, stage_time: str = "max") -> dict[str, np.ndarray]:
    macs = np.asarray(g.macs, float)
    slots = macs if g.array_macs is None else np.asarray(g.array_macs, float)
    compute_s = slots / hw.effective_macs_per_s + np.asarray(g.vector_ops, float) / (
        hw.mac_units * hw.clock_hz)
    memory_s = g.dram_bytes / hw.dram_bandwidth_bytes_per_s
    if stage_time == "sum":
        latency_s = compute_s + memory_s
    elif stage_time == "max":
        latency_s = np.maximum(compute_s, memory_s)
    else:
        raise ValueError(f"stage_time {stage_time!r}")
    return {"compute_s": compute_s, "memory_s": memory_s, "latency_s": latency_s}


def capacity_independent_parts(hw: Hardware, *, dram_bytes: Any, macs: Any,
                               register_bytes: Any, memory_energy: bool = True
                               ) -> dict[str, np.ndarray]:
    """DRAM and compute energy (pJ): they do not depend on the buffer's capacity."""
    on = 1.0 if memory_energy else 0.0
    return {
        "energy_dram_pj": scale_cost(dram_bytes, hw.dram_energy_pj_per_byte * on),
        "energy_compute_pj": np.asarray(macs, float) * hw.mac_energy_pj
        + register_bytes * (hw.register_energy_pj_per_byte * on),
    }


def capacity_dependent_parts(hw: Hardware, *, buffer_bytes: Any, latency_s: Any,
                             capacity_bytes: Any = None, memory_energy: bool = True
                             ) -> dict[str, np.ndarray]:
    """Buffer access and static energy (pJ): per-byte energy and leakage at each capacity."""
    on = 1.0 if memory_energy else 0.0
    return {
        "energy_buffer_pj": scale_cost(buffer_bytes,
                                       buffer_pj_per_byte(hw, capacity_bytes) * on),
        "energy_static_pj": scale_cost(latency_s, static_power_w(hw, capacity_bytes) * 1e12),
    }


def energy_parts(hw: Hardware, *, dram_bytes: Any, buffer_bytes: Any, macs: Any,
                 register_bytes: Any, latency_s: Any, capacity_bytes: Any = None,
                 memory_energy: bool = True) -> dict[str, np.ndarray]:
    """The four energy parts (pJ), the one place they are formed. ``memory_energy=False``
    charges no DRAM, buffer or register energy (a paper's assumption, e.g. TNPU's)."""
    fixed = capacity_independent_parts(hw, dram_bytes=dram_bytes, macs=macs,
                                       register_bytes=register_bytes,
                                       memory_energy=memory_energy)
    by_cap = capacity_dependent_parts(hw, buffer_bytes=buffer_bytes, latency_s=latency_s,
                                      capacity_bytes=capacity_bytes,
                                      memory_energy=memory_energy)
    return {k: (fixed | by_cap)[k] for k in ENERGY_PARTS}


def energy_latency(hw: Hardware, g: GroupCosts, stage_time: str = "max"
                   ) -> dict[str, np.ndarray]:
    """Energy parts (pJ), times (s) and buffer bytes of groups: the single model."""
    t = times(hw, g, stage_time)
    buf = buffer_access_bytes(hw, g)
    parts = energy_parts(hw, dram_bytes=g.dram_bytes, buffer_bytes=buf, macs=g.macs,
                         register_bytes=register_access_bytes(hw, g.macs,
                                                              g.operand_bytes_per_mac),
                         latency_s=t["latency_s"], capacity_bytes=g.capacity_bytes)
    return {"buffer_access_bytes": buf, **t, **parts}


def total_energy(parts: dict[str, Any]) -> Any:
    return (parts["energy_dram_pj"] + parts["energy_buffer_pj"] + parts["energy_compute_pj"]
            + parts["energy_static_pj"])


def chip_columns(hw: Hardware, capacity_bytes: Any = None) -> dict[str, Any]:
    """Area (mm2) of the buffer, of the MAC array and their sum, and the buffer's leakage (W),
    at each capacity (0 where the hardware gives no area)."""
    cap = np.asarray(capacity_of(hw, capacity_bytes), float)
    if hw.buffer_cost is None:
        area_buf = np.zeros_like(cap)
        leak = np.zeros_like(cap)
    else:
        area_buf = np.asarray(hw.buffer_cost.area_mm2(cap), float)
        leak = np.asarray(hw.buffer_cost.leakage_w(cap), float)
    area_array = np.full_like(cap, hw.mac_units * hw.mac_area_um2 * 1e-6)
    return {"area_buffer_mm2": area_buf, "area_array_mm2": area_array,
            "area_mm2": area_buf + area_array, "buffer_leakage_w": leak}


def chip_totals(hw: Hardware) -> dict[str, float]:
    """:func:`chip_columns` at the hardware's own buffer, as plain numbers (schedule totals)."""
    return {k: float(v) for k, v in chip_columns(hw).items()}
