"""Parameter substitution in block definitions.

A string value ``"$name"`` is replaced by the parameter's value (keeping its type); a string
containing ``${expression}`` has each expression evaluated and, when the whole string is one
expression, takes the expression's value. Expressions are a safe subset of Python: numbers,
strings, parameter names, arithmetic (+ - * / // % **), comparisons, ``and/or/not`` and
``a if cond else b`` and the functions ``min``, ``max``, ``int``, ``round``, ``ceil`` and
``floor`` (e.g. MobileNet's make_divisible: ``${max(8, int(c * w + 4) // 8 * 8)}``). Nothing
else is evaluated.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from cnnmem.errors import InputError
from cnnmem.limits import (
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_INT,
    MAX_EXPRESSION_STRING,
    quote,
)

_BIN = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMP = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "int": int, "round": round, "ceil": math.ceil, "floor": math.floor}
_WHOLE_NAME = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
_EMBEDDED = re.compile(r"\$\{([^}]*)\}")


def _magnitude_bits(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value == 0:
        return 0.0
    return math.log2(abs(value))


def _check_operands(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be huge, before computing it (``9**64**64``,
    ``'x' * 10**9``); limits in :mod:`cnnmem.limits`."""
    if isinstance(op, ast.Pow) and isinstance(right, (int, float)) and not isinstance(
            left, str) and right > 0 and _magnitude_bits(left) * right > 64:
        raise InputError(f"{quote(left)} ** {quote(right)} exceeds the limit of "
                         f"{MAX_EXPRESSION_INT:,} (cnnmem.limits)")
    if isinstance(op, ast.Mult):
        for text, count in ((left, right), (right, left)):
            if isinstance(text, str) and isinstance(count, int) and \
                    len(text) * count > MAX_EXPRESSION_STRING:
                raise InputError(f"a string of {len(text) * count:,} characters exceeds the "
                                 f"limit of {MAX_EXPRESSION_STRING:,}")


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > \
            MAX_EXPRESSION_INT:
        raise InputError(f"value {quote(value)} exceeds the limit of {MAX_EXPRESSION_INT:,} "
                         "(cnnmem.limits)")
    if isinstance(value, str) and len(value) > MAX_EXPRESSION_STRING:
        raise InputError(f"a string of {len(value):,} characters exceeds the limit of "
                         f"{MAX_EXPRESSION_STRING:,}")
    return value


def _eval(node: ast.AST, env: dict[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ("true", "True"):
            return True
        if node.id in ("false", "False"):
            return False
        if node.id not in env:
            raise InputError(f"unknown parameter '{node.id}'")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        left, right = _eval(node.left, env), _eval(node.right, env)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > 64:
            raise InputError(f"exponent {quote(right)} is too large (limit 64)")
        _check_operands(node.op, left, right)
        return _bounded(_BIN[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, env)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _eval(node.operand, env)
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP:
        return _CMP[type(node.ops[0])](_eval(node.left, env), _eval(node.comparators[0], env))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS and not node.keywords and node.args):
        args = [_eval(a, env) for a in node.args]
        if not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
            raise InputError(f"{node.func.id}() takes numbers, got {args!r}")
        return _FUNCTIONS[node.func.id](*args)
    if isinstance(node, ast.IfExp):
        return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)
    raise InputError(f"unsupported expression element {type(node).__name__}")


def evaluate(expression: str, env: dict[str, Any]) -> Any:
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise InputError(f"expression of {len(expression):,} characters exceeds the limit of "
                         f"{MAX_EXPRESSION_CHARS:,} (cnnmem.limits)")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise InputError(f"cannot parse expression {quote(expression)}") from None
    try:
        value = _eval(tree, env)
    except (ArithmeticError, TypeError, ValueError) as exc:  # 1/0, 2 + 'x', 10.0 ** 999
        raise InputError(f"cannot evaluate {quote(expression)}: {exc}") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value


def substitute(value: Any, env: dict[str, Any]) -> Any:
    """Recursively substitute parameters into a YAML value (see module docstring)."""
    if isinstance(value, str):
        whole = _WHOLE_NAME.match(value)
        if whole:
            name = whole.group(1)
            if name not in env:
                raise InputError(f"unknown parameter '{name}'")
            return env[name]
        matches = list(_EMBEDDED.finditer(value))
        if len(matches) == 1 and matches[0].span() == (0, len(value)):
            return evaluate(matches[0].group(1), env)
        if matches:
            return _EMBEDDED.sub(lambda m: str(evaluate(m.group(1), env)), value)
        return value
    if isinstance(value, list):
        items: Any = type(value)(substitute(v, env) for v in value)
        if hasattr(value, "line"):
            items.line = value.line
        return items
    if isinstance(value, dict):
        mapping: Any = type(value)((k, substitute(v, env)) for k, v in value.items())
        if hasattr(value, "line"):
            mapping.line = value.line
        return mapping
    return value
