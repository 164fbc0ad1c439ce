"""`cnnmem reproduce`: check the model against the published figures in scenarios/*.yaml."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cnnmem.commands.common import emit, format_option
from cnnmem.errors import InputError
from cnnmem.reproduce import (
    SCENARIO_DIR,
    markdown,
    outcome_table,
    ratio_curve,
    reproduce,
    run_count,
    select_scenarios,
    summary,
    where_published_falls,
)
from cnnmem.sweep.output import write_atomic


@click.command("reproduce")
@click.argument("names", nargs=-1)
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help=f"scenario directory (default: {SCENARIO_DIR})")
@click.option("--markdown", "markdown_file", type=click.Path(dir_okay=False), default=None,
              help="also write the README 'Reproduced figures' table to this Markdown file")
@click.option("--detail", is_flag=True,
              help="add figure, source, metric and per-network values to the table, and the "
                   "speedup-vs-MAC/bandwidth curves of scenarios that declare one")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
@format_option
def reproduce_cmd(names: tuple[str, ...], directory: str | None, markdown_file: str | None,
                  detail: bool, quiet: bool, fmt: str) -> None:
    """Run the published-figure scenarios NAME... (scenario names, YAML paths, or 'all').

    Prints per figure: published, modeled, gap (modeled - published), tolerance and status
    (PASS, MISS, EXPECTED-MISS with the scenario's recorded reason, ERROR when the model could
    not run). Exit status 1 if any figure MISSes (or ERRORs) without a recorded expected_miss.
    """
    if "all" in names and len(names) > 1:
        raise InputError("give 'all' alone or scenario names", field="NAMES")
    if markdown_file and not Path(markdown_file).resolve().parent.is_dir():
        raise InputError("directory not found", file=markdown_file, field="--markdown")
    scenarios = select_scenarios(names, directory or SCENARIO_DIR)
    total = sum(run_count(s) for s in scenarios)
    show = not quiet and sys.stderr.isatty()
    if show:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="reproduce", unit="run", file=sys.stderr, leave=False)
        outcomes = reproduce(scenarios, tick=lambda: bar.update(1))
        bar.close()
    else:
        outcomes = reproduce(scenarios)
    df = outcome_table(outcomes, detail=detail or fmt != "table")
    emit(df, fmt, title="Reproduced figures" if fmt == "table" else None)
    if fmt == "table":
        click.echo(summary(outcomes) + ("" if detail else " (--detail: whole reasons, sources)"))
    if detail:
        for s in scenarios:
            if s.kind == "schedule" and s.curve_macs_per_byte and s.baseline is not None:
                curve = ratio_curve(s)
                emit(curve, fmt, title=f"{s.name}: {s.metric} vs chip MACs per DRAM byte"
                     if fmt == "table" else None)
                click.echo(where_published_falls(s, curve), err=fmt != "table")
    if markdown_file:
        write_atomic(markdown_file, markdown(outcomes).encode("utf-8"))
        click.echo(f"wrote {markdown_file}", err=True)
    if any(o.fails for o in outcomes):
        sys.exit(1)  # (click.exceptions.Exit is swallowed by cli.main(standalone_mode=False))


COMMANDS = [reproduce_cmd]
