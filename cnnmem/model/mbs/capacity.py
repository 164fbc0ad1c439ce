"""The baseline fallback of a sweep's whole capacity axis, built once and shared by its chunks.

Part of :mod:`cnnmem.model.mbs`. The per-layer fallback (:func:`layer_fallback`) costs a Python
loop over layers and a tiling search per layer-pass, whatever the number of capacities; a sweep
evaluating its capacities in chunks would pay that once per chunk. As a function of the buffer
capacity, every fallback value is a step function: it changes only where the best tile of a
layer-pass changes (the tiling staircase, :attr:`DataflowResult.step_need_bytes`) or where a
statistics layer's input starts to fit (:func:`streaming_capacity_steps`), and it is constant
from one step up to the next. So for a capacity domain (the sweep task's capacities, set by
:func:`capacity_domain`) the fallback is evaluated once, at one representative capacity per
step the domain reaches, and each chunk only selects its columns: the same numbers as a direct
build (tested), for any chunking.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import numpy as np

from cnnmem.hardware import Hardware
from cnnmem.model.dataflow import best_tiling
from cnnmem.model.gconv import INFERENCE_PASSES, PASSES, layer_gconvs
from cnnmem.model.mbs.fallback import LayerFallback, layer_fallback
from cnnmem.model.precision import Precision
from cnnmem.model.streaming import streaming_capacity_steps
from cnnmem.workload.network import Network

K = TypeVar("K")

#: at most this many distinct capacities: the fallback is evaluated at each of them directly
#: (no step search); above, at one capacity per step the domain reaches
DIRECT_CAPACITIES = 1024


@dataclass(frozen=True, eq=False)
class CapacityDomain:
    """The sorted distinct capacities a sweep task evaluates (hashed by value)."""

    capacity_bytes: np.ndarray
    key: str

    @staticmethod
    def of(capacity_bytes: np.ndarray) -> CapacityDomain:
        caps = np.unique(np.asarray(capacity_bytes, dtype=float))
        return CapacityDomain(caps, hashlib.sha256(caps.tobytes()).hexdigest())

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CapacityDomain) and other.key == self.key


_DOMAIN: ContextVar[CapacityDomain | None] = ContextVar("cnnmem_capacity_domain", default=None)


@contextlib.contextmanager
def capacity_domain(capacity_bytes: np.ndarray | CapacityDomain) -> Iterator[CapacityDomain]:
    """Within the block, models built for capacities of ``capacity_bytes`` share one fallback
    table (the sweep engine sets it around each task's chunks; it passes the task's
    :class:`CapacityDomain`, made once)."""
    domain = (capacity_bytes if isinstance(capacity_bytes, CapacityDomain)
              else CapacityDomain.of(capacity_bytes))
    token = _DOMAIN.set(domain)
    try:
        yield _DOMAIN.get()  # type: ignore[misc]
    finally:
        _DOMAIN.reset(token)


@lru_cache(maxsize=8)
def fallback_capacity_steps(net: Network, hw: Hardware, batch: int, training: bool
                            ) -> np.ndarray:
    """Sorted capacities at which some value of :func:`layer_fallback` can change."""
    return join_steps([_steps_of_layers(net, hw, batch, training, range(len(net.layers)))])


def layer_share(net: Network, part: int, parts: int) -> tuple[int, ...]:
    """The layers of share ``part`` of ``parts`` (ascending): the conv/FC layer shapes dealt
    out in turn in order of first appearance, every layer of a shape in its shape's share (a
    shape's tiling search is made once per share), the other layers in turn."""
    return _layer_shares(net, parts)[part]


@lru_cache(maxsize=8)
def _layer_shares(net: Network, parts: int) -> tuple[tuple[int, ...], ...]:
    share_of: dict[object, int] = {}
    out: list[list[int]] = [[] for _ in range(parts)]
    others = 0
    for i, layer in enumerate(net.layers):  # a loop over layers
        if layer.is_compute:
            shape = tuple(dataclasses.replace(g, layer="", layer_index=0)
                          for g in layer_gconvs(layer, i, PASSES))
            k = share_of.setdefault(shape, len(share_of) % parts)
        else:
            k, others = others % parts, others + 1
        out[k].append(i)
    return tuple(tuple(s) for s in out)


def capacity_steps_part(key: TableKey, part: int, parts: int) -> np.ndarray:
    """The capacity steps of the layers of share ``part`` of ``parts`` (:func:`layer_share`;
    processes of a parallel sweep build the shares side by side, :func:`join_steps` unites
    them)."""
    return _steps_of_layers(key.net, key.hw, key.batch, key.training,
                            layer_share(key.net, part, parts))


def _steps_of_layers(net: Network, hw: Hardware, batch: int, training: bool,
                     layers: Sequence[int]) -> np.ndarray:
    prec = Precision.of(hw)
    passes = PASSES if training else INFERENCE_PASSES
    steps = [np.zeros(0)]
    seen = set()
    for i in layers:  # a loop over layers
        layer = net.layers[i]
        steps.append(streaming_capacity_steps(layer, batch, prec))
        if not layer.is_compute:
            continue
        for g in layer_gconvs(layer, i, passes):
            key = dataclasses.replace(g, layer="", layer_index=0)
            if key not in seen:
                seen.add(key)
                steps.append(best_tiling(g, np.array([batch]), np.zeros(1), prec)
                             .step_need_bytes)
    return np.concatenate(steps)


def join_steps(parts: list[np.ndarray]) -> np.ndarray:
    """The sorted distinct steps of all parts (the same for any split of the layers)."""
    return np.unique(np.concatenate(parts))


@dataclass(frozen=True)
class FallbackTable:
    """The fallback at representative capacities, and the column each domain capacity uses."""

    domain_bytes: np.ndarray  # (D,) sorted distinct
    column: np.ndarray  # (D,) column of ``fallback`` for each domain capacity
    fallback: LayerFallback  # (L, R) arrays

    def select(self, capacity_bytes: np.ndarray) -> LayerFallback | None:
        """The fallback at ``capacity_bytes`` (L, C), or None if one is outside the domain."""
        caps = np.asarray(capacity_bytes, dtype=float)
        pos = np.minimum(np.searchsorted(self.domain_bytes, caps), self.domain_bytes.size - 1)
        if not np.array_equal(self.domain_bytes[pos], caps):
            return None
        cols = self.column[pos]
        fb = self.fallback
        return LayerFallback(SelectedColumns(fb.cells, cols), SelectedColumns(fb.fields, cols))


class SelectedColumns(Mapping[K, np.ndarray]):
    """``{k: v[:, columns]}`` of a mapping of (L, R) arrays, each array selected when it is
    first read (a sweep chunk's hot path reads a few of a fallback's arrays)."""

    def __init__(self, full: Mapping[K, np.ndarray], columns: np.ndarray) -> None:
        self._full = full
        self._columns = columns
        self._selected: dict[K, np.ndarray] = {}

    def __getitem__(self, key: K) -> np.ndarray:
        v = self._selected.get(key)
        if v is None:
            v = self._selected[key] = self._full[key][:, self._columns]
        return v

    def __iter__(self) -> Iterator[K]:
        return iter(self._full)

    def __len__(self) -> int:
        return len(self._full)


@dataclass(frozen=True)
class TableKey:
    """What a fallback table is of (hashable: the domain hashes by value)."""

    net: Network
    hw: Hardware
    batch: int
    training: bool
    domain: CapacityDomain


#: tables kept per process: the engine runs a (network, hardware point)'s tasks one after the
#: other, so two cover a sweep; each table is up to (layers x steps reached x 20) float64
TABLES_KEPT = 2
_TABLES: OrderedDict[TableKey, FallbackTable] = OrderedDict()


def fallback_table(net: Network, hw: Hardware, batch: int, training: bool,
                   domain: CapacityDomain) -> FallbackTable:
    """One :func:`layer_fallback` call for the whole domain (cached per task setup; a parallel
    sweep builds it in parts, :func:`table_part`, and installs it, :func:`install_table`)."""
    key = TableKey(net, hw, int(batch), bool(training), domain)
    table = _TABLES.get(key)
    if table is None:
        steps = (fallback_capacity_steps(net, hw, batch, training) if needs_steps(domain)
                 else None)
        rep, column = representatives(domain, steps)
        table = FallbackTable(domain.capacity_bytes, column,
                              layer_fallback(net, hw, batch, rep, training))
        _keep(key, table)
    return table


def _keep(key: TableKey, table: FallbackTable) -> None:
    _TABLES[key] = table
    _TABLES.move_to_end(key)
    while len(_TABLES) > TABLES_KEPT:
        _TABLES.popitem(last=False)


def table_cached(key: TableKey) -> bool:
    """Whether this process holds the table of ``key``."""
    return key in _TABLES


def needs_steps(domain: CapacityDomain) -> bool:
    """Whether the domain's table is evaluated at one capacity per step (else directly)."""
    return domain.capacity_bytes.size > DIRECT_CAPACITIES


def representatives(domain: CapacityDomain, steps: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The capacities the table is evaluated at, and the column each domain capacity uses
    (``steps``: :func:`fallback_capacity_steps`, None when the domain is evaluated directly)."""
    caps = domain.capacity_bytes
    if steps is None:
        return caps, np.arange(caps.size)
    k = np.searchsorted(steps, caps, side="right") - 1
    # below the first step every capacity gives the same values: the smallest one stands in
    start = np.where(k >= 0, steps[np.maximum(k, 0)], caps[0])
    rep, column = np.unique(start, return_inverse=True)
    return rep, column.reshape(-1)


def table_part(key: TableKey, steps: np.ndarray | None, part: int, parts: int
               ) -> LayerFallback:
    """The table's rows of the layers of share ``part`` of ``parts`` (:func:`layer_share`;
    every row is computed on its own: the parts joined equal the whole table, bit for bit;
    tested)."""
    rep, _ = representatives(key.domain, steps)
    return layer_fallback(key.net, key.hw, key.batch, rep, key.training,
                          layers=layer_share(key.net, part, parts))


def install_table(key: TableKey, steps: np.ndarray | None, fallback: LayerFallback) -> None:
    """Keep ``fallback`` (every layer's rows, e.g. joined from :func:`table_part`'s) as this
    process's table of ``key``."""
    _, column = representatives(key.domain, steps)
    _keep(key, FallbackTable(key.domain.capacity_bytes, column, fallback))


def domain_fallback(net: Network, hw: Hardware, batch: int, training: bool,
                    capacity_bytes: np.ndarray) -> LayerFallback | None:
    """The fallback at ``capacity_bytes`` from the active domain's table (None: no domain,
    or a capacity outside it)."""
    domain = _DOMAIN.get()
    if domain is None or domain.capacity_bytes.size == 0:
        return None
    return fallback_table(net, hw, batch, training, domain).select(capacity_bytes)
