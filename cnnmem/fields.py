"""Declared field schemas: each YAML field of a file kind is declared once (name, kind and unit,
range, default, help) and parsed and validated from that declaration.

A :class:`Field` says what its value must be; :func:`parse_fields` checks a mapping from YAML
against a tuple of them (unknown keys, required keys, each value's kind, unit and range) and
returns the parsed values, every error one line naming file, line and field. The limits of
:mod:`cnnmem.limits` (batch, chips, ...) are ranges in the same declarations.

Kinds: ``text`` (a string; a number is taken as its text), ``number`` (int or float),
``int`` (a whole number, float spellings like ``1e3`` accepted), ``quantity`` (a number with a
unit of ``unit``'s dimension, see :mod:`cnnmem.units`), ``bool``, ``choice`` (one of
``choices``), ``any`` (checked by the caller).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnnmem.errors import InputError
from cnnmem.limits import quote
from cnnmem.units import parse_quantity
from cnnmem.yamlio import line_of, line_of_key

_MISSING = object()


@dataclass(frozen=True)
class Field:
    """One declared YAML field."""

    name: str
    kind: str  # text | number | int | quantity | bool | choice | any
    help: str
    unit: str | None = None  # quantity dimension ("bytes", "bandwidth", ...)
    default: Any = None  # None: no default (absent fields are left out)
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # minimum < value (else minimum <= value)
    choices: tuple[Any, ...] = ()
    attr: str | None = None  # the value-class attribute it sets, when it differs from name
    limit: str | None = None  # the cnnmem.limits constant that ``maximum`` is

    @property
    def target(self) -> str:
        return self.attr or self.name

    def describe_range(self) -> str:
        if self.minimum == 0 and self.maximum is None:
            return "positive" if self.exclusive_minimum else "non-negative"
        lo = "" if self.minimum is None else (
            f"> {self.minimum:g}" if self.exclusive_minimum else f">= {self.minimum:g}")
        hi = "" if self.maximum is None else f"<= {self.maximum:,g}"
        return " and ".join(p for p in (lo, hi) if p)

    def parse(self, value: Any) -> Any:
        """The parsed value (InputError naming this field when it is not what is declared)."""
        parsed = _PARSERS[self.kind](self, value)
        if isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
            self.check_range(parsed)
        return parsed

    def check_range(self, value: float) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"must be a finite number, got {value}", field=self.name)
        low = self.minimum is not None and (
            value <= self.minimum if self.exclusive_minimum else value < self.minimum)
        high = self.maximum is not None and value > self.maximum
        if low or high:
            shown = f"{value:,}" if isinstance(value, int) else f"{value:g}"
            limit = f" (limit cnnmem.limits.{self.limit})" if high and self.limit else ""
            raise InputError(f"must be {self.describe_range()}, got {shown}{limit}",
                             field=self.name)


def _text(f: Field, v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise InputError(f"expected text, got {quote(v)}", field=f.name)
    return str(v)


def _number(f: Field, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"expected a number, got {quote(v)}", field=f.name)
    return float(v)


def _int(f: Field, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (
            isinstance(v, float) and not v.is_integer()):
        raise InputError(f"expected a whole number, got {quote(v)}", field=f.name)
    return int(v)


def _quantity(f: Field, v: Any) -> float:
    return parse_quantity(v, f.unit or "count", field=f.name)


def _bool(f: Field, v: Any) -> bool:
    if not isinstance(v, bool):
        raise InputError(f"expected true or false, got {quote(v)}", field=f.name)
    return v


def _choice(f: Field, v: Any) -> Any:
    if v not in f.choices:
        raise InputError(f"must be {' or '.join(repr(c) for c in f.choices)}, got {quote(v)}",
                         field=f.name)
    return v


_PARSERS: dict[str, Callable[[Field, Any], Any]] = {
    "text": _text, "number": _number, "int": _int, "quantity": _quantity, "bool": _bool,
    "choice": _choice, "any": lambda f, v: v,
}


def unknown_key_error(fields: tuple[Field, ...], data: dict[str, Any], file: str,
                      what: str = "field") -> InputError | None:
    unknown = sorted(set(data) - {f.name for f in fields}, key=str)
    if not unknown:
        return None
    allowed = ", ".join(f.name for f in fields)
    return InputError(f"unknown {what} (allowed: {allowed})", file=file,
                      line=line_of_key(data, unknown[0]), field=str(unknown[0]))


def parse_fields(fields: tuple[Field, ...], data: Any, *, file: str,
                 what: str = "a mapping of field: value") -> dict[str, Any]:
    """Check ``data`` against the declarations; returns declared name -> parsed value (absent
    fields with a default get it; absent ones without are left out)."""
    if not isinstance(data, dict):
        raise InputError(f"expected {what}", file=file, line=line_of(data))
    error = unknown_key_error(fields, data, file)
    if error is not None:
        raise error
    out: dict[str, Any] = {}
    for f in fields:
        if f.name not in data:
            if f.required:
                raise InputError(f"missing required field '{f.name}'", file=file,
                                 line=line_of(data), field=f.name)
            if f.default is not None:
                out[f.name] = f.default
            continue
        try:
            out[f.name] = f.parse(data[f.name])
        except InputError as exc:
            raise InputError(exc.message, file=file, line=line_of_key(data, f.name),
                             field=f.name if exc.field in (None, f.name) else exc.field
                             ) from None
    return out
