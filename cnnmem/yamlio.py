"""YAML loading that remembers line numbers, so errors can name the line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from cnnmem.errors import InputError


class LineDict(dict):
    """A mapping from YAML that knows the (1-based) line it started on, and each key's line."""

    line: int | None = None
    key_lines: dict[Any, int] | None = None


class LineList(list):
    """A sequence from YAML that knows the (1-based) line it started on."""

    line: int | None = None


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in out
        except TypeError:  # an unhashable key such as a list ("? [a, b]: 1")
            raise InputError(f"a mapping key must be a plain value, got {key!r}",
                             line=key_node.start_mark.line + 1) from None
        if duplicate:
            raise InputError(
                f"duplicate key '{key}'", line=key_node.start_mark.line + 1, field=str(key)
            )
        out.key_lines[key] = key_node.start_mark.line + 1
        out[key] = loader.construct_object(value_node, deep=True)
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def line_of(value: Any) -> int | None:
    return getattr(value, "line", None)


def line_of_key(mapping: Any, key: Any) -> int | None:
    """The line of ``key`` in a mapping from YAML, else the mapping's own line."""
    key_lines = getattr(mapping, "key_lines", None) or {}
    try:
        return key_lines.get(key, line_of(mapping))
    except TypeError:
        return line_of(mapping)


def load_yaml_text(text: str, *, file: str) -> Any:
    """Parse YAML text; syntax errors become one-line :class:`InputError` with file and line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except InputError as exc:
        raise exc.located(file=file) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"YAML syntax error: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"YAML error: {exc}", file=file) from None


def load_yaml_file(path: str | os.PathLike[str]) -> Any:
    """Read and parse a YAML file, with one-line errors for missing files and bad syntax."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a YAML file", file=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=str(path)) from None
    return load_yaml_text(text, file=str(path))
