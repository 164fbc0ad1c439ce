"""Off-chip traffic of the layers that are not conv/FC: they stream their tensors.

Per sample, per pass, in elements of each tensor kind, as frameworks run them layer by layer
(every tensor makes a DRAM round trip) [reconstruction of common framework behaviour]:

=================  =============================  ==========================================
type               forward                        backward (dgrad; wgrad of norm is fused)
=================  =============================  ==========================================
activation         read X, write Y                read dY and the stashed Y, write dX
maxpool            read X, write Y                read dY and the stashed X, write dX
avgpool / global   read X, write Y                read dY, write dX
batchnorm          read X twice* , write Y        read dY and X twice*, write dX
groupnorm          read X twice**, write Y        read dY and X twice**, write dX
lrn                read X, write Y                read dY, X and Y, write dX
add                read all inputs, write Y       nothing: dY is passed to every input
concat             nothing****                    nothing: dX are slices of dY
flatten            nothing (a view)               nothing
dropout            read X, write Y and mask***    read dY and mask***, write dX
softmax            read X, write Y                read dY and Y, write dX
mul (broadcast)    read all inputs, write Y       read dY and the stashed inputs, write dX
resize / shuffle   read X, write Y                read dY, write dX
slice              nothing (a view)               nothing: dX is dY placed in a slice
=================  =============================  ==========================================

Each row is the type's :class:`~cnnmem.workload.layers.Behaviour` record (what backward stashes,
statistics re-reads, whether backward streams, folded at inference); this module reads only the
records, never type names.

\\* batchnorm needs whole-batch statistics: the second read is saved when N x |X| fits in the
buffer. \\** groupnorm statistics are per sample: saved when one sample's |X| fits.
\\*** the dropout mask is counted as one activation-sized tensor (a conservative choice).
\\**** concat's output is the union of its inputs' slices: each producer writes its output
straight into its slice of the concatenated tensor (as memory-efficient frameworks and
compilers place it), in training as in inference, and the same rule holds at MBS and
fusion/OCCAM group boundaries (issue #12 item 7). A concat that reads the network input
itself (data no layer has written) copies it: read all inputs, write Y.

Inference (forward only) runs as inference accelerators do [reconstruction]: activation
functions are applied on the fly in the producer's output path, batchnorm is folded into the
preceding convolution's weights (running statistics), dropout is the identity, flatten a view,
softmax a negligible tail, concat inputs are written straight into their slices of the
concatenated tensor, a slice is a view and a channel shuffle is its consumer's read order: none
of these costs DRAM traffic when its inputs are produced by layers (one that reads the network
input itself streams it). Pooling, add, mul, resize, LRN and groupnorm (whose statistics are
computed at run time) still stream their tensors. [Reconstruction for the newer types: a slice
is a view in training too; a channel shuffle is a copy in training, as frameworks run it.]
This matches papers.md's inference base case (every conv/FC layer reads its input and filters
and writes its output).

A tensor read by k > 1 consumers receives k gradients in backward: the producer accumulates
them, (k - 1) x (read 2, write 1) gradient tensors, charged to the producer's dgrad.
"""

from __future__ import annotations

import numpy as np

from cnnmem.model.precision import Precision
from cnnmem.workload.layers import TYPES, Layer, behaviour_of
from cnnmem.workload.network import INPUT, Network

#: layer types that cost no DRAM traffic in inference (fused into their producer or consumer),
#: read from the behaviour records of :mod:`cnnmem.workload.layers`
FOLDED_AT_INFERENCE = frozenset(t for t in TYPES if behaviour_of(t).folded_at_inference)


def _stash_elems(stash: str, x: float, y: float) -> float:
    """Elements backward reads back from forward (inputs x, output y)."""
    return {"none": 0.0, "input": x, "output": y, "input+output": x + y, "mask": y}[stash]


def free_at_inference(layer: Layer, unwritten_input: bool, network_output: bool) -> bool:
    """Whether a layer moves no DRAM data in an inference forward pass.

    A view (slice, flatten) is free: its consumer reads the underlying tensor. A layer folded at
    inference (activation, batchnorm, dropout, concat as the union of its inputs' slices) is
    free when it can be applied as its producers write their outputs. Neither holds for data no
    layer has written (``unwritten_input``: the network input, or a free layer's view of it): a
    folded layer on it, or a view of it that is a network output, reads and writes it."""
    b = layer.behaviour
    if b.role == "view":
        return not (unwritten_input and network_output)
    return b.folded_at_inference and not unwritten_input


def unwritten_inputs(net: Network, training: bool = False) -> tuple[bool, ...]:
    """Per layer: whether some input is data no layer has written (the network input, or the
    output of a layer that moves no data, in that mode, and reads such data)."""
    reached: list[bool] = []
    unwritten_out: list[bool] = []
    outputs = set(net.outputs)
    for i, layer in enumerate(net.layers):
        r = any(p < 0 or unwritten_out[p] for p in net.producers[i])
        reached.append(r)
        unwritten_out.append(r and not layer.is_compute
                             and moves_no_data(layer, r, i in outputs, training))
    return tuple(reached)


def moves_no_data(layer: Layer, unwritten_input: bool, network_output: bool,
                  training: bool) -> bool:
    """Whether a non-compute layer's forward pass moves no DRAM data: at inference
    :func:`free_at_inference`; in training a view, or a concat of data layers have written."""
    if not training:
        return free_at_inference(layer, unwritten_input, network_output)
    b = layer.behaviour
    return b.role == "view" or (b.union_of_inputs and not unwritten_input)


def streaming_bytes(layer: Layer, pass_name: str, batch: np.ndarray, capacity_bytes: np.ndarray,
                    precision: Precision, *, training: bool = True, consumers: int = 1,
                    unwritten_input: bool | None = None, network_output: bool = False
                    ) -> np.ndarray:
    """DRAM bytes of a non-compute layer's pass, shape (len(batch), len(capacity)).

    ``unwritten_input`` / ``network_output`` (inference): :func:`unwritten_inputs` and whether
    the layer is a network output; by default only a direct read of the network input counts
    as unwritten."""
    n = np.atleast_1d(np.asarray(batch, float))[:, None]
    m = np.atleast_1d(np.asarray(capacity_bytes, float))[None, :]
    ea, eg = precision.activation, precision.gradient
    x = float(layer.in_elems)
    y = float(layer.out_elems)
    b = layer.behaviour
    zero = np.zeros((n.shape[0], m.shape[1]))

    def rereads(tensor_elems: float, e: float, whole_batch: bool) -> np.ndarray:
        size = tensor_elems * e * (n if whole_batch else 1.0)
        return np.where(size > m, 2.0, 1.0)

    fork = 0.0
    if pass_name == "dgrad" and consumers > 1:
        fork = (consumers - 1) * 3.0 * y * eg
    if layer.is_compute:
        return zero + n * fork
    if pass_name == "forward":
        if unwritten_input is None:
            unwritten_input = INPUT in layer.inputs
        if moves_no_data(layer, unwritten_input, network_output, training):
            return zero
        if b.statistics is not None and training:
            reads = rereads(x, ea, b.statistics == "batch") * x * ea
            return zero + n * (reads + y * ea)
        extra = y * ea if b.stash == "mask" else 0.0
        return zero + n * (x * ea + y * ea + extra)
    if pass_name == "wgrad":
        return zero
    if pass_name != "dgrad":
        raise ValueError(f"unknown pass {pass_name!r}")
    if not b.dgrad_streams:
        return zero + n * fork
    if b.statistics is not None:
        k = rereads(x, ea, b.statistics == "batch")
        return zero + n * (k * (y * eg + x * ea) + x * eg + fork)
    stash = _stash_elems(b.stash, x, y) * ea
    return zero + n * (y * eg + stash + x * eg + fork)


def streaming_capacity_steps(layer: Layer, batch: int, precision: Precision) -> np.ndarray:
    """Capacities at which :func:`streaming_bytes` of ``layer`` (any pass, any gradient
    precision) can change: the sizes its ``rereads`` compares with the buffer (a statistics
    layer's input, per sample or over the batch). Between two steps the traffic is constant."""
    if layer.behaviour.statistics is None:
        return np.zeros(0)
    x = float(layer.in_elems) * precision.activation
    return np.unique(np.array([x, x * float(batch)]))


def streaming_elementwise_ops(layer: Layer, pass_name: str) -> int:
    """Vector operations per sample of a non-compute layer (one per output element touched)."""
    b = layer.behaviour
    if pass_name == "wgrad":
        return 0
    if pass_name == "forward":
        return b.forward_ops * layer.out_elems
    return b.dgrad_ops * layer.in_elems if b.dgrad_streams else 0
