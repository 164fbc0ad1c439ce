"""Layer types: their fields, validation and output-shape inference.

A :class:`Layer` is an immutable value: its name, type, inputs, the shape of every input and of
its output (channels, height, width per sample), and the per-sample counts every cost model uses:
``weight_elems`` (parameters), ``macs`` (multiply-accumulates of conv and FC layers; zero for all
other layers, as torchvision's reference counts), and window geometry (kernel, stride, padding,
dilation, groups) for conv and pooling layers.

Every type also has a :class:`Behaviour` record (what backward keeps from forward, whether it is
folded in inference, its role: compute / window / element-wise / join / view, its element-wise
operation counts). The cost modules read these records, never lists of type names; a type
cannot be declared without one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from cnnmem.errors import InputError

Shape = tuple[int, int, int]  # (channels, height, width) of one sample

#: Largest per-sample element, parameter or MAC count of one layer; keeps totals inside int64.
MAX_COUNT = 10**15

#: Layer families. Every type belongs to one; cost models dispatch on the family.
CONV, FC, POOL, NORM, ELTWISE, ADD, CONCAT, RESHAPE = (
    "conv",
    "fc",
    "pool",
    "norm",
    "eltwise",
    "add",
    "concat",
    "reshape",
)


@dataclass(frozen=True)
class Behaviour:
    """What the cost modules need to know about a layer type, one record per type.

    ``role``: "compute" (conv/FC, tiled by the cost core), "window" (pooling), "elementwise",
    "join" (several inputs combined element-wise or concatenated) or "view" (no data moved).
    ``stash``: what backward needs kept from forward: "none", "input" (all inputs), "output",
    "input+output" or "mask" (an output-sized mask, written in forward as an extra tensor).
    ``folded_at_inference``: costs no DRAM traffic in inference when its inputs are produced by
    layers (fused into the producer or the consumer). ``statistics``: "batch" / "sample" for
    norms that read their input twice when it does not fit ("batch": the whole batch's input).
    ``forward_ops`` / ``dgrad_ops``: vector operations per output (forward) or per input (dgrad)
    element; ``dgrad_streams`` False: backward only passes or slices dY (no traffic of its own).
    ``transposed``: a transposed convolution (forward = a convolution's data-gradient pass).
    ``union_of_inputs``: the output is its inputs' slices side by side (concat), written in place
    by the producers, in training as in inference: no traffic and no work of its own unless it
    reads data no layer has written (issue #12 item 7: one concat rule for every strategy).
    """

    role: str
    stash: str
    folded_at_inference: bool = False
    statistics: str | None = None
    forward_ops: int = 1
    dgrad_ops: int = 1
    dgrad_streams: bool = True
    transposed: bool = False  # a compute layer whose forward pass is a conv's dgrad
    union_of_inputs: bool = False  # concat: producers write their slices of the output

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")
        if self.stash not in STASHES:
            raise ValueError(f"unknown stash {self.stash!r}")
        if self.statistics not in (None, "batch", "sample"):
            raise ValueError(f"unknown statistics {self.statistics!r}")


ROLES = ("compute", "window", "elementwise", "join", "view")
STASHES = ("none", "input", "output", "input+output", "mask")


@dataclass(frozen=True)
class Layer:
    """One validated layer with inferred shapes (all sizes are per sample, in elements)."""

    name: str
    type: str
    family: str
    inputs: tuple[str, ...]
    in_shapes: tuple[Shape, ...]
    out_shape: Shape
    weight_elems: int = 0
    macs: int = 0
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)  # top, left
    padding_end: tuple[int, int] | None = None  # bottom, right when they differ from top, left
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: bool = False
    source_line: int | None = None

    @property
    def in_elems(self) -> int:
        """Elements of all inputs of one sample."""
        return sum(c * h * w for c, h, w in self.in_shapes)

    @property
    def out_elems(self) -> int:
        c, h, w = self.out_shape
        return c * h * w

    @property
    def in_channels(self) -> int:
        return self.in_shapes[0][0]

    @property
    def out_channels(self) -> int:
        return self.out_shape[0]

    @property
    def is_compute(self) -> bool:
        """Conv and FC layers: the ones with MACs, tiled by the per-layer cost core."""
        return self.family in (CONV, FC)

    @property
    def behaviour(self) -> Behaviour:
        """The type's behaviour record (see :class:`Behaviour`)."""
        return behaviour_of(self.type)


# --------------------------------------------------------------------------------------------
# field parsing helpers


def _pair(value: Any, field: str, *, minimum: int = 1) -> tuple[int, int]:
    if isinstance(value, bool):
        raise InputError(f"expected an integer or a pair of integers, got {value!r}", field=field)
    pair = (value, value) if isinstance(value, int) else value
    if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in pair
    ):
        a, b = int(pair[0]), int(pair[1])
        if a < minimum or b < minimum:
            raise InputError(f"must be >= {minimum}, got {value!r}", field=field)
        return a, b
    raise InputError(f"expected an integer or a pair of integers, got {value!r}", field=field)


def _int(value: Any, field: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"expected an integer, got {value!r}", field=field)
    if value < minimum:
        raise InputError(f"must be >= {minimum}, got {value}", field=field)
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"expected true or false, got {value!r}", field=field)
    return value


def _padding(value: Any, field: str = "padding") -> tuple[tuple[int, int], tuple[int, int]]:
    """(top, left), (bottom, right) from an integer, [h, w] or [top, left, bottom, right]."""
    if isinstance(value, (list, tuple)) and len(value) == 4:
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
            raise InputError(f"expected four integers >= 0 [top, left, bottom, right], got "
                             f"{list(value)!r}", field=field)
        return (int(value[0]), int(value[1])), (int(value[2]), int(value[3]))
    p = _pair(value, field, minimum=0)
    return p, p


def _window_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool,
                p_end: int | None = None) -> int:
    span = size + p + (p if p_end is None else p_end) - d * (k - 1) - 1
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // s) + 1
        # PyTorch: the last window must start inside the input or left padding
        if (out - 1) * s >= size + p:
            out -= 1
        return out
    return span // s + 1


# --------------------------------------------------------------------------------------------
# type specifications


@dataclass(frozen=True)
class _TypeSpec:
    family: str
    fields: frozenset[str]
    infer: Callable[[str, dict[str, Any], tuple[Shape, ...]], dict[str, Any]]
    arity: tuple[int, int] = (1, 1)  # min, max inputs
    behaviour: Behaviour = dataclass_field(kw_only=True)  # required: no type without a record


def _single(in_shapes: tuple[Shape, ...]) -> Shape:
    return in_shapes[0]


def _infer_conv(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    c_in, h, w = _single(ins)
    out = _int(f.get("out"), "out") if "out" in f else None
    if out is None:
        raise InputError("conv needs 'out' (output channels)", field="out")
    k = _pair(f.get("kernel"), "kernel") if "kernel" in f else None
    if k is None:
        raise InputError("conv needs 'kernel'", field="kernel")
    s = _pair(f.get("stride", 1), "stride")
    d = _pair(f.get("dilation", 1), "dilation")
    pad = f.get("padding", 0)
    if pad == "same":
        if s != (1, 1):
            raise InputError("padding 'same' needs stride 1", field="padding")
        p = (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2)
        p_end = p
    else:
        p, p_end = _padding(pad)
    g = f.get("groups", 1)
    if g == "depthwise":
        g = c_in
    g = _int(g, "groups")
    if c_in % g or out % g:
        raise InputError(
            f"groups={g} must divide input channels {c_in} and output channels {out}",
            field="groups",
        )
    bias = _bool(f.get("bias", True), "bias")
    if pad == "same":
        # PyTorch pads an even kernel asymmetrically (the extra row/column on the bottom/right),
        # so the output keeps the input size; p above is the smaller (top/left) side.
        ho, wo = h, w
    else:
        ho = _window_out(h, k[0], s[0], p[0], d[0], False, p_end[0])
        wo = _window_out(w, k[1], s[1], p[1], d[1], False, p_end[1])
    if ho <= 0 or wo <= 0:
        raise InputError(
            f"kernel {k[0]}x{k[1]} does not fit input {h}x{w} with padding {p[0]}x{p[1]}",
            field="kernel",
        )
    weights = out * (c_in // g) * k[0] * k[1] + (out if bias else 0)
    macs = ho * wo * out * (c_in // g) * k[0] * k[1]
    return dict(
        out_shape=(out, ho, wo), weight_elems=weights, macs=macs, kernel=k, stride=s,
        padding=p, padding_end=None if p_end == p else p_end, dilation=d, groups=g, bias=bias,
    )


def _infer_convtranspose(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    """Transposed convolution (PyTorch ConvTranspose2d / ONNX ConvTranspose): every input pixel
    scatters a K x K x C_out/g window; out = (in - 1) s - p_begin - p_end + d (K - 1) + 1 +
    output_padding; MACs = H_in W_in C_in (C_out / g) K_h K_w."""
    c_in, h, w = _single(ins)
    if "out" not in f:
        raise InputError("convtranspose needs 'out' (output channels)", field="out")
    out = _int(f["out"], "out")
    if "kernel" not in f:
        raise InputError("convtranspose needs 'kernel'", field="kernel")
    k = _pair(f["kernel"], "kernel")
    s = _pair(f.get("stride", 1), "stride")
    d = _pair(f.get("dilation", 1), "dilation")
    p, p_end = _padding(f.get("padding", 0))
    op = _pair(f.get("output_padding", 0), "output_padding", minimum=0)
    g = _int(f.get("groups", 1), "groups")
    if c_in % g or out % g:
        raise InputError(f"groups={g} must divide input channels {c_in} and output channels "
                         f"{out}", field="groups")
    bias = _bool(f.get("bias", True), "bias")
    ho = (h - 1) * s[0] - p[0] - p_end[0] + d[0] * (k[0] - 1) + 1 + op[0]
    wo = (w - 1) * s[1] - p[1] - p_end[1] + d[1] * (k[1] - 1) + 1 + op[1]
    if ho <= 0 or wo <= 0:
        raise InputError(f"padding leaves no output for input {h}x{w}", field="padding")
    weights = c_in * (out // g) * k[0] * k[1] + (out if bias else 0)
    macs = h * w * c_in * (out // g) * k[0] * k[1]
    return dict(out_shape=(out, ho, wo), weight_elems=weights, macs=macs, kernel=k, stride=s,
                padding=p, padding_end=None if p_end == p else p_end, dilation=d, groups=g,
                bias=bias)


def _infer_fc(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    c, h, w = _single(ins)
    if "out" not in f:
        raise InputError("fc needs 'out' (output features)", field="out")
    out = _int(f["out"], "out")
    bias = _bool(f.get("bias", True), "bias")
    n_in = c * h * w
    return dict(
        out_shape=(out, 1, 1), weight_elems=n_in * out + (out if bias else 0), macs=n_in * out,
        bias=bias,
    )


def _infer_pool(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    c, h, w = _single(ins)
    if _bool(f.get("global", t.startswith("global")), "global"):
        return dict(out_shape=(c, 1, 1), kernel=(h, w), stride=(h, w))
    if "adaptive" in f:
        oh, ow = _pair(f["adaptive"], "adaptive")
        # PyTorch adaptive pooling: windows of ceil(H/oh) rows starting at floor(i*H/oh)
        return dict(out_shape=(c, oh, ow), kernel=(-(-h // oh), -(-w // ow)),
                    stride=(max(1, h // oh), max(1, w // ow)))
    if "kernel" not in f:
        raise InputError(f"{t} needs 'kernel' (or global: true / adaptive: [h, w])",
                         field="kernel")
    k = _pair(f["kernel"], "kernel")
    s = _pair(f.get("stride", f["kernel"]), "stride")
    p, p_end = _padding(f.get("padding", 0))
    if max(p[0], p_end[0]) * 2 > k[0] or max(p[1], p_end[1]) * 2 > k[1]:
        raise InputError("padding must be at most half the kernel", field="padding")
    ceil_mode = _bool(f.get("ceil_mode", False), "ceil_mode")
    ho = _window_out(h, k[0], s[0], p[0], 1, ceil_mode, p_end[0])
    wo = _window_out(w, k[1], s[1], p[1], 1, ceil_mode, p_end[1])
    if ho <= 0 or wo <= 0:
        raise InputError(f"kernel {k[0]}x{k[1]} does not fit input {h}x{w}", field="kernel")
    return dict(out_shape=(c, ho, wo), kernel=k, stride=s, padding=p,
                padding_end=None if p_end == p else p_end)


def _infer_norm(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    c, h, w = _single(ins)
    affine = _bool(f.get("affine", True), "affine")
    if t == "groupnorm":
        g = _int(f.get("groups", 32), "groups")
        if c % g:
            raise InputError(f"groups={g} must divide channels {c}", field="groups")
    return dict(out_shape=(c, h, w), weight_elems=2 * c if affine else 0)


def _infer_same(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    return dict(out_shape=_single(ins))


def _infer_add(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    """Element-wise join; an input may broadcast along axes of size 1 (a per-channel [C, 1, 1]
    or per-sample [1, 1, 1] operand, as in squeeze-and-excitation)."""
    first = tuple(max(s[a] for s in ins) for a in range(3))
    for other in ins:
        if any(o not in (1, m) for o, m in zip(other, first, strict=True)):
            a = ins[0] if ins[0] != other else ins[1]
            raise InputError(
                f"inputs have different shapes {list(a)} and {list(other)} "
                "(channels, height, width)",
                field="inputs",
            )
    if first not in ins:
        raise InputError(f"no input has the full shape {list(first)}", field="inputs")
    return dict(out_shape=first)


def _infer_resize(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    c, h, w = _single(ins)
    mode = f.get("mode", "nearest")
    if mode not in ("nearest", "bilinear"):
        raise InputError(f"expected nearest or bilinear, got {mode!r}", field="mode")
    if ("scale" in f) == ("size" in f):
        raise InputError(f"{t} needs exactly one of 'scale' or 'size' ([height, width])",
                         field="scale")
    if "size" in f:
        ho, wo = _pair(f["size"], "size")
    else:
        sh, sw = _pair(f["scale"], "scale")
        ho, wo = h * sh, w * sw
    return dict(out_shape=(c, ho, wo))


def _infer_shuffle(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    c, h, w = _single(ins)
    g = _int(f.get("groups"), "groups") if "groups" in f else None
    if g is None:
        raise InputError("channelshuffle needs 'groups'", field="groups")
    if c % g:
        raise InputError(f"groups={g} must divide channels {c}", field="groups")
    return dict(out_shape=(c, h, w), groups=g)


_AXES = {"channels": 0, "height": 1, "width": 2}


def _infer_slice(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    """A contiguous range [start, end) along one axis (channels, height or width)."""
    shape = list(_single(ins))
    axis = f.get("axis", "channels")
    if axis not in _AXES:
        raise InputError(f"expected one of {', '.join(_AXES)}, got {axis!r}", field="axis")
    a = _AXES[axis]
    start = _int(f.get("start", 0), "start", minimum=0)
    end = _int(f.get("end", shape[a]), "end")
    if not start < end <= shape[a]:
        raise InputError(f"range [{start}, {end}) is empty or outside 0..{shape[a]}",
                         field="end")
    shape[a] = end - start
    return dict(out_shape=tuple(shape))


def _infer_concat(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    _, h, w = ins[0]
    for _, h2, w2 in ins[1:]:
        if (h2, w2) != (h, w):
            raise InputError(
                f"inputs have different spatial sizes {h}x{w} and {h2}x{w2}", field="inputs"
            )
    return dict(out_shape=(sum(s[0] for s in ins), h, w))


def _infer_flatten(t: str, f: dict[str, Any], ins: tuple[Shape, ...]) -> dict[str, Any]:
    c, h, w = _single(ins)
    return dict(out_shape=(c * h * w, 1, 1))


_COMMON = frozenset({"name", "type", "input", "inputs", "when"})
_POOL_FIELDS = frozenset({"kernel", "stride", "padding", "ceil_mode", "global", "adaptive"})
ACTIVATIONS = (
    "relu", "relu6", "leakyrelu", "sigmoid", "tanh", "gelu", "silu", "swish", "hardswish",
    "hardsigmoid", "elu", "identity", "clip",
)

# Behaviour records. Stash rules: conv/FC keep their input for wgrad; activation functions their
# output; max-pooling its input (argmax); LRN input and output; average pooling nothing; dropout
# its mask; joins nothing (add passes dY on; concat and slice are slices of dY), except the
# broadcast multiply (dX = dY x s, ds = sum dY x X), which keeps its inputs.
_COMPUTE = Behaviour("compute", "input", forward_ops=0, dgrad_ops=0)
_ACTIVATION = Behaviour("elementwise", "output", folded_at_inference=True)
_VIEW = Behaviour("view", "none", folded_at_inference=True, forward_ops=0, dgrad_ops=0,
                  dgrad_streams=False)

TYPES: dict[str, _TypeSpec] = {
    "conv": _TypeSpec(CONV, frozenset({"out", "kernel", "stride", "padding", "dilation",
                                       "groups", "bias"}), _infer_conv, behaviour=_COMPUTE),
    "convtranspose": _TypeSpec(CONV, frozenset({"out", "kernel", "stride", "padding",
                                                "output_padding", "dilation", "groups", "bias"}),
                               _infer_convtranspose,
                               behaviour=Behaviour("compute", "input", forward_ops=0,
                                                   dgrad_ops=0, transposed=True)),
    "fc": _TypeSpec(FC, frozenset({"out", "bias"}), _infer_fc, behaviour=_COMPUTE),
    "maxpool": _TypeSpec(POOL, _POOL_FIELDS, _infer_pool, behaviour=Behaviour("window", "input")),
    "avgpool": _TypeSpec(POOL, _POOL_FIELDS, _infer_pool, behaviour=Behaviour("window", "none")),
    "globalavgpool": _TypeSpec(POOL, frozenset(), _infer_pool,
                               behaviour=Behaviour("window", "none")),
    "globalmaxpool": _TypeSpec(POOL, frozenset(), _infer_pool,
                               behaviour=Behaviour("window", "input")),
    "batchnorm": _TypeSpec(NORM, frozenset({"affine"}), _infer_norm,
                           behaviour=Behaviour("elementwise", "input", folded_at_inference=True,
                                               statistics="batch")),
    "groupnorm": _TypeSpec(NORM, frozenset({"affine", "groups"}), _infer_norm,
                           behaviour=Behaviour("elementwise", "input", statistics="sample")),
    "lrn": _TypeSpec(NORM, frozenset({"size"}), _infer_same,
                     behaviour=Behaviour("elementwise", "input+output")),
    "add": _TypeSpec(ADD, frozenset(), _infer_add, (2, 64),
                     behaviour=Behaviour("join", "none", dgrad_ops=0, dgrad_streams=False)),
    "mul": _TypeSpec(ADD, frozenset(), _infer_add, (2, 64),  # the join family of add
                     behaviour=Behaviour("join", "input")),
    "concat": _TypeSpec(CONCAT, frozenset(), _infer_concat, (2, 64),
                        behaviour=Behaviour("join", "none", folded_at_inference=True,
                                            forward_ops=0, dgrad_ops=0, dgrad_streams=False,
                                            union_of_inputs=True)),
    "flatten": _TypeSpec(RESHAPE, frozenset(), _infer_flatten,
                         behaviour=Behaviour("view", "none", forward_ops=0, dgrad_ops=0,
                                             dgrad_streams=False)),
    "slice": _TypeSpec(RESHAPE, frozenset({"axis", "start", "end"}), _infer_slice,
                       behaviour=_VIEW),
    "channelshuffle": _TypeSpec(ELTWISE, frozenset({"groups"}), _infer_shuffle,
                                behaviour=Behaviour("elementwise", "none",
                                                    folded_at_inference=True)),
    "resize": _TypeSpec(ELTWISE, frozenset({"scale", "size", "mode"}), _infer_resize,
                        behaviour=Behaviour("elementwise", "none")),
    "dropout": _TypeSpec(ELTWISE, frozenset({"p"}), _infer_same,
                         behaviour=Behaviour("elementwise", "mask", folded_at_inference=True)),
    "softmax": _TypeSpec(ELTWISE, frozenset(), _infer_same, behaviour=_ACTIVATION),
    **{a: _TypeSpec(ELTWISE, frozenset({"slope", "min", "max"} if a == "clip" else {"slope"}),
                    _infer_same, behaviour=_ACTIVATION) for a in ACTIVATIONS},
}
ALIASES = {"linear": "fc", "dense": "fc", "pool": "maxpool", "bn": "batchnorm", "gn": "groupnorm",
           "cat": "concat", "sum": "add", "upsample": "resize", "deconv": "convtranspose",
           "multiply": "mul", "split": "slice", "shuffle": "channelshuffle"}


def behaviour_of(layer_type: str) -> Behaviour:
    """The behaviour record of a (canonical) layer type; an unknown type is an error, never a
    default."""
    spec = TYPES.get(layer_type)
    if spec is None:
        raise KeyError(f"layer type {layer_type!r} has no behaviour record")
    return spec.behaviour


def canonical_type(t: Any) -> str:
    if not isinstance(t, str):
        raise InputError(f"layer type must be a string, got {t!r}", field="type")
    t = ALIASES.get(t.lower(), t.lower())
    if t not in TYPES:
        raise InputError(
            f"unknown layer type '{t}' (known: {', '.join(sorted(TYPES))})", field="type"
        )
    return t


def build_layer(
    name: str,
    fields: dict[str, Any],
    inputs: tuple[str, ...],
    in_shapes: tuple[Shape, ...],
    *,
    line: int | None = None,
) -> Layer:
    """Validate ``fields`` for the layer's type and infer its output shape and counts."""
    t = canonical_type(fields.get("type"))
    spec = TYPES[t]
    unknown = set(fields) - spec.fields - _COMMON
    if unknown:
        bad = sorted(unknown)[0]
        allowed = ", ".join(sorted(spec.fields | {"inputs"}))
        raise InputError(f"unknown field for a {t} layer (allowed: {allowed})", field=bad)
    lo, hi = spec.arity
    if not lo <= len(inputs) <= hi:
        want = (f"exactly {lo}" if lo == hi else f"at least {lo}" if len(inputs) < lo
                else f"at most {hi}")
        raise InputError(f"a {t} layer takes {want} input(s), got {len(inputs)}", field="inputs")
    attrs = spec.infer(t, fields, in_shapes)
    shape = attrs["out_shape"]
    if any(v <= 0 for v in shape):
        raise InputError(f"output shape {list(shape)} has a zero or negative size")
    sizes = (("output size", shape[0] * shape[1] * shape[2]),
             ("parameter count", attrs.get("weight_elems", 0)), ("MAC count", attrs.get("macs", 0)))
    for what, n in sizes:
        if n > MAX_COUNT:
            raise InputError(f"{what} {n:.3g} per sample is too large (limit {MAX_COUNT:.0e})")
    return Layer(name=name, type=t, family=spec.family, inputs=inputs, in_shapes=in_shapes,
                 source_line=line, **attrs)


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution window along one axis (floor mode)."""
    return _window_out(size, kernel, stride, padding, dilation, False)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


__all__ = [
    "Behaviour", "Layer", "Shape", "TYPES", "behaviour_of", "ALIASES", "ACTIVATIONS",
    "build_layer", "canonical_type", "conv_output_size", "ceil_div",
]
