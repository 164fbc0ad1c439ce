"""The ``cnnmem`` command line.

Commands live in :mod:`cnnmem.commands` (one module per topic, each with a ``COMMANDS`` list).
They are imported lazily (start-up of ``--help``/``--version`` stays fast: no numpy, pandas or
matplotlib): :data:`COMMAND_MODULES` names each command's module and short help, and a test
checks it against the modules' ``COMMANDS``. Any :class:`~cnnmem.errors.InputError` becomes one
line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from cnnmem import __version__
from cnnmem.errors import InputError, WorkerLost, one_line

#: command -> (module under cnnmem.commands, short help shown by `cnnmem --help`)
COMMAND_MODULES: dict[str, tuple[str, str]] = {
    "networks": ("workload", "List the built-in networks with layers, parameters and GMACs."),
    "show": ("workload", "Per-layer table of NETWORK (built-in name or YAML path) with totals."),
    "validate": ("workload", "Check network, hardware, sweep or scenario YAML files."),
    "import": ("workload", "Convert an ONNX model into a readable network YAML file."),
    "bound": ("bound", "Per-layer lower bound vs the bound-attaining dataflow (Chen et al.)."),
    "strategies": ("schedule", "List the scheduling strategies and what each takes."),
    "schedule": ("schedule", "Schedule NETWORK on hardware with one strategy."),
    "sweep": ("sweep", "Evaluate every design point of SWEEP_FILE."),
    "report": ("sweep", "Write figures and report.md for the sweep results in RUN_DIR."),
    "reproduce": ("reproduce", "Run the published-figure scenarios NAME..."),
    "tnpu-bandwidth": ("tnpu", "Speedup of tnpu over its baselines at each DRAM bandwidth."),
}


class LazyGroup(click.Group):
    """A click group importing a command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMAND_MODULES:
            return None
        module = importlib.import_module(f"cnnmem.commands.{COMMAND_MODULES[cmd_name][0]}")
        return {c.name: c for c in module.COMMANDS}.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: Any) -> None:
        rows = [(name, COMMAND_MODULES[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cnnmem", package_name="cnnmem")
def cli() -> None:
    """cnnmem: memory traffic, energy and speed of CNN training and inference on accelerators."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning bad input into one line and exit status 2."""
    try:
        cli.main(args=argv, prog_name="cnnmem", standalone_mode=False)
    except InputError as exc:
        click.echo(f"error: {exc.format()}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see {exc.ctx.command_path} --help)"
        click.echo(f"error: {one_line(exc.format_message() + hint)}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as exc:  # a file-system error: name the path and the reason
        click.echo(f"error: {file_error(exc)}", err=True)
        sys.exit(2)
    except WorkerLost as exc:
        click.echo(f"error: {one_line(str(exc))}", err=True)
        sys.exit(1)
    except MemoryError:
        click.echo("error: out of memory (an input is beyond what this machine can hold; "
                   "see cnnmem.limits)", err=True)
        sys.exit(3)
    sys.exit(0)


def file_error(exc: OSError) -> str:
    """One line for a file-system error: the path(s) and the reason."""
    reason = exc.strerror or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    where = " -> ".join(paths)
    return one_line(f"{where}: {reason}" if where else reason)


if __name__ == "__main__":
    main()
