"""A sweep result row turned back into the request that produced it.

One function, :func:`request_of_row`, used by `cnnmem report` (the best-schedule figure), the
README's re-run recipe (:meth:`RowRequest.command`) and the tests: the row's strategy, network,
hardware with its swept field values and the row's capacity, the sweep's mode, batch and chips,
the sweep options the strategy takes, the row's grouping (a policy the strategy computes, such
as ``optimal``, by name; any other grouping as the row's ``cuts``) and its sub-batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnmem.hardware import Hardware
from cnnmem.model.schedule import (
    STRUCTURAL_POLICIES,
    ScheduleRequest,
    ScheduleResult,
    get_strategy,
    run_strategy,
)
from cnnmem.sweep.spec import SweepSpec, apply_hardware
from cnnmem.workload.network import Network


@dataclass(frozen=True)
class RowRequest:
    """Everything `cnnmem schedule` needs to re-run one result row."""

    strategy: str
    network_name: str
    network: Network
    hardware_name: str
    hardware: Hardware  # swept fields applied, buffer = the row's capacity
    hw_values: dict[str, float]  # swept hardware fields (YAML names) and their values
    mode: str
    batch: int
    capacity_bytes: float
    chips: int | None
    sub_batch: int | None
    grouping: str | tuple[int, ...] | None
    options: dict[str, Any] = field(default_factory=dict)

    def run(self) -> tuple[ScheduleRequest, ScheduleResult]:
        return run_strategy(self.strategy, self.network, self.hardware, mode=self.mode,
                            batch=self.batch, chips=self.chips, sub_batch=self.sub_batch,
                            options=self.options, grouping=self.grouping)

    def command(self) -> str:
        """The `cnnmem schedule` command line (swept hardware fields as a trailing note)."""
        from cnnmem.model.grouping import format_cuts

        parts = ["cnnmem schedule", self.network_name, "--hw", self.hardware_name,
                 "--strategy", self.strategy, "--mode", self.mode, "--batch", str(self.batch),
                 "--buffer", f"{int(self.capacity_bytes)}B"]
        if self.chips is not None:
            parts += ["--chips", str(self.chips)]
        if self.sub_batch is not None:
            parts += ["--sub-batch", str(self.sub_batch)]
        for k, v in sorted(self.options.items()):
            parts += ["-O", f"{k}={v}"]
        if isinstance(self.grouping, str):
            parts += ["-O", f"grouping={self.grouping}"]
        elif self.grouping is not None:
            parts += ["-O", f"'cuts={format_cuts(self.grouping)}'"]
        line = " ".join(parts)
        if self.hw_values:
            line += "  # with " + ", ".join(f"{k}={v:g}" for k, v in self.hw_values.items())
        return line


def _cell(row: Mapping[str, Any], key: str) -> Any:
    value = row[key] if key in row else None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def request_of_row(spec: SweepSpec, row: Mapping[str, Any]) -> RowRequest:
    """The request that produced result ``row`` of sweep ``spec`` (a dict or a pandas row)."""
    from cnnmem.sweep.engine import strategy_options

    strat = get_strategy(str(row["strategy"])).spec
    net_name, hw_name = str(row["network"]), str(row["hardware"])
    values = tuple(float(row[a.column]) for a in spec.hw_axes)
    hw = apply_hardware(dict(spec.hardware)[hw_name], spec.hw_axes, values)
    capacity = float(row["capacity_bytes"])
    hw = hw.replace(buffer_bytes=capacity)
    grouping: str | tuple[int, ...] | None = None
    if strat.grouping.takes:
        label = _cell(row, "grouping")
        if label is None or str(label) == "default":
            grouping = None
        elif (str(label) in strat.grouping.policies
              and str(label) not in STRUCTURAL_POLICIES):
            grouping = str(label)  # computed by the strategy: re-run by name
        else:
            from cnnmem.model.grouping import parse_cuts

            cuts = _cell(row, "cuts")
            grouping = parse_cuts("" if cuts is None else str(cuts))
    sub = _cell(row, "sub_batch")
    sub_batch = int(float(sub)) if strat.sub_batch == "fixed" and sub is not None else None
    options = {k: v for k, v in strategy_options(strat, spec.options).items()
               if k not in ("grouping", "cuts") or grouping is None}
    return RowRequest(
        strategy=strat.name, network_name=net_name, network=dict(spec.networks)[net_name],
        hardware_name=hw_name, hardware=hw,
        hw_values={a.key: v for a, v in zip(spec.hw_axes, values, strict=True)},
        mode=spec.mode, batch=spec.batch, capacity_bytes=capacity,
        chips=spec.chips if strat.chips else None, sub_batch=sub_batch, grouping=grouping,
        options=options)
