"""Bytes per element of each tensor kind (activation, weight, gradient)."""

from __future__ import annotations

from dataclasses import dataclass

from cnnmem.hardware import Hardware
from cnnmem.model.gconv import ACT, GRAD, WGT


@dataclass(frozen=True)
class Precision:
    activation: float = 2.0
    weight: float = 2.0
    gradient: float = 2.0

    def __post_init__(self) -> None:
        for k in (self.activation, self.weight, self.gradient):
            if not k > 0:
                raise ValueError("bytes per element must be positive")

    @classmethod
    def of(cls, hw: Hardware) -> Precision:
        return cls(hw.bytes_per_activation, hw.bytes_per_weight, hw.bytes_per_gradient)

    @classmethod
    def uniform(cls, nbytes: float) -> Precision:
        return cls(nbytes, nbytes, nbytes)

    def bytes_of(self, kind: str) -> float:
        return {ACT: self.activation, WGT: self.weight, GRAD: self.gradient}[kind]
