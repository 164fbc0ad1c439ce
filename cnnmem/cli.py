"""The ``cnnmem`` command line.

Commands live in :mod:`cnnmem.commands` (one module per topic); every module there that
defines ``COMMANDS`` (a list of click commands) is registered here automatically.
Any :class:`~cnnmem.errors.InputError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from cnnmem import __version__
from cnnmem.errors import InputError, one_line


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cnnmem")
def cli() -> None:
    """cnnmem: memory traffic, energy and speed of CNN training and inference on accelerators."""


def _register() -> None:
    import cnnmem.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"cnnmem.commands.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register()


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
