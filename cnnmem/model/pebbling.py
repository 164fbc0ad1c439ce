"""Exhaustive search over all schedules of tiny training graphs (red-blue pebbling with sizes).

Validates the bounds of :mod:`cnnmem.model.training_bound` (issue 18). A tiny network is a chain
of layers (``conv`` with weights, ``act`` an activation function, ``maxpool``, ``avgpool``) with
sizes in bytes; its training graph over ``N`` samples has, per sample, the input ``x`` (in DRAM
at the start), the forward outputs ``a_i``, the loss gradient ``G_L = f(a_L)`` and the data
gradients ``G_{i-1} = dgrad_i(G_i, ...)`` where needed (a conv upstream), and per conv layer the
weights ``w_i`` (in DRAM at the start) and weight-gradient partial sums ``dW_i[S]`` over every
non-empty set ``S`` of samples: ``dW_i[{n}] = wgrad(G_i^n, a_{i-1}^n)``, ``dW_i[S+n] = dW_i[S]
+ wgrad(G_i^n, a_{i-1}^n)`` and ``dW_i[S+T] = dW_i[S] + dW_i[T]`` (accumulations in place: the
partial ``dW_i[S]`` is overwritten), so every accumulation order and grouping is searched. The
backward reads are the bound's stash rules: conv wgrad its input, conv dgrad its weights, act its
output, maxpool its input, avgpool nothing.

A state is (values in the buffer = red, values in DRAM = blue, values computed so far). Moves:
load (blue -> red, cost its size), store (red -> blue, cost its size), compute (its inputs red,
the result red, the buffer total within ``M`` after the move), delete (free). The goal: every
``dW_i[all samples]`` in DRAM. Dijkstra over states with bytes moved as the cost returns the
least traffic of any schedule. Without recomputation every value is computed at most once.
Dead values (no use left) are dropped at once; this never loses an optimal schedule.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from itertools import combinations

from cnnmem.model.training_bound import TrainingTerms

KINDS = ("conv", "act", "maxpool", "avgpool")


@dataclass(frozen=True)
class TinyLayer:
    kind: str
    out_bytes: int
    weight_bytes: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}")
        if self.out_bytes < 1 or self.weight_bytes < 0:
            raise ValueError("out_bytes must be >= 1 and weight_bytes >= 0")
        if (self.kind == "conv") != (self.weight_bytes > 0):
            raise ValueError("exactly the conv layers have weights (weight_bytes >= 1)")


@dataclass(frozen=True)
class TinyChain:
    input_bytes: int
    layers: tuple[TinyLayer, ...]
    batch: int = 1

    def __post_init__(self) -> None:
        if self.input_bytes < 1 or self.batch < 1 or not self.layers:
            raise ValueError("need input_bytes >= 1, batch >= 1 and at least one layer")
        if not any(lay.kind == "conv" for lay in self.layers):
            raise ValueError("need at least one conv layer (something to train)")

    def upstream_weighted(self, i: int) -> bool:
        """A conv strictly before layer i (0-based): its data gradient is needed."""
        return any(lay.kind == "conv" for lay in self.layers[:i])


def chain_terms(chain: TinyChain) -> TrainingTerms:
    """The bound's per-sample terms of a chain, derived from the chain's own backward reads."""
    def size(t: int) -> int:  # t = -1 is the input
        return chain.input_bytes if t < 0 else chain.layers[t].out_bytes

    needed: set[int] = set()
    wb = 0
    for i, lay in enumerate(chain.layers):
        up = chain.upstream_weighted(i)
        if lay.kind == "conv":
            needed.add(i - 1)
            wb += lay.weight_bytes if up else 0
        elif lay.kind == "maxpool" and up:
            needed.add(i - 1)
        elif lay.kind == "act" and up:
            needed.add(i)
    w = sum(lay.weight_bytes for lay in chain.layers)
    return TrainingTerms(
        input_bytes=chain.input_bytes, weight_bytes=w, weight_gradient_bytes=w,
        stash_activation_bytes=sum(size(t) for t in needed if t >= 0),
        stash_input_bytes=chain.input_bytes if -1 in needed else 0, backward_weight_bytes=wb)


@dataclass(frozen=True)
class Graph:
    names: tuple[str, ...]
    sizes: tuple[int, ...]
    recipe_of: tuple[tuple[tuple[int, int], ...], ...]  # per value: (inputs mask, consumed)
    sources: int  # mask
    goals: int  # mask
    forward: int  # mask of forward values a_i^n
    consumers: tuple[int, ...]  # per value: mask of values with a recipe reading it
    goal_descendants: tuple[int, ...]  # per value: mask of goals it can contribute to


def build_graph(chain: TinyChain) -> Graph:
    names: list[str] = []
    sizes: list[int] = []
    recipes: list[list[tuple[int, int]]] = []

    def add(name: str, size: int) -> int:
        names.append(name)
        sizes.append(size)
        recipes.append([])
        return len(names) - 1

    def mask(*vals: int) -> int:
        m = 0
        for v in vals:
            m |= 1 << v
        return m

    n_layers, batch = len(chain.layers), chain.batch
    weights = {i: add(f"w{i}", lay.weight_bytes) for i, lay in enumerate(chain.layers)
               if lay.kind == "conv"}
    sources = mask(*weights.values())
    forward = 0
    act: dict[tuple[int, int], int] = {}  # (sample, layer index or -1) -> value
    grad: dict[tuple[int, int], int] = {}  # (sample, i) -> gradient w.r.t. a_i
    for s in range(batch):
        act[s, -1] = add(f"x^{s}", chain.input_bytes)
        sources |= 1 << act[s, -1]
        for i, lay in enumerate(chain.layers):
            v = add(f"a{i}^{s}", lay.out_bytes)
            ins = [act[s, i - 1]] + ([weights[i]] if i in weights else [])
            recipes[v].append((mask(*ins), 0))
            act[s, i] = v
            forward |= 1 << v
        last = n_layers - 1
        grad[s, last] = add(f"G{last}^{s}", chain.layers[last].out_bytes)
        recipes[grad[s, last]].append((mask(act[s, last]), 0))
        for i in range(last, 0, -1):
            if not chain.upstream_weighted(i):
                break
            lay = chain.layers[i]
            reads = {"conv": [weights.get(i, -1)], "act": [act[s, i]],
                     "maxpool": [act[s, i - 1]], "avgpool": []}[lay.kind]
            v = add(f"G{i - 1}^{s}", chain.layers[i - 1].out_bytes)
            recipes[v].append((mask(grad[s, i], *reads), 0))
            grad[s, i - 1] = v
    goals = 0
    everyone = frozenset(range(batch))
    for i in weights:
        part = {}
        for k in range(1, batch + 1):
            for subset in combinations(range(batch), k):
                part[frozenset(subset)] = add(f"dW{i}{list(subset)}", chain.layers[i].weight_bytes)
        for samples, dw in part.items():
            for s in samples:  # the last sample added by a wgrad
                rest = samples - {s}
                operands = [grad[s, i], act[s, i - 1]]
                if rest:
                    recipes[dw].append((mask(part[rest], *operands), mask(part[rest])))
                else:
                    recipes[dw].append((mask(*operands), 0))
            for k in range(1, len(samples)):  # the sum of two disjoint partials
                for left in combinations(sorted(samples), k):
                    a, b = part[frozenset(left)], part[samples - frozenset(left)]
                    if a < b:
                        recipes[dw].append((mask(a, b), mask(a, b)))
        goals |= 1 << part[everyone]
    n = len(names)
    consumers = [0] * n
    for v in range(n):
        for ins_mask, _ in recipes[v]:
            for u in range(n):
                if ins_mask >> u & 1:
                    consumers[u] |= 1 << v
    desc = [0] * n
    for v in reversed(range(n)):  # every recipe reads values added before its result
        desc[v] = (1 << v) & goals
        c = consumers[v]
        for u in range(n):
            if c >> u & 1:
                desc[v] |= desc[u]
    return Graph(tuple(names), tuple(sizes), tuple(tuple(r) for r in recipes), sources,
                 goals, forward, tuple(consumers), tuple(desc))


def _bytes(mask: int, sizes: tuple[int, ...]) -> int:
    total, v = 0, 0
    while mask:
        if mask & 1:
            total += sizes[v]
        mask >>= 1
        v += 1
    return total


def min_capacity_bytes(g: Graph) -> int:
    """The buffer below which some value every schedule needs cannot be computed.

    Values with one recipe (forward values, gradients) are needed; a partial sum may have several
    recipes, so it is skipped (a necessary condition only: a larger buffer may still fail).
    """
    need = 0
    for v, recipes in enumerate(g.recipe_of):
        if len(recipes) == 1:
            ins, consumed = recipes[0]
            need = max(need, _bytes(ins & ~consumed, g.sizes) + g.sizes[v])
    return need


def optimal_traffic(chain: TinyChain, capacity_bytes: int, *, recompute: bool = False,
                    max_states: int = 2_000_000) -> int | None:
    """Least DRAM bytes over all schedules, or None when no schedule fits ``capacity_bytes``.

    Raises RuntimeError when more than ``max_states`` states are settled (graph too big).
    """
    g = build_graph(chain)
    n = len(g.sizes)
    sizes, m = g.sizes, capacity_bytes
    once = (1 << n) - 1 - g.sources if not recompute else 0  # values computed at most once

    def prune(red: int, blue: int, done: int) -> tuple[int, int]:
        dead = 0
        for v in range(n):
            useless = (g.goal_descendants[v] & ~blue) == 0 and not (g.goals >> v & 1)
            if not recompute and (g.consumers[v] & ~done) == 0 and not (g.goals >> v & 1):
                useless = True
            if useless:
                dead |= 1 << v
        return red & ~dead, blue & ~(dead & ~g.goals)

    if min_capacity_bytes(g) > m:
        return None
    start = prune(0, g.sources, 0)
    start_state = (start[0], start[1], 0)
    best = {start_state: 0}
    heap = [(0, start_state)]
    settled = 0
    while heap:
        cost, state = heapq.heappop(heap)
        if best.get(state, -1) != cost:
            continue
        red, blue, done = state
        if blue & g.goals == g.goals:
            return cost
        settled += 1
        if settled > max_states:
            raise RuntimeError(f"more than {max_states} states: graph too big for the search")
        used = _bytes(red, sizes)
        moves: list[tuple[int, int, int, int]] = []
        for v in range(n):
            bit = 1 << v
            if red & bit:
                if not blue & bit:
                    moves.append((sizes[v], red, blue | bit, done))
                if recompute or blue & bit:  # without recomputation a lost value is a dead end
                    moves.append((0, red & ~bit, blue, done))
                continue
            if blue & bit and used + sizes[v] <= m:
                moves.append((sizes[v], red | bit, blue, done))
            if once & bit and done & bit:
                continue
            for ins, consumed in g.recipe_of[v]:
                if ins & red != ins:
                    continue
                new_red = (red & ~consumed) | bit
                if used - _bytes(consumed, sizes) + sizes[v] <= m:
                    moves.append((0, new_red, blue, done if recompute else done | bit))
        for dc, r, b, d in moves:
            r, b = prune(r, b, d)
            nxt = (r, b, d)
            c = cost + dc
            if c < best.get(nxt, c + 1):
                best[nxt] = c
                heapq.heappush(heap, (c, nxt))
    return None
