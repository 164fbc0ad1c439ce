"""Hardware descriptions: one immutable, validated value in SI units.

YAML keys (quantities take units, see :mod:`cnnmem.units`)::

    name: edge
    buffer: 2 MiB                 # on-chip global buffer capacity           (required)
    registers: 64 KiB             # optional register / local level
    mac_units: 1024               # MAC units (or give peak: 2 TOPS with clock)
    clock: 1 GHz
    utilization: 0.9              # fraction of peak MAC rate achieved on conv/FC work
    dram_bandwidth: 25.6 GB/s
    dram_energy: 20 pJ/bit        # per byte moved to or from DRAM
    buffer_energy: 1.2 pJ/B       # per byte read or written in the global buffer
    register_energy: 0.1 pJ/B     # optional
    mac_energy: 0.5 pJ            # per MAC
    static_power: 0.3 W
    bytes_per_element: 2          # or precision: {activation: 2, weight: 2, gradient: 4}
    chips: 1                      # optional multi-chip pipeline
    chip_bandwidth: 50 GB/s       # optional chip-to-chip link
    conv_mac_units: 256           # optional split units (TNPU-style); default all MAC units
    fc_mac_units: 16
    array: [128, 128]             # optional: weight-stationary systolic arrays of rows x cols
                                  # (mapping efficiency, see cnnmem.model.array)
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnmem.errors import InputError
from cnnmem.fields import Field, parse_fields
from cnnmem.hardware.costspec import cost_values
from cnnmem.hardware.techmodel import DRAM_PJ_PER_BIT, MAC_PARTS
from cnnmem.limits import MAX_CHIPS, check_chips
from cnnmem.paths import ROOT, builtin_names, resolve_yaml
from cnnmem.yamlio import line_of, line_of_key, load_yaml_file


@dataclass(frozen=True)
class Hardware:
    """An accelerator, all numbers in SI units (bytes, Hz, bytes/s, pJ, W)."""

    name: str
    buffer_bytes: float
    mac_units: float
    clock_hz: float
    dram_bandwidth_bytes_per_s: float
    dram_energy_pj_per_byte: float = 0.0
    buffer_energy_pj_per_byte: float = 0.0
    mac_energy_pj: float = 0.0
    static_power_w: float = 0.0
    utilization: float = 1.0
    register_bytes: float = 0.0
    register_energy_pj_per_byte: float = 0.0
    bytes_per_activation: float = 2.0
    bytes_per_weight: float = 2.0
    bytes_per_gradient: float = 2.0
    chips: int = 1
    chip_bandwidth_bytes_per_s: float = 0.0
    conv_mac_units: float | None = None
    fc_mac_units: float | None = None
    array_rows: int = 0  # systolic array shape (0: not modelled, every MAC slot is usable)
    array_cols: int = 0
    description: str | None = None
    # the buffer's capacity-dependent cost (cnnmem.hardware.techmodel: SramBufferCost,
    # TableBufferCost); None: the constant form (buffer_energy, no leakage, no area)
    buffer_cost: Any = None
    mac_area_um2: float = 0.0  # area of one MAC unit (0: not modelled)

    def __post_init__(self) -> None:
        positive = ("buffer_bytes", "mac_units", "clock_hz", "dram_bandwidth_bytes_per_s",
                    "bytes_per_activation", "bytes_per_weight", "bytes_per_gradient")
        for f in positive:
            if not getattr(self, f) > 0:
                raise InputError(f"must be positive, got {getattr(self, f)!r}", field=f)
        for f in ("dram_energy_pj_per_byte", "buffer_energy_pj_per_byte", "mac_energy_pj",
                  "static_power_w", "register_bytes", "register_energy_pj_per_byte",
                  "chip_bandwidth_bytes_per_s", "mac_area_um2"):
            if getattr(self, f) < 0:
                raise InputError(f"must not be negative, got {getattr(self, f)!r}", field=f)
        for f in ("conv_mac_units", "fc_mac_units"):
            if getattr(self, f) is not None and not getattr(self, f) > 0:
                raise InputError(f"must be positive, got {getattr(self, f)!r}", field=f)
        for dc_field in dataclasses.fields(self):
            v = getattr(self, dc_field.name)
            if isinstance(v, (int, float)) and not math.isfinite(v):
                raise InputError(f"must be a finite number, got {v}", field=dc_field.name)
        if not 0 < self.utilization <= 1:
            raise InputError(f"must be in (0, 1], got {self.utilization}", field="utilization")
        if self.chips < 1:
            raise InputError(f"must be >= 1, got {self.chips}", field="chips")
        check_chips(self.chips, field="chips")
        if (self.array_rows > 0) != (self.array_cols > 0) or min(self.array_rows,
                                                                 self.array_cols) < 0:
            raise InputError("give both array rows and columns as positive whole numbers",
                             field="array")
        if self.array_rows * self.array_cols > self.mac_units:
            raise InputError(f"a {self.array_rows}x{self.array_cols} array has more MACs than "
                             f"mac_units ({self.mac_units:g})", field="array")

    @property
    def peak_macs_per_s(self) -> float:
        return self.mac_units * self.clock_hz

    @property
    def effective_macs_per_s(self) -> float:
        return self.mac_units * self.clock_hz * self.utilization

    def replace(self, **changes: Any) -> Hardware:
        return dataclasses.replace(self, **changes)


def _q(name: str, unit: str, attr: str, help: str, *, positive: bool = False,
       required: bool = False) -> Field:
    """A quantity field: positive (> 0) or non-negative."""
    return Field(name, "quantity", help, unit=unit, attr=attr, minimum=0.0,
                 exclusive_minimum=positive, required=required)


#: Every field of a hardware file, declared once (kind and unit, range, default, help).
HARDWARE_FIELDS: tuple[Field, ...] = (
    Field("name", "text", "the hardware's name (default: the file name)"),
    Field("description", "text", "one line about it"),
    Field("source", "text", "where its numbers come from"),
    _q("buffer", "bytes", "buffer_bytes", "on-chip global buffer capacity", positive=True,
       required=True),
    _q("registers", "bytes", "register_bytes", "register / local level capacity"),
    _q("mac_units", "count", "mac_units", "MAC units (or give peak with clock)", positive=True),
    _q("clock", "frequency", "clock_hz", "clock frequency", positive=True),
    _q("peak", "rate", "peak_ops_per_s", "peak rate (2 ops per MAC), with clock or mac_units",
       positive=True),
    Field("utilization", "number", "fraction of the peak MAC rate achieved on conv/FC work",
          minimum=0.0, exclusive_minimum=True, maximum=1.0),
    _q("dram_bandwidth", "bandwidth", "dram_bandwidth_bytes_per_s", "DRAM bandwidth",
       positive=True, required=True),
    _q("dram_energy", "energy_per_byte", "dram_energy_pj_per_byte",
       "energy per byte moved to or from DRAM"),
    _q("buffer_energy", "energy_per_byte", "buffer_energy_pj_per_byte",
       "energy per byte read or written in the global buffer"),
    _q("register_energy", "energy_per_byte", "register_energy_pj_per_byte",
       "energy per byte of the register level"),
    _q("mac_energy", "energy", "mac_energy_pj", "energy per MAC"),
    _q("static_power", "power", "static_power_w", "static power"),
    Field("bytes_per_element", "number", "bytes of every activation, weight and gradient",
          minimum=0.0, exclusive_minimum=True),
    Field("precision", "any", "{activation: B, weight: B, gradient: B} (bytes)"),
    Field("chips", "int", "chips of a multi-chip pipeline", minimum=1, maximum=MAX_CHIPS,
          limit="MAX_CHIPS"),
    _q("chip_bandwidth", "bandwidth", "chip_bandwidth_bytes_per_s", "chip-to-chip link"),
    _q("conv_mac_units", "count", "conv_mac_units", "MAC units of the conv unit (TNPU-style)",
       positive=True),
    _q("fc_mac_units", "count", "fc_mac_units", "MAC units of the FC unit (TNPU-style)",
       positive=True),
    Field("array", "any", "[rows, cols] of weight-stationary systolic arrays"),
    # the technology cost model (cnnmem.hardware.costspec, cnnmem.hardware.techmodel)
    Field("technology", "any", "{node_nm: N[, vdd: V]}: node of the cost models below"),
    Field("buffer_cost", "any", "constant | sram | {model: sram, ...} | {table: [...]}: the "
          "buffer's pJ/B, leakage and area vs capacity (constant: buffer_energy)"),
    Field("mac_precision", "choice", "MAC energy, MAC area and register pJ/B from the "
          "technology model", choices=tuple(MAC_PARTS)),
    Field("mac_area", "number", "area of one MAC unit in um2", minimum=0.0,
          attr="mac_area_um2"),
    Field("dram_technology", "choice", "DRAM energy per byte of a technology",
          choices=tuple(DRAM_PJ_PER_BIT)),
)
PRECISION_FIELDS: tuple[Field, ...] = tuple(
    Field(kind, "number", f"bytes per {kind}", minimum=0.0, exclusive_minimum=True,
          attr=f"bytes_per_{kind}") for kind in ("activation", "weight", "gradient"))
_BY_NAME = {f.name: f for f in HARDWARE_FIELDS}

#: dotted names accepted by sweeps, e.g. "precision.weight" -> bytes_per_weight
FIELD_ALIASES = {
    **{f.name: f.target for f in HARDWARE_FIELDS
       if f.kind in ("quantity", "number", "int") and f.name != "peak"},
    **{f"precision.{f.name}": f.target for f in PRECISION_FIELDS},
}
#: unit dimension of each settable Hardware field (None: a plain number), e.g. for sweep axes
FIELD_DIMENSIONS: dict[str, str | None] = {
    **{f.target: f.unit for f in HARDWARE_FIELDS if f.name in FIELD_ALIASES},
    **{f.target: None for f in PRECISION_FIELDS},
}
_ATTR_TO_KEY = {f.target: f.name for f in HARDWARE_FIELDS}


def _yaml_key(field: str | None, data: dict[str, Any]) -> str | None:
    """The YAML key a validation error is about (errors from Hardware() name dataclass fields)."""
    if field is None or field in data:
        return field
    if field in _ATTR_TO_KEY:
        return _ATTR_TO_KEY[field]
    if field.startswith("bytes_per_"):
        kind = field.removeprefix("bytes_per_")
        prec = data.get("precision")
        if isinstance(prec, dict) and kind in prec:
            return f"precision.{kind}"
        if "bytes_per_element" in data:
            return "bytes_per_element"
    return field


def _rate(parsed: dict[str, Any]) -> dict[str, float]:
    """mac_units and clock_hz from two of mac_units, clock and peak."""
    units, clock, peak = (parsed.get(k) for k in ("mac_units", "clock", "peak"))
    if peak is None:
        return {k: v for k, v in (("mac_units", units), ("clock_hz", clock)) if v is not None}
    if units is not None and clock is not None:
        raise InputError("give two of mac_units, clock and peak, not all three", field="peak")
    if clock is not None:
        return {"mac_units": peak / 2 / clock, "clock_hz": clock}
    if units is not None:
        return {"mac_units": units, "clock_hz": peak / 2 / units}
    raise InputError("peak needs clock or mac_units beside it", field="peak")


def _precision(parsed: dict[str, Any], data: dict[str, Any], file: str) -> dict[str, float]:
    """bytes_per_activation/weight/gradient from bytes_per_element and precision."""
    out = {}
    if "bytes_per_element" in parsed:
        out = {f.target: parsed["bytes_per_element"] for f in PRECISION_FIELDS}
    if "precision" in parsed:
        prec = parsed["precision"]
        if not isinstance(prec, dict) or set(prec) - {f.name for f in PRECISION_FIELDS}:
            raise InputError("expected {activation: B, weight: B, gradient: B} (bytes)",
                             field="precision")
        for f in PRECISION_FIELDS:
            if f.name in prec:
                try:
                    out[f.target] = f.parse(prec[f.name])
                except InputError as exc:
                    raise InputError(exc.message, field=f"precision.{f.name}") from None
    return out


def _array(parsed: dict[str, Any]) -> dict[str, int]:
    if "array" not in parsed:
        return {}
    arr = parsed["array"]
    if (not isinstance(arr, list) or len(arr) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in arr)):
        raise InputError("expected [rows, cols] of the systolic array, e.g. [128, 128]",
                         field="array")
    return {"array_rows": int(arr[0]), "array_cols": int(arr[1])}


_DERIVED = {"name", "description", "source", "mac_units", "clock", "peak", "bytes_per_element",
            "precision", "array", "technology", "buffer_cost", "mac_precision", "mac_area",
            "dram_technology"}


def _direct_values(parsed: dict[str, Any], default_name: str) -> dict[str, Any]:
    """Hardware attributes set by one field each (the rest are derived, see _DERIVED)."""
    values: dict[str, Any] = {f.target: parsed[f.name] for f in HARDWARE_FIELDS
                              if f.name in parsed and f.name not in _DERIVED}
    values["name"] = parsed.get("name") or default_name
    if parsed.get("description"):
        values["description"] = parsed["description"]
    return values


def parse_hardware(data: Any, *, file: str, default_name: str | None = None) -> Hardware:
    """Validate parsed YAML into a :class:`Hardware` from :data:`HARDWARE_FIELDS` (errors name
    file, line and field)."""
    parsed = parse_fields(HARDWARE_FIELDS, data, file=file,
                          what="a hardware file: a mapping of field: value")
    values = _direct_values(parsed, default_name or Path(file).stem)
    try:
        values |= (_rate(parsed) | _precision(parsed, data, file) | _array(parsed)
                   | cost_values(parsed))
        for required in ("mac_units", "clock"):
            if _BY_NAME[required].target not in values:
                raise InputError(f"missing required field '{required}'", field=required)
        return Hardware(**values)
    except InputError as exc:
        key = _yaml_key(exc.field, data)
        field_line = line_of_key(data, key.split(".")[0]) if key else line_of(data)
        raise InputError(exc.message, file=exc.file or file,
                         line=exc.line if exc.line is not None else field_line,
                         item=exc.item, field=key) from None


HW_DIR = ROOT / "hw"


def builtin_hardware() -> list[str]:
    return builtin_names(HW_DIR)


def hardware_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A built-in preset name ('wavecore') or a path to a hardware YAML file -> its path."""
    return resolve_yaml(name_or_path, HW_DIR, "hardware")


def load_hardware(name_or_path: str | os.PathLike[str]) -> Hardware:
    """Load a built-in hardware preset by name or any hardware YAML by path."""
    p = hardware_path(name_or_path)
    return parse_hardware(load_yaml_file(p), file=str(p), default_name=p.stem)


def default_hardware(bytes_per_element: float = 2.0, buffer_bytes: float = 1 << 20) -> Hardware:
    """A neutral stand-in used where no --hw is given: only element sizes matter."""
    return Hardware(name="default", buffer_bytes=buffer_bytes, mac_units=1024, clock_hz=1e9,
                    dram_bandwidth_bytes_per_s=1e11, bytes_per_activation=bytes_per_element,
                    bytes_per_weight=bytes_per_element, bytes_per_gradient=bytes_per_element)
