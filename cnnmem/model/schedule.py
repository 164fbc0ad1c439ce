"""Strategies: the contract every scheduling method declares and its one evaluator.

Every scheduling method (layerwise, MBS, fusion/OCCAM, TNPU, ...) registers, with
:func:`register`, its :class:`StrategySpec` and ONE evaluator ``(SweepRequest) ->
StrategyResult``: its groups' costs as arrays over design points (capacities x sub-batch
sizes; :mod:`cnnmem.model.result`). The shared roll-up turns that result into the per-group
table and totals of ``cnnmem schedule`` (one point: :meth:`Strategy.run`, :func:`run_strategy`)
and into the arrays of a sweep (:meth:`Strategy.points`, :func:`sweep_evaluators`), so a new
method is one module that calls ``register`` (and is imported in
:mod:`cnnmem.model.strategies`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cnnmem.hardware import Hardware
from cnnmem.workload.network import Network

if TYPE_CHECKING:  # pragma: no cover
    from cnnmem.model.result import StrategyResult

TRAINING, INFERENCE = "training", "inference"

#: grouping policies computed from the network's layer names (every strategy taking a grouping
#: takes them; the contract turns them into cuts): see :func:`grouping.structural_cuts`
STRUCTURAL_POLICIES = ("layer", "block", "stage", "all")

#: sub-batch rules: "whole" runs the whole batch (rows record sub_batch = batch); "none" has
#: no sub-batch (rows record it empty); "fixed" takes --sub-batch / the sweep's sub_batch axis
#: (or picks per group without one); "chooses" picks every group's sub-batch itself (a
#: --sub-batch forces one size; the sweep axis does not apply, rows record it empty)
SUB_BATCH_RULES = ("whole", "none", "fixed", "chooses")


@dataclass(frozen=True)
class OptionSpec:
    """One ``-O key=value`` switch: a choice among words, or a whole number >= ``minimum``."""

    name: str
    default: str | int
    choices: tuple[str, ...] = ()  # empty: a whole number
    minimum: int = 1
    help: str = ""

    def __post_init__(self) -> None:
        if self.choices and self.default not in self.choices:
            raise ValueError(f"option {self.name}: default {self.default!r} not a choice")

    @property
    def kind(self) -> str:
        return "choice" if self.choices else "int"

    def values(self) -> tuple[str | int, ...]:
        """Every value worth trying: the choices, or the default and the next number."""
        if self.choices:
            return self.choices
        return (self.default, int(self.default) + 1)

    def parse(self, raw: Any, strategy: str) -> str | int:
        from cnnmem.errors import InputError

        where = f"-O {self.name}"
        if not self.choices:
            try:
                value = int(str(raw))
            except ValueError:
                raise InputError(f"{strategy}: expected a whole number, got {raw!r}",
                                 field=where) from None
            if value < self.minimum:
                raise InputError(f"{strategy}: must be >= {self.minimum}, got {raw!r}",
                                 field=where)
            return value
        text = ("on" if raw else "off") if isinstance(raw, bool) else str(raw).strip().lower()
        if "on" in self.choices:
            text = {"true": "on", "yes": "on", "false": "off", "no": "off"}.get(text, text)
        if text not in self.choices:
            raise InputError(f"{strategy}: expected one of {'|'.join(self.choices)}, got "
                             f"{raw!r}", field=where)
        return text


@dataclass(frozen=True)
class GroupingRule:
    """Which groupings a strategy takes: named ``policies`` (strategy-computed ones such as
    "optimal"/"greedy" and the structural ones), explicit ``cuts`` (which also admits the
    sweep's depth/exhaustive/random entries); ``default`` when none is given. No policies and
    no cuts: the strategy takes no grouping (it chooses, or has none)."""

    policies: tuple[str, ...] = ()
    cuts: bool = False
    default: str | None = None

    @property
    def takes(self) -> bool:
        return bool(self.policies) or self.cuts

    def describe(self) -> str:
        if not self.takes:
            return "-"
        return "|".join(self.policies + (("cuts",) if self.cuts else ()))


@dataclass(frozen=True)
class StrategySpec:
    """What a strategy declares at registration; the CLI, sweep-file validation and the sweep
    engine read it (no name lists elsewhere)."""

    name: str
    modes: tuple[str, ...]
    description: str
    options: tuple[OptionSpec, ...] = ()
    grouping: GroupingRule = GroupingRule()
    sub_batch: str = "none"
    chips: bool = False  # takes --chips > 1 (multi-chip pipelines)
    latency: str = ""  # how the strategy's latency is formed (shown by `cnnmem strategies`)
    #: recomputes forward values in backward: its ``dram_over_bound`` is against bound 2 of
    #: :mod:`cnnmem.model.training_bound` (bound 1 holds only without recomputation)
    recomputes: bool = False
    #: (option, value) pairs under which the strategy recomputes (its other settings do not):
    #: e.g. TNPU's ``elementwise=fused`` gives element-wise layers no stash, so their backward
    #: re-derives their values (class R1 of docs/training_bound.md)
    recomputes_when: tuple[tuple[str, str], ...] = ()
    #: its evaluator reads the capacity domain's per-layer fallback table
    #: (:mod:`cnnmem.model.mbs.capacity`), which a ``--jobs`` sweep builds on all its processes
    #: at once before the blocks
    capacity_table: bool = False

    def __post_init__(self) -> None:
        if self.sub_batch not in SUB_BATCH_RULES:
            raise ValueError(f"{self.name}: sub_batch rule {self.sub_batch!r}")
        if not self.modes:
            raise ValueError(f"{self.name}: no modes")

    def recomputes_with(self, options: dict[str, Any] | None) -> bool:
        """Whether the strategy recomputes forward values with these (parsed) options: then its
        ``dram_over_bound`` is against bound 2, else bound 1."""
        opts = {**self.defaults(), **(options or {})}
        return self.recomputes or any(str(opts.get(k)) == v for k, v in self.recomputes_when)

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)

    def option(self, name: str) -> OptionSpec:
        return {o.name: o for o in self.options}[name]

    def defaults(self) -> dict[str, Any]:
        return {o.name: o.default for o in self.options}

    def parse_options(self, options: dict[str, Any] | None) -> dict[str, Any]:
        """Every declared option typed and checked, defaults filled in; an undeclared key is
        an InputError naming it (grouping/cuts are not options: see :meth:`split_grouping`)."""
        from cnnmem.errors import InputError

        out = self.defaults()
        by_name = {o.name: o for o in self.options}
        for key, raw in (options or {}).items():
            if key not in by_name:
                known = ", ".join(self.option_names) or "none"
                raise InputError(f"strategy '{self.name}' takes no option '{key}' (its "
                                 f"options: {known})", field=f"-O {key}")
            out[key] = by_name[key].parse(raw, self.name)
        return out

    def split_grouping(self, options: dict[str, Any] | None
                       ) -> tuple[dict[str, Any], str | tuple[int, ...] | None]:
        """Take ``grouping=`` / ``cuts=`` out of the options: (other options, the grouping)."""
        from cnnmem.errors import InputError

        rest = dict(options or {})
        grouping: Any = None
        if "grouping" in rest and "cuts" in rest:
            raise InputError(f"{self.name}: give -O grouping or -O cuts, not both",
                             field="-O cuts")
        if "grouping" in rest:
            grouping = str(rest.pop("grouping"))
        elif "cuts" in rest:
            grouping = ("cuts", rest.pop("cuts"))
        return rest, grouping

    def resolve_grouping(self, network: Network, grouping: Any) -> str | tuple[int, ...] | None:
        """The grouping to run: None (the strategy takes none), a strategy-computed policy name
        ("optimal", "greedy", ...) or validated cuts (structural policies become cuts here).
        ``grouping`` is a policy name, ``("cuts", text-or-list)``, a cut tuple, or None."""
        from cnnmem.errors import InputError
        from cnnmem.model.grouping import check_cuts, structural_cuts

        rule = self.grouping
        if grouping is None:
            if not rule.takes:
                return None
            grouping = rule.default
        if not rule.takes:
            raise InputError(f"strategy '{self.name}' takes no grouping (it "
                             f"{'chooses its own' if self.sub_batch == 'chooses' else 'has none'})",
                             field="grouping")
        if isinstance(grouping, str):
            if grouping not in rule.policies:
                raise InputError(f"strategy '{self.name}' takes no grouping '{grouping}' "
                                 f"(it takes: {rule.describe()})", field="grouping")
            if grouping in STRUCTURAL_POLICIES:
                return structural_cuts([lay.name for lay in network.layers], grouping)
            return grouping
        if not rule.cuts:
            raise InputError(f"strategy '{self.name}' takes no explicit cuts (it takes: "
                             f"{rule.describe()})", field="cuts")
        if isinstance(grouping, tuple) and len(grouping) == 2 and grouping[0] == "cuts":
            grouping = grouping[1]
        return check_cuts(grouping, len(network))

    def check_sub_batch(self, sub_batch: Any, batch: int) -> None:
        from cnnmem.errors import InputError

        if sub_batch is None:
            return
        if self.sub_batch in ("whole", "none"):
            raise InputError(f"strategy '{self.name}' takes no sub-batch ("
                             + ("it runs the whole batch" if self.sub_batch == "whole"
                                else "it has none") + ")", field="sub_batch")
        arr = np.atleast_1d(np.asarray(sub_batch))
        if (arr < 1).any() or (arr > batch).any():
            raise InputError(f"sub-batch must be in 1..{batch} (the batch)", field="sub_batch")

    def check_chips(self, chips: int) -> None:
        from cnnmem.errors import InputError

        if chips != 1 and not self.chips:
            raise InputError(f"strategy '{self.name}' models one chip; it takes no --chips "
                             f"{chips}", field="chips")


@dataclass(frozen=True)
class ScheduleRequest:
    """What to schedule: network, hardware and the knobs every strategy understands.

    Strategies receive it normalized by their :class:`StrategySpec` (see :meth:`Strategy.run`):
    ``options`` holds every declared option, typed, and ``grouping`` a policy name the strategy
    computes or validated cuts (None when it takes no grouping)."""

    network: Network
    hardware: Hardware  # with the buffer override already applied
    mode: str = TRAINING  # "training" or "inference"
    batch: int = 1  # mini-batch (training) or images in flight (inference)
    chips: int = 1
    sub_batch: int | None = None  # force one sub-batch size (MBS); None = strategy chooses
    options: dict[str, Any] = field(default_factory=dict)  # strategy-specific switches
    grouping: str | tuple[int, ...] | None = None


@dataclass(frozen=True)
class TimelineData:
    """A strategy's timeline as data: busy ``intervals`` (a table with columns unit, part,
    phase, sample, start_s, finish_s, pes) and how to draw them; report/ plots it."""

    intervals: pd.DataFrame
    title: str = ""
    samples: int = 4
    total_pes: float | None = None
    shared_pu: bool = False


@dataclass(frozen=True)
class ScheduleResult:
    """A schedule's per-group table and its totals.

    ``totals`` must hold at least ``dram_bytes``, ``energy_pj`` and ``latency_s``; strategies add
    more (``throughput_per_s``, utilizations, energy parts, lower bound ...). Column names carry
    units. ``notes`` are printed under the table (modelling choices the user should know).
    ``timeline`` is a strategy's timeline as data (a table of intervals), for report/ to plot.
    """

    strategy: str
    groups: pd.DataFrame
    totals: dict[str, Any]
    notes: tuple[str, ...] = ()
    timeline: TimelineData | None = None


def normalize_request(spec: StrategySpec, request: Any) -> Any:
    """``request`` (a ScheduleRequest or SweepRequest) checked against ``spec``: mode, options,
    grouping, sub-batch and chips; returned with typed options and the resolved grouping."""
    from dataclasses import replace

    from cnnmem.errors import InputError

    if request.mode not in spec.modes:
        raise InputError(f"strategy '{spec.name}' supports {', '.join(spec.modes)}, not "
                         f"{request.mode}", field="mode")
    rest, from_options = spec.split_grouping(request.options)
    grouping = request.grouping
    if from_options is not None:
        if grouping is not None:
            raise InputError(f"{spec.name}: grouping given twice (axis and -O)", field="grouping")
        grouping = from_options
    options = spec.parse_options(rest)
    spec.check_sub_batch(request.sub_batch, request.batch)
    spec.check_chips(request.chips)
    return replace(request, options=options,
                   grouping=spec.resolve_grouping(request.network, grouping))


@dataclass(frozen=True)
class Strategy:
    """A registered strategy: its spec and its one evaluator (design points -> a
    :class:`~cnnmem.model.result.StrategyResult`)."""

    spec: StrategySpec
    evaluate: Callable[[SweepRequest], StrategyResult]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def modes(self) -> tuple[str, ...]:
        return self.spec.modes

    @property
    def description(self) -> str:
        return self.spec.description

    def _run(self, request: ScheduleRequest) -> ScheduleResult:
        """The schedule of an already normalized request: the one point of its buffer."""
        from cnnmem.model.result import to_schedule

        return to_schedule(self.evaluate(point_request(request)))

    def run(self, request: ScheduleRequest) -> ScheduleResult:
        """Check ``request`` against the strategy's spec and run it."""
        request = normalize_request(self.spec, request)
        return with_chip_columns(self._run(request), request.hardware)

    def points(self, request: SweepRequest) -> PointCosts:
        """Check a sweep request against the strategy's spec and evaluate its design points."""
        from cnnmem.model.result import to_points

        return to_points(self.evaluate(normalize_request(self.spec, request)))


def point_request(request: ScheduleRequest) -> SweepRequest:
    """A schedule request as the one design point of its hardware's buffer (and sub-batch)."""
    return SweepRequest(
        network=request.network, hardware=request.hardware, mode=request.mode,
        batch=request.batch, capacity_bytes=np.array([float(request.hardware.buffer_bytes)]),
        sub_batch=None if request.sub_batch is None else np.array([request.sub_batch]),
        grouping=request.grouping, chips=request.chips, options=dict(request.options))


def with_chip_columns(result: ScheduleResult, hw: Hardware) -> ScheduleResult:
    """``result`` with the chip's area and buffer leakage at its buffer in the totals
    (:func:`cnnmem.model.rollup.chip_totals`; the same columns as a sweep row)."""
    from dataclasses import replace

    from cnnmem.model.rollup import chip_totals

    return replace(result, totals={**result.totals, **chip_totals(hw)})


_REGISTRY: dict[str, Strategy] = {}
_SPECS: dict[str, StrategySpec] = {}


def register(spec: StrategySpec
             ) -> Callable[[Callable[[SweepRequest], StrategyResult]],
                           Callable[[SweepRequest], StrategyResult]]:
    """Decorator: register a strategy's one evaluator under its declared spec. The evaluator
    takes a normalized :class:`SweepRequest` (its design points: capacities x sub-batch sizes;
    a schedule is one point) and returns a :class:`~cnnmem.model.result.StrategyResult`; the
    shared roll-up (:mod:`cnnmem.model.result`) makes both the schedule and the sweep's
    points of it."""

    def wrap(fn: Callable[[SweepRequest], StrategyResult]
             ) -> Callable[[SweepRequest], StrategyResult]:
        _SPECS[spec.name] = spec
        _REGISTRY[spec.name] = Strategy(spec, fn)
        return fn

    return wrap


def strategies() -> dict[str, Strategy]:
    import cnnmem.model.strategies  # noqa: F401  (registers every built-in strategy)

    return dict(sorted(_REGISTRY.items()))


def strategy_specs() -> dict[str, StrategySpec]:
    return {name: s.spec for name, s in strategies().items()}


def get_strategy(name: str) -> Strategy:
    known = strategies()
    if name not in known:
        from cnnmem.errors import InputError

        raise InputError(f"unknown strategy '{name}' (known: {', '.join(known)})",
                         field="strategy")
    return known[name]


def run_strategy(name: str, network: Network, hardware: Hardware, *, mode: str | None = None,
                 batch: int | None = None, buffer_bytes: float | None = None,
                 chips: int | None = None, sub_batch: int | None = None,
                 options: dict[str, Any] | None = None,
                 grouping: str | tuple[int, ...] | None = None
                 ) -> tuple[ScheduleRequest, ScheduleResult]:
    """Check the request against the strategy's spec, apply a buffer override, build the
    request and run it (the CLI's `schedule`, `reproduce` and the report all go through here).
    Defaults: the strategy's first mode, batch 32 for training and 1 for inference, the
    hardware's chips for a multi-chip strategy (1 otherwise)."""
    strategy = get_strategy(name)
    mode = mode or strategy.modes[0]
    if buffer_bytes is not None:
        hardware = hardware.replace(buffer_bytes=buffer_bytes)
    if chips is None:
        chips = hardware.chips if strategy.spec.chips else 1
    request = ScheduleRequest(network=network, hardware=hardware, mode=mode,
                              batch=batch or (1 if mode == INFERENCE else 32),
                              chips=chips, sub_batch=sub_batch,
                              options=dict(options or {}), grouping=grouping)
    request = normalize_request(strategy.spec, request)
    result = with_chip_columns(strategy._run(request), request.hardware)
    if mode == TRAINING:
        result.totals.update(bound_ratio(strategy.spec, request, result.totals["dram_bytes"]))
    return request, result


def bound_ratio(spec: StrategySpec, request: ScheduleRequest, dram_bytes: float
                ) -> dict[str, float]:
    """``training_bound_bytes`` (bound 1; bound 2 for a strategy that recomputes) and
    ``dram_over_bound`` = DRAM bytes / that bound (issue 18; docs/training_bound.md)."""
    from cnnmem.model.precision import Precision
    from cnnmem.model.training_bound import network_training_bound_bytes

    bound = float(network_training_bound_bytes(
        request.network, Precision.of(request.hardware), request.batch,
        request.hardware.buffer_bytes,
        recompute=spec.recomputes_with(request.options))[0, 0])
    return {"training_bound_bytes": bound, "dram_over_bound": float(dram_bytes) / bound}


# ------------------------------------------------------------------------------------------
# Design points: what an evaluator is asked for (many points of one network, hardware,
# strategy and grouping in one call) and the arrays a sweep row takes


@dataclass(frozen=True)
class SweepRequest:
    """A grid of design points for one strategy: capacities x sub-batch sizes.

    ``grouping`` is a grouping policy name understood by the strategy ("optimal", "greedy",
    "layer", "block", "stage", "all", ...) or an explicit tuple of cut positions (a group
    ends after each listed layer index, in the network's topological order); None means the
    strategy's own default. ``sub_batch`` is None when the strategy chooses sub-batches itself.
    """

    network: Network
    hardware: Hardware
    mode: str
    batch: int
    capacity_bytes: Any  # np.ndarray (n_capacity,)
    sub_batch: Any = None  # np.ndarray (n_sub_batch,) or None
    grouping: str | tuple[int, ...] | None = None
    chips: int = 1
    options: dict[str, Any] = field(default_factory=dict)


#: Arrays every vectorized evaluator returns, each of shape (n_capacity, n_sub_batch)
#: (n_sub_batch = 1 when the request has no sub-batch axis). Infeasible points: inf.
POINT_FIELDS = ("dram_bytes", "buffer_need_bytes", "energy_dram_pj", "energy_buffer_pj",
                "energy_compute_pj", "energy_static_pj", "latency_s", "compute_s", "memory_s")


@dataclass(frozen=True)
class PointCosts:
    dram_bytes: Any
    buffer_need_bytes: Any
    energy_dram_pj: Any
    energy_buffer_pj: Any
    energy_compute_pj: Any
    energy_static_pj: Any
    latency_s: Any
    compute_s: Any
    memory_s: Any
    cuts: tuple[int, ...] | Any = ()  # the grouping used: one cut tuple for every point, or
    # when it varies a boolean array (n_capacity[, n_sub_batch], n_layers - 1), True where a
    # group ends after that layer (grouping.cut_mask); for reports and re-running a schedule

    @property
    def energy_pj(self) -> Any:
        return (self.energy_dram_pj + self.energy_buffer_pj + self.energy_compute_pj
                + self.energy_static_pj)


def sweep_evaluators() -> dict[str, Callable[[SweepRequest], PointCosts]]:
    """Every strategy's design-point evaluation for sweeps (:meth:`Strategy.points`: the
    request checked against the spec, the strategy's result rolled up into arrays)."""
    return {name: s.points for name, s in strategies().items()}


#: training strategies' switch (issue #12 item 2): the data gradient of the network input (the
#: dgrad of layers with no parameter upstream, e.g. the first conv) is not computed by default
INPUT_GRADIENT = OptionSpec("input_gradient", "off", ("off", "on"),
                            help="compute the gradient of the network input (the first "
                                 "layers' dgrad; ignored in inference)")


def input_gradient_on(options: Any) -> bool:
    """Whether a request's parsed options ask for the network input's gradient."""
    return str(options.get("input_gradient", "off")) == "on"
