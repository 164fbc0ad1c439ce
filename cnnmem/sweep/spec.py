"""Sweep files: parse and validate a design-space description (``sweeps/*.yaml``).

A sweep file looks like::

    sweep: quickstart                  # the sweep's name (required)
    description: "..."
    networks: [resnet50]               # built-in names or YAML paths (one or more)
    hardware: [wavecore]               # built-in names or YAML paths (one or more)
    mode: training                     # training | inference
    batch: 32                          # mini-batch (training) or images in flight (inference)
    strategies: [layerwise, mbs-greedy]
    objectives: [dram_bytes, energy_pj, latency_s, area_mm2]   # all minimized (default; without
                                    # an area model capacity_bytes stands in for area_mm2)
    options: {}                        # passed to every strategy's evaluator
    axes:
      capacity: {from: 512 KiB, to: 64 MiB, steps: 64, scale: log}   # or a list: [1 MiB, 2 MiB]
      sub_batch: {from: 1, to: 256}    # or a list, or {from, to, steps, scale: log}
      grouping: [layer, block, stage, greedy, optimal, {depth: 4},
                 {exhaustive: true, max_depth: 6}, {random: 100, seed: 1}]
      dram_bandwidth: [100 GB/s, 300 GB/s]    # any hardware field by its YAML (dotted) name
      bytes_per_element: [1, 2]

Every problem raises :class:`~cnnmem.errors.InputError` naming the file, line and field.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnmem.errors import InputError
from cnnmem.fields import Field, parse_fields
from cnnmem.hardware import FIELD_ALIASES, FIELD_DIMENSIONS, Hardware, load_hardware
from cnnmem.hardware.spec import hardware_path
from cnnmem.limits import (
    MAX_AXIS_VALUES,
    MAX_BATCH,
    MAX_CHIPS,
    MAX_RANDOM_GROUPINGS,
    MAX_SWEEP_POINTS,
    quote,
)
from cnnmem.model.schedule import (
    INFERENCE,
    STRUCTURAL_POLICIES,
    TRAINING,
    get_strategy,
    strategy_specs,
    sweep_evaluators,
)
from cnnmem.paths import ROOT, builtin_names, resolve_yaml
from cnnmem.sweep.strategy_check import check_sweep_strategies
from cnnmem.units import parse_quantity
from cnnmem.workload import load_network
from cnnmem.workload.library import network_path
from cnnmem.workload.network import Network
from cnnmem.yamlio import line_of, line_of_key, load_yaml_text, read_text_file

#: result columns an objective may name (all minimized); "buffer_bytes" means capacity_bytes
OBJECTIVE_COLUMNS = ("dram_bytes", "capacity_bytes", "buffer_need_bytes", "energy_pj",
                     "energy_dram_pj", "energy_buffer_pj", "energy_compute_pj",
                     "energy_static_pj", "latency_s", "compute_s", "memory_s",
                     "area_mm2", "area_buffer_mm2", "area_array_mm2", "buffer_leakage_w")
OBJECTIVE_ALIASES = {"buffer_bytes": "capacity_bytes", "energy": "energy_pj",
                     "latency": "latency_s", "dram": "dram_bytes", "area": "area_mm2"}
#: default objectives (issue #14): DRAM bytes, energy, latency, chip area. A sweep whose
#: hardware all has no area model (constant buffer cost, no MAC area: area 0 everywhere) uses
#: capacity_bytes in area's place, the quantity area grows with (see default_objectives)
DEFAULT_OBJECTIVES = ("dram_bytes", "energy_pj", "latency_s", "area_mm2")


def has_area_model(hw: Hardware) -> bool:
    return hw.buffer_cost is not None or hw.mac_area_um2 > 0


def default_objectives(hardware: list[Hardware]) -> tuple[str, ...]:
    """:data:`DEFAULT_OBJECTIVES`, with capacity_bytes for area_mm2 when no hardware of the
    sweep models area (the front would otherwise ignore what a bigger buffer costs)."""
    if any(has_area_model(hw) for hw in hardware):
        return DEFAULT_OBJECTIVES
    return tuple("capacity_bytes" if o == "area_mm2" else o for o in DEFAULT_OBJECTIVES)


def grouping_policies() -> tuple[str, ...]:
    """Every named grouping policy some strategy declares (its StrategySpec's GroupingRule):
    the ones strategies compute (passed by name), then the structural ones."""
    names = {p for s in strategy_specs().values() for p in s.grouping.policies}
    return tuple(sorted(names - set(STRUCTURE_POLICIES))) + STRUCTURE_POLICIES


#: grouping policies the sweep computes from the network's layer names
STRUCTURE_POLICIES = STRUCTURAL_POLICIES
EXHAUSTIVE_MAX_LAYERS = 16


@dataclass(frozen=True)
class GroupingSpec:
    """One entry of the grouping axis.

    ``kind`` is "default" (the strategy's own), "policy" (``value`` a name passed to or computed
    for the strategy), "depth" (groups of ``value`` consecutive layers), "exhaustive" (every
    grouping, groups of at most ``max_depth`` layers) or "random" (``value`` seeded groupings).
    """

    kind: str
    value: Any = None
    max_depth: int | None = None
    seed: int = 0
    line: int | None = None

    @property
    def label(self) -> str:
        if self.kind == "default":
            return "default"
        if self.kind == "policy":
            return str(self.value)
        if self.kind == "depth":
            return f"depth{self.value}"
        if self.kind == "exhaustive":
            return "exhaustive" + (f"-d{self.max_depth}" if self.max_depth else "")
        return f"random-s{self.seed}" + (f"-d{self.max_depth}" if self.max_depth else "")


@dataclass(frozen=True)
class HardwareAxis:
    """A hardware field swept over values; ``column`` is the result column (unit in name)."""

    key: str  # as written in the sweep file, e.g. "dram_bandwidth", "precision.weight"
    attr: str  # Hardware field ("bytes_per_element" sets the three precisions)
    values: tuple[float, ...]

    @property
    def column(self) -> str:
        return self.attr


@dataclass(frozen=True)
class SweepSpec:
    name: str
    file: str
    text: str
    description: str
    networks: tuple[tuple[str, Network], ...]
    hardware: tuple[tuple[str, Hardware], ...]
    mode: str
    batch: int
    chips: int
    strategies: tuple[str, ...]
    objectives: tuple[str, ...]
    capacity_bytes: np.ndarray | None  # None: each hardware's own buffer
    sub_batch: np.ndarray | None
    groupings: tuple[GroupingSpec, ...]
    hw_axes: tuple[HardwareAxis, ...]
    options: dict[str, Any] = field(default_factory=dict)
    #: the network and hardware files read: (kind, name, path), recorded in run.json
    input_files: tuple[tuple[str, str, str], ...] = ()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


class _Ctx:
    def __init__(self, file: str, data: Any) -> None:
        self.file = file
        self.data = data

    def error(self, message: str, field: str | None = None, mapping: Any = None,
              line: int | None = None) -> InputError:
        mapping = self.data if mapping is None else mapping
        if line is None:
            key = field.split(".")[-1] if field else None
            line = line_of_key(mapping, key) if key is not None else line_of(mapping)
        return InputError(message, file=self.file, line=line, field=field)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _int(ctx: _Ctx, value: Any, fld: str, mapping: Any = None, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise ctx.error(f"expected a whole number, got {value!r}", fld, mapping)
    if value < minimum:
        raise ctx.error(f"must be >= {minimum}, got {value!r}", fld, mapping)
    return int(value)


def _range_values(ctx: _Ctx, spec: Any, fld: str, dimension: str | None,
                  integer: bool) -> np.ndarray:
    """A list of quantities, one quantity, or {from, to, steps|step, scale, unit}."""

    def qty(v: Any, unit: str | None = None) -> float:
        if unit is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
            v = f"{v} {unit}"
        try:
            if dimension is None:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise InputError(f"expected a number, got {v!r}", field=fld)
                return float(v)
            return parse_quantity(v, dimension, field=fld)
        except InputError as exc:
            raise ctx.error(exc.message, fld, spec if isinstance(spec, dict) else None,
                            line=line_of(spec)) from None

    if isinstance(spec, dict):
        allowed = {"from", "to", "steps", "step", "scale", "unit"}
        bad = sorted(set(spec) - allowed, key=str)
        if bad:
            raise ctx.error(f"unknown key '{bad[0]}' (allowed: {', '.join(sorted(allowed))})",
                            fld, spec, line=line_of_key(spec, bad[0]))
        for k in ("from", "to"):
            if k not in spec:
                raise ctx.error(f"a range needs '{k}'", fld, spec, line=line_of(spec))
        unit = spec.get("unit")
        lo, hi = qty(spec["from"], unit), qty(spec["to"], unit)
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
            raise ctx.error(f"'to' ({spec['to']}) must not be below 'from' ({spec['from']})",
                            fld, spec, line=line_of(spec))
        scale = spec.get("scale", "linear")
        if scale not in ("linear", "log"):
            raise ctx.error(f"scale must be 'linear' or 'log', got {scale!r}", fld, spec,
                            line=line_of_key(spec, "scale"))
        if "steps" in spec and "step" in spec:
            raise ctx.error("give 'steps' (a count) or 'step' (an increment), not both", fld,
                            spec, line=line_of(spec))
        if "step" in spec:
            if scale == "log":
                raise ctx.error("'step' is for linear ranges; use 'steps' with scale: log", fld,
                                spec, line=line_of_key(spec, "step"))
            step = qty(spec["step"], unit)
            if not step > 0:
                raise ctx.error("'step' must be positive", fld, spec,
                                line=line_of_key(spec, "step"))
            _check_axis_size(ctx, np.floor((hi - lo) / step + 1e-9) + 1, fld, spec)
            n = int(np.floor((hi - lo) / step + 1e-9)) + 1
            values = lo + step * np.arange(n)
        elif "steps" in spec:
            n = _int(ctx, spec["steps"], fld, spec)
            _check_axis_size(ctx, n, fld, spec)
            if scale == "log":
                if not lo > 0:
                    raise ctx.error("a log range needs 'from' > 0", fld, spec,
                                    line=line_of_key(spec, "from"))
                values = np.geomspace(lo, hi, n)
            else:
                values = np.linspace(lo, hi, n)
        elif integer and scale == "linear":
            _check_axis_size(ctx, np.floor(hi) - np.ceil(lo) + 1, fld, spec)
            values = np.arange(lo, hi + 1)
        else:
            raise ctx.error("a range needs 'steps' (or 'step')", fld, spec, line=line_of(spec))
    else:
        items = _as_list(spec)
        if not items:
            raise ctx.error("needs at least one value", fld)
        values = np.array([qty(v) for v in items], dtype=float)
    if integer:
        values = np.rint(values)
    if not np.all(np.isfinite(values)) or np.any(values <= 0) and dimension == "bytes":
        raise ctx.error("values must be positive and finite", fld)
    return np.unique(values)


def _check_axis_size(ctx: _Ctx, n: float, fld: str, spec: Any) -> None:
    if n > MAX_AXIS_VALUES:
        raise ctx.error(f"the range has {n:,.0f} values, more than the limit of "
                        f"{MAX_AXIS_VALUES:,} (cnnmem.limits)", fld, spec, line=line_of(spec))


def _groupings(ctx: _Ctx, spec: Any, axes: Any) -> tuple[GroupingSpec, ...]:
    out = []
    line = line_of(spec) or line_of_key(axes, "grouping")
    for item in _as_list(spec):
        if isinstance(item, str):
            if item == "default":
                out.append(GroupingSpec("default", line=line))
            elif item in grouping_policies():
                out.append(GroupingSpec("policy", item, line=line))
            else:
                known = ", ".join(("default",) + grouping_policies())
                raise ctx.error(f"unknown grouping policy '{item}' (known: {known}; or "
                                "{depth: K}, {exhaustive: true}, {random: N, seed: S})",
                                "axes.grouping", line=line)
        elif isinstance(item, dict):
            iline = line_of(item) or line
            keys = set(item)
            if keys - {"depth", "exhaustive", "random", "seed", "max_depth"}:
                bad = sorted(keys - {"depth", "exhaustive", "random", "seed", "max_depth"},
                             key=str)[0]
                raise ctx.error(f"unknown grouping key '{bad}' (allowed: depth, exhaustive, "
                                "random, seed, max_depth)", "axes.grouping", line=iline)
            kinds = keys & {"depth", "exhaustive", "random"}
            if len(kinds) != 1:
                raise ctx.error("a grouping entry needs exactly one of depth, exhaustive, random",
                                "axes.grouping", line=iline)
            max_depth = (_int(ctx, item["max_depth"], "axes.grouping.max_depth", item)
                         if "max_depth" in item else None)
            kind = kinds.pop()
            if kind == "depth":
                out.append(GroupingSpec("depth", _int(ctx, item["depth"], "axes.grouping.depth",
                                                      item), line=iline))
            elif kind == "exhaustive":
                if item["exhaustive"] is not True:
                    raise ctx.error("exhaustive must be true", "axes.grouping", line=iline)
                out.append(GroupingSpec("exhaustive", max_depth=max_depth, line=iline))
            else:
                n = _int(ctx, item["random"], "axes.grouping.random", item)
                if n > MAX_RANDOM_GROUPINGS:
                    raise ctx.error(f"{n:,} random groupings exceed the limit of "
                                    f"{MAX_RANDOM_GROUPINGS:,} (cnnmem.limits)",
                                    "axes.grouping.random", line=iline)
                seed = _int(ctx, item.get("seed", 0), "axes.grouping.seed", item, minimum=0)
                out.append(GroupingSpec("random", n, max_depth=max_depth, seed=seed, line=iline))
        else:
            raise ctx.error(f"expected a policy name or a mapping, got {item!r}",
                            "axes.grouping", line=line)
    return tuple(out)


def _resolve(name: str, base: Path) -> str:
    """A relative path names a file beside the sweep file when one is there (wherever the
    command runs from), else a file relative to the working directory."""
    p = Path(name)
    if (p.suffix in (".yaml", ".yml", ".onnx") or "/" in name) and not p.is_absolute():
        alt = base / p
        if alt.is_file():
            return str(alt)
    return name


#: Every top-level field of a sweep file, declared once (kind, range, default, help); the
#: limits of cnnmem.limits are ranges here. ``any`` fields are checked by their own parsers.
SWEEP_FIELDS: tuple[Field, ...] = (
    Field("sweep", "text", "the sweep's name (also the default output folder)", required=True),
    Field("description", "text", "one line about the sweep", default=""),
    Field("networks", "any", "built-in network names or YAML paths (one or a list)"),
    Field("network", "any", "same as networks"),
    Field("hardware", "any", "built-in hardware names or YAML paths (one or a list)",
          required=True),
    Field("mode", "choice", "training or inference", default=TRAINING,
          choices=(TRAINING, INFERENCE)),
    Field("batch", "int", "mini-batch (training) or images in flight (inference)", default=1,
          minimum=1, maximum=MAX_BATCH, limit="MAX_BATCH"),
    Field("chips", "int", "chips of a multi-chip pipeline", default=1, minimum=1,
          maximum=MAX_CHIPS, limit="MAX_CHIPS"),
    Field("strategies", "any", "strategy names (see `cnnmem strategies`)"),
    Field("strategy", "any", "same as strategies"),
    Field("objectives", "any", "result columns to minimize (Pareto front; default "
          "dram_bytes, energy_pj, latency_s, area_mm2, with capacity_bytes for area_mm2 when no "
          "hardware models area)"),
    Field("options", "any", "a mapping of strategy options", default={}),
    Field("axes", "any", "axis: values (capacity, sub_batch, grouping, hardware fields)"),
)
TOP_FIELDS = tuple(f.name for f in SWEEP_FIELDS)


def _one_of(ctx: _Ctx, data: dict[str, Any], key: str, alias: str) -> str:
    """``key`` or its ``alias`` (not both): which one the file uses."""
    if key != alias and key in data and alias in data:
        raise ctx.error(f"give '{key}' or '{alias}', not both", alias)
    return key if key in data or alias not in data else alias


def _names(ctx: _Ctx, data: dict[str, Any], key: str, alias: str) -> tuple[str, list[str]]:
    k = _one_of(ctx, data, key, alias)
    if k not in data:
        raise ctx.error(f"missing required field '{key}'", key)
    items = _as_list(data[k])
    if not items or not all(isinstance(x, str) and x for x in items):
        raise ctx.error("expected a name or a list of names", k)
    if len(set(items)) != len(items):
        raise ctx.error("lists a name twice", k)
    return k, items


def _load_each(ctx: _Ctx, key: str, names: list[str], base: Path,
               load: Callable[[str], Any]) -> list[Any]:
    """Load every named file; an error inside a file names that file, else the sweep field."""
    out = []
    for n in names:
        try:
            out.append(load(_resolve(n, base)))
        except InputError as exc:
            if exc.file:
                raise
            raise ctx.error(exc.message, key) from None
    return out


def _strategies(ctx: _Ctx, data: dict[str, Any], mode: str) -> tuple[str, ...]:
    skey = _one_of(ctx, data, "strategies", "strategy")
    strategies = _as_list(data.get(skey, ["layerwise"]))
    if not strategies or not all(isinstance(s, str) for s in strategies):
        raise ctx.error("expected a strategy name or a list of names", skey)
    if len(set(strategies)) != len(strategies):
        raise ctx.error("lists a strategy twice", skey)
    evaluators = sweep_evaluators()
    for s in strategies:
        if s not in evaluators:
            raise ctx.error(f"strategy '{s}' has no sweep evaluator in this version (sweepable: "
                            f"{', '.join(evaluators) or 'none'})", skey)
        try:
            strat = get_strategy(s)
        except InputError:
            continue  # sweep-only evaluator: no mode information
        if mode not in strat.modes:
            raise ctx.error(f"strategy '{s}' does not support {mode} "
                            f"(it supports: {', '.join(strat.modes)})", skey)
    return tuple(strategies)


def _objectives(ctx: _Ctx, value: Any) -> tuple[str, ...]:
    objectives: list[str] = []
    for o in _as_list(value):
        col = OBJECTIVE_ALIASES.get(o, o) if isinstance(o, str) else o
        if col not in OBJECTIVE_COLUMNS:
            raise ctx.error(f"unknown objective {quote(o)} (known: "
                            f"{', '.join(OBJECTIVE_COLUMNS)}; all are minimized)", "objectives")
        if col in objectives:
            raise ctx.error(f"objective {quote(o)} listed twice", "objectives")
        objectives.append(col)
    if not objectives:
        raise ctx.error("needs at least one objective", "objectives")
    return tuple(objectives)


@dataclass
class _Axes:
    capacity: np.ndarray | None = None
    sub_batch: np.ndarray | None = None
    groupings: tuple[GroupingSpec, ...] = (GroupingSpec("default"),)
    hardware: list[HardwareAxis] = field(default_factory=list)


def _hardware_axis(actx: _Ctx, key: str, spec: Any, fld: str, hw: Hardware,
                   seen: set[str]) -> HardwareAxis:
    attr = FIELD_ALIASES[key]
    if attr in seen:
        raise actx.error("hardware field swept twice", fld)
    seen.add(attr)
    vals = _range_values(actx, spec, fld, FIELD_DIMENSIONS.get(attr), integer=attr == "chips")
    for v in vals:  # validate every value now, not half-way through the sweep
        try:
            _apply_hw(hw, attr, float(v))
        except InputError as exc:
            raise actx.error(f"{v:g}: {exc.message}", fld) from None
    return HardwareAxis(key, attr, tuple(float(v) for v in vals))


def _axes(ctx: _Ctx, axes: Any, file: str, batch: int, hw: Hardware) -> _Axes:
    if axes is None:
        axes = {}
    if not isinstance(axes, dict):
        raise ctx.error("expected a mapping of axis: values", "axes")
    out = _Axes()
    seen_attrs: set[str] = set()
    actx = _Ctx(file, axes)
    for key, spec in axes.items():
        fld = f"axes.{key}"
        if key in ("capacity", "buffer", "capacity_bytes"):
            if out.capacity is not None:
                raise actx.error("capacity given twice", fld)
            out.capacity = _range_values(actx, spec, fld, "bytes", integer=True)
        elif key == "sub_batch":
            sub = _range_values(actx, spec, fld, None, integer=True).astype(np.int64)
            if sub[0] < 1 or sub[-1] > batch:
                raise actx.error(f"sub-batch sizes must be in 1..batch ({batch}), got "
                                 f"{sub[0]}..{sub[-1]}", fld)
            out.sub_batch = sub
        elif key == "grouping":
            out.groupings = _groupings(actx, spec, axes)
        elif isinstance(key, str) and key in FIELD_ALIASES:
            out.hardware.append(_hardware_axis(actx, key, spec, fld, hw, seen_attrs))
        else:
            known = ["capacity", "sub_batch", "grouping"] + sorted(FIELD_ALIASES)
            raise actx.error(f"unknown axis (known: {', '.join(known)})", fld)
    if "precision" in {a.key.split(".")[0] for a in out.hardware} and \
            "bytes_per_element" in seen_attrs:
        raise ctx.error("sweep bytes_per_element or precision.*, not both", "axes")
    return out


def parse_sweep(data: Any, *, file: str, text: str | None = None) -> SweepSpec:
    """Validate parsed sweep YAML into a :class:`SweepSpec` from :data:`SWEEP_FIELDS` (loads
    networks and hardware)."""
    if text is None:
        try:
            text = read_text_file(file)
        except InputError:
            text = ""
    ctx = _Ctx(file, data)
    top = parse_fields(SWEEP_FIELDS, data, file=file, what="a sweep file: a mapping")
    if not top["sweep"].strip():
        raise ctx.error("expected the sweep's name, got ''", "sweep")
    base = Path(file).parent
    nkey, net_names = _names(ctx, data, "networks", "network")
    networks = list(zip([Path(n).stem if n.endswith((".yaml", ".yml")) else n
                         for n in net_names],
                        _load_each(ctx, nkey, net_names, base, load_network), strict=True))
    hw_names = _names(ctx, data, "hardware", "hardware")[1]
    hw_values = _load_each(ctx, "hardware", hw_names, base, load_hardware)
    hardware = [(hw.name, hw) for hw in hw_values]
    input_files = [("network", name, str(network_path(_resolve(n, base))))
                   for (name, _), n in zip(networks, net_names, strict=True)]
    input_files += [("hardware", hw.name, str(hardware_path(_resolve(h, base))))
                    for hw, h in zip(hw_values, hw_names, strict=True)]
    if len({h for h, _ in hardware}) != len(hardware):
        raise ctx.error("two hardware entries have the same name", "hardware")
    if not isinstance(top["options"], dict):
        raise ctx.error("expected a mapping of strategy options", "options")
    strategies = _strategies(ctx, data, top["mode"])
    objectives = (_objectives(ctx, top["objectives"]) if "objectives" in data
                  else default_objectives(hw_values))
    axes = _axes(ctx, data.get("axes"), file, top["batch"], hardware[0][1])
    _check_points(ctx, len(networks) * len(hardware) * len(strategies), axes.capacity,
                  axes.sub_batch, axes.groupings, axes.hardware)
    check_sweep_strategies([get_strategy(s).spec for s in strategies],
                           options=top["options"], sub_batch_axis=axes.sub_batch is not None,
                           groupings=axes.groupings, chips=top["chips"],
                           error=lambda msg, fld: ctx.error(msg, fld))
    return SweepSpec(
        name=top["sweep"].strip(), file=file, text=text, description=top["description"],
        networks=tuple(networks), hardware=tuple(hardware), mode=top["mode"],
        batch=top["batch"], chips=top["chips"], strategies=strategies, objectives=objectives,
        capacity_bytes=axes.capacity, sub_batch=axes.sub_batch, groupings=axes.groupings,
        hw_axes=tuple(axes.hardware), options=dict(top["options"]), input_files=tuple(input_files))


def _check_points(ctx: _Ctx, combos: int, capacity: np.ndarray | None,
                  sub_batch: np.ndarray | None, groupings: tuple[GroupingSpec, ...],
                  hw_axes: list[HardwareAxis]) -> None:
    """An upper estimate of the design points (exhaustive groupings counted at their most),
    checked against :data:`~cnnmem.limits.MAX_SWEEP_POINTS` before any work."""
    per_grouping = {"random": None, "exhaustive": 2 ** (EXHAUSTIVE_MAX_LAYERS - 1)}
    n_groupings = sum(g.value if g.kind == "random" else per_grouping.get(g.kind, 1)
                      for g in groupings)
    points = combos * n_groupings
    for n in (len(capacity) if capacity is not None else 1,
              len(sub_batch) if sub_batch is not None else 1, *(len(a.values) for a in hw_axes)):
        points *= n
    if points > MAX_SWEEP_POINTS:
        raise ctx.error(f"the sweep has up to {points:,} design points, more than the limit of "
                        f"{MAX_SWEEP_POINTS:,} (cnnmem.limits)", "axes")


def _apply_hw(hw: Hardware, attr: str, value: float) -> Hardware:
    if attr == "bytes_per_element":
        return hw.replace(bytes_per_activation=value, bytes_per_weight=value,
                          bytes_per_gradient=value)
    if attr == "chips":
        return hw.replace(chips=int(value))
    return hw.replace(**{attr: value})


def apply_hardware(hw: Hardware, axes: tuple[HardwareAxis, ...],
                   values: tuple[float, ...]) -> Hardware:
    """``hw`` with each swept field set to its value (a new, validated Hardware)."""
    for axis, v in zip(axes, values, strict=True):
        hw = _apply_hw(hw, axis.attr, v)
    return hw


SWEEPS_DIR = ROOT / "sweeps"


def builtin_sweeps() -> list[str]:
    """Names of the built-in sweeps (sweeps/*.yaml), sorted."""
    return builtin_names(SWEEPS_DIR)


def sweep_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A built-in sweep name ('quickstart') or a path to a sweep YAML file -> its path."""
    return resolve_yaml(name_or_path, SWEEPS_DIR, "sweep")


def load_sweep(path: str | os.PathLike[str]) -> SweepSpec:
    """Read, parse and validate a sweep file, given by path or by built-in name."""
    path = sweep_path(path)
    text = read_text_file(str(path))
    return parse_sweep(load_yaml_text(text, file=str(path)), file=str(path), text=text)
