"""Render tables for the terminal, or as CSV/JSON for scripts (deterministic output)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

FORMATS = ("table", "csv", "json")


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf"
        if float(value).is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 1e4:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    if value is None:
        return "-"
    return str(value)


def render_table(df: pd.DataFrame, *, title: str | None = None) -> str:
    """Aligned plain-text table: numbers right-aligned with thousands separators."""
    cols = [str(c) for c in df.columns]
    rows = [[_cell(v) for v in row] for row in df.itertuples(index=False, name=None)]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
               for c in df.columns]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w)
                         for c, w, n in zip(cells, widths, numeric, strict=False)).rstrip()

    lines = []
    if title:
        lines.append(title)
    lines.append(fmt(cols))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(fmt(r) for r in rows)
    return "\n".join(lines)


def _json_value(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def to_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _json_value(v) for k, v in zip(df.columns, row, strict=False)}
            for row in df.itertuples(index=False, name=None)]


def render(df: pd.DataFrame, fmt: str, *, title: str | None = None,
           extra: dict[str, Any] | None = None) -> str:
    """Render ``df`` as 'table', 'csv' or 'json'. ``extra`` adds top-level JSON keys."""
    if fmt == "csv":
        return df.to_csv(index=False, lineterminator="\n").rstrip("\n")
    if fmt == "json":
        payload: Any = to_records(df)
        if extra:
            payload = {**{k: _json_value(v) for k, v in extra.items()}, "rows": payload}
        return json.dumps(payload, indent=2, sort_keys=False)
    return render_table(df, title=title)
