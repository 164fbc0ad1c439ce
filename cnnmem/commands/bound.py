"""`cnnmem bound`: the communication lower bound and the dataflow that approaches it."""

from __future__ import annotations

import click

from cnnmem.commands.common import emit, format_option
from cnnmem.hardware import default_hardware, load_hardware
from cnnmem.limits import MAX_BATCH
from cnnmem.model.gconv import PASSES
from cnnmem.units import parse_quantity
from cnnmem.workload import load_network


@click.command("bound")
@click.argument("network")
@click.option("--buffer", required=True, help="on-chip buffer, e.g. 128KiB")
@click.option("--batch", type=click.IntRange(min=1, max=MAX_BATCH), default=1, show_default=True)
@click.option("--hw", "hw_name", default=None,
              help="hardware for bytes per element (default: 2 bytes for every tensor)")
@click.option("--pass", "pass_name", type=click.Choice(PASSES + ("all",)), default="forward",
              show_default=True)
@format_option
def bound_cmd(network: str, buffer: str, batch: int, hw_name: str | None, pass_name: str,
              fmt: str) -> None:
    """Per-layer lower bound vs the bound-attaining dataflow for NETWORK (Chen et al.)."""
    from cnnmem.api import bound

    net = load_network(network)
    hw = load_hardware(hw_name) if hw_name else default_hardware()
    buffer_bytes = parse_quantity(buffer, "bytes", field="--buffer")
    df = bound(net, buffer_bytes, batch=batch, hardware=hw, passes=pass_name, total=True)
    title = (f"{net.name}: buffer {buffer_bytes:,.0f} B, batch {batch}, "
             f"{hw.bytes_per_activation:g}/{hw.bytes_per_weight:g}/{hw.bytes_per_gradient:g} "
             "bytes per activation/weight/gradient")
    emit(df, fmt, title=title)
    bad = df[~df["feasible"].astype(bool) & (df["layer"] != "TOTAL")]
    if fmt == "table" and len(bad):
        worst = bad.loc[bad["min_buffer_bytes"].idxmax()]
        click.echo(f"note: {len(bad)} layer-pass(es) infeasible: their smallest tile does not "
                   f"fit {buffer_bytes:,.0f} B (largest need: {worst['layer']} "
                   f"{worst['pass']}, {worst['min_buffer_bytes']:,.0f} B)")


COMMANDS = [bound_cmd]
