"""One result of every strategy and the one roll-up that turns it into a schedule or a sweep's
points (issue #11).

A strategy's evaluator (registered with :func:`cnnmem.model.schedule.register`) takes a
:class:`~cnnmem.model.schedule.SweepRequest` (design points: capacities x sub-batch sizes; a
``schedule`` run is the one point of the hardware's buffer) and returns a
:class:`StrategyResult`: its groups' costs as arrays over those design points, with a leading
group axis (:class:`GroupBlock`), plus the point totals a sum over groups does not give (a
pipeline's latency, a throughput, ...). The group costs hold DRAM bytes (by pass and tensor
kind where the strategy has them), MACs, energy parts and times formed by the single energy /
latency model (:func:`cnnmem.model.rollup.energy_latency`), buffer need, feasibility (inf where a
point is infeasible) and the grouping (``cuts``) and sub-batch of each point.

:func:`roll_up` is the one function that sums groups into point totals; :func:`to_schedule`
(the per-group table and totals of one point, for ``cnnmem schedule``, reproduce and report)
and :func:`to_points` (the arrays of a sweep) both go through it, so a sweep row equals the
schedule run of its point by construction, metric by metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cnnmem.model.rollup import ENERGY_PARTS, TIME_FIELDS, total_energy
from cnnmem.model.schedule import POINT_FIELDS, PointCosts, ScheduleResult, TimelineData

#: group costs summed over a point's groups by default
SUMMED = ("dram_bytes",) + ENERGY_PARTS + TIME_FIELDS + ("macs",)


@dataclass(frozen=True)
class GroupBlock:
    """Groups sharing a leading axis: ``costs`` maps a metric to an array (g, C, S) (or one
    broadcasting to it; C capacities x S sub-batch sizes), ``present`` (g, C, S) says which
    groups a point has (a DP picks different groupings per point). ``labels(index, values)``
    gives the text columns of a group's table row from its values at the schedule's point
    (index: the group's position in the block)."""

    costs: dict[str, Any]
    present: Any = True
    labels: Callable[[int, dict[str, Any]], dict[str, Any]] | None = None
    #: the block's own sum over its groups of some summed costs, arrays (C, S), when the
    #: strategy adds finer items than its table rows (layerwise: layer-passes, in the order
    #: its sweeps have always summed them); the same quantity up to rounding
    sums: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(np.shape(next(iter(self.costs.values())))[0])


@dataclass(frozen=True)
class StrategyResult:
    """Every strategy's result over design points (module docstring).

    ``groups`` gives the group blocks (a callable, so a sweep's groups are rolled up one block
    at a time, never all held); ``summed`` the group costs that add up to point totals;
    ``totals`` point totals (arrays broadcasting to ``shape``, or one plain value for every
    point) that are not a sum over groups, or that replace one; ``derive`` point totals
    computed from the rolled-up ones (e.g. throughput = batch / latency); ``total_keys`` and
    ``columns`` the schedule's totals and group-table columns, in order; ``cuts`` the grouping
    of every point (one cut tuple, or a boolean array (C[, S], L - 1)); ``notes`` (or a
    function of the schedule's totals giving them) and ``timeline`` (a callable: built only
    for a schedule) complete a schedule."""

    strategy: str
    shape: tuple[int, int]
    groups: Callable[[], Iterable[GroupBlock]]
    total_keys: tuple[str, ...]
    columns: tuple[str, ...] = ()
    summed: tuple[str, ...] = SUMMED
    totals: dict[str, Any] = field(default_factory=dict)
    derive: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    cuts: Any = ()
    notes: tuple[str, ...] | Callable[[dict[str, Any]], tuple[str, ...]] = ()
    timeline: Callable[[], TimelineData | None] | None = None


@dataclass(frozen=True)
class RolledUp:
    """Point totals (arrays of the result's shape, or plain values) and, when asked for, the
    group table rows of point (0, 0)."""

    totals: dict[str, Any]
    rows: list[dict[str, Any]]


def _scalar(v: Any) -> Any:
    """A python number of a numpy scalar (ints stay ints, booleans booleans)."""
    return v.item() if isinstance(v, np.generic) else v


def roll_up(result: StrategyResult, table: bool = False) -> RolledUp:
    """The one roll-up: sum the groups' ``summed`` costs over the groups each point has, take
    the largest group's ``buffer_need_bytes``, count the groups, then apply the strategy's
    point ``totals`` and ``derive``; energy_pj = the sum of the energy parts. With ``table``
    also the rows of point (0, 0): its groups in order, columns ``result.columns``."""
    shape = result.shape
    tot: dict[str, Any] = {}
    need = np.zeros(shape)
    count = np.zeros(shape, dtype=np.int64)
    rows: list[dict[str, Any]] = []
    for block in result.groups():
        present = np.broadcast_to(np.asarray(block.present, bool),
                                  (block.size,) + shape)
        one = block.size == 1  # one group: its values, no sum (a plan's groups, one by one)
        for key in result.summed:
            if key in block.sums:
                v = block.sums[key]
            elif key in block.costs:
                v = (np.where(present[0], np.asarray(block.costs[key])[0], 0) if one
                     else np.where(present, block.costs[key], 0).sum(axis=0))
            else:
                continue
            tot[key] = tot[key] + v if key in tot else v
        if "buffer_need_bytes" in block.costs:
            v = np.where(present, block.costs["buffer_need_bytes"], 0.0)
            need = np.maximum(need, v.max(axis=0, initial=0.0))
        count = count + present.sum(axis=0)
        if table:
            rows.extend(_rows(block, present, len(rows), result.columns))
    tot["buffer_need_bytes"] = need
    tot["groups"] = count
    tot.update(result.totals)
    if all(k in tot for k in ENERGY_PARTS) and "energy_pj" not in result.totals:
        tot["energy_pj"] = total_energy(tot)
    if result.derive is not None:
        tot.update(result.derive(tot))
    return RolledUp(tot, rows)


def _rows(block: GroupBlock, present: np.ndarray, first: int, columns: tuple[str, ...]
          ) -> list[dict[str, Any]]:
    """Table rows of the block's groups present at point (0, 0)."""
    out: list[dict[str, Any]] = []
    for g in np.flatnonzero(present[:, 0, 0]):
        values = {k: _scalar(np.broadcast_to(np.asarray(v), present.shape)[g, 0, 0])
                  for k, v in block.costs.items()}
        values["group"] = first + len(out)
        if "energy_pj" not in values and all(k in values for k in ENERGY_PARTS):
            values["energy_pj"] = total_energy(values)
        if block.labels is not None:
            values.update(block.labels(int(g), values))
        out.append({c: values[c] for c in columns})
    return out


def to_schedule(result: StrategyResult) -> ScheduleResult:
    """The schedule of point (0, 0): its group table and its totals (``total_keys``)."""
    r = roll_up(result, table=True)
    totals = {}
    for key in result.total_keys:
        v = r.totals[key]
        totals[key] = _scalar(np.asarray(v)[(0,) * np.ndim(v)]) if isinstance(
            v, np.ndarray) else (float(v) if isinstance(v, np.floating) else v)
    timeline = result.timeline() if result.timeline is not None else None
    notes = result.notes(totals) if callable(result.notes) else result.notes
    return ScheduleResult(result.strategy, pd.DataFrame(r.rows), totals, tuple(notes),
                          timeline)


def point_totals(result: StrategyResult, keys: Iterable[str]) -> dict[str, np.ndarray]:
    """The rolled-up totals ``keys`` of every design point, float arrays (C, S)."""
    t = roll_up(result).totals
    return {k: np.broadcast_to(np.asarray(t[k], float), result.shape) for k in keys}


def to_points(result: StrategyResult) -> PointCosts:
    """A sweep's arrays (C, S) of every design point."""
    return PointCosts(cuts=result.cuts, **point_totals(result, POINT_FIELDS))
