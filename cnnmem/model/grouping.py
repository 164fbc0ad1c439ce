"""Generic helpers for partitioning a topological layer order into consecutive groups.

A grouping of ``L`` layers is a list of cut positions: a group ends after each listed index and
the last group ends at ``L - 1``. Internally a grouping of many independent *problems* (e.g. one
per buffer capacity) is a ``path`` array of shape ``(L, P)``: ``path[e, p]`` is the first layer
of the group that ends at ``e`` in problem ``p``, or -1 when no group ends at ``e``.

:func:`consecutive_dp` is the O(L^2) dynamic program over cut points: ``T[e+1] = min over s of
T[s] + cost(s, e)``, with the cost of every group ``[s..e]`` supplied as an array over starts and
problems so that all problems (capacities, sub-batch sizes) are solved in one pass; the cost may
cover only the last k starts (groups of at most k layers: O(L k), as MBS's banded tables). The same
machinery serves MBS (:mod:`cnnmem.model.mbs`) and any other consecutive partition (OCCAM).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DPResult:
    """Optimal consecutive grouping per problem."""

    total: np.ndarray  # (P,) optimal summed cost (inf where infeasible)
    path: np.ndarray  # (L, P) group start for each group end, -1 elsewhere
    choice: np.ndarray  # (L, P) the cost function's candidate index of the group ending there


def consecutive_dp(n_items: int, group_cost: Callable[[int], tuple[np.ndarray, np.ndarray]],
                   n_problems: int) -> DPResult:
    """Minimize the summed cost over all partitions of ``n_items`` into consecutive groups.

    ``group_cost(e)`` returns ``(cost, choice)``, both of shape ``(n, n_problems)``: the
    cost of group ``[s..e]`` for the last ``n`` starts ``s = e - n + 1 .. e`` (``n = e + 1``:
    every start; fewer bound the group length, a banded DP) and problem, and an integer the
    caller wants back for the chosen group (e.g. the sub-batch candidate). Ties go to the
    smallest ``s`` (fewer, larger groups). Loops run over items only.
    """
    best = np.zeros((n_items + 1, n_problems))
    start = np.zeros((n_items, n_problems), dtype=np.int64)
    choice_at = np.zeros((n_items, n_problems), dtype=np.int64)
    cols = np.arange(n_problems)
    for e in range(n_items):
        cost, choice = group_cost(e)
        lo = e + 1 - cost.shape[0]
        tot = best[lo: e + 1] + cost
        s = np.argmin(tot, axis=0)
        best[e + 1] = tot[s, cols]
        start[e] = lo + s
        choice_at[e] = choice[s, cols]
    path = backtrack(start)
    return DPResult(best[n_items], path, np.where(path >= 0, choice_at, -1))


def backtrack(start: np.ndarray) -> np.ndarray:
    """From ``start[e, p]`` (best start of a group ending at e) to the path of the optimum."""
    n_items, n_problems = start.shape
    path = np.full((n_items, n_problems), -1, dtype=np.int64)
    cur = np.full(n_problems, n_items - 1, dtype=np.int64)
    cols = np.arange(n_problems)
    while (cur >= 0).any():
        live = cur >= 0
        s = start[np.maximum(cur, 0), cols]
        path[cur[live], cols[live]] = s[live]
        cur = np.where(live, s - 1, -1)
    return path


def path_from_cuts(cuts: tuple[int, ...] | list[int], n_items: int, n_problems: int = 1
                   ) -> np.ndarray:
    """The ``(L, P)`` path of one explicit grouping, repeated for every problem."""
    ends = sorted(set(int(c) for c in cuts) | {n_items - 1})
    path = np.full(n_items, -1, dtype=np.int64)
    s = 0
    for e in ends:
        path[e] = s
        s = e + 1
    return np.repeat(path[:, None], n_problems, axis=1)


def cut_mask(path: np.ndarray) -> np.ndarray:
    """(P, L - 1) booleans: problem p's grouping ends a group after layer i (the sweep's compact
    per-point record of a grouping; no loop over problems)."""
    return (path[:-1] >= 0).T


def cuts_of_path(path: np.ndarray) -> list[tuple[int, ...]]:
    """Cut tuples (group ends except the last layer) of each problem of a path."""
    n_items = path.shape[0]
    return [tuple(int(e) for e in np.flatnonzero(path[:, p] >= 0) if e != n_items - 1)
            for p in range(path.shape[1])]


def replicated_bottleneck_dp(group_time: np.ndarray, budget: int) -> np.ndarray:
    """:func:`replicated_bottleneck_dp_columns` of a dense ``group_time`` (L, L, P), the time of
    group ``[s..e]`` at ``[s, e]`` (inf where the group is not allowed; s > e is ignored)."""
    t = np.asarray(group_time, float)
    return replicated_bottleneck_dp_columns(t.shape[0], lambda e: t[: e + 1, e],
                                            budget, t.shape[2])


def replicated_bottleneck_dp_columns(n_items: int, group_time: Callable[[int], np.ndarray],
                                     budget: int, n_problems: int) -> np.ndarray:
    """Least bottleneck ``max_g t_g / r_g`` over all partitions into consecutive groups *and*
    all integer replica counts ``r_g >= 1`` with ``sum_g r_g <= budget``, for every problem.

    ``group_time(e)``: (n, P), the time of the groups ``[s..e]`` for the last ``n`` starts
    ``s = e - n + 1 .. e`` (inf where a group is not allowed; longer groups are not allowed).
    Returns (P,), inf where no partition has at most ``budget`` allowed groups. Exact:
    ``B[k, e+1] = min over s <= e, 1 <= r <= k of max(B[k - r, s], t[s, e] / r)``, ``B[k, 0] = 0``
    (at most k replicas), answer ``B[budget, L]``; the quotients ``t / r`` are the same floating
    point operations as ``t / r`` with ``r`` a float array. O(L n budget^2 P) work, O(L budget P)
    memory; loops run over the items and the budget only.
    """
    budget = max(int(budget), 0)
    best = np.full((budget + 1, n_items + 1, n_problems), np.inf)
    best[:, 0] = 0.0
    for e in range(n_items):
        t = np.asarray(group_time(e), float)
        lo = e + 1 - t.shape[0]
        for k in range(1, budget + 1):
            r = np.arange(1, k + 1, dtype=float)
            prev = best[k - np.arange(1, k + 1), lo: e + 1]  # (k, n, P)
            per = t[None, :, :] / r[:, None, None]
            best[k, e + 1] = np.maximum(prev, per).min(axis=(0, 1))
    return best[budget, n_items]


def replicas_needed(group_time: np.ndarray, bottleneck: np.ndarray, budget: int) -> np.ndarray:
    """Least integer ``r >= 1`` with ``t / r <= bottleneck`` for every entry of ``group_time``
    (..., P) against ``bottleneck`` (P,); ``budget + 1`` where more than ``budget`` would be
    needed or the time is not finite. Exact in floating point (the ceiling is corrected by one
    step either way, with the same ``t / r`` division as the comparison)."""
    t = np.asarray(group_time, float)
    b = np.broadcast_to(np.asarray(bottleneck, float), t.shape)
    over = budget + 1
    finite = np.isfinite(t)
    one = finite & ((t <= 0) | (b == np.inf))
    search = finite & ~one & np.isfinite(b) & (b > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bs = np.where(search, b, 1.0)
        ts = np.where(search, t, 1.0)
        r = np.maximum(np.ceil(np.minimum(ts / bs, over)), 1.0)
        r = np.where((r > 1) & (ts / np.maximum(r - 1, 1.0) <= bs), r - 1, r)
        r = np.where(ts / r > bs, r + 1, r)
    r = np.where(one, 1.0, np.where(search, r, over))
    return np.minimum(r, over).astype(np.int64)


def budgeted_dp(cost: np.ndarray, weight: np.ndarray, budget: int) -> DPResult:
    """:func:`budgeted_dp_columns` of dense ``cost`` and ``weight`` (L, L, P) over (first item
    s, last item e)."""
    c = np.asarray(cost, float)
    w = np.asarray(weight, np.int64)
    return budgeted_dp_columns(c.shape[0], lambda e: (c[: e + 1, e], w[: e + 1, e]), budget,
                               c.shape[2])


def budgeted_dp_columns(n_items: int,
                        group: Callable[[int], tuple[np.ndarray, np.ndarray]],
                        budget: int, n_problems: int) -> DPResult:
    """Least summed cost over partitions into consecutive groups whose summed integer weights
    stay within ``budget``, for every problem.

    ``group(e)`` returns ``(cost, weight)``, (n, P) each, of the groups ``[s..e]`` for the last
    ``n`` starts ``s = e - n + 1 .. e`` (longer groups are not allowed); a group is allowed
    when its cost is finite and ``1 <= weight <= budget``. ``D[k, e+1] = min over s of
    D[k - w[s, e], s] + cost[s, e]``, ``D[k, 0] = 0`` (weight at most k). Ties go to the
    smallest s. ``total`` is inf where no partition fits the budget. O(L n budget P) work,
    O(L budget P) memory; loops run over the items (and chunks of the budget) only, the budgets
    of one item are one array operation (no budget depends on another of the same item).
    ``choice`` holds each chosen group's weight.
    """
    budget = max(int(budget), 0)
    cols = np.arange(n_problems)
    best = np.full((budget + 1, n_items + 1, n_problems), np.inf)
    best[:, 0] = 0.0
    arg = np.zeros((budget + 1, n_items, n_problems), dtype=np.int32)
    arg_w = np.zeros((budget + 1, n_items, n_problems), dtype=np.int32)
    budgets = np.arange(1, budget + 1)
    for e in range(n_items):
        c, we = group(e)
        c = np.asarray(c, float)
        we = np.asarray(we, np.int64)
        lo = e + 1 - c.shape[0]
        starts = np.arange(lo, e + 1)[None, :, None]
        usable = (we >= 1) & np.isfinite(c)
        chunk = max(1, 2**20 // max(1, c.size))  # budgets per array operation
        for k0 in range(0, budget, chunk):
            kk = budgets[k0: k0 + chunk, None, None]  # (k, 1, 1)
            allowed = usable[None] & (we[None] <= kk)  # (k, n, P)
            rest = np.where(allowed, kk - we[None], 0)
            prev = best[rest, starts, cols[None, None, :]]
            tot = np.where(allowed, prev + c[None], np.inf)
            s = np.argmin(tot, axis=1)[:, None, :]  # (k, 1, P)
            rows = slice(k0 + 1, k0 + 1 + kk.shape[0])
            best[rows, e + 1] = np.take_along_axis(tot, s, axis=1)[:, 0]
            arg[rows, e] = lo + s[:, 0]
            arg_w[rows, e] = np.take_along_axis(np.broadcast_to(we, tot.shape), s, axis=1)[:, 0]
    total = best[budget, n_items]
    path = np.full((n_items, n_problems), -1, dtype=np.int64)
    choice = np.full((n_items, n_problems), -1, dtype=np.int64)
    cur = np.full(n_problems, n_items - 1)
    k: np.ndarray = np.full(n_problems, budget)
    live = np.isfinite(total)
    while live.any():
        e = np.maximum(cur, 0)
        s = arg[k, e, cols]
        path[cur[live], cols[live]] = s[live]
        ws = arg_w[k, e, cols]
        choice[cur[live], cols[live]] = ws[live]
        k = np.where(live, k - ws, k)
        cur = np.where(live, s - 1, -1)
        live = live & (cur >= 0)
    return DPResult(total, path, choice)


# ------------------------------------------------------------------------------------------
# Structural groupings from layer names


def _block_key(name: str) -> str:
    parts = name.split(".")
    if len(parts) >= 3 and parts[1].isdigit():
        return ".".join(parts[:2])  # a repeated block: layer1.0.conv1 -> layer1.0
    return parts[0]  # a module: Mixed_5b.branch1x1.conv -> Mixed_5b


def structural_cuts(names: list[str], policy: str) -> tuple[int, ...]:
    """Cuts of a named grouping policy over layer names in topological order.

    "layer": every layer alone; "all": one group; "block": one group per repeated block
    (``layer1.0``) or module (``Mixed_5b``); "stage": one group per top-level name
    (``layer1``). A group ends after each returned index.
    """
    n = len(names)
    if policy == "layer":
        return tuple(range(n - 1))
    if policy == "all":
        return ()
    if policy == "block":
        keys = [_block_key(s) for s in names]
    elif policy == "stage":
        keys = [s.split(".")[0] for s in names]
    else:
        raise ValueError(f"unknown grouping policy {policy!r}")
    return tuple(i for i in range(n - 1) if keys[i] != keys[i + 1])


def format_cuts(cuts: Any, n_layers: int | None = None) -> str:
    """Compact cut list: ``"3;7..9;12"`` (a group ends after each layer index; ranges with ..).

    The end of the network is implicit and dropped; ``""`` is one group of all layers. The
    text is what sweep results record and what ``-O cuts=...`` of `cnnmem schedule` accepts.
    """
    c = sorted({int(x) for x in cuts})
    if n_layers is not None:
        c = [x for x in c if x < n_layers - 1]
    parts = []
    i = 0
    while i < len(c):
        j = i
        while j + 1 < len(c) and c[j + 1] == c[j] + 1:
            j += 1
        parts.append(str(c[i]) if i == j else f"{c[i]}..{c[j]}")
        i = j + 1
    return ";".join(parts)


def parse_cuts(text: Any) -> tuple[int, ...]:
    """Inverse of :func:`format_cuts`; also takes ``3,7,12`` or a list. ValueError if malformed."""
    if isinstance(text, (list, tuple)):
        return tuple(int(v) for v in text)
    out: list[int] = []
    for part in str(text).replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        if ".." in part:
            a, b = part.split("..")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return tuple(out)



def check_cuts(value: Any, n_layers: int) -> tuple[int, ...]:
    """Cuts from ``-O cuts=3,7,12``, a sweep row's ``3;7..9;12`` or a list, validated: the one
    range and order check (each in 0..n_layers-2, strictly increasing); InputError otherwise."""
    from cnnmem.errors import InputError

    try:
        cuts = parse_cuts(value)
    except (TypeError, ValueError):
        raise InputError(f"cuts must be layer indices like 3,7,12 or 3;7..9, got {value!r}",
                         field="cuts") from None
    bad = [c for c in cuts if not 0 <= c < n_layers - 1]
    if bad:
        raise InputError(f"cut {bad[0]} outside 0..{n_layers - 2}", field="cuts")
    if list(cuts) != sorted(set(cuts)):
        raise InputError("cuts must be strictly increasing", field="cuts")
    return tuple(int(c) for c in cuts)
