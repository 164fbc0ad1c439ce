"""`cnnmem sweep` (evaluate a sweep file) and `cnnmem report` (figures and report.md of a run)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cnnmem import __version__
from cnnmem.errors import InputError
from cnnmem.paths import safe_file_name
from cnnmem.sweep.engine import DEFAULT_CHUNK_POINTS, DEFAULT_KEEP, KEEP_CHOICES, run_sweep
from cnnmem.sweep.output import Terminated, terminate_as_interrupt
from cnnmem.sweep.spec import load_sweep

#: most worker processes --jobs starts on this machine
MAX_JOBS = 256


@click.command("sweep")
@click.argument("sweep_file")
@click.option("-o", "--out", "out_dir", default=None,
              help="output directory [default: out/<sweep name>]")
@click.option("--quiet", is_flag=True, help="no progress bar and no summary line")
@click.option("--chunk-points", type=click.IntRange(min=1), default=DEFAULT_CHUNK_POINTS,
              show_default=True, help="design points per evaluator call (bounds memory)")
@click.option("--keep", type=click.Choice(KEEP_CHOICES), default=DEFAULT_KEEP,
              show_default=True,
              help="points the results file holds: every one, the feasible ones, the front")
@click.option("--csv", "csv", is_flag=True, help="also write results.csv")
@click.option("--jobs", type=click.IntRange(min=1, max=MAX_JOBS), default=1, show_default=True,
              help="processes on this machine: N-1 workers and this one (no Dask needed)")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="evaluate on an existing Dask cluster (needs cnnmem[dask])")
def sweep_cmd(sweep_file: str, out_dir: str | None, quiet: bool, chunk_points: int, keep: str,
              csv: bool, jobs: int, scheduler: str | None) -> None:
    """Evaluate every design point of SWEEP_FILE (a path, or a built-in sweep name such as
    'quickstart'); write results.parquet (and results.csv with
    --csv), pareto.csv and run.json."""
    if jobs > 1 and scheduler is not None:
        raise InputError("--jobs N > 1 and --scheduler exclude each other: --jobs runs on this "
                         "machine, --scheduler on the Dask cluster's workers", field="--jobs")
    spec = load_sweep(sweep_file)
    out = Path(out_dir) if out_dir else Path("out") / safe_file_name(spec.name)
    try:
        with terminate_as_interrupt():  # SIGTERM unwinds like Ctrl-C: no partial files
            summary = run_sweep(spec, out, quiet=quiet, chunk_points=chunk_points,
                                version=__version__, keep=keep, csv=csv, jobs=jobs,
                                scheduler=scheduler)
    except Terminated:
        click.echo("terminated", err=True)
        sys.exit(143)
    if not quiet:
        infeasible = summary.points - summary.feasible_points
        click.echo(f"{spec.name}: {summary.points:,} points evaluated in {summary.wall_s:.2f} s "
                   f"({summary.points_per_s:,.0f} points/s; model {summary.model_s:.2f} s, "
                   f"writing {summary.write_s:.2f} s); {summary.feasible_points:,} feasible, "
                   f"{infeasible:,} infeasible; {summary.written_points:,} written "
                   f"(--keep {summary.keep}); Pareto front {summary.pareto_points:,} points "
                   f"-> {out}/")


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--quiet", is_flag=True, help="no summary line")
def report_cmd(run_dir: str, quiet: bool) -> None:
    """Write figures (PNG + SVG) and report.md for the sweep results in RUN_DIR."""
    from cnnmem.report.runreport import write_report

    try:
        with terminate_as_interrupt():  # SIGTERM unwinds like Ctrl-C: no partial report.md
            path = write_report(Path(run_dir))
    except Terminated:
        click.echo("terminated", err=True)
        sys.exit(143)
    if not quiet:
        click.echo(f"report: {path}")


COMMANDS = [sweep_cmd, report_cmd]
