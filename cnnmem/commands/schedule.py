"""`cnnmem schedule`: run one strategy on a network and hardware, print groups and totals."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from cnnmem.commands.common import emit, format_option, option_option, parse_key_values
from cnnmem.errors import InputError
from cnnmem.hardware import load_hardware
from cnnmem.limits import MAX_BATCH, MAX_CHIPS
from cnnmem.model.schedule import INFERENCE, TRAINING, OptionSpec, run_strategy
from cnnmem.units import parse_quantity
from cnnmem.workload import load_network


@click.command("schedule")
@click.argument("network")
@click.option("--hw", "hw_name", required=True, help="hardware preset name or YAML path")
@click.option("--strategy", required=True, help="see `cnnmem strategies`")
@click.option("--mode", type=click.Choice([TRAINING, INFERENCE]), default=None,
              help="default: the strategy's first mode")
@click.option("--batch", type=click.IntRange(min=1, max=MAX_BATCH), default=None,
              help="mini-batch size (training) / images (inference)")
@click.option("--buffer", default=None, help="override the on-chip buffer, e.g. 10MiB")
@click.option("--chips", type=click.IntRange(min=1, max=MAX_CHIPS), default=None,
              help="chips (pipelines)")
@click.option("--sub-batch", type=click.IntRange(min=1, max=MAX_BATCH), default=None,
              help="force one sub-batch size (MBS strategies)")
@option_option
@click.option("--timeline", type=click.Path(dir_okay=False), default=None,
              help="write a Gantt timeline plot (PNG/SVG) where the strategy has one")
@click.option("--totals", "totals_only", is_flag=True,
              help="print only the totals (one row in csv/json)")
@format_option
def schedule_cmd(network: str, hw_name: str, strategy: str, mode: str | None, batch: int | None,
                 buffer: str | None, chips: int | None, sub_batch: int | None,
                 options: tuple[str, ...], timeline: str | None, totals_only: bool,
                 fmt: str) -> None:
    """Schedule NETWORK on hardware with one strategy; per-group table and totals."""
    buffer_bytes = None if buffer is None else parse_quantity(buffer, "bytes", field="--buffer")
    request, result = run_strategy(strategy, load_network(network), load_hardware(hw_name),
                                   mode=mode, batch=batch, buffer_bytes=buffer_bytes,
                                   chips=chips, sub_batch=sub_batch,
                                   options=parse_key_values(options))
    hw, mode = request.hardware, request.mode
    totals = pd.DataFrame([{"strategy": result.strategy, **result.totals}])
    title = f"{request.network.name} on {hw.name}, {strategy}, {mode}, batch {request.batch}"
    if fmt == "table":
        if not totals_only:
            emit(result.groups, fmt, title=title)
            click.echo("")
        vertical = pd.DataFrame({"total": list(totals.columns),
                                 "value": [str(v) if isinstance(v, str) else v
                                           for v in totals.iloc[0]]})
        emit(vertical, fmt, title=f"totals ({title})")
        for note in result.notes:
            click.echo(f"note: {note}")
    elif fmt == "csv":
        emit(totals if totals_only else result.groups, fmt)
    else:
        import json

        from cnnmem.report.tables import render, to_records

        payload: dict[str, object] = {"totals": to_records(totals)[0],
                                      "notes": list(result.notes)}
        if not totals_only:
            payload = {"groups": json.loads(render(result.groups, "json")), **payload}
        click.echo(json.dumps(payload, indent=2))
    if timeline:
        if result.timeline is None:
            raise InputError(f"strategy '{strategy}' has no timeline", field="--timeline")
        from cnnmem.report.timeline import plot_timeline

        tl = result.timeline
        plot_timeline(tl.intervals, Path(timeline), title=tl.title, samples=tl.samples,
                      total_pes=tl.total_pes, shared_pu=tl.shared_pu)
        click.echo(f"wrote {timeline}", err=True)


def _option_text(o: OptionSpec) -> str:
    values = "|".join(o.choices) if o.choices else f"N>={o.minimum} ({o.default})"
    return f"{o.name}={values}"


@click.command("strategies")
@click.option("--options", "show_options", is_flag=True,
              help="one row per option: choices, default and help")
@format_option
def strategies_cmd(show_options: bool, fmt: str) -> None:
    """List the scheduling strategies and what each takes (its declared StrategySpec)."""
    from cnnmem.model.schedule import strategy_specs

    specs = strategy_specs().values()
    if show_options:
        rows = [{"strategy": s.name, "option": o.name,
                 "values": "|".join(o.choices) if o.choices else f"whole number >= {o.minimum}",
                 "default": str(o.default), "help": o.help} for s in specs for o in s.options]
    else:
        rows = [{"strategy": s.name, "modes": ",".join(s.modes),
                 "grouping": s.grouping.describe(), "sub_batch": s.sub_batch,
                 "chips": "yes" if s.chips else "no",
                 "options": " ".join(_option_text(o) for o in s.options) or "-",
                 "latency": s.latency, "description": s.description} for s in specs]
    emit(pd.DataFrame(rows), fmt)


COMMANDS = [schedule_cmd, strategies_cmd]
