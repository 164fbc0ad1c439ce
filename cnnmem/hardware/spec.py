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
from cnnmem.limits import check_chips
from cnnmem.paths import ROOT, builtin_names, resolve_yaml
from cnnmem.units import parse_quantity
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

    def __post_init__(self) -> None:
        positive = ("buffer_bytes", "mac_units", "clock_hz", "dram_bandwidth_bytes_per_s",
                    "bytes_per_activation", "bytes_per_weight", "bytes_per_gradient")
        for f in positive:
            if not getattr(self, f) > 0:
                raise InputError(f"must be positive, got {getattr(self, f)!r}", field=f)
        for f in ("dram_energy_pj_per_byte", "buffer_energy_pj_per_byte", "mac_energy_pj",
                  "static_power_w", "register_bytes", "register_energy_pj_per_byte",
                  "chip_bandwidth_bytes_per_s"):
            if getattr(self, f) < 0:
                raise InputError(f"must not be negative, got {getattr(self, f)!r}", field=f)
        for f in ("conv_mac_units", "fc_mac_units"):
            if getattr(self, f) is not None and not getattr(self, f) > 0:
                raise InputError(f"must be positive, got {getattr(self, f)!r}", field=f)
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not math.isfinite(v):
                raise InputError(f"must be a finite number, got {v}", field=f.name)
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


# YAML key -> (dataclass field, dimension or None for a plain number)
_KEYS: dict[str, tuple[str, str | None]] = {
    "buffer": ("buffer_bytes", "bytes"),
    "registers": ("register_bytes", "bytes"),
    "mac_units": ("mac_units", "count"),
    "clock": ("clock_hz", "frequency"),
    "utilization": ("utilization", None),
    "dram_bandwidth": ("dram_bandwidth_bytes_per_s", "bandwidth"),
    "dram_energy": ("dram_energy_pj_per_byte", "energy_per_byte"),
    "buffer_energy": ("buffer_energy_pj_per_byte", "energy_per_byte"),
    "register_energy": ("register_energy_pj_per_byte", "energy_per_byte"),
    "mac_energy": ("mac_energy_pj", "energy"),
    "static_power": ("static_power_w", "power"),
    "chips": ("chips", None),
    "chip_bandwidth": ("chip_bandwidth_bytes_per_s", "bandwidth"),
    "conv_mac_units": ("conv_mac_units", "count"),
    "fc_mac_units": ("fc_mac_units", "count"),
}
_OTHER = {"name", "description", "source", "peak", "bytes_per_element", "precision", "array"}
#: dotted names accepted by sweeps, e.g. "precision.weight" -> bytes_per_weight
FIELD_ALIASES = {
    **{k: v[0] for k, v in _KEYS.items()},
    "bytes_per_element": "bytes_per_element",
    "precision.activation": "bytes_per_activation",
    "precision.weight": "bytes_per_weight",
    "precision.gradient": "bytes_per_gradient",
}


#: unit dimension of each settable Hardware field (None: a plain number), e.g. for sweep axes
FIELD_DIMENSIONS: dict[str, str | None] = {
    **{attr: dim for attr, dim in _KEYS.values()},
    **dict.fromkeys(("bytes_per_element", "bytes_per_activation", "bytes_per_weight",
                     "bytes_per_gradient")),
}

_ATTR_TO_KEY = {attr: key for key, (attr, _) in _KEYS.items()}


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


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"expected a number, got {value!r}", field=field)
    return float(value)


def parse_hardware(data: Any, *, file: str, default_name: str | None = None) -> Hardware:
    """Validate parsed YAML into a :class:`Hardware` (errors name file, line and field)."""
    if not isinstance(data, dict):
        raise InputError("a hardware file must be a mapping of field: value", file=file)
    line = line_of(data)
    unknown = set(data) - set(_KEYS) - _OTHER
    if unknown:
        allowed = ", ".join(sorted(set(_KEYS) | _OTHER))
        bad = sorted(unknown, key=str)[0]
        raise InputError(f"unknown field (allowed: {allowed})", file=file,
                         line=line_of_key(data, bad), field=str(bad))
    values: dict[str, Any] = {"name": str(data.get("name", default_name or Path(file).stem))}
    if data.get("description"):
        values["description"] = str(data["description"])
    try:
        for key, (attr, dim) in _KEYS.items():
            if key in data:
                raw = data[key]
                values[attr] = _number(raw, key) if dim is None else parse_quantity(
                    raw, dim, field=key)
        if "chips" in values:
            if not float(values["chips"]).is_integer():
                raise InputError("must be a whole number", field="chips")
            values["chips"] = int(values["chips"])
        if "peak" in data:
            peak_ops = parse_quantity(data["peak"], "rate", field="peak")
            if "mac_units" in values and "clock_hz" in values:
                raise InputError("give two of mac_units, clock and peak, not all three",
                                 field="peak")
            if "clock_hz" in values:
                values["mac_units"] = peak_ops / 2 / values["clock_hz"]
            elif "mac_units" in values:
                values["clock_hz"] = peak_ops / 2 / values["mac_units"]
            else:
                raise InputError("peak needs clock or mac_units beside it", field="peak")
        if "array" in data:
            arr = data["array"]
            if (not isinstance(arr, list) or len(arr) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                               for v in arr)):
                raise InputError("expected [rows, cols] of the systolic array, e.g. [128, 128]",
                                 field="array")
            values["array_rows"], values["array_cols"] = int(arr[0]), int(arr[1])
        if "bytes_per_element" in data:
            b = _number(data["bytes_per_element"], "bytes_per_element")
            for f in ("bytes_per_activation", "bytes_per_weight", "bytes_per_gradient"):
                values[f] = b
        if "precision" in data:
            prec = data["precision"]
            if not isinstance(prec, dict) or set(prec) - {"activation", "weight", "gradient"}:
                raise InputError("expected {activation: B, weight: B, gradient: B} (bytes)",
                                 field="precision")
            for k, v in prec.items():
                values[f"bytes_per_{k}"] = _number(v, f"precision.{k}")
        for required in ("buffer_bytes", "mac_units", "clock_hz", "dram_bandwidth_bytes_per_s"):
            if required not in values:
                key = next(k for k, v in _KEYS.items() if v[0] == required)
                raise InputError(f"missing required field '{key}'", field=key)
        return Hardware(**values)
    except InputError as exc:
        key = _yaml_key(exc.field, data)
        field_line = line_of_key(data, key.split(".")[0]) if key else line
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
