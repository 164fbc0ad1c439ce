"""Whole-network lower bounds on the DRAM traffic of one training mini-batch (issue 18).

Proof and assumptions in ``docs/training_bound.md``; the summary:

Machine: an on-chip buffer of ``M`` bytes and a DRAM. Every operation reads its operands from the
buffer and writes its result into it; a *byte of traffic* is one byte loaded from DRAM into the
buffer or stored from the buffer into DRAM (reads and writes both count). The network input and
the weights start in DRAM; the weight gradients (accumulated over the mini-batch of ``N``
samples) must end in DRAM. Any granularity (tensors, tiles, elements) and any order of
operations, across samples too, is allowed, under (U) every element of a tensor is used by the
tensor's consumers, as the model counts them [reconstruction: a strided window that skips
elements is treated as reading them].

Per sample (element counts of the model's layers, bytes of the hardware's precisions):

* ``C``   compulsory: the network input (``N`` x), every weight once, every weight gradient once.
* ``S_a`` the *stash*: bytes of the layer outputs that backward reads, by the same rules as the
  MBS model (conv/FC/batchnorm/groupnorm/max-pool read their input, activation functions,
  dropout and softmax their output, LRN both, add/concat/avg-pool/flatten nothing), counted only
  where the reading backward operation is needed: a layer's input for its own weight gradient
  (layers with parameters), otherwise only if some layer with parameters lies upstream (its data
  gradient is needed). [The set of tensors a backward operation reads is our reconstruction of
  framework behaviour, shared with :mod:`cnnmem.model.mbs`; a schedule that keeps, e.g., a 1-bit
  ReLU mask instead of the output is outside the class.]
* ``S_i`` the network input's bytes when backward reads it (the same rules).
* ``W_b`` the conv/FC weight bytes the data gradient reads (layers with a parameter upstream).

Bound 1 (no recomputation, class R0: every forward value of a sample is computed once, and no
backward operation of sample n precedes the last forward operation of sample n, which tensor
granularity implies). At the instant T_n between sample n's forward and backward, the ``S_a +
S_i + W_b`` bytes it still needs all exist and at most ``M`` of them are on chip. An absent
activation byte was stored before T_n and is loaded after it (2 bytes of traffic); an absent
input byte is loaded again after T_n (1, beyond its compulsory load); an absent weight byte is
loaded again after T_n (1), but one weight reload may serve several samples. With ``E = S_a +
S_i + W_b - M``, minimising over which bytes are absent::

    Q >= C + min(W_b, E+) + N * min(S_i, (E - W_b)+) + 2 N * (E - W_b - S_i)+

Bound 2 (recomputation allowed, class R1: any schedule in which sample n's backward starts after
its forward ends; values may be computed any number of times). Only sources cannot be
recomputed: the same argument over ``S_i + W_b`` (``S_a = 0``).

Every cnnmem training strategy (layerwise, mbs-*, and tnpu and its baselines with
``-O elementwise=stream``) is in class R0: each runs every sample's forward before its backward
and stashes instead of recomputing, so its DRAM bytes must be at least bound 1 (checked by
tests/test_training_bound.py). The TNPU family's default ``elementwise=fused`` accounting gives
element-wise layers no traffic at all, their stash included, and can go below bound 1 (a model
simplification, xfail-tested); it stays above bound 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cnnmem.model.precision import Precision
from cnnmem.workload.network import Network

#: layer types whose backward reads their input (conv/FC are ``is_compute``)
NEEDS_INPUT = frozenset({"batchnorm", "groupnorm", "maxpool", "globalmaxpool", "lrn"})
#: layer types whose backward reads no forward tensor
NEEDS_NOTHING = frozenset({"add", "concat", "avgpool", "globalavgpool", "flatten"})


@dataclass(frozen=True)
class TrainingTerms:
    """Per-sample byte counts the bounds are made of (see the module docstring)."""

    input_bytes: float  # the network input of one sample
    weight_bytes: float  # every parameter, read once
    weight_gradient_bytes: float  # every parameter's gradient, written once
    stash_activation_bytes: float  # S_a
    stash_input_bytes: float  # S_i
    backward_weight_bytes: float  # W_b

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if self.stash_input_bytes > self.input_bytes:
            raise ValueError("stash_input_bytes cannot exceed input_bytes")
        if self.backward_weight_bytes > self.weight_bytes:
            raise ValueError("backward_weight_bytes cannot exceed weight_bytes")


def backward_needs(net: Network) -> list[list[int]]:
    """Tensors (layer index; ``len(net)`` = network input) each layer's needed backward reads.

    The MBS model's stash rules, restricted to backward operations that are needed: a layer with
    parameters needs its input for its weight gradient; any other read serves the data gradient,
    needed only when a layer with parameters lies upstream.
    """
    n = len(net)
    weighted = [lay.weight_elems > 0 for lay in net.layers]
    upstream = [False] * n  # some layer with parameters strictly upstream
    needs: list[list[int]] = []
    for i, layer in enumerate(net.layers):
        prods = net.producers[i]
        upstream[i] = any(p >= 0 and (weighted[p] or upstream[p]) for p in prods)
        ins = sorted({n if p < 0 else p for p in prods})
        if layer.type in NEEDS_NOTHING:
            need: list[int] = []
        elif layer.is_compute or layer.type in NEEDS_INPUT:
            need = list(ins) if (weighted[i] or upstream[i]) else []
            if layer.type == "lrn" and upstream[i]:
                need.append(i)
        else:  # activation functions, dropout (mask), softmax: their output
            need = [i] if upstream[i] else []
        needs.append(need)
    return needs


def dgrad_weight_layers(net: Network) -> list[int]:
    """Conv/FC layers whose data gradient is needed (a layer with parameters upstream)."""
    n = len(net)
    weighted = [lay.weight_elems > 0 for lay in net.layers]
    upstream = [False] * n
    out = []
    for i, layer in enumerate(net.layers):
        upstream[i] = any(p >= 0 and (weighted[p] or upstream[p]) for p in net.producers[i])
        if layer.is_compute and upstream[i]:
            out.append(i)
    return out


@lru_cache(maxsize=64)
def training_terms(net: Network, prec: Precision) -> TrainingTerms:
    """The per-sample terms of ``net`` at the given precisions."""
    n = len(net)
    needed = sorted({t for ts in backward_needs(net) for t in ts})
    out = net.out_elems.astype(float)
    stash_act = sum(out[t] for t in needed if t < n) * prec.activation
    stash_in = float(net.input_elems) * prec.activation if n in needed else 0.0
    w = net.weight_elems.astype(float)
    return TrainingTerms(
        input_bytes=float(net.input_elems) * prec.activation,
        weight_bytes=float(w.sum()) * prec.weight,
        weight_gradient_bytes=float(w.sum()) * prec.gradient,
        stash_activation_bytes=float(stash_act), stash_input_bytes=stash_in,
        backward_weight_bytes=float(sum(w[i] for i in dgrad_weight_layers(net))) * prec.weight)


def compulsory_bytes(terms: TrainingTerms, batch: np.ndarray | float) -> np.ndarray:
    """The input of every sample, every weight and every weight gradient, each moved once."""
    n = np.asarray(batch, float)
    return n * terms.input_bytes + terms.weight_bytes + terms.weight_gradient_bytes


def _excess_cost(terms: TrainingTerms, batch: np.ndarray, capacity: np.ndarray,
                 stash_activation_bytes: float) -> np.ndarray:
    """min over absent sets: weights once, input bytes once per sample, activations twice."""
    excess = (stash_activation_bytes + terms.stash_input_bytes + terms.backward_weight_bytes
              - capacity)
    wb, si = terms.backward_weight_bytes, terms.stash_input_bytes
    weights = np.clip(excess, 0.0, wb)
    inputs = np.clip(excess - wb, 0.0, si)
    acts = np.maximum(excess - wb - si, 0.0)
    return weights + batch * (inputs + 2.0 * acts)


def training_bound_bytes(terms: TrainingTerms, batch: np.ndarray | float,
                         capacity_bytes: np.ndarray | float, *, recompute: bool = False
                         ) -> np.ndarray:
    """Lower bound on one mini-batch's DRAM bytes, shape (len(batch), len(capacity_bytes)).

    ``recompute=False``: bound 1 (class R0, no recomputation); ``True``: bound 2 (class R1).
    """
    n = np.atleast_1d(np.asarray(batch, float))[:, None]
    m = np.atleast_1d(np.asarray(capacity_bytes, float))[None, :]
    if (n < 1).any() or (m < 0).any():
        raise ValueError("batch must be >= 1 and capacities >= 0")
    stash = 0.0 if recompute else terms.stash_activation_bytes
    return compulsory_bytes(terms, n) + _excess_cost(terms, n, m, stash)


def network_training_bound_bytes(net: Network, prec: Precision, batch: np.ndarray | float,
                                 capacity_bytes: np.ndarray | float, *, recompute: bool = False
                                 ) -> np.ndarray:
    """:func:`training_bound_bytes` of ``net``'s terms."""
    return training_bound_bytes(training_terms(net, prec), batch, capacity_bytes,
                                recompute=recompute)
