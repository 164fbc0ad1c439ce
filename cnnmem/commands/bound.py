"""`cnnmem bound`: the communication lower bound and the dataflow that approaches it."""

from __future__ import annotations

import click
import numpy as np
import pandas as pd

from cnnmem.commands.common import emit, format_option
from cnnmem.errors import InputError
from cnnmem.hardware import Hardware, default_hardware, load_hardware
from cnnmem.limits import MAX_BATCH
from cnnmem.model.gconv import PASSES
from cnnmem.model.precision import Precision
from cnnmem.model.training_bound import compulsory_bytes, training_bound_bytes, training_terms
from cnnmem.units import parse_quantity
from cnnmem.workload import load_network
from cnnmem.workload.network import Network


@click.command("bound")
@click.argument("network")
@click.option("--buffer", default=None,
              help="on-chip buffer, e.g. 128KiB; with --training a comma-separated list "
                   "(default: the hardware's buffer)")
@click.option("--batch", type=click.IntRange(min=1, max=MAX_BATCH), default=1, show_default=True)
@click.option("--hw", "hw_name", default=None,
              help="hardware for bytes per element (default: 2 bytes for every tensor)")
@click.option("--pass", "pass_name", type=click.Choice(PASSES + ("all",)), default="forward",
              show_default=True)
@click.option("--training", is_flag=True,
              help="the whole-network training bound per mini-batch vs buffer capacity "
                   "(docs/training_bound.md) instead of the per-layer bound")
@format_option
def bound_cmd(network: str, buffer: str | None, batch: int, hw_name: str | None,
              pass_name: str, training: bool, fmt: str) -> None:
    """Per-layer lower bound vs the bound-attaining dataflow for NETWORK (Chen et al.).

    With --training: lower bounds on one training mini-batch's DRAM traffic for the whole
    network, without recomputation (every cnnmem training strategy) and with it.
    """
    from cnnmem.api import bound

    net = load_network(network)
    hw = load_hardware(hw_name) if hw_name else default_hardware()
    if training:
        training_bound_report(net, hw, buffer, batch, fmt)
        return
    if buffer is None:
        raise InputError("required unless --training", field="--buffer")
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


def training_bound_table(net: Network, prec: Precision, batch: int,
                         capacity_bytes: np.ndarray) -> pd.DataFrame:
    """One row per capacity: compulsory traffic and both training bounds, in bytes."""
    terms = training_terms(net, prec)
    caps = np.asarray(capacity_bytes, float)
    floor = float(compulsory_bytes(terms, batch))
    no_rc = training_bound_bytes(terms, batch, caps)[0]
    rc = training_bound_bytes(terms, batch, caps, recompute=True)[0]
    return pd.DataFrame({
        "buffer_bytes": caps, "compulsory_bytes": floor,
        "bound_no_recompute_bytes": no_rc, "bound_recompute_bytes": rc,
        "bound_no_recompute_over_compulsory": no_rc / floor,
    })


def training_bound_report(net: Network, hw: Hardware, buffer: str | None, batch: int,
                          fmt: str) -> None:
    items = [hw.buffer_bytes] if buffer is None else [
        parse_quantity(b.strip(), "bytes", field="--buffer") for b in buffer.split(",")]
    caps = np.asarray(items, float)
    if not (caps >= 0).all():
        raise InputError("buffer capacities must be >= 0", field="--buffer")
    prec = Precision.of(hw)
    t = training_terms(net, prec)
    title = (f"{net.name} training, batch {batch}, {hw.name} precisions: per sample stash "
             f"{t.stash_activation_bytes:,.0f} B activations + {t.stash_input_bytes:,.0f} B "
             f"input, backward weights {t.backward_weight_bytes:,.0f} B")
    emit(training_bound_table(net, prec, batch, caps), fmt, title=title)


COMMANDS = [bound_cmd]
