"""Options and helpers shared by command modules."""

from __future__ import annotations

from typing import Any

import click
import pandas as pd

from cnnmem.errors import InputError
from cnnmem.report.tables import FORMATS, render

format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
    help="table for people; csv/json for scripts (stdout, unchanged).",
)


def emit(df: pd.DataFrame, fmt: str, *, title: str | None = None,
         extra: dict[str, Any] | None = None) -> None:
    click.echo(render(df, fmt, title=title, extra=extra))


option_option = click.option(
    "--option", "-O", "options", multiple=True, metavar="KEY=VALUE",
    help="strategy switch, repeatable (e.g. -O window=k)",
)


def parse_key_values(items: tuple[str, ...]) -> dict[str, object]:
    """`-O KEY=VALUE` pairs -> a dict (InputError naming --option on a malformed pair)."""
    out: dict[str, object] = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"expected KEY=VALUE, got '{item}'", field="--option")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out

