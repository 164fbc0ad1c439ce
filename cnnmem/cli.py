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
from cnnmem.errors import InputError


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
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(0)


if __name__ == "__main__":
    main()
