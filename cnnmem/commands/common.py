"""Options and helpers shared by command modules."""

from __future__ import annotations

from typing import Any

import click
import pandas as pd

from cnnmem.report.tables import FORMATS, render

format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
    help="table for people; csv/json for scripts (stdout, unchanged).",
)


def emit(df: pd.DataFrame, fmt: str, *, title: str | None = None,
         extra: dict[str, Any] | None = None) -> None:
    click.echo(render(df, fmt, title=title, extra=extra))
