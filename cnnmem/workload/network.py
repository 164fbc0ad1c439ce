"""A network: a DAG of validated layers in topological order, with per-layer count arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from cnnmem.workload.layers import Layer, Shape

INPUT = "input"  #: the name by which layers refer to the network's input


@dataclass(frozen=True)
class Network:
    """An immutable network. ``layers`` are in a topological order (the order cuts refer to)."""

    name: str
    input_shape: Shape
    layers: tuple[Layer, ...]
    source: str | None = None
    description: str | None = None
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.clear()
        self._index.update({layer.name: i for i, layer in enumerate(self.layers)})

    def __hash__(self) -> int:
        # hashed often (cache keys); the layers never change, so hash them once
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.name, self.input_shape, self.layers, self.source,
                           self.description))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __len__(self) -> int:
        return len(self.layers)

    def index(self, name: str) -> int:
        return self._index[name]

    def layer(self, name: str) -> Layer:
        return self.layers[self._index[name]]

    @property
    def input_elems(self) -> int:
        c, h, w = self.input_shape
        return c * h * w

    @cached_property
    def consumers(self) -> tuple[tuple[int, ...], ...]:
        """For each layer index, the indices of layers that read its output."""
        out: list[list[int]] = [[] for _ in self.layers]
        for j, layer in enumerate(self.layers):
            for src in layer.inputs:
                if src != INPUT:
                    out[self._index[src]].append(j)
        return tuple(tuple(c) for c in out)

    @cached_property
    def producers(self) -> tuple[tuple[int, ...], ...]:
        """For each layer index, the indices of its input layers (-1 = the network input)."""
        return tuple(
            tuple(-1 if s == INPUT else self._index[s] for s in layer.inputs)
            for layer in self.layers
        )

    @cached_property
    def outputs(self) -> tuple[int, ...]:
        """Indices of layers whose output nobody consumes (the network's outputs)."""
        return tuple(i for i, c in enumerate(self.consumers) if not c)

    # Per-layer arrays (per sample, elements), in layer order --------------------------------
    @cached_property
    def out_elems(self) -> np.ndarray:
        return np.array([lay.out_elems for lay in self.layers], dtype=np.int64)

    @cached_property
    def in_elems(self) -> np.ndarray:
        return np.array([lay.in_elems for lay in self.layers], dtype=np.int64)

    @cached_property
    def weight_elems(self) -> np.ndarray:
        return np.array([lay.weight_elems for lay in self.layers], dtype=np.int64)

    @cached_property
    def macs(self) -> np.ndarray:
        return np.array([lay.macs for lay in self.layers], dtype=np.int64)

    @property
    def total_params(self) -> int:
        return int(self.weight_elems.sum())

    @property
    def total_macs(self) -> int:
        return int(self.macs.sum())

    def subnetwork(self, names: list[str]) -> Network:
        """The network restricted to the named layers (kept in this network's order)."""
        keep = set(names)
        return Network(
            name=self.name,
            input_shape=self.input_shape,
            layers=tuple(lay for lay in self.layers if lay.name in keep),
            source=self.source,
            description=self.description,
        )
