"""`cnnmem schedule`: run one strategy on a network and hardware, print groups and totals."""

from __future__ import annotations

import click
import pandas as pd

from cnnmem.commands.common import emit, format_option, option_option, parse_key_values
from cnnmem.errors import InputError
from cnnmem.limits import MAX_BATCH, MAX_CHIPS
from cnnmem.model.schedule import INFERENCE, TRAINING


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
    from cnnmem.api import schedule_with
    from cnnmem.units import parse_quantity

    buffer_bytes = None if buffer is None else parse_quantity(buffer, "bytes", field="--buffer")
    result = schedule_with(network, hw_name, strategy, mode=mode, batch=batch,
                           buffer=buffer_bytes,
                           chips=chips, sub_batch=sub_batch, options=parse_key_values(options))
    request = result.request
    hw, mode = request.hardware, request.mode
    totals = pd.DataFrame([{"strategy": result.strategy, **result.totals.to_dict()}])
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
        result.plot_timeline(timeline)
        click.echo(f"wrote {timeline}", err=True)


@click.command("strategies")
@click.option("--options", "show_options", is_flag=True,
              help="one row per option: choices, default and help")
@format_option
def strategies_cmd(show_options: bool, fmt: str) -> None:
    """List the scheduling strategies and what each takes (its declared StrategySpec)."""
    from cnnmem.api import strategies

    emit(strategies(options=show_options), fmt)


COMMANDS = [schedule_cmd, strategies_cmd]
