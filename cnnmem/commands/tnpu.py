"""`cnnmem tnpu-bandwidth`: TNPU's speedup over its baselines as DRAM bandwidth varies."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from cnnmem.commands.common import emit, format_option, parse_key_values
from cnnmem.errors import InputError
from cnnmem.hardware import load_hardware
from cnnmem.limits import MAX_BATCH
from cnnmem.units import parse_quantity
from cnnmem.workload import load_network

DEFAULT_BANDWIDTHS = "4GB/s,8.5GB/s,17.1GB/s,34GB/s,68GB/s"


def parse_bandwidths(text: str) -> list[float]:
    """'4GB/s,8.5GB/s' -> bytes per second (one InputError naming --bandwidths when bad)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise InputError("give at least one bandwidth, e.g. 17.1GB/s", field="--bandwidths")
    values = [parse_quantity(t, "bandwidth", field="--bandwidths") for t in items]
    if any(not v > 0 for v in values):
        raise InputError("bandwidths must be positive", field="--bandwidths")
    return values


def plot_speedups(df: pd.DataFrame, path: Path) -> None:
    """Speedup of tnpu over both baselines vs DRAM bandwidth (log x axis)."""
    if path.suffix.lower() not in (".png", ".svg"):
        raise InputError(f"plot file must end in .png or .svg, got '{path.name}'",
                         field="--plot")
    from cnnmem.report.plots import save_figure  # noqa: I001 - first: selects Agg
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    x = df["dram_bandwidth_gb_per_s"]
    ax.plot(x, df["speedup_vs_dnpu_like_x"], "o-", label="vs DNPU-like")
    ax.plot(x, df["speedup_vs_dadiannao_like_x"], "s--", label="vs DaDianNao-like")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xticks(list(x), [f"{v:g}" for v in x])
    ax.minorticks_off()
    ax.set_xlabel("DRAM bandwidth (GB/s)")
    ax.set_ylabel("TNPU speedup (x)")
    ax.set_title(f"{df['network'].iloc[0]}: TNPU speedup vs DRAM bandwidth", fontsize=10)
    ax.grid(linestyle=":", linewidth=0.5)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=130)
    plt.close(fig)


@click.command("tnpu-bandwidth")
@click.argument("network")
@click.option("--hw", "hw_name", default="tnpu", show_default=True,
              help="hardware with a conv/FC unit split (both baselines use it: iso-resource)")
@click.option("--bandwidths", default=DEFAULT_BANDWIDTHS, show_default=True,
              help="comma-separated DRAM bandwidths")
@click.option("--batch", type=click.IntRange(min=1, max=MAX_BATCH), default=50, show_default=True)
@click.option("--option", "-O", "options", multiple=True, metavar="KEY=VALUE",
              help="TNPU strategy switch, repeatable, e.g. pe_sharing=dynamic|static "
                   "(default dynamic; see cnnmem.model.tnpu)")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="write the speedup-vs-bandwidth plot (PNG/SVG)")
@format_option
def tnpu_bandwidth_cmd(network: str, hw_name: str, bandwidths: str, batch: int,
                       options: tuple[str, ...], plot: str | None, fmt: str) -> None:
    """Speedup of tnpu over dnpu-like and dadiannao-like at each DRAM bandwidth (TNPU paper's
    scalability figure; the model is a reconstruction, see cnnmem.model.tnpu). -O options apply
    to tnpu (e.g. -O pe_sharing=static for the fixed 256 + 16 PE split)."""
    from cnnmem.model.tnpu import bandwidth_speedups

    opts = parse_key_values(options)
    net = load_network(network)
    hw = load_hardware(hw_name)
    df = bandwidth_speedups(net, hw, parse_bandwidths(bandwidths), batch, opts)
    emit(df, fmt, title=f"{net.name} on {hw.name}, batch {batch}: tnpu speedup vs bandwidth")
    if plot:
        plot_speedups(df, Path(plot))
        click.echo(f"wrote {plot}", err=True)


COMMANDS = [tnpu_bandwidth_cmd]
