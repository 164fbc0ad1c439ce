"""YAML loading that remembers line numbers, so errors can name the line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from cnnmem.errors import InputError
from cnnmem.limits import MAX_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_INT, MAX_YAML_NODES, quote


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


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    if abs(value) > MAX_YAML_INT:
        raise InputError(f"integer {quote(value)} is outside the 64-bit range (limit "
                         f"{MAX_YAML_INT:,})", line=node.start_mark.line + 1)
    return value


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
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


def _char(c: Any) -> str:
    code = c if isinstance(c, int) else ord(str(c)[:1] or "\0")
    return f"#x{code:04x}"


def _check_size(root: yaml.Node | None) -> None:
    """Refuse alias bombs and deep nesting before constructing anything: count the nodes the
    document expands to (an alias counts once per use) and its nesting depth."""
    if root is None:
        return
    expanded: dict[int, int] = {}  # id(node) -> nodes it expands to
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if id(node) in expanded and not done:
            continue
        children = ([n for pair in node.value for n in pair]
                    if isinstance(node, yaml.MappingNode)
                    else node.value if isinstance(node, yaml.SequenceNode) else [])
        if depth > MAX_YAML_DEPTH:
            raise InputError(f"collections nested more than {MAX_YAML_DEPTH} deep (limit)",
                             line=node.start_mark.line + 1)
        if done:
            total = 1 + sum(expanded[id(c)] for c in children)
            if total > MAX_YAML_NODES:
                raise InputError(f"the document expands to more than {MAX_YAML_NODES:,} values "
                                 "(aliases counted per use; limit)", line=node.start_mark.line + 1)
            expanded[id(node)] = total
            continue
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in expanded)


def load_yaml_text(text: str, *, file: str) -> Any:
    """Parse YAML text; syntax errors become one-line :class:`InputError` with file and line.

    Alias expansion, nesting depth and integer size are limited (see :mod:`cnnmem.limits`)."""
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            _check_size(root)
            return loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except InputError as exc:
        raise exc.located(file=file) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"YAML syntax error: {problem}", file=file, line=line) from None
    except yaml.reader.ReaderError as exc:  # a control or non-printable character
        line = text.count("\n", 0, exc.position) + 1
        raise InputError(f"YAML error: character {_char(exc.character)} is not allowed "
                         f"({exc.reason})", file=file, line=line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"YAML error: {getattr(exc, 'problem', None) or exc}", file=file,
                         line=mark.line + 1 if mark is not None else None) from None
    except RecursionError:
        raise InputError(f"collections nested too deeply (limit {MAX_YAML_DEPTH})",
                         file=file) from None


def load_yaml_file(path: str | os.PathLike[str]) -> Any:
    """Read and parse a YAML file, with one-line errors for missing files and bad syntax."""
    return load_yaml_text(read_text_file(path), file=str(path))


def read_text_file(path: str | os.PathLike[str]) -> str:
    """A UTF-8 input file's text, at most :data:`~cnnmem.limits.MAX_FILE_BYTES` (so
    ``/dev/zero`` is refused); every file-system error is one line naming path and reason."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a YAML file", file=str(path)) from None
    except OSError as exc:  # unreadable, symlink loop, name too long, ...
        raise InputError(f"cannot read: {exc.strerror or type(exc).__name__}",
                         file=str(path)) from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"file is larger than {MAX_FILE_BYTES:,} bytes (limit)",
                         file=str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=str(path)) from None
