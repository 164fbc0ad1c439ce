"""Strategies: a typed request in, a result with per-group rows and totals out.

Every scheduling method (layerwise, MBS, fusion/OCCAM, TNPU, ...) registers a function
``(ScheduleRequest) -> ScheduleResult`` under a strategy name with :func:`register`. The CLI's
``schedule`` command and the sweep engine look strategies up here, so a new method is one module
that calls ``register`` (and is imported in :mod:`cnnmem.model.strategies`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cnnmem.hardware import Hardware
from cnnmem.workload.network import Network

TRAINING, INFERENCE = "training", "inference"


@dataclass(frozen=True)
class ScheduleRequest:
    """What to schedule: network, hardware and the knobs every strategy understands."""

    network: Network
    hardware: Hardware  # with the buffer override already applied
    mode: str = TRAINING  # "training" or "inference"
    batch: int = 1  # mini-batch (training) or images in flight (inference)
    chips: int = 1
    sub_batch: int | None = None  # force one sub-batch size (MBS); None = strategy chooses
    options: dict[str, Any] = field(default_factory=dict)  # strategy-specific switches


@dataclass(frozen=True)
class ScheduleResult:
    """A schedule's per-group table and its totals.

    ``totals`` must hold at least ``dram_bytes``, ``energy_pj`` and ``latency_s``; strategies add
    more (``throughput_per_s``, utilizations, energy parts, lower bound ...). Column names carry
    units. ``notes`` are printed under the table (modelling choices the user should know).
    """

    strategy: str
    groups: pd.DataFrame
    totals: dict[str, Any]
    notes: tuple[str, ...] = ()
    write_timeline: Callable[[Path], None] | None = None


@dataclass(frozen=True)
class Strategy:
    name: str
    modes: tuple[str, ...]
    run: Callable[[ScheduleRequest], ScheduleResult]
    description: str


_REGISTRY: dict[str, Strategy] = {}


def register(name: str, modes: tuple[str, ...], description: str
             ) -> Callable[[Callable[[ScheduleRequest], ScheduleResult]],
                           Callable[[ScheduleRequest], ScheduleResult]]:
    """Decorator: register a strategy function under ``name`` for the given modes."""

    def wrap(fn: Callable[[ScheduleRequest], ScheduleResult]
             ) -> Callable[[ScheduleRequest], ScheduleResult]:
        _REGISTRY[name] = Strategy(name, modes, fn, description)
        return fn

    return wrap


def strategies() -> dict[str, Strategy]:
    import cnnmem.model.strategies  # noqa: F401  (registers every built-in strategy)

    return dict(sorted(_REGISTRY.items()))


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
                 options: dict[str, Any] | None = None
                 ) -> tuple[ScheduleRequest, ScheduleResult]:
    """Check the mode against the strategy, apply a buffer override, build the request and
    run it (the CLI's `schedule` and `reproduce` both go through here). Defaults: the
    strategy's first mode, batch 32 for training and 1 for inference, the hardware's chips."""
    from cnnmem.errors import InputError

    strategy = get_strategy(name)
    mode = mode or strategy.modes[0]
    if mode not in strategy.modes:
        raise InputError(f"strategy '{name}' supports {', '.join(strategy.modes)}, not {mode}",
                         field="mode")
    if buffer_bytes is not None:
        hardware = hardware.replace(buffer_bytes=buffer_bytes)
    request = ScheduleRequest(network=network, hardware=hardware, mode=mode,
                              batch=batch or (1 if mode == INFERENCE else 32),
                              chips=chips or hardware.chips, sub_batch=sub_batch,
                              options=dict(options or {}))
    return request, strategy.run(request)


# ------------------------------------------------------------------------------------------
# Vectorized evaluation for sweeps: many design points of one (network, hardware, strategy,
# grouping) in one call.


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


_SWEEP_REGISTRY: dict[str, Callable[[SweepRequest], PointCosts]] = {}


def register_sweep(name: str) -> Callable[[Callable[[SweepRequest], PointCosts]],
                                          Callable[[SweepRequest], PointCosts]]:
    """Decorator: the vectorized evaluator of strategy ``name`` (used by `cnnmem sweep`)."""

    def wrap(fn: Callable[[SweepRequest], PointCosts]) -> Callable[[SweepRequest], PointCosts]:
        _SWEEP_REGISTRY[name] = fn
        return fn

    return wrap


def sweep_evaluators() -> dict[str, Callable[[SweepRequest], PointCosts]]:
    import cnnmem.model.strategies  # noqa: F401

    return dict(sorted(_SWEEP_REGISTRY.items()))
