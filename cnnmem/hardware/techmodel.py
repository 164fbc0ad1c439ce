"""Technology cost model: what an on-chip buffer, a MAC, a register access and a DRAM byte cost.

Pure functions and immutable, validated value classes, vectorized over numpy capacity arrays. The
module is self-contained: nothing in the schedule / energy roll-up uses it yet (issue #14, phase 1).

Global buffer: one interface, three forms
-----------------------------------------
Every buffer cost model answers, for an array of capacities (bytes):
``energy_pj_per_byte(capacity)`` (per byte read or written), ``leakage_w(capacity)`` and
``area_mm2(capacity)``, each non-decreasing in capacity.

* :class:`ConstantBufferCost`  -- fixed pJ/B, W, mm2 (today's hardware files; backward compatible).
* :class:`TableBufferCost`     -- an explicit table capacity -> (pJ/B, W, mm2), interpolated
  piecewise-linearly in log-log, clamped to the end values outside the table; the table must be
  positive, finite and non-decreasing (checked at construction).
* :class:`SramBufferCost`      -- the analytical SRAM model below, at a technology node.

Analytical SRAM model (our reconstruction, calibrated to published points)
--------------------------------------------------------------------------
Energy of one ``word_bits`` access of a buffer of capacity ``C`` at node ``n``::

    E(C) = s_E(n) * (word_bits / 64) * E64(min(C, bank))            bank access
         + word_bits * e_wire(n) * max(0, side(C) - side(bank)) / 2  H-tree to the bank

* ``E64(c) = k * (c / 1 MiB) ** alpha`` is the 64-bit access energy of one SRAM bank of ``c`` bytes
  at 45 nm, 0.9 V. ``k`` and ``alpha`` are the least-squares fit in log-log to Horowitz, ISSCC 2014
  ("Computing's energy problem", 45 nm, 0.9 V): 64-bit access of an 8 KB SRAM 10 pJ, 32 KB 20 pJ,
  1 MB 100 pJ (KB/MB read as KiB/MiB). The fit gives alpha = 0.473, k = 100.6 pJ and meets the
  three points within 2.5 % (stated tolerance: 5 %, tested). A power law in capacity is the
  behaviour of one bank whose bit- and word-lines grow with its side (CACTI's depth scaling, as
  used by Accelergy's SRAM estimator, is the same form).
* A buffer larger than ``bank`` (default 1 MiB, Horowitz's largest calibrated point; our
  reconstruction) is built of banks; an access reads one bank and carries the word over the
  H-tree from the bank to the port: average Manhattan distance from the centre of a square of
  side ``s`` to a random point in it is ``s/2``, so the extra distance over a single bank is
  ``(side(C) - side(bank)) / 2`` with ``side = sqrt(area_mm2)``.
* ``e_wire`` = 0.1 pJ (100 fJ) per bit per mm at 45 nm, 0.9 V: the upper end of "on-chip wire
  18-110 fJ/bit-mm" (30 nm with aggressive voltage scaling) of Kogge et al., "ExaScale computing
  study: technology challenges in achieving exascale systems", DARPA IPTO report, 2008, as quoted
  in S. Keckler's NVIDIA talks; the upper end because 45 nm at 0.9 V is not aggressively scaled
  (our reading). Wire capacitance per mm hardly changes with the node, so e_wire scales with
  (Vdd / 0.9 V)^2 only (our reconstruction).
* ``s_E(n)`` is the logic energy scaling of Stillmaker & Baas, "Scaling equations for the
  accurate prediction of CMOS device performance from 180 nm to 7 nm", Integration 58 (2017):
  their fitted energy-vs-Vdd polynomials ``a Vdd^2 + b Vdd + c`` per node (table ``_ENERGY_FIT``;
  130/90/65 nm bulk, 45-7 nm high-performance devices), evaluated at each node's nominal supply
  (``NOMINAL_VDD``: the 45 nm value is Horowitz's 0.9 V; the others are typical nominal supplies,
  our reconstruction) and divided by the 45 nm, 0.9 V value. Nodes between table entries are
  interpolated piecewise-linearly in log(node) vs log(factor). Same node -> factor 1.
  (Provenance: the coefficients and the area table were transcribed from the paper's tables as
  reproduced in UCLA NanoCAD's nodeScale and in Accelergy / HWComponents' scaling module; not
  re-checked against the paper's PDF in this phase. The code here is our own.)
* Per-byte energy is ``E(C) / (word_bits / 8)``: every term is proportional to the word width,
  so it does not depend on it (no fixed per-access overhead is modelled; a limit: wider words
  amortize the decoder, which this model ignores).
  ``word_bits`` changes the per-access energy (:meth:`SramBufferCost.energy_pj_per_access`).
* Area: ``C * 8 * bitcell(n) / array_efficiency``. Published 6T high-density bit cells
  (``SRAM_BITCELL_UM2``; each with its paper below); nodes between table entries interpolated in
  log-log. ``array_efficiency`` (cells / macro area) = 0.7 default: periphery (decoders, sense
  amplifiers, redundancy) typically takes 20-40 % of a macro; our reconstruction, not a measured
  value. At ``array_efficiency = 1`` the area is the cited cell area exactly.
* Leakage: ``C * 8 * leakage_pw_per_bit``. Default 100 pW/bit, OUR RECONSTRUCTION (no cited
  source found in this phase): low-standby-power SRAM cells leak ~10 pW/bit, high-performance
  cells at temperature ~10 nW/bit; give the value of your macros. Not node-scaled.

Published values
----------------
SRAM 6T bit-cell areas (um^2):

* 90 nm 1.0   -- Thompson et al., "A 90 nm logic technology ...", IEDM 2002 (Intel).
* 65 nm 0.57  -- Bai et al., "A 65nm logic technology ...", IEDM 2004 (Intel).
* 45 nm 0.346 -- Mistry et al., "A 45nm logic technology with high-k + metal gate ...", IEDM 2007.
* 32 nm 0.171 -- Natarajan et al., "A 32nm logic technology ...", IEDM 2008 (Intel).
* 22 nm 0.092 -- Auth et al., "A 22nm high performance and low-power CMOS technology featuring
  fully-depleted tri-gate transistors ...", VLSI 2012 (Intel).
* 16 nm 0.070 -- Wu et al., "A 16nm FinFET CMOS technology for mobile SoC and computing
  applications", IEDM 2013 (TSMC).
* 14 nm 0.0588 -- Natarajan et al., "A 14nm logic technology featuring 2nd-generation FinFET ...",
  IEDM 2014 (Intel).
* 10 nm 0.040 -- Song et al., "A 10 nm FinFET 128 Mb SRAM with assist adjustment system for
  power, performance, and area optimization", IEEE JSSC 2017 (Samsung, high-density cell).
* 7 nm 0.027  -- Wu et al., "A 7nm CMOS platform technology featuring 4th generation FinFET
  transistors with a 0.027um2 high density 6-T SRAM cell ...", IEDM 2016 (TSMC).

MAC and register level (Horowitz ISSCC 2014, 45 nm, 0.9 V; energy pJ, area um^2):
8-bit int add 0.03 pJ / 36 um^2, 32-bit int add 0.1 / 137, 8-bit int multiply 0.2 / 282,
16-bit FP add 0.4 / 1360, 16-bit FP multiply 1.1 / 1640, 32-bit FP add 0.9 / 4184,
32-bit FP multiply 3.7 / 7700. A MAC = one multiply + one add in the accumulator format:

* ``int8``:       8-bit multiply + 32-bit int accumulate  -> 0.3 pJ, 419 um^2
* ``fp16``:       fp16 multiply + fp16 add                 -> 1.5 pJ, 3000 um^2
* ``fp16-fp32``:  fp16 multiply + fp32 accumulate          -> 2.0 pJ, 5824 um^2 (mixed precision)
* ``bf16-fp32``:  taken equal to fp16-fp32 (no bf16 entry in the source; the 8-bit mantissa
  multiplier is smaller, so this is an upper bound; our reconstruction)
* ``fp32``:       fp32 multiply + fp32 add                 -> 4.6 pJ, 11884 um^2

MAC energy scales with ``s_E(n)``, MAC area with the Stillmaker & Baas logic area factors
(``_AREA_FACTOR_FROM_45``: their table row "from 45 nm").

Register file: Chen et al., "Eyeriss: a spatial architecture for energy-efficient dataflow for
CNNs", ISCA 2016, Table IV: a register-file access costs 1x a MAC of the same word (buffer 6x,
DRAM 200x). So ``register_energy_pj_per_byte(p) = mac_energy_pj(p) / operand bytes`` (the ratio
is published at 65 nm for 16-bit words; its use at other nodes/precisions is our reconstruction).

DRAM energy per bit moved (interface + core), pJ/bit. Except ``hbm2`` and ``horowitz``, these are
the values tabulated in Accelergy / HWComponents' DRAM model (its ``type2energy`` table), with the
citations given there:

* ``hbm2``    3.9   -- O'Connor et al., "Fine-grained DRAM: energy-efficient DRAM for extreme
  bandwidth systems", MICRO 2017 (the value wavecore.yaml already uses).
* ``gddr5``   14    -- Accelergy table (no citation there; O'Connor et al. 2017 discuss GDDR5).
* ``lpddr4``  8     -- Accelergy table ("public data").
* ``lpddr``   40    -- Accelergy table, citing Malladi et al., "Towards energy-proportional
  datacenter memory with mobile DRAM", ISCA 2012.
* ``ddr3``    70    -- Accelergy table, citing "Chatterjee et al., MICRO'17".
* ``horowitz``  20.3 -- Horowitz ISSCC 2014: DRAM 1.3-2.6 nJ per 64-bit access (low end).
DDR4 has no sourced value here (not found in this phase); it is not offered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from cnnmem.errors import InputError

MIB = float(1 << 20)
KIB = float(1 << 10)

#: the node and supply of Horowitz's ISSCC 2014 table, the calibration point of every energy
REFERENCE_NODE_NM = 45.0
REFERENCE_VDD = 0.9

#: Horowitz ISSCC 2014, 45 nm 0.9 V: 64-bit SRAM access energy (pJ) by capacity (bytes)
HOROWITZ_SRAM_64BIT_PJ: dict[float, float] = {8 * KIB: 10.0, 32 * KIB: 20.0, 1 * MIB: 100.0}

#: Stillmaker & Baas 2017: energy fit (a, b, c) of a Vdd^2 + b Vdd + c per node (nm).
#: 130-65 nm bulk; 45-7 nm their high-performance (HP) series.
_ENERGY_FIT: dict[float, tuple[float, float, float]] = {
    130: (7.171, -6.709, 2.904),
    90: (4.762, -4.781, 2.092),
    65: (3.755, -4.398, 1.975),
    45: (1.018, -0.3107, 0.1539),
    32: (0.8367, -0.4341, 0.1701),
    20: (0.373, -0.1582, 0.04104),
    16: (0.2958, -0.1241, 0.03024),
    14: (0.2363, -0.09675, 0.02239),
    10: (0.2068, -0.09311, 0.02375),
    7: (0.1776, -0.09097, 0.02447),
}

#: nominal supply per node (V). 45 nm: Horowitz's 0.9 V; the others: typical nominal supplies of
#: the node (our reconstruction; pass vdd explicitly for a specific process).
NOMINAL_VDD: dict[float, float] = {130: 1.3, 90: 1.2, 65: 1.1, 45: 0.9, 32: 0.9, 20: 0.9,
                                   16: 0.8, 14: 0.8, 10: 0.75, 7: 0.7}

#: Stillmaker & Baas 2017, area scaling table, row "from 45 nm": area at node / area at 45 nm
_AREA_FACTOR_FROM_45: dict[float, float] = {130: 6.4, 90: 2.8, 65: 1.5, 45: 1.0, 32: 0.46,
                                            20: 0.21, 16: 0.19, 14: 0.17, 10: 0.10, 7: 0.059}

#: published 6T high-density SRAM bit cells (um^2); sources in the module docstring
SRAM_BITCELL_UM2: dict[float, float] = {90: 1.0, 65: 0.57, 45: 0.346, 32: 0.171, 22: 0.092,
                                        16: 0.070, 14: 0.0588, 10: 0.040, 7: 0.027}

#: on-chip wire, pJ per bit per mm at 45 nm, 0.9 V (upper end of Kogge et al. 2008's 18-110 fJ)
WIRE_PJ_PER_BIT_MM = 0.1

#: Horowitz ISSCC 2014, 45 nm 0.9 V: (energy pJ, area um^2) of the arithmetic units
HOROWITZ_OPS: dict[str, tuple[float, float]] = {
    "int8_add": (0.03, 36.0), "int32_add": (0.1, 137.0), "int8_mul": (0.2, 282.0),
    "fp16_add": (0.4, 1360.0), "fp16_mul": (1.1, 1640.0),
    "fp32_add": (0.9, 4184.0), "fp32_mul": (3.7, 7700.0),
}

#: a MAC per precision: (multiply, accumulate, operand bytes)
MAC_PARTS: dict[str, tuple[str, str, int]] = {
    "int8": ("int8_mul", "int32_add", 1),
    "fp16": ("fp16_mul", "fp16_add", 2),
    "fp16-fp32": ("fp16_mul", "fp32_add", 2),
    "bf16-fp32": ("fp16_mul", "fp32_add", 2),  # reconstruction: upper bound, see docstring
    "fp32": ("fp32_mul", "fp32_add", 4),
}

#: Eyeriss (Chen et al. ISCA 2016) register-file access / MAC energy ratio, per word
REGISTER_ACCESS_PER_MAC = 1.0

#: DRAM energy, pJ per bit moved; sources in the module docstring
DRAM_PJ_PER_BIT: dict[str, float] = {"hbm2": 3.9, "gddr5": 14.0, "lpddr4": 8.0, "lpddr": 40.0,
                                     "ddr3": 70.0, "horowitz": 20.3}

ArrayLike = float | Sequence[float] | np.ndarray


# --------------------------------------------------------------------------- node scaling

def _check_node(node_nm: float, table: Mapping[float, object], what: str,
                field: str = "node_nm") -> None:
    lo, hi = float(min(table)), float(max(table))  # type: ignore[type-var]
    if not (math.isfinite(node_nm) and lo <= node_nm <= hi):
        raise InputError(f"{what} is tabulated for {lo:g}-{hi:g} nm, got {node_nm!r}",
                         field=field)


def _loglog_node_interp(node_nm: float, table: Mapping[float, float]) -> float:
    """Piecewise-linear interpolation of log(value) in log(node) (monotone tables stay monotone)."""
    nodes = np.array(sorted(table), float)
    values = np.array([table[n] for n in sorted(table)], float)
    return float(np.exp(np.interp(np.log(node_nm), np.log(nodes), np.log(values))))


def nominal_vdd(node_nm: float) -> float:
    """Nominal supply (V) at a node, interpolated between the tabulated nodes."""
    _check_node(node_nm, NOMINAL_VDD, "the nominal supply")
    return _loglog_node_interp(node_nm, NOMINAL_VDD)


def _energy_fit_value(node: float, vdd: float) -> float:
    a, b, c = _ENERGY_FIT[node]
    return a * vdd * vdd + b * vdd + c


def energy_scale(to_node_nm: float, to_vdd: float | None = None, *,
                 from_node_nm: float = REFERENCE_NODE_NM,
                 from_vdd: float | None = None) -> float:
    """Factor turning a switching energy at (from node, from Vdd) into one at (to node, to Vdd).

    Stillmaker & Baas 2017 fits; Vdd defaults to :data:`NOMINAL_VDD` of the node (Horowitz's 0.9 V
    at 45 nm). Between tabulated nodes the factor relative to 45 nm at nominal Vdd is
    interpolated in log-log; an explicit Vdd is only accepted at a tabulated node.
    """
    return (_energy_vs_reference(to_node_nm, to_vdd, "to")
            / _energy_vs_reference(from_node_nm, from_vdd, "from"))


def _energy_vs_reference(node_nm: float, vdd: float | None, side: str) -> float:
    field = f"{side}_node_nm"
    _check_node(node_nm, _ENERGY_FIT, "energy scaling", field)
    ref = _energy_fit_value(REFERENCE_NODE_NM, REFERENCE_VDD)
    if vdd is None:
        table = {n: _energy_fit_value(n, NOMINAL_VDD[n]) / ref for n in _ENERGY_FIT}
        return _loglog_node_interp(node_nm, table)
    if node_nm not in _ENERGY_FIT:
        raise InputError(f"an explicit Vdd needs a tabulated node ({sorted(_ENERGY_FIT)} nm), "
                         f"got {node_nm!r}", field=f"{side}_vdd")
    if not (math.isfinite(vdd) and 0.5 <= vdd <= 1.5):
        raise InputError(f"Vdd must be within 0.5-1.5 V (the fits' range), got {vdd!r}",
                         field=f"{side}_vdd")
    value = _energy_fit_value(node_nm, vdd) / ref
    if not value > 0:
        raise InputError(f"the energy fit is not positive at {node_nm:g} nm, {vdd} V",
                         field=f"{side}_vdd")
    return value


def logic_area_scale(to_node_nm: float) -> float:
    """Logic area at ``to_node_nm`` / at 45 nm (Stillmaker & Baas 2017 area table)."""
    _check_node(to_node_nm, _AREA_FACTOR_FROM_45, "logic area scaling")
    return _loglog_node_interp(to_node_nm, _AREA_FACTOR_FROM_45)


def sram_bitcell_um2(node_nm: float) -> float:
    """Published 6T high-density SRAM bit-cell area at a node (log-log between table nodes)."""
    _check_node(node_nm, SRAM_BITCELL_UM2, "the SRAM bit-cell area")
    return _loglog_node_interp(node_nm, SRAM_BITCELL_UM2)


# --------------------------------------------------------------------------- validation helpers

def _positive(value: float, field: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise InputError(f"expected a number, got {value!r}", field=field)
    v = float(value)
    if not math.isfinite(v) or (v < 0 if allow_zero else v <= 0):
        need = "non-negative" if allow_zero else "positive"
        raise InputError(f"must be a {need} finite number, got {value!r}", field=field)
    return v


def _capacities(capacity_bytes: ArrayLike) -> np.ndarray:
    c = np.asarray(capacity_bytes, dtype=float)
    if not np.all(np.isfinite(c) & (c > 0)):
        raise InputError("capacities must be positive and finite", field="capacity")
    return c


# --------------------------------------------------------------------------- buffer cost models

@runtime_checkable
class BufferCostModel(Protocol):
    """What a global buffer of a given capacity costs (all three non-decreasing in capacity)."""

    def energy_pj_per_byte(self, capacity_bytes: ArrayLike) -> np.ndarray: ...

    def leakage_w(self, capacity_bytes: ArrayLike) -> np.ndarray: ...

    def area_mm2(self, capacity_bytes: ArrayLike) -> np.ndarray: ...


@dataclass(frozen=True)
class ConstantBufferCost:
    """Capacity-independent costs: today's ``buffer_energy`` / ``static_power`` (area 0)."""

    energy_pj_per_byte_value: float
    leakage_w_value: float = 0.0
    area_mm2_value: float = 0.0

    def __post_init__(self) -> None:
        _positive(self.energy_pj_per_byte_value, "buffer_energy", allow_zero=True)
        _positive(self.leakage_w_value, "leakage", allow_zero=True)
        _positive(self.area_mm2_value, "area", allow_zero=True)

    def energy_pj_per_byte(self, capacity_bytes: ArrayLike) -> np.ndarray:
        return np.full(_capacities(capacity_bytes).shape, float(self.energy_pj_per_byte_value))

    def leakage_w(self, capacity_bytes: ArrayLike) -> np.ndarray:
        return np.full(_capacities(capacity_bytes).shape, float(self.leakage_w_value))

    def area_mm2(self, capacity_bytes: ArrayLike) -> np.ndarray:
        return np.full(_capacities(capacity_bytes).shape, float(self.area_mm2_value))


def _loglog_interp(c: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Log-log piecewise-linear interpolation clamped to the end values; zeros stay exact."""
    if np.all(ys == 0):
        return np.zeros_like(c)
    if np.any(ys == 0):  # a zero column entry cannot be logged: interpolate linearly in log(x)
        return np.interp(np.log(c), np.log(xs), ys)
    return np.exp(np.interp(np.log(c), np.log(xs), np.log(ys)))


@dataclass(frozen=True)
class TableBufferCost:
    """An explicit table capacity -> (pJ/B, W, mm2), interpolated in log-log.

    Capacities strictly increasing; every column finite, non-negative and non-decreasing (so the
    interpolation is monotone). Outside the table the end values are kept (no extrapolation).
    """

    capacity_bytes: tuple[float, ...]
    energy_pj_per_byte_values: tuple[float, ...]
    leakage_w_values: tuple[float, ...]
    area_mm2_values: tuple[float, ...]

    def __post_init__(self) -> None:
        for name in ("capacity_bytes", "energy_pj_per_byte_values", "leakage_w_values",
                     "area_mm2_values"):  # lists or arrays in -> hashable tuples
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
                raise InputError("expected a list of numbers", field=f"table.{name}")
            object.__setattr__(self, name, tuple(value))
        caps = tuple(_positive(v, f"table.capacity[{i}]")
                     for i, v in enumerate(self.capacity_bytes))
        if len(caps) < 1:
            raise InputError("needs at least one row", field="table.capacity")
        if any(b <= a for a, b in zip(caps, caps[1:], strict=False)):
            raise InputError("capacities must be strictly increasing", field="table.capacity")
        for name, col in (("energy", self.energy_pj_per_byte_values),
                          ("leakage", self.leakage_w_values), ("area", self.area_mm2_values)):
            if len(col) != len(caps):
                raise InputError(f"has {len(col)} values for {len(caps)} capacities",
                                 field=f"table.{name}")
            vals = [_positive(v, f"table.{name}[{i}]", allow_zero=True)
                    for i, v in enumerate(col)]
            for i, (a, b) in enumerate(zip(vals, vals[1:], strict=False)):
                if b < a:
                    raise InputError(f"must not decrease with capacity (row {i + 1}: {a:g} -> "
                                     f"{b:g})", field=f"table.{name}")

    def _column(self, capacity_bytes: ArrayLike, values: tuple[float, ...]) -> np.ndarray:
        c = _capacities(capacity_bytes)
        return _loglog_interp(c, np.asarray(self.capacity_bytes, float), np.asarray(values, float))

    def energy_pj_per_byte(self, capacity_bytes: ArrayLike) -> np.ndarray:
        return self._column(capacity_bytes, self.energy_pj_per_byte_values)

    def leakage_w(self, capacity_bytes: ArrayLike) -> np.ndarray:
        return self._column(capacity_bytes, self.leakage_w_values)

    def area_mm2(self, capacity_bytes: ArrayLike) -> np.ndarray:
        return self._column(capacity_bytes, self.area_mm2_values)


def _fit_horowitz_power_law() -> tuple[float, float]:
    """(k pJ at 1 MiB, alpha): least squares of log E = log k + alpha log(C / 1 MiB)."""
    caps = np.array(sorted(HOROWITZ_SRAM_64BIT_PJ), float)
    energies = np.array([HOROWITZ_SRAM_64BIT_PJ[c] for c in sorted(HOROWITZ_SRAM_64BIT_PJ)])
    alpha, log_k = np.polyfit(np.log(caps / MIB), np.log(energies), 1)
    return float(np.exp(log_k)), float(alpha)


#: the calibrated 45 nm bank law: 64-bit access energy (pJ) = K * (capacity / 1 MiB) ** ALPHA
SRAM_BANK_K_PJ, SRAM_BANK_ALPHA = _fit_horowitz_power_law()

#: the model's stated tolerance vs Horowitz's three SRAM points at 45 nm
SRAM_ENERGY_TOLERANCE = 0.05


@dataclass(frozen=True)
class SramBufferCost:
    """The analytical SRAM model (see the module docstring): node, word width, banking."""

    node_nm: float = REFERENCE_NODE_NM
    word_bits: int = 64
    bank_bytes: float = MIB
    array_efficiency: float = 0.7
    leakage_pw_per_bit: float = 100.0
    vdd: float | None = None

    def __post_init__(self) -> None:
        _positive(self.node_nm, "node_nm")
        _check_node(self.node_nm, SRAM_BITCELL_UM2, "the SRAM bit-cell area")
        if (isinstance(self.word_bits, bool) or not isinstance(self.word_bits, (int, np.integer))
                or self.word_bits < 8 or self.word_bits % 8):
            raise InputError(f"must be a whole number of bytes in bits (8, 16, ..., 512), got "
                             f"{self.word_bits!r}", field="word_bits")
        _positive(self.bank_bytes, "bank_bytes")
        eff = _positive(self.array_efficiency, "array_efficiency")
        if eff > 1:
            raise InputError(f"must be in (0, 1], got {eff!r}", field="array_efficiency")
        _positive(self.leakage_pw_per_bit, "leakage_pw_per_bit", allow_zero=True)
        if self.vdd is not None:
            _positive(self.vdd, "vdd")
        try:  # validates node / vdd for energy scaling
            energy_scale(self.node_nm, self.vdd)
        except InputError as exc:
            raise InputError(exc.message, field="vdd" if "vdd" in (exc.field or "")
                             else "node_nm") from None

    # -- parts
    @property
    def energy_scale(self) -> float:
        return energy_scale(self.node_nm, self.vdd)

    @property
    def supply_v(self) -> float:
        return nominal_vdd(self.node_nm) if self.vdd is None else float(self.vdd)

    @property
    def wire_pj_per_bit_mm(self) -> float:
        return WIRE_PJ_PER_BIT_MM * (self.supply_v / REFERENCE_VDD) ** 2

    def bank_energy_pj(self, capacity_bytes: ArrayLike) -> np.ndarray:
        """Energy of one word access of the bank that serves a buffer of this capacity."""
        c = np.minimum(_capacities(capacity_bytes), self.bank_bytes)
        e64 = SRAM_BANK_K_PJ * (c / MIB) ** SRAM_BANK_ALPHA
        return self.energy_scale * (self.word_bits / 64.0) * e64

    def wire_energy_pj(self, capacity_bytes: ArrayLike) -> np.ndarray:
        """Energy of carrying one word over the H-tree from a bank to the port."""
        c = _capacities(capacity_bytes)
        extra_mm = np.maximum(0.0, np.sqrt(self.area_mm2(c))
                              - np.sqrt(self.area_mm2(np.minimum(c, self.bank_bytes)))) / 2.0
        return self.word_bits * self.wire_pj_per_bit_mm * extra_mm

    # -- the interface
    def energy_pj_per_access(self, capacity_bytes: ArrayLike) -> np.ndarray:
        return self.bank_energy_pj(capacity_bytes) + self.wire_energy_pj(capacity_bytes)

    def energy_pj_per_byte(self, capacity_bytes: ArrayLike) -> np.ndarray:
        return self.energy_pj_per_access(capacity_bytes) / (self.word_bits / 8.0)

    def leakage_w(self, capacity_bytes: ArrayLike) -> np.ndarray:
        return _capacities(capacity_bytes) * 8.0 * self.leakage_pw_per_bit * 1e-12

    def area_mm2(self, capacity_bytes: ArrayLike) -> np.ndarray:
        bits = _capacities(capacity_bytes) * 8.0
        return bits * sram_bitcell_um2(self.node_nm) * 1e-6 / self.array_efficiency


# --------------------------------------------------------------------------- MACs, registers, DRAM

def _check_precision(precision: str) -> tuple[str, str, int]:
    if precision not in MAC_PARTS:
        raise InputError(f"unknown precision {precision!r} (known: {', '.join(MAC_PARTS)})",
                         field="precision")
    return MAC_PARTS[precision]


def mac_energy_pj(precision: str, node_nm: float = REFERENCE_NODE_NM,
                  vdd: float | None = None) -> float:
    """Energy of one multiply-accumulate at a precision and node (Horowitz 45 nm, scaled)."""
    mul, add, _ = _check_precision(precision)
    return (HOROWITZ_OPS[mul][0] + HOROWITZ_OPS[add][0]) * energy_scale(node_nm, vdd)


def mac_area_um2(precision: str, node_nm: float = REFERENCE_NODE_NM) -> float:
    """Area of one MAC unit (multiplier + accumulator adder; no pipeline registers, no wiring)."""
    mul, add, _ = _check_precision(precision)
    return (HOROWITZ_OPS[mul][1] + HOROWITZ_OPS[add][1]) * logic_area_scale(node_nm)


def mac_array_area_mm2(mac_units: ArrayLike, precision: str,
                       node_nm: float = REFERENCE_NODE_NM) -> np.ndarray:
    """Area of ``mac_units`` MACs (mm^2), vectorized over the MAC count."""
    n = np.asarray(mac_units, dtype=float)
    if not np.all(np.isfinite(n) & (n >= 0)):
        raise InputError("must be non-negative and finite", field="mac_units")
    return n * mac_area_um2(precision, node_nm) * 1e-6


def register_energy_pj_per_byte(precision: str, node_nm: float = REFERENCE_NODE_NM,
                                vdd: float | None = None) -> float:
    """Register-file access energy per byte: 1x a MAC per word (Eyeriss ISCA 2016 ratio)."""
    _, _, operand_bytes = _check_precision(precision)
    return REGISTER_ACCESS_PER_MAC * mac_energy_pj(precision, node_nm, vdd) / operand_bytes


def dram_energy_pj_per_byte(technology: str) -> float:
    """Energy per byte moved to or from DRAM of a technology (pJ/B; sources in the docstring)."""
    key = technology.lower()
    if key not in DRAM_PJ_PER_BIT:
        raise InputError(f"unknown DRAM technology {technology!r} (known: "
                         f"{', '.join(DRAM_PJ_PER_BIT)})", field="dram")
    return DRAM_PJ_PER_BIT[key] * 8.0
