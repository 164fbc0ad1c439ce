"""Quantities with units, as users write them ("10 MiB", "300 GB/s", "3.9 pJ/bit").

Each quantity is parsed once into an SI number of a known dimension:

=============  ==========================================  ===================
dimension      accepted units                              SI result
=============  ==========================================  ===================
bytes          B, KB, MB, GB, TB, KiB, MiB, GiB, TiB,      bytes
               bit, Kbit, Mbit (bits / 8)
bandwidth      B/s, KB/s, MB/s, GB/s, TB/s, KiB/s ...      bytes per second
               GiB/s, Gbit/s, Gb/s
frequency      Hz, kHz, MHz, GHz                           hertz
energy_per_    pJ/B, pJ/byte, pJ/bit, nJ/B, fJ/bit         picojoules per byte
byte
energy         fJ, pJ, nJ, uJ, J                           picojoules
power          W, mW, uW, kW                               watts
rate           OPS, GOPS, TOPS, FLOPS, GFLOPS, TFLOPS,     operations per second
               MACS, GMACS, TMACS (MAC = 2 ops)            (1 MAC = 2 OPS)
count          plain number, or with k/M/G suffix          number
=============  ==========================================  ===================

Decimal prefixes (K, M, G, T) are powers of 1000; binary prefixes (Ki, Mi, Gi, Ti) powers of 1024.
Unknown units are errors.
"""

from __future__ import annotations

import re

from cnnmem.errors import InputError

_DEC = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BIN = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}
_SMALL = {"f": 1e-3, "p": 1.0, "n": 1e3, "u": 1e6, "µ": 1e6, "m": 1e9, "": 1e12}  # -> pJ


def _byte_units() -> dict[str, float]:
    units: dict[str, float] = {}
    for p, f in {**_DEC, **_BIN}.items():
        units[f"{p}B"] = f
        units[f"{p}byte"] = f
        units[f"{p}bytes"] = f
        if p in ("", "k", "K", "M", "G", "T"):
            units[f"{p}bit"] = f / 8
            units[f"{p}bits"] = f / 8
            units[f"{p}b"] = f / 8
    units.pop("b", None)  # a bare "b" is too ambiguous
    units["bit"] = 1 / 8
    return units


_BYTES = _byte_units()
_BANDWIDTH = {f"{k}/s": v for k, v in _BYTES.items()} | {f"{k}ps": v for k, v in _BYTES.items()}
_FREQ = {"Hz": 1.0, "kHz": 1e3, "KHz": 1e3, "MHz": 1e6, "GHz": 1e9, "THz": 1e12}
_ENERGY = {f"{p}J": f for p, f in _SMALL.items()}
_ENERGY_PER_BYTE = {}
for _p, _f in _SMALL.items():
    _ENERGY_PER_BYTE[f"{_p}J/B"] = _f
    _ENERGY_PER_BYTE[f"{_p}J/byte"] = _f
    _ENERGY_PER_BYTE[f"{_p}J/bit"] = _f * 8
_POWER = {"W": 1.0, "mW": 1e-3, "uW": 1e-6, "kW": 1e3}
_RATE = {}
for _p, _f in _DEC.items():
    _RATE[f"{_p}OPS"] = _f
    _RATE[f"{_p}FLOPS"] = _f
    _RATE[f"{_p}MACS"] = 2 * _f
_COUNT = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}

DIMENSIONS: dict[str, dict[str, float]] = {
    "bytes": _BYTES,
    "bandwidth": _BANDWIDTH,
    "frequency": _FREQ,
    "energy": _ENERGY,
    "energy_per_byte": _ENERGY_PER_BYTE,
    "power": _POWER,
    "rate": _RATE,
    "count": _COUNT,
}

# digits with optional "_" or thousands "," groups (a lone "1,5" is rejected, not read as 15)
_NUMBER = re.compile(
    r"^\s*([-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"\s*([^\s\d].*?)?\s*$"
)


def parse_quantity(value: object, dimension: str, *, field: str | None = None) -> float:
    """Parse ``value`` (a number or a string with a unit) into the SI number of ``dimension``.

    A bare number is taken to be already in the SI unit of the dimension (bytes, bytes/s, Hz,
    pJ/byte, pJ, W, ops/s). Raises :class:`InputError` on an unknown unit or a malformed value.
    """
    units = DIMENSIONS[dimension]
    if isinstance(value, bool):
        raise InputError(f"expected a {dimension} quantity, got {value!r}", field=field)
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise InputError(f"expected a {dimension} quantity, got {value!r}", field=field)
    m = _NUMBER.match(value)
    if not m:
        raise InputError(f"cannot read {value!r} as a {dimension} quantity", field=field)
    number = float(m.group(1).replace("_", "").replace(",", ""))
    unit = (m.group(2) or "").strip()
    if not unit:
        return number  # "1e6" (YAML keeps it a string): a bare number is in the SI unit
    if unit not in units:
        known = ", ".join(sorted(u for u in units if u)[:12])
        raise InputError(
            f"unknown unit {unit!r} in {value!r} for a {dimension} quantity (e.g. {known})",
            field=field,
        )
    return number * units[unit]


def format_bytes(n: float) -> str:
    """Human-readable binary size: 131072 -> '128 KiB'."""
    for unit, f in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= f:
            v = n / f
            return f"{v:.4g} {unit}"
    return f"{n:.0f} B"
