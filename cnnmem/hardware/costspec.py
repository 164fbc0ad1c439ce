"""Hardware-file fields of the technology cost model (issue #14): the buffer's cost form, the
MAC array's precision and area, the DRAM technology, the technology node.

Declared in :data:`cnnmem.hardware.spec.HARDWARE_FIELDS`; this module turns their parsed values
into :class:`~cnnmem.hardware.spec.Hardware` attributes with :mod:`cnnmem.hardware.techmodel`::

    technology: {node_nm: 45}        # optional; default node of the models below (vdd optional)
    buffer_cost: sram                # constant (default: buffer_energy, no leakage, no area),
                                     # sram, {model: sram, bank: 1 MiB, word_bits: 64,
                                     # array_efficiency: 0.7, leakage_pw_per_bit: 100}, or
                                     # {table: [{capacity: 512 KiB, energy: 9.1 pJ/B,
                                     #           leakage: 0.4 mW, area: 2.1}, ...]} (area mm2)
    mac_precision: fp16-fp32         # MAC energy, MAC area and register energy per byte
    mac_area: 5824                   # um2 per MAC unit (overrides mac_precision's area)
    dram_technology: hbm2            # DRAM energy per byte (instead of dram_energy)

A file without these keys gives the hardware of before (constant costs, area 0).
"""

from __future__ import annotations

from typing import Any

from cnnmem.errors import InputError
from cnnmem.hardware import techmodel as tm
from cnnmem.units import parse_quantity

SRAM_KEYS = {"model", "word_bits", "bank", "array_efficiency", "leakage_pw_per_bit"}
TABLE_KEYS = {"capacity", "energy", "leakage", "area"}


def _technology(raw: Any) -> tuple[float, float | None]:
    if raw is None:
        return tm.REFERENCE_NODE_NM, None
    if not isinstance(raw, dict) or set(raw) - {"node_nm", "vdd"} or "node_nm" not in raw:
        raise InputError("expected {node_nm: N} (and optionally vdd: V)", field="technology")
    node, vdd = raw["node_nm"], raw.get("vdd")
    for key, v in (("node_nm", node), ("vdd", vdd)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
            raise InputError(f"expected a positive number, got {v!r}", field=f"technology.{key}")
    try:
        tm.energy_scale(float(node), None if vdd is None else float(vdd))
    except InputError as exc:
        raise InputError(exc.message, field="technology.node_nm") from None
    return float(node), None if vdd is None else float(vdd)


def _sram(raw: dict[str, Any], node: float, vdd: float | None) -> tm.SramBufferCost:
    unknown = sorted(set(raw) - SRAM_KEYS, key=str)
    if unknown:
        raise InputError(f"unknown key (allowed: {', '.join(sorted(SRAM_KEYS))})",
                         field=f"buffer_cost.{unknown[0]}")
    kw: dict[str, Any] = {"node_nm": node, "vdd": vdd}
    if "bank" in raw:
        kw["bank_bytes"] = parse_quantity(raw["bank"], "bytes", field="buffer_cost.bank")
    for key in ("word_bits", "array_efficiency", "leakage_pw_per_bit"):
        if key in raw:
            v = raw[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InputError(f"expected a number, got {v!r}", field=f"buffer_cost.{key}")
            kw[key] = v
    try:
        return tm.SramBufferCost(**kw)
    except InputError as exc:
        names = {"bank_bytes": "bank", "node_nm": "technology.node_nm", "vdd": "technology.vdd"}
        name = names.get(exc.field or "", exc.field or "")
        where = name if name.startswith("technology") else f"buffer_cost.{name}"
        raise InputError(exc.message, field=where) from None


def _table(rows: Any) -> tm.TableBufferCost:
    if not isinstance(rows, list) or not rows:
        raise InputError("expected a list of {capacity, energy, leakage, area} rows",
                         field="buffer_cost.table")
    cols: dict[str, list[float]] = {k: [] for k in TABLE_KEYS}
    dims = {"capacity": "bytes", "energy": "energy_per_byte", "leakage": "power"}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != TABLE_KEYS:
            raise InputError("each row needs exactly capacity, energy, leakage and area (mm2)",
                             field=f"buffer_cost.table[{i}]")
        for key in TABLE_KEYS:
            where = f"buffer_cost.table[{i}].{key}"
            if key == "area":
                v = row[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise InputError(f"expected a number (mm2), got {v!r}", field=where)
                cols[key].append(float(v))
            else:
                cols[key].append(parse_quantity(row[key], dims[key], field=where))
    try:
        return tm.TableBufferCost(tuple(cols["capacity"]), tuple(cols["energy"]),
                                  tuple(cols["leakage"]), tuple(cols["area"]))
    except InputError as exc:
        raise InputError(exc.message, field=f"buffer_cost.{exc.field}") from None


def buffer_cost(raw: Any, node: float, vdd: float | None) -> Any:
    """The buffer cost model of a ``buffer_cost`` value (None: the constant form)."""
    if raw is None or raw == "constant":
        return None
    if raw == "sram":
        return tm.SramBufferCost(node_nm=node, vdd=vdd)
    if isinstance(raw, dict) and set(raw) == {"table"}:
        return _table(raw["table"])
    if isinstance(raw, dict) and raw.get("model") == "sram":
        return _sram(raw, node, vdd)
    raise InputError("expected constant, sram, {model: sram, ...} or {table: [...]}",
                     field="buffer_cost")


def cost_values(parsed: dict[str, Any]) -> dict[str, Any]:
    """Hardware attributes set by the cost-model fields of a parsed hardware file."""
    node, vdd = _technology(parsed.get("technology"))
    out: dict[str, Any] = {}
    model = buffer_cost(parsed.get("buffer_cost"), node, vdd)
    if model is not None:
        if "buffer_energy" in parsed:
            raise InputError("give buffer_energy (a constant) or buffer_cost, not both",
                             field="buffer_cost")
        out["buffer_cost"] = model
    precision = parsed.get("mac_precision")
    if precision is not None:
        if "mac_energy" in parsed:
            raise InputError("give mac_energy or mac_precision, not both",
                             field="mac_precision")
        try:
            out["mac_energy_pj"] = tm.mac_energy_pj(precision, node, vdd)
            out["mac_area_um2"] = tm.mac_area_um2(precision, node)
            if "register_energy" not in parsed:
                out["register_energy_pj_per_byte"] = tm.register_energy_pj_per_byte(
                    precision, node, vdd)
        except InputError as exc:
            raise InputError(exc.message, field="mac_precision") from None
    if "mac_area" in parsed:
        out["mac_area_um2"] = parsed["mac_area"]
    if "dram_technology" in parsed:
        if "dram_energy" in parsed:
            raise InputError("give dram_energy or dram_technology, not both",
                             field="dram_technology")
        out["dram_energy_pj_per_byte"] = tm.dram_energy_pj_per_byte(parsed["dram_technology"])
    return out
