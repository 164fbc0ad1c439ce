"""`cnnmem networks`, `cnnmem show`, `cnnmem validate`."""

from __future__ import annotations

import os

import click
import pandas as pd

from cnnmem.commands.common import emit, format_option
from cnnmem.errors import InputError
from cnnmem.hardware import default_hardware, load_hardware, parse_hardware
from cnnmem.workload import builtin_networks, load_network, parse_network
from cnnmem.yamlio import load_yaml_file


@click.command("networks")
@format_option
def networks_cmd(fmt: str) -> None:
    """List the built-in networks with layers, parameters and GMACs."""
    rows = []
    for name in builtin_networks():
        net = load_network(name)
        c, h, w = net.input_shape
        rows.append({
            "network": name,
            "input": f"{c}x{h}x{w}",
            "layers": len(net),
            "params": net.total_params,
            "gmacs": round(net.total_macs / 1e9, 4),
        })
    emit(pd.DataFrame(rows), fmt)


@click.command("show")
@click.argument("network")
@click.option("--hw", default=None, help="hardware (bytes per activation); default 2 bytes")
@format_option
def show_cmd(network: str, hw: str | None, fmt: str) -> None:
    """Per-layer table of NETWORK (built-in name or YAML path) with totals."""
    net = load_network(network)
    hardware = load_hardware(hw) if hw else default_hardware()
    bpa = hardware.bytes_per_activation
    rows = []
    for layer in net.layers:
        c, h, w = layer.out_shape
        rows.append({
            "layer": layer.name,
            "type": layer.type,
            "inputs": ",".join(layer.inputs),
            "output_shape": f"{c}x{h}x{w}",
            "params": layer.weight_elems,
            "macs": layer.macs,
            "activation_bytes_per_sample": int(layer.out_elems * bpa),
        })
    df = pd.DataFrame(rows)
    total = {
        "layer": "TOTAL", "type": "", "inputs": "", "output_shape": "",
        "params": int(df["params"].sum()), "macs": int(df["macs"].sum()),
        "activation_bytes_per_sample": int(df["activation_bytes_per_sample"].sum()),
    }
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    emit(df, fmt, title=f"{net.name}: {len(net)} layers" if fmt == "table" else None)


@click.command("validate")
@click.argument("files", nargs=-1, required=True)
def validate_cmd(files: tuple[str, ...]) -> None:
    """Check network, hardware, sweep or scenario YAML files; print one line per file."""
    for path in files:
        data = load_yaml_file(path)
        if not isinstance(data, dict):
            raise InputError("expected a mapping at the top level", file=path)
        if "published" in data or "metric" in data:
            from cnnmem.reproduce import load_scenario

            scenario = load_scenario(path)
            click.echo(f"{path}: ok: scenario '{scenario.name}'")
        elif "layers" in data or "input" in data:
            net = parse_network(data, file=path)
            click.echo(f"{path}: ok: network '{net.name}', {len(net)} layers, "
                       f"{net.total_params:,} params, {net.total_macs / 1e9:.3f} GMACs")
        elif "sweep" in data or "axes" in data:
            from cnnmem.sweep.spec import parse_sweep

            sweep = parse_sweep(data, file=path)
            click.echo(f"{path}: ok: sweep '{sweep.name}'")
        else:
            hw = parse_hardware(data, file=path)
            click.echo(f"{path}: ok: hardware '{hw.name}', buffer {hw.buffer_bytes:,.0f} B")


@click.command("import")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="network YAML to write (default: print it)")
@click.option("--restore-norm", is_flag=True,
              help="put a batchnorm after every conv with a bias (BatchNorm folded by an "
                   "eval-mode export), for training analysis")
def import_cmd(model: str, output: str | None, restore_norm: bool) -> None:
    """Import an ONNX MODEL as a network YAML (needs the extra: pip install 'cnnmem[onnx]')."""
    from cnnmem.workload.onnx_import import import_onnx, network_of, to_yaml  # noqa: PLC0415

    result = import_onnx(model, restore_norm=restore_norm)
    net = network_of(result, model)  # validates before anything is written
    text = to_yaml(result)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if output is None:
        click.echo(text, nl=False)
        return
    tmp = f"{output}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, output)
    click.echo(f"wrote {output}: {len(net)} layers, {net.total_params} params, "
               f"{net.total_macs} MACs per sample", err=True)


COMMANDS = [networks_cmd, show_cmd, validate_cmd, import_cmd]
