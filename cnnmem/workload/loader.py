"""Network YAML: parse -> expand blocks -> resolve references -> sort -> infer shapes.

Format (see README "Network YAML" for a complete example)::

    name: tiny
    input: [3, 32, 32]            # channels, height, width of one sample
    blocks:                       # optional: parameterised blocks, defined once
      basic:
        params: {out: 64, stride: 1}
        layers:
          - {name: conv, type: conv, out: $out, kernel: 3, stride: $stride, padding: 1}
          - {name: relu, type: relu}
          - {name: add, type: add, inputs: [relu, in], when: "${stride == 1}"}
    layers:
      - {name: conv1, type: conv, out: 64, kernel: 3, padding: 1}
      - {name: stage1, block: basic, repeat: 2, args: {out: 64}}
      - {name: fc, type: fc, out: 10}

A layer's input is the previous item's output unless ``input:``/``inputs:`` names layers. Inside
a block, ``in`` is the block's input and names are local; instance ``stage1`` repeated twice
yields layers ``stage1.0.conv``, ``stage1.1.conv``, ... ``args`` apply to every repetition,
``first:`` overrides them for the first one. ``when:`` drops a layer whose condition is false.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnmem.errors import InputError
from cnnmem.limits import MAX_LAYERS, MAX_REPEAT, check_count, quote
from cnnmem.workload.expr import substitute
from cnnmem.workload.layers import MAX_COUNT, Layer, Shape, build_layer
from cnnmem.workload.network import INPUT, Network
from cnnmem.yamlio import line_of, line_of_key, load_yaml_file, load_yaml_text

_TOP_FIELDS = {"name", "description", "source", "input", "blocks", "layers", "reference"}
_INSTANCE_FIELDS = {"name", "block", "args", "first", "repeat", "input", "inputs", "when"}
_BLOCK_FIELDS = {"params", "layers", "output", "description"}


@dataclass
class _Scope:
    """Names visible while expanding one list of layers (a block body or the top level)."""

    prefix: str
    names: dict[str, str]
    parent: _Scope | None
    block_input: str | None  # full name of what 'in' means here

    def resolve(self, name: str) -> str | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            if name == "in" and scope.block_input is not None:
                return scope.block_input
            scope = scope.parent
        if name == INPUT:
            return INPUT
        return None


@dataclass
class _Raw:
    full_name: str
    fields: dict[str, Any]
    refs: list[tuple[str, bool]]  # (name, is_full_name): defaults are already full names
    scope: _Scope
    line: int | None


class _Expander:
    def __init__(self, file: str, blocks: dict[str, Any]) -> None:
        self.file = file
        self.blocks = blocks
        self.raws: list[_Raw] = []
        self.full_names: set[str] = set()
        self.auto_counter: dict[tuple[str, str], int] = {}
        self.instances = 0

    def err(self, exc: InputError, line: int | None, item: str | None) -> InputError:
        return exc.located(file=self.file, line=line, item=item)

    def expand(self, items: Any, scope: _Scope, prev: str, depth: int = 0) -> str:
        """Expand a list of items; return the full name of the last output."""
        if depth > 16:
            raise InputError("blocks nested more than 16 deep (recursive block?)", file=self.file)
        if not isinstance(items, list):
            raise InputError("'layers' must be a list", file=self.file, line=line_of(items),
                             field="layers")
        for item in items:
            line = line_of(item)
            if not isinstance(item, dict):
                raise InputError(f"each layer must be a mapping, got {quote(item)}",
                                 file=self.file,
                                 line=line or line_of(items))
            if "block" in item:
                prev = self._instance(item, scope, prev, depth)
            else:
                prev = self._layer(item, scope, prev)
        return prev

    def _refs(self, item: dict[str, Any], prev: str, label: str, line: int | None
              ) -> list[tuple[str, bool]]:
        """Input references as (name, is_full_name); the default is the previous output."""
        if "input" in item and "inputs" in item:
            raise InputError("give 'input' or 'inputs', not both", file=self.file, line=line,
                             item=label, field="inputs")
        refs = item.get("inputs", item.get("input"))
        if refs is None:
            return [(prev, True)]
        if isinstance(refs, str):
            refs = [refs]
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            raise InputError("must be a layer name or a list of layer names", file=self.file,
                             line=line, item=label, field="inputs")
        return [(r, False) for r in refs]

    def _name(self, item: dict[str, Any], scope: _Scope, kind: str, line: int | None) -> str:
        name = item.get("name")
        if name is None:
            key = (scope.prefix, kind)
            self.auto_counter[key] = self.auto_counter.get(key, 0) + 1
            name = f"{kind}{self.auto_counter[key]}"
            while name in scope.names:
                self.auto_counter[key] += 1
                name = f"{kind}{self.auto_counter[key]}"
        if not isinstance(name, str) or not name or name in ("in", INPUT) or "." in name:
            raise InputError(f"invalid layer name {quote(name)} (reserved, empty or contains '.')",
                             file=self.file, line=line, field="name")
        if name in scope.names:
            raise InputError(f"duplicate layer name '{name}'", file=self.file, line=line,
                             item=f"layer '{scope.prefix}{name}'", field="name")
        return name

    def _layer(self, item: dict[str, Any], scope: _Scope, prev: str) -> str:
        line = line_of(item)
        if "when" in item and not _condition(item["when"], self.file, line):
            return prev
        if len(self.raws) >= MAX_LAYERS:
            raise InputError(f"the network expands to more than {MAX_LAYERS:,} layers (limit, "
                             "cnnmem.limits.MAX_LAYERS)", file=self.file, line=line,
                             field="repeat")
        kind = str(item.get("type", "layer"))
        name = self._name(item, scope, kind, line)
        full = scope.prefix + name
        scope.names[name] = full
        refs = self._refs(item, prev, f"layer '{full}'", line)
        self.raws.append(_Raw(full, dict(item), refs, scope, line))
        return full

    def _instance(self, item: dict[str, Any], scope: _Scope, prev: str, depth: int) -> str:
        line = line_of(item)
        label = f"block instance '{scope.prefix}{item.get('name', item.get('block'))}'"
        unknown = set(item) - _INSTANCE_FIELDS
        if unknown:
            raise InputError(f"unknown field (allowed: {', '.join(sorted(_INSTANCE_FIELDS))})",
                             file=self.file, line=line, item=label, field=sorted(unknown)[0])
        if "when" in item and not _condition(item["when"], self.file, line):
            return prev
        block_name = item["block"]
        if not isinstance(block_name, str) or block_name not in self.blocks:
            raise InputError(f"unknown block '{block_name}'", file=self.file, line=line,
                             item=label, field="block")
        block = self.blocks[block_name]
        repeat = item.get("repeat", 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise InputError(f"must be a positive integer, got {quote(repeat)}", file=self.file,
                             line=line, item=label, field="repeat")
        check_count(repeat, MAX_REPEAT, what="repeat", field="repeat", file=self.file, line=line,
                    item=label)
        args = item.get("args") or {}
        first = item.get("first") or {}
        for fname, value in (("args", args), ("first", first)):
            if not isinstance(value, dict):
                raise InputError("must be a mapping of parameter: value", file=self.file,
                                 line=line, item=label, field=fname)
            bad = set(value) - set(block["params"])
            if bad:
                raise InputError(
                    f"block '{block_name}' has no parameter '{sorted(bad)[0]}' "
                    f"(parameters: {', '.join(block['params']) or 'none'})",
                    file=self.file, line=line, item=label, field=fname)
        name = self._name(item, scope, str(block_name), line)
        refs = self._refs(item, prev, label, line)
        if len(refs) != 1:
            raise InputError("a block instance takes exactly one input", file=self.file,
                             line=line, item=label, field="inputs")
        ref, is_full = refs[0]
        if not is_full:
            resolved = scope.resolve(ref)
            if resolved is None:
                raise InputError(f"unknown layer '{ref}'", file=self.file, line=line, item=label,
                                 field="input")
            prev = resolved
        scope.names[name] = f"{scope.prefix}{name}"  # reserve the name
        for rep in range(repeat):
            self.instances += 1
            if self.instances > MAX_LAYERS:
                raise InputError(f"more than {MAX_LAYERS:,} block instances (limit, "
                                 "cnnmem.limits.MAX_LAYERS)", file=self.file, line=line,
                                 item=label, field="repeat")
            env = {**block["params"], **args, **(first if rep == 0 else {})}
            inst = f"{scope.prefix}{name}" + (f".{rep}" if repeat > 1 else "")
            inner = _Scope(prefix=inst + ".", names={}, parent=scope, block_input=prev)
            try:
                body = substitute(block["layers"], env)
            except InputError as exc:
                raise self.err(exc, line, label) from None
            last = self.expand(body, inner, prev, depth + 1)
            out_name = block.get("output")
            if out_name is not None:
                named = inner.names.get(out_name)
                if named is None:
                    raise InputError(f"block output '{out_name}' is not a layer of the block",
                                     file=self.file, line=line_of(block), item=label,
                                     field="output")
                last = named
            prev = last
        scope.names[name] = prev  # referring to the instance means its output
        return prev


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0", "")


def _condition(value: Any, file: str, line: int | None) -> bool:
    """A ``when:`` value: a boolean or number, or a string spelling one (``"false"`` is
    false)."""
    if isinstance(value, (bool, int, float)) or value is None:
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise InputError(f"expected true or false, got {quote(value)}", file=file, line=line,
                     field="when")


def _text_field(data: dict[str, Any], key: str, file: str) -> str | None:
    """``name``/``description``/``source``: text (a number is taken as its text)."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"expected text, got {quote(value)}", file=file,
                         line=line_of_key(data, key), field=key)
    return str(value)


def _parse_input(value: Any, file: str, line: int | None) -> Shape:
    if isinstance(value, dict):
        value = [value.get("channels"), value.get("height"), value.get("width")]
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise InputError("expected [channels, height, width] or {channels, height, width}",
                         file=file, line=line, field="input")
    if any(v <= 0 for v in value):
        raise InputError(f"sizes must be positive, got {list(value)}", file=file, line=line,
                         field="input")
    if value[0] * value[1] * value[2] > MAX_COUNT:
        raise InputError(f"input {list(value)} is too large", file=file, line=line,
                         field="input")
    return (value[0], value[1], value[2])


def _parse_blocks(value: Any, file: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError("'blocks' must be a mapping of block name: definition", file=file,
                         line=line_of(value), field="blocks")
    blocks = {}
    for name, body in value.items():
        if not isinstance(body, dict) or "layers" not in body:
            raise InputError("a block needs 'layers'", file=file, line=line_of(body) or
                             line_of(value), item=f"block '{name}'")
        bad = set(body) - _BLOCK_FIELDS
        if bad:
            raise InputError(f"unknown field (allowed: {', '.join(sorted(_BLOCK_FIELDS))})",
                             file=file, line=line_of(body), item=f"block '{name}'",
                             field=sorted(bad)[0])
        params = body.get("params") or {}
        if isinstance(params, list):
            params = {p: None for p in params}
        if not isinstance(params, dict):
            raise InputError("'params' must be a mapping of name: default", file=file,
                             line=line_of(body), item=f"block '{name}'", field="params")
        blocks[name] = {**body, "params": dict(params)}
    return blocks


def _topological(raws: list[_Raw], resolved: list[list[str]], file: str) -> list[int]:
    index = {r.full_name: i for i, r in enumerate(raws)}
    indegree = [0] * len(raws)
    users: list[list[int]] = [[] for _ in raws]
    for i, refs in enumerate(resolved):
        for ref in refs:
            if ref != INPUT:
                j = index[ref]
                indegree[i] += 1
                users[j].append(i)
    ready = [i for i, d in enumerate(indegree) if d == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            indegree[u] -= 1
            if indegree[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(raws):
        stuck = [raws[i] for i, d in enumerate(indegree) if d > 0]
        names = ", ".join(r.full_name for r in stuck[:6])
        raise InputError(f"the layers form a cycle ({names})", file=file, line=stuck[0].line,
                         item=f"layer '{stuck[0].full_name}'", field="inputs")
    return order


def parse_network(data: Any, *, file: str, default_name: str | None = None) -> Network:
    """Build a validated :class:`Network` from parsed YAML data."""
    if not isinstance(data, dict):
        raise InputError("a network file must be a mapping with 'input' and 'layers'", file=file)
    unknown = set(data) - _TOP_FIELDS
    if unknown:
        bad = sorted(unknown, key=str)[0]
        raise InputError(f"unknown top-level field (allowed: {', '.join(sorted(_TOP_FIELDS))})",
                         file=file, line=line_of_key(data, bad), field=str(bad))
    for required in ("input", "layers"):
        if required not in data:
            raise InputError(f"missing required field '{required}'", file=file,
                             line=line_of(data), field=required)
    for key in ("name", "description", "source"):
        _text_field(data, key, file)  # checked before the (possibly long) expansion
    input_shape = _parse_input(data["input"], file, line_of_key(data, "input"))
    blocks = _parse_blocks(data.get("blocks"), file)
    expander = _Expander(file, blocks)
    top = _Scope(prefix="", names={}, parent=None, block_input=None)
    expander.expand(data["layers"], top, INPUT)
    raws = expander.raws
    if not raws:
        raise InputError("the network has no layers", file=file, field="layers")

    all_names = {r.full_name for r in raws}
    resolved: list[list[str]] = []
    for raw in raws:
        refs = []
        for ref, is_full in raw.refs:
            full = ref if is_full else raw.scope.resolve(ref)
            if full is None and ref in all_names:
                full = ref  # a full dotted name such as 'layer1.0.relu'
            if full is None:
                raise InputError(f"unknown layer '{ref}'", file=file, line=raw.line,
                                 item=f"layer '{raw.full_name}'", field="inputs")
            if full == raw.full_name:
                raise InputError("a layer cannot read its own output", file=file, line=raw.line,
                                 item=f"layer '{raw.full_name}'", field="inputs")
            refs.append(full)
        resolved.append(refs)

    order = _topological(raws, resolved, file)
    shapes: dict[str, Shape] = {INPUT: input_shape}
    layers: list[Layer] = []
    for i in order:
        raw = raws[i]
        in_shapes = tuple(shapes[r] for r in resolved[i])
        try:
            layer = build_layer(raw.full_name, raw.fields, tuple(resolved[i]), in_shapes,
                                line=raw.line)
        except InputError as exc:
            raise exc.located(file=file, line=raw.line, item=f"layer '{raw.full_name}'") from None
        shapes[layer.name] = layer.out_shape
        layers.append(layer)

    name = _text_field(data, "name", file) or default_name or Path(file).stem
    return Network(name=name, input_shape=input_shape, layers=tuple(layers),
                   source=_text_field(data, "source", file),
                   description=_text_field(data, "description", file))


def load_network_file(path: str | os.PathLike[str]) -> Network:
    data = load_yaml_file(path)
    return parse_network(data, file=str(path), default_name=Path(path).stem)


def load_network_text(text: str, *, file: str = "<string>") -> Network:
    return parse_network(load_yaml_text(text, file=file), file=file)


def reference_of(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The optional ``reference:`` mapping of a network file (published params/MACs)."""
    data = load_yaml_file(path)
    return dict(data.get("reference") or {}) if isinstance(data, dict) else {}
