"""Reproduce published figures: scenario files (YAML data) -> modeled value -> PASS / MISS.

A scenario (``scenarios/NAME.yaml``, format in ``scenarios/README.md``) names a published figure,
the model runs that reproduce it and a tolerance. Two kinds:

* ``schedule`` (default): run ``strategy`` (and ``baseline``) on every network with
  :func:`cnnmem.model.schedule.get_strategy`, read ``quantity`` from ``ScheduleResult.totals``
  and combine the networks with ``metric`` (reduction, ratio, improvement, value) and ``average``.
* ``bound``: the per-layer lower-bound table of :func:`cnnmem.report.bound.bound_table`; one
  column over the selected layers, combined with ``metric`` (max, min, mean, value).

Status depends only on the tolerance: PASS inside it (IDENTITY when the scenario records, in
``identity``, why its check holds by construction: such a row is never a PASS), MISS outside
(EXPECTED-MISS when the scenario records ``expected_miss``), ERROR when the model could not
run (e.g. a strategy not registered yet); ERROR counts like a MISS for the exit status unless
``expected_miss`` is set.
A malformed scenario file raises :class:`~cnnmem.errors.InputError` (file, line, field).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnnmem.errors import InputError
from cnnmem.model.gconv import PASSES
from cnnmem.model.schedule import INFERENCE, TRAINING, ScheduleResult
from cnnmem.paths import ROOT
from cnnmem.yamlio import line_of, line_of_key, load_yaml_file

SCENARIO_DIR = ROOT / "scenarios"

KINDS = ("schedule", "bound")
SCHEDULE_METRICS = ("reduction", "ratio", "improvement", "value")
BOUND_METRICS = ("max", "min", "mean", "value")
AVERAGES = ("arithmetic", "geometric")
PROVENANCES = ("published", "reconstruction")
TRANSFORMS = ("identity", "inverse", "one_minus_inverse")
LAYER_SELECTORS = ("conv", "fc", "all")
BOUND_COLUMNS = ("lower_bound_bytes", "dataflow_bytes", "dataflow_over_bound",
                 "buffer_used_bytes", "macs")
PASS, MISS, EXPECTED_MISS, ERROR = "PASS", "MISS", "EXPECTED-MISS", "ERROR"
#: a check that holds by construction (the scenario's ``identity`` says why): never a PASS
IDENTITY = "IDENTITY"
STATUSES = (PASS, IDENTITY, MISS, EXPECTED_MISS, ERROR)

_COMMON_FIELDS = {"name", "kind", "figure", "source", "published", "provenance", "metric",
                  "networks", "hw", "buffer", "batch", "unit", "scale", "tolerance",
                  "expected_miss", "identity", "average", "target", "comment"}
_SCHEDULE_FIELDS = _COMMON_FIELDS | {
    "quantity", "strategy", "baseline", "strategy_options", "baseline_options", "mode",
    "baseline_mode", "baseline_hw", "baseline_buffer", "baseline_batch", "chips",
    "baseline_chips", "sub_batch", "baseline_sub_batch", "also_strategy",
    "curve_macs_per_byte"}
_BOUND_FIELDS = _COMMON_FIELDS | {"pass", "column", "layers"}
_REQUIRED = {
    "schedule": ("name", "figure", "source", "published", "metric", "quantity", "strategy",
                 "networks", "hw", "mode", "batch", "tolerance"),
    "bound": ("name", "figure", "source", "published", "metric", "networks", "buffer",
              "tolerance"),
}


# ------------------------------------------------------------------------------------------
# Scenario values


@dataclass(frozen=True)
class Tolerance:
    """``abs``: |modeled - target| <= abs; ``rel``: <= rel * |target|; ``min``/``max``: range."""

    abs: float | None = None
    rel: float | None = None
    min: float | None = None
    max: float | None = None

    def contains(self, modeled: float, target: float) -> bool:
        if not math.isfinite(modeled):
            return False
        if self.abs is not None:
            return abs(modeled - target) <= self.abs + 1e-12 * max(1.0, abs(target))
        if self.rel is not None:
            return abs(modeled - target) <= self.rel * abs(target) * (1 + 1e-12)
        return ((self.min is None or modeled >= self.min)
                and (self.max is None or modeled <= self.max))

    def describe(self) -> str:
        if self.abs is not None:
            return f"±{self.abs:g}"
        if self.rel is not None:
            return f"±{self.rel * 100:g}%"
        if self.min is not None and self.max is not None:
            return f"[{self.min:g}, {self.max:g}]"
        if self.max is not None:
            return f"<= {self.max:g}"
        return f">= {self.min:g}"


@dataclass(frozen=True)
class Target:
    """Check the tolerance around another scenario's modeled value (transformed).

    ``per_network``: transform the other scenario's per-network values and average them with
    this scenario's ``average`` (an identity that holds per network, such as energy = 1 -
    1/speedup, survives averaging only this way); else transform its averaged value.
    """

    scenario: str
    transform: str = "identity"
    per_network: bool = False

    def apply(self, value: float) -> float:
        if self.transform == "inverse":
            return 1.0 / value if value else math.inf
        if self.transform == "one_minus_inverse":
            return 1.0 - 1.0 / value if value else -math.inf
        return value

    def describe(self) -> str:
        form = {"identity": "{}", "inverse": "1/{}", "one_minus_inverse": "1-1/{}"}
        what = form[self.transform].format(self.scenario)
        return f"{what} (per network)" if self.per_network else what


@dataclass(frozen=True)
class Run:
    """One side of a schedule comparison (strategy or baseline)."""

    strategy: str
    hw: str
    buffer_bytes: float | None
    mode: str
    batch: int
    chips: int
    sub_batch: int | None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str
    file: str
    figure: str
    source: str
    published: float
    provenance: str
    metric: str
    networks: tuple[str, ...]
    tolerance: Tolerance
    unit: str = ""
    scale: float = 1.0
    average: str = "arithmetic"
    expected_miss: str | None = None
    identity: str | None = None  # why the check holds by construction (status IDENTITY)
    target: Target | None = None
    quantity: str | None = None  # schedule
    run: Run | None = None  # schedule: the strategy side
    baseline: Run | None = None  # schedule: None for metric 'value'
    #: schedule: the same figure with a second strategy (e.g. another grouping), reported
    #: beside the row (never judged): ``also_strategy``
    also: Run | None = None
    #: schedule: chip MAC/bandwidth ratios (peak MACs/s over DRAM bytes/s) of the ``--detail``
    #: speedup curve (:func:`ratio_curve`); empty: no curve
    curve_macs_per_byte: tuple[float, ...] = ()
    hw: str | None = None  # bound: None = 2 bytes per element
    buffer_bytes: float | None = None  # bound
    batch: int = 1  # bound
    pass_name: str = "forward"  # bound
    column: str = "dataflow_over_bound"  # bound
    layers: str | tuple[str, ...] = "conv"  # bound


# ------------------------------------------------------------------------------------------
# Validation


def _finite(value: Any) -> float | None:
    """A finite number, or a string YAML left unparsed such as '1e-6'; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


class _Fields:
    """Typed access to a scenario mapping; every error names file, line and field."""

    def __init__(self, data: dict[str, Any], file: str) -> None:
        self.data, self.file = data, file

    def error(self, key: str, message: str) -> InputError:
        return InputError(message, file=self.file, line=line_of_key(self.data, key), field=key)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def text(self, key: str, default: str | None = None, *, allow_empty: bool = False
             ) -> str | None:
        v = self.data.get(key)
        if v is None:
            return default
        if not isinstance(v, str) or (not allow_empty and not v.strip()):
            raise self.error(key, f"expected a non-empty string, got {v!r}")
        return v

    def choice(self, key: str, choices: Iterable[str], default: str | None = None) -> str | None:
        choices = tuple(choices)
        v = self.data.get(key)
        if v is None:
            return default
        if v not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}, got {v!r}")
        return v

    def number(self, key: str, default: float | None = None) -> float | None:
        v = self.data.get(key)
        if v is None:
            return default
        out = _finite(v)
        if out is None:
            raise self.error(key, f"expected a finite number, got {v!r}")
        return out

    def count(self, key: str, default: int | None = None) -> int | None:
        v = self.data.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise self.error(key, f"expected a whole number >= 1, got {v!r}")
        return v

    def quantity_bytes(self, key: str) -> float | None:
        from cnnmem.units import parse_quantity

        v = self.data.get(key)
        if v is None:
            return None
        try:
            out = parse_quantity(v, "bytes", field=key)
        except InputError as exc:
            raise self.error(key, exc.message) from None
        if not out > 0:
            raise self.error(key, f"must be positive, got {v!r}")
        return out

    def mapping(self, key: str) -> dict[str, Any]:
        v = self.data.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict) or not all(isinstance(k, str) for k in v):
            raise self.error(key, f"expected a mapping of option: value, got {v!r}")
        return dict(v)

    def names(self, key: str) -> tuple[str, ...]:
        v = self.data.get(key)
        if isinstance(v, str):
            v = [v]
        if (not isinstance(v, list) or not v
                or not all(isinstance(x, str) and x.strip() for x in v)):
            raise self.error(key, f"expected a non-empty list of names, got {v!r}")
        if len(set(v)) != len(v):
            raise self.error(key, "lists a name twice")
        return tuple(v)


def _tolerance(f: _Fields) -> Tolerance:
    v = f.data.get("tolerance")
    shape = "expected {abs: X}, {rel: X} or {min: X, max: Y}"
    if not isinstance(v, dict) or not v:
        raise f.error("tolerance", f"{shape}, got {v!r}")
    keys = set(v)
    if keys - {"abs", "rel", "min", "max"} or (keys & {"abs", "rel"} and len(keys) > 1):
        raise f.error("tolerance", f"{shape}, got {dict(v)!r}")
    nums: dict[str, float] = {}
    for k, x in v.items():
        num = _finite(x)
        if num is None:
            raise f.error("tolerance", f"'{k}' must be a finite number, got {x!r}")
        nums[k] = num
    for k in ("abs", "rel"):
        if k in nums and nums[k] < 0:
            raise f.error("tolerance", f"'{k}' must not be negative, got {nums[k]:g}")
    if "min" in nums and "max" in nums and nums["min"] > nums["max"]:
        raise f.error("tolerance", f"min {nums['min']:g} is above max {nums['max']:g}")
    return Tolerance(**nums)


def _target(f: _Fields) -> Target | None:
    v = f.data.get("target")
    if v is None:
        return None
    if (not isinstance(v, dict) or set(v) - {"scenario", "transform", "per_network"}
            or not isinstance(v.get("scenario"), str)
            or not isinstance(v.get("per_network", False), bool)):
        raise f.error("target", "expected {scenario: NAME, transform: "
                      f"{'|'.join(TRANSFORMS)}, per_network: true|false}}, got {v!r}")
    transform = v.get("transform", "identity")
    if transform not in TRANSFORMS:
        raise f.error("target", f"transform must be one of {', '.join(TRANSFORMS)}, "
                      f"got {transform!r}")
    if v["scenario"] == f.data.get("name"):
        raise f.error("target", "a scenario cannot target itself")
    return Target(v["scenario"], transform, bool(v.get("per_network", False)))


def _schedule_runs(f: _Fields, metric: str) -> tuple[Run, Run | None]:
    mode = f.choice("mode", (TRAINING, INFERENCE))
    run = Run(strategy=f.text("strategy"), hw=f.text("hw"), buffer_bytes=f.quantity_bytes("buffer"),
              mode=mode, batch=f.count("batch"), chips=f.count("chips", 1),
              sub_batch=f.count("sub_batch"), options=f.mapping("strategy_options"))
    baseline_name = f.text("baseline")
    if metric == "value":
        return run, None
    if baseline_name is None:
        raise f.error("baseline", f"metric '{metric}' compares with a baseline: give "
                      "'baseline: STRATEGY'")
    hw = f.text("baseline_hw", run.hw)
    buffer = f.quantity_bytes("baseline_buffer")
    if buffer is None and not f.has("baseline_hw"):
        buffer = run.buffer_bytes
    base = Run(strategy=baseline_name, hw=hw, buffer_bytes=buffer,
               mode=f.choice("baseline_mode", (TRAINING, INFERENCE), mode),
               batch=f.count("baseline_batch", run.batch), chips=f.count("baseline_chips", 1),
               sub_batch=f.count("baseline_sub_batch"), options=f.mapping("baseline_options"))
    return run, base


def _bound_layers(f: _Fields) -> str | tuple[str, ...]:
    v = f.data.get("layers")
    if v is None:
        return "conv"
    if isinstance(v, str) and v in LAYER_SELECTORS:
        return v
    if isinstance(v, str):
        raise f.error("layers", f"expected {', '.join(LAYER_SELECTORS)} or a list of layer "
                      f"names, got {v!r}")
    return f.names("layers")


def parse_scenario(data: Any, *, file: str, expected_name: str | None = None) -> Scenario:
    """Validate parsed YAML into a :class:`Scenario` (errors name file, line and field)."""
    if not isinstance(data, dict):
        raise InputError("a scenario file must be a mapping of field: value", file=file,
                         line=line_of(data))
    f = _Fields(data, file)
    kind = f.choice("kind", KINDS, "schedule")
    allowed = _SCHEDULE_FIELDS if kind == "schedule" else _BOUND_FIELDS
    unknown = sorted((k for k in data if k not in allowed), key=str)
    if unknown:
        raise f.error(str(unknown[0]), f"unknown field for kind '{kind}' (allowed: "
                      f"{', '.join(sorted(allowed))})")
    for key in _REQUIRED[kind]:
        if data.get(key) is None:
            raise InputError(f"missing required field '{key}'", file=file, line=line_of(data),
                             field=key)
    name = f.text("name")
    if expected_name is not None and name != expected_name:
        raise f.error("name", f"must equal the file name stem '{expected_name}', got {name!r}")
    metric = f.choice("metric", SCHEDULE_METRICS if kind == "schedule" else BOUND_METRICS)
    scale = f.number("scale", 1.0)
    if scale == 0:
        raise f.error("scale", "must not be zero")
    expected_miss = f.text("expected_miss")
    if expected_miss is not None and f.has("identity"):
        raise f.error("identity", "a check that holds by construction cannot also be an "
                      "expected miss: give 'identity' or 'expected_miss'")
    common = dict(
        name=name, kind=kind, file=file, figure=f.text("figure"), source=f.text("source"),
        published=f.number("published"), provenance=f.choice("provenance", PROVENANCES,
                                                             "published"),
        metric=metric, networks=f.names("networks"), tolerance=_tolerance(f),
        unit=f.text("unit", "", allow_empty=True), scale=scale,
        average=f.choice("average", AVERAGES, "arithmetic"), expected_miss=expected_miss,
        identity=f.text("identity"), target=_target(f))
    f.text("comment")
    if kind == "schedule":
        run, base = _schedule_runs(f, metric)
        also_name = f.text("also_strategy")
        also = None if also_name is None else replace(run, strategy=also_name)
        curve = data.get("curve_macs_per_byte") or ()
        if not isinstance(curve, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                for v in curve):
            if curve != ():
                raise f.error("curve_macs_per_byte", "a list of positive numbers (MACs per "
                              f"DRAM byte), got {curve!r}")
        return Scenario(**common, quantity=f.text("quantity"), run=run, baseline=base,
                        also=also, curve_macs_per_byte=tuple(float(v) for v in curve))
    return Scenario(**common, hw=f.text("hw"), buffer_bytes=f.quantity_bytes("buffer"),
                    batch=f.count("batch", 1), pass_name=f.choice("pass", PASSES, "forward"),
                    column=f.choice("column", BOUND_COLUMNS, "dataflow_over_bound"),
                    layers=_bound_layers(f))


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file (its ``name`` must equal the file stem)."""
    p = Path(path)
    return parse_scenario(load_yaml_file(p), file=str(p), expected_name=p.stem)


def scenario_files(directory: str | Path = SCENARIO_DIR) -> list[Path]:
    d = Path(directory)
    if not d.is_dir():
        raise InputError("scenario directory not found", file=str(d))
    return sorted(p for p in d.glob("*.yaml") if p.is_file())


def select_scenarios(names: Iterable[str], directory: str | Path = SCENARIO_DIR
                     ) -> list[Scenario]:
    """``all`` (or nothing) = every scenario in ``directory``; else names or YAML paths."""
    names = list(names)
    if not names or names == ["all"]:
        paths = scenario_files(directory)
    else:
        paths = []
        for n in names:
            p = Path(n)
            if p.suffix in (".yaml", ".yml") or "/" in n:
                paths.append(p)
                continue
            p = Path(directory) / f"{n}.yaml"
            if not p.is_file():
                known = ", ".join(x.stem for x in scenario_files(directory))
                raise InputError(f"unknown scenario '{n}' (known: {known}; or 'all')")
            paths.append(p)
    scenarios = [load_scenario(p) for p in paths]
    seen: dict[str, str] = {}
    for s in scenarios:
        if s.name in seen:
            raise InputError(f"scenario name '{s.name}' also used by {seen[s.name]}",
                             file=s.file, field="name")
        seen[s.name] = s.file
    return scenarios


# ------------------------------------------------------------------------------------------
# Metrics (pure)


def average(values: Iterable[float], how: str = "arithmetic") -> float:
    """Arithmetic or geometric mean (geometric needs positive values)."""
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        raise ValueError("nothing to average")
    if how == "geometric":
        if (arr <= 0).any():
            raise ValueError("geometric mean of a non-positive value")
        return float(np.exp(np.log(arr).mean()))
    return float(arr.mean())


def schedule_metric(metric: str, strategy_values: list[float],
                    baseline_values: list[float] | None, how: str = "arithmetic") -> float:
    """Combine per-network values: with r_i = strategy_i / baseline_i,
    reduction = 1 - avg(r), ratio = avg(1/r), improvement = avg(1/r) - 1, value = avg(x)."""
    if metric == "value":
        return average(strategy_values, how)
    if baseline_values is None or len(baseline_values) != len(strategy_values):
        raise ValueError(f"metric '{metric}' needs one baseline value per network")
    s, b = np.asarray(strategy_values, float), np.asarray(baseline_values, float)
    if (b == 0).any() or (s == 0).any():
        raise ValueError("a strategy or baseline value is zero")
    if metric == "reduction":
        return 1.0 - average(s / b, how)
    if metric == "ratio":
        return average(b / s, how)
    if metric == "improvement":
        return average(b / s, how) - 1.0
    raise ValueError(f"unknown metric '{metric}'")


def bound_metric(metric: str, values: list[float]) -> float:
    if not values:
        raise ValueError("no layer selected")
    if metric == "max":
        return float(max(values))
    if metric == "min":
        return float(min(values))
    if metric == "mean":
        return average(values)
    if len(values) != 1:
        raise ValueError(f"metric 'value' needs exactly one selected row, got {len(values)}")
    return float(values[0])


def status_of(modeled: float, target: float, tolerance: Tolerance,
              expected_miss: str | None, identity: str | None = None) -> str:
    """PASS inside the tolerance (IDENTITY when the check holds by construction), else MISS
    (EXPECTED-MISS when the miss is recorded). An identity outside its tolerance is a MISS:
    the construction it relies on is broken."""
    if tolerance.contains(modeled, target):
        return IDENTITY if identity else PASS
    return EXPECTED_MISS if expected_miss else MISS


# ------------------------------------------------------------------------------------------
# Running


class RunCache:
    """Schedule results of one ``reproduce`` invocation, keyed by every input of the run."""

    def __init__(self) -> None:
        self._results: dict[tuple[Any, ...], ScheduleResult] = {}
        self.hits = 0

    @staticmethod
    def key(run: Run, network: str) -> tuple[Any, ...]:
        return (run.strategy, network, run.hw, run.buffer_bytes, run.mode, run.batch, run.chips,
                run.sub_batch, json.dumps(run.options, sort_keys=True, default=str))

    def get(self, run: Run, network: str, compute: Callable[[], ScheduleResult]
            ) -> ScheduleResult:
        k = self.key(run, network)
        if k in self._results:
            self.hits += 1
        else:
            self._results[k] = compute()
        return self._results[k]

    def __len__(self) -> int:
        return len(self._results)


def _resolve(name: str, scenario_file: str) -> str:
    """Paths in a scenario are relative to the scenario file; names are built-ins."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        local = Path(scenario_file).parent / name
        if local.exists():
            return str(local)
    return name


def run_schedule(run: Run, network: str, scenario_file: str) -> ScheduleResult:
    from cnnmem.hardware import load_hardware
    from cnnmem.model.schedule import run_strategy
    from cnnmem.workload import load_network

    _, result = run_strategy(run.strategy, load_network(_resolve(network, scenario_file)),
                             load_hardware(_resolve(run.hw, scenario_file)), mode=run.mode,
                             batch=run.batch, buffer_bytes=run.buffer_bytes, chips=run.chips,
                             sub_batch=run.sub_batch, options=run.options)
    return result


def ratio_curve(s: Scenario, tick: Callable[[], None] = lambda: None) -> pd.DataFrame:
    """The scenario's ratio (strategy over baseline, per network and averaged) as a curve over
    the chip's MAC/bandwidth ratio: at each value r of ``curve_macs_per_byte`` both sides run
    on their hardware with ``mac_units`` = r x DRAM bandwidth / clock (bandwidth, clock,
    buffer, chips unchanged). Shows whether a schedule can gain where a chip is memory-bound
    (small r) and where it cannot (compute-bound, large r)."""
    from cnnmem.hardware import load_hardware
    from cnnmem.model.schedule import run_strategy
    from cnnmem.workload import load_network

    assert s.run is not None and s.baseline is not None and s.quantity is not None
    rows: list[dict[str, Any]] = []
    for r in s.curve_macs_per_byte:
        values: dict[str, tuple[float, float]] = {}
        for n in s.networks:
            net = load_network(_resolve(n, s.file))
            side = []
            for run in (s.run, s.baseline):
                hw = load_hardware(_resolve(run.hw, s.file))
                hw = hw.replace(mac_units=r * hw.dram_bandwidth_bytes_per_s / hw.clock_hz)
                _, res = run_strategy(run.strategy, net, hw, mode=run.mode, batch=run.batch,
                                      buffer_bytes=run.buffer_bytes, chips=run.chips,
                                      sub_batch=run.sub_batch, options=run.options)
                side.append(_total(res, s.quantity, run))
                tick()
            values[n] = (side[0], side[1])
            rows.append({"macs_per_dram_byte": r, "network": n,
                         f"{s.run.strategy}_{s.quantity}": side[0],
                         f"{s.baseline.strategy}_{s.quantity}": side[1],
                         "value": schedule_metric(s.metric, [side[0]], [side[1]]) * s.scale})
        mean = schedule_metric(s.metric, [v[0] for v in values.values()],
                               [v[1] for v in values.values()], s.average) * s.scale
        rows.append({"macs_per_dram_byte": r, "network": f"mean ({s.average})",
                     f"{s.run.strategy}_{s.quantity}": math.nan,
                     f"{s.baseline.strategy}_{s.quantity}": math.nan, "value": mean})
    return pd.DataFrame(rows)


def where_published_falls(s: Scenario, curve: pd.DataFrame) -> str:
    """One line: where the published value falls on the averaged curve (an interpolated MAC/B
    ratio where the mean crosses it, or the curve's range when it never does)."""
    mean = curve[curve["network"].str.startswith("mean")]
    x, y = mean["macs_per_dram_byte"].to_numpy(), mean["value"].to_numpy()
    hits = []
    for i in range(len(x) - 1):
        a, b = y[i] - s.published, y[i + 1] - s.published
        if a == 0 or a * b < 0:
            t = 0.0 if a == b else a / (a - b)
            hits.append(x[i] * (x[i + 1] / x[i]) ** t)  # geometric interpolation in r
    if len(y) and y[-1] == s.published:
        hits.append(x[-1])
    if hits:
        where = ", ".join(f"{h:.3g}" for h in hits)
        return (f"{s.name}: the published {s.published:g} is the mean at about {where} MAC per "
                f"DRAM byte")
    return (f"{s.name}: the published {s.published:g} is not reached on the curve (mean "
            f"{y.min():.3g}..{y.max():.3g} over {x.min():g}..{x.max():g} MAC per DRAM byte)")


def _total(result: ScheduleResult, quantity: str, run: Run) -> float:
    if quantity not in result.totals:
        raise InputError(f"strategy '{run.strategy}' has no total '{quantity}' (it has: "
                         f"{', '.join(sorted(result.totals))})", field="quantity")
    return float(result.totals[quantity])


def run_count(s: Scenario) -> int:
    """How many model runs (cached or not) the scenario asks for: the progress-bar total."""
    if s.kind != "schedule":
        return len(s.networks)
    runs = (2 if s.baseline is not None else 1) + (2 if s.also is not None else 0)
    return len(s.networks) * runs


def evaluate_schedule(s: Scenario, cache: RunCache, tick: Callable[[], None] = lambda: None
                      ) -> tuple[float, dict[str, float], dict[str, float]]:
    """The scenario's modeled value (before ``scale``), the per-network values and, for a
    value averaged over several networks, both means ({"arithmetic": .., "geometric": ..},
    before ``scale``; the geometric one is nan where it is undefined)."""
    assert s.run is not None and s.quantity is not None
    values: dict[str, float] = {}
    base: list[float] | None = [] if s.baseline is not None else None
    per: dict[str, float] = {}
    for n in s.networks:
        values[n] = _total(cache.get(s.run, n, lambda n=n: run_schedule(s.run, n, s.file)),
                           s.quantity, s.run)
        tick()
        if s.baseline is not None and base is not None:
            b = _total(cache.get(s.baseline, n,
                                 lambda n=n: run_schedule(s.baseline, n, s.file)),
                       s.quantity, s.baseline)
            tick()
            base.append(b)
            per[n] = schedule_metric(s.metric, [values[n]], [b]) * s.scale
        else:
            per[n] = values[n] * s.scale
    means: dict[str, float] = {}
    if len(values) > 1:
        for how in AVERAGES:
            try:
                means[how] = schedule_metric(s.metric, list(values.values()), base, how)
            except ValueError:  # geometric mean of a non-positive value
                means[how] = math.nan
    return schedule_metric(s.metric, list(values.values()), base, s.average), per, means


def select_bound_rows(df: pd.DataFrame, layers: str | tuple[str, ...]) -> pd.DataFrame:
    if layers == "all":
        return df
    if isinstance(layers, str):
        return df[df["type"] == layers]
    missing = [x for x in layers if x not in set(df["layer"])]
    if missing:
        raise InputError(f"no conv/FC layer named {', '.join(missing)}", field="layers")
    return df[df["layer"].isin(layers)]


def evaluate_bound(s: Scenario, tick: Callable[[], None] = lambda: None
                   ) -> tuple[float, dict[str, float], dict[str, float]]:
    from cnnmem.hardware import default_hardware, load_hardware
    from cnnmem.report.bound import bound_table
    from cnnmem.workload import load_network

    assert s.buffer_bytes is not None
    hw = load_hardware(_resolve(s.hw, s.file)) if s.hw else default_hardware()
    values: list[float] = []
    per: dict[str, float] = {}
    for n in s.networks:
        df = bound_table(load_network(_resolve(n, s.file)), hw, s.buffer_bytes, s.batch,
                         (s.pass_name,))
        rows = select_bound_rows(df, s.layers)
        col = [float(v) for v in rows[s.column]]
        values += col
        per[n] = bound_metric(s.metric, col) * s.scale if col else math.nan
        tick()
    means: dict[str, float] = {}
    if s.metric == "mean" and len(values) > 1:
        for how in AVERAGES:
            try:
                means[how] = average(values, how)
            except ValueError:
                means[how] = math.nan
    return bound_metric(s.metric, values), per, means


@dataclass
class Outcome:
    scenario: Scenario
    modeled: float = math.nan
    target: float = math.nan
    status: str = ERROR
    reason: str = ""
    per_network: dict[str, float] = field(default_factory=dict)
    #: averaged rows: the arithmetic and geometric means (after ``scale``), {} otherwise
    means: dict[str, float] = field(default_factory=dict)
    #: the scenario's ``also_strategy``: (strategy, value, per-network values), else None
    also: tuple[str, float, dict[str, float]] | None = None

    @property
    def gap(self) -> float:
        return self.modeled - self.scenario.published

    @property
    def fails(self) -> bool:
        """Counts toward exit status 1: an unexpected MISS, or an ERROR without expected_miss."""
        return self.status == MISS or (self.status == ERROR and not self.scenario.expected_miss)


def _one_line(exc: BaseException) -> str:
    text = exc.format() if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def _target_value(s: Scenario, ref: Outcome) -> float:
    """The value ``s`` is checked around, from its target scenario's outcome ``ref``."""
    assert s.target is not None
    if not math.isfinite(ref.modeled):  # an ERROR (an EXPECTED-MISS's value is usable)
        why = f" ({ref.reason})" if ref.reason else ""
        raise ValueError(f"target scenario '{s.target.scenario}' has no modeled value{why}")
    if not s.target.per_network:
        return s.target.apply(ref.modeled)
    missing = [n for n in s.networks if n not in ref.per_network]
    if missing:
        raise ValueError(f"target scenario '{s.target.scenario}' has no value for "
                         f"{', '.join(missing)}")
    return average([s.target.apply(ref.per_network[n]) for n in s.networks], s.average)


def _judge(out: Outcome, ref: Outcome | None = None) -> None:
    """Set the status (tolerance only) and the reason of an outcome that has a modeled value."""
    s = out.scenario
    out.target = s.published
    if s.target is not None:
        if ref is None:
            out.reason = f"target scenario '{s.target.scenario}' not found"
            return
        try:
            out.target = _target_value(s, ref)
        except ValueError as exc:
            out.reason = str(exc)
            return
    out.status = status_of(out.modeled, out.target, s.tolerance, s.expected_miss, s.identity)
    if out.status == EXPECTED_MISS:
        out.reason = s.expected_miss or ""
        return
    parts = [f"by construction: {s.identity}"] if out.status == IDENTITY else []
    if s.target is not None and ref is not None:
        parts.append(f"target {out.target:.4g}")
        if ref.status != PASS:
            parts.append(f"{s.target.scenario} itself is {ref.status}")
    out.reason = "; ".join(parts)


def reproduce(scenarios: list[Scenario], *, cache: RunCache | None = None,
              tick: Callable[[], None] = lambda: None) -> list[Outcome]:
    """Evaluate every scenario; a scenario that cannot run becomes an ERROR outcome.

    Scenarios with a ``target`` are judged after the others, so their reason can say whether
    the target scenario itself passed; a target outside ``scenarios`` is loaded from the same
    directory and evaluated (sharing the run cache).
    """
    cache = cache if cache is not None else RunCache()

    def modeled_of(s: Scenario) -> Outcome:
        out = Outcome(s)
        try:
            raw, out.per_network, means = (evaluate_schedule(s, cache, tick)
                                           if s.kind == "schedule" else evaluate_bound(s, tick))
            out.modeled = raw * s.scale
            out.means = {k: v * s.scale for k, v in means.items()}
            if s.also is not None:
                a_raw, a_per, _ = evaluate_schedule(replace(s, run=s.also), cache, tick)
                out.also = (s.also.strategy, a_raw * s.scale, a_per)
        except Exception as exc:  # noqa: BLE001 - one scenario must not stop the others
            out.reason = _one_line(exc)
        return out

    outcomes = {s.name: modeled_of(s) for s in scenarios}
    extra: dict[str, Outcome] = {}

    def ref_of(s: Scenario) -> Outcome | None:
        assert s.target is not None
        name = s.target.scenario
        if name in outcomes:
            return outcomes[name]
        if name not in extra:
            try:
                ref_s = load_scenario(Path(s.file).parent / f"{name}.yaml")
            except InputError as exc:
                return Outcome(s, reason=f"target: {_one_line(exc)}")
            extra[name] = modeled_of(ref_s)
            if not extra[name].reason and ref_s.target is None:
                _judge(extra[name])
        return extra[name]

    for s in sorted(scenarios, key=lambda x: x.target is not None):  # stable
        out = outcomes[s.name]
        if out.reason:  # could not run
            continue
        _judge(out, ref_of(s) if s.target is not None else None)
    for out in outcomes.values():
        if out.status == ERROR and out.scenario.expected_miss:
            out.reason = f"{out.reason} (expected miss: {out.scenario.expected_miss})"
    return [outcomes[s.name] for s in scenarios]


# ------------------------------------------------------------------------------------------
# Reporting


def _display_path(file: str) -> str:
    """Relative to the current directory when below it (stable output), else as given."""
    try:
        return str(Path(file).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return file


def _tolerance_text(s: Scenario) -> str:
    text = s.tolerance.describe()
    return f"{text} around {s.target.describe()}" if s.target is not None else text


def shorten(text: str, width: int = 90) -> str:
    """One line of at most ``width`` characters (cut at a word, marked with '...')."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    return text[: width - 3].rsplit(" ", 1)[0] + "..."


def per_network_text(o: Outcome) -> str:
    """``vgg16 1.206; vgg19 1.209; ...``: the per-network values of an outcome."""
    return "; ".join(f"{k} {v:.4g}" for k, v in o.per_network.items())


def also_text(o: Outcome) -> str:
    """``mbs-optimal 0.728 (resnet50 0.7; ...)``: the row's value with its second strategy."""
    if o.also is None:
        return ""
    name, value, per = o.also
    return f"{name} {value:.4g} (" + "; ".join(f"{k} {v:.4g}" for k, v in per.items()) + ")"


def outcome_table(outcomes: list[Outcome], *, detail: bool = False) -> pd.DataFrame:
    """One row per figure. A row averaged over several networks shows both means
    (``mean_arithmetic``, ``mean_geometric``; the tolerance is checked on the scenario's own
    ``average``, shown as ``modeled``) and the per-network values. ``detail`` adds the figure,
    source, metric, the per-network values of every row and keeps reasons whole (without it
    they are shortened to one terminal line)."""
    rows = []
    for o in outcomes:
        s = o.scenario
        row: dict[str, Any] = {
            "name": s.name, "published": s.published, "modeled": o.modeled, "gap": o.gap,
            "tolerance": _tolerance_text(s), "unit": s.unit, "status": o.status,
            "mean_arithmetic": o.means.get("arithmetic", math.nan),
            "mean_geometric": o.means.get("geometric", math.nan),
            "per_network": per_network_text(o) if o.means or detail else "",
            "also": also_text(o),
            "reason": o.reason if detail else shorten(o.reason),
        }
        if detail:
            row |= {
                "figure": s.figure, "source": s.source, "provenance": s.provenance,
                "metric": f"{s.metric} of {s.quantity or s.column}"
                          + (f" ({s.average})" if s.kind == "schedule" else ""),
                "target": o.target,
                "file": _display_path(s.file),
            }
        rows.append(row)
    return pd.DataFrame(rows)


def summary(outcomes: list[Outcome]) -> str:
    counts = {k: sum(o.status == k for o in outcomes) for k in STATUSES}
    failing = sum(o.fails for o in outcomes)
    return (f"{len(outcomes)} figures: {counts[PASS]} PASS, {counts[IDENTITY]} IDENTITY, "
            f"{counts[MISS]} MISS, "
            f"{counts[EXPECTED_MISS]} EXPECTED-MISS, {counts[ERROR]} ERROR; "
            f"{failing} failing")


def _md(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(outcomes: list[Outcome]) -> str:
    """The README's "Reproduced figures" section, generated from the outcomes."""
    lines = [
        "## Reproduced figures",
        "",
        "Generated by `cnnmem reproduce all --markdown docs/reproduced.md`; do not edit by hand.",
        "Each row is a scenario in `scenarios/` (format: `scenarios/README.md`): the published "
        "number, the value the model gives for it, the gap (modeled - published, in the "
        "figure's unit), the tolerance stated in the scenario, and the status. A figure "
        "averaged over several networks also shows the arithmetic and the geometric mean "
        "(the tolerance is checked on the scenario's own average, the `modeled` column) and "
        "the per-network values. IDENTITY marks a check that holds by construction (the note "
        "says why): it confirms the code computes what it was built to, not the model against "
        "the paper.",
        "",
        "Only the abstracts of the four papers (Chen et al. HPCA 2020, Lym et al. SysML 2019, "
        "Gondimalla et al. OCCAM 2021/2022, TNPU ASP-DAC 2019) are publicly readable; the "
        "published numbers below come from those abstracts and the secondary sources named in "
        "each row. The lower-bound formula and dataflow, the MBS traffic rules and grouping, "
        "the OCCAM closure memory, partitioning and pipeline, the Layer Fusion traffic "
        "accounting and the TNPU timing model are **reconstructions** consistent with the "
        "published text (see `../shared/reference/papers.md`), not the papers' own models; "
        "hardware constants that the papers do not publish are marked as reconstructions in "
        "`hw/*.yaml`. Rows whose provenance is *reconstruction* check the project's own "
        "hand-computed values of those reconstructions, not a number printed in a paper.",
        "",
        "| figure | source | provenance | published (or reference) | modeled | gap | tolerance "
        "| unit | status | arithmetic mean | geometric mean | per network | note |",
        "|---|---|---|---:|---:|---:|---|---|---|---:|---:|---|---|",
    ]
    for o in outcomes:
        s = o.scenario
        cells = [f"{s.figure} (`{s.name}`)", s.source, s.provenance, s.published, o.modeled,
                 o.gap, _tolerance_text(s), s.unit, f"**{o.status}**",
                 o.means.get("arithmetic", math.nan), o.means.get("geometric", math.nan),
                 per_network_text(o) if o.means else "",
                 "; ".join(x for x in (f"also {also_text(o)}" if o.also else "", o.reason)
                           if x)]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    lines += ["", summary(outcomes) + "."]
    return "\n".join(lines) + "\n"
