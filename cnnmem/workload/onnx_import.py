"""ONNX import: an ONNX model -> network YAML data (and so a :class:`Network`).

Built on the ``onnx`` package alone (``onnx.shape_inference``), the optional extra
``cnnmem[onnx]``. Every node maps to one layer, to several (Split -> one slice per output), is
folded with a note (Dropout, Identity, a Reshape that keeps the shape, the per-channel Mul/Add
of a Caffe "Scale" after a BatchNormalization, which is that norm's affine part), is recognised
in a pattern (Reshape -> Transpose -> Reshape = channel shuffle), or is an error naming the
node, its op type and how to proceed. Weights are the initialisers and the outputs of
``Constant`` / ``ConstantOfShape`` nodes; the batch dimension is dropped (shapes are per
sample, channels x height x width). Every layer's inferred shape is checked against the shape
ONNX's shape inference gives.

An eval-mode export may have BatchNorm folded into the convolutions (no norm node, every conv
has a bias); this is detected and reported, and ``restore_norm`` puts a batchnorm after every
conv with a bias (the bias moves into the norm, as in the trained model) for training analysis.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnmem.errors import InputError

INSTALL_HINT = ("ONNX import needs the onnx package: pip install 'cnnmem[onnx]' "
                "(or pip install onnx)")

_ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "LeakyRelu": "leakyrelu",
                "Elu": "elu", "HardSwish": "hardswish", "HardSigmoid": "hardsigmoid",
                "Softmax": "softmax", "LogSoftmax": "softmax", "Clip": "clip", "Gelu": "gelu",
                "Identity": None,
                "Dropout": None}
_CONST_OPS = ("Constant", "ConstantOfShape")


def _onnx() -> Any:
    try:
        import onnx  # noqa: PLC0415 (optional dependency)
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    return onnx


@dataclass
class ImportResult:
    """The YAML data of an imported network, its per-layer shapes and the importer's notes."""

    data: dict[str, Any]
    shapes: dict[str, tuple[int, int, int]]
    notes: list[str] = field(default_factory=list)


def _ints(attrs: dict[str, Any], key: str, default: Any = None) -> Any:
    v = attrs.get(key, default)
    return list(v) if isinstance(v, (list, tuple)) else v


def _safe_name(raw: str, used: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_\-]", "_", raw).strip("_") or "layer"
    if name in ("in", "input"):
        name = f"{name}_"
    base, k = name, 1
    while name in used:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return name


class _Importer:
    def __init__(self, model: Any, file: str, restore_norm: bool) -> None:
        onnx = _onnx()
        self.onnx = onnx
        self.file = file
        self.restore_norm = restore_norm
        try:
            model = onnx.shape_inference.infer_shapes(model)
        except Exception as exc:  # onnx raises its own InferenceError types
            raise InputError(f"ONNX shape inference failed: {exc}", file=file) from None
        self.graph = model.graph
        self.shape: dict[str, list[int]] = {}
        for vi in list(self.graph.value_info) + list(self.graph.input) + list(self.graph.output):
            dims = vi.type.tensor_type.shape.dim
            self.shape[vi.name] = [d.dim_value if d.HasField("dim_value") else -1 for d in dims]
        self.const: dict[str, Any] = {}  # name -> numpy value (None when only the shape is known)
        for init in self.graph.initializer:
            self.const[init.name] = onnx.numpy_helper.to_array(init)
            self.shape[init.name] = list(init.dims)
        self.producer: dict[str, Any] = {}
        self.consumers: dict[str, list[Any]] = {}
        for node in self.graph.node:
            for o in node.output:
                self.producer[o] = node
            for i in node.input:
                self.consumers.setdefault(i, []).append(node)
        self.alias: dict[str, str] = {}  # ONNX value -> layer name ("input" = network input)
        self.layers: list[dict[str, Any]] = []
        self.layer_shape: dict[str, tuple[int, int, int]] = {}
        self.layer_type: dict[str, str] = {}
        self.used: set[str] = set()
        self.notes: list[str] = []
        self.folded: dict[tuple[str, str], list[str]] = {}
        self.restored = 0  # batchnorm layers put back by restore_norm
        self.skip: set[int] = set()  # nodes already consumed by a pattern
        self.pad_of: dict[str, list[int]] = {}  # Pad output -> [top, left, bottom, right]

    # -- helpers -------------------------------------------------------------------------------

    def err(self, node: Any, what: str) -> InputError:
        return InputError(f"node '{node.name or node.output[0]}' ({node.op_type}): {what}",
                          file=self.file)

    def attrs(self, node: Any) -> dict[str, Any]:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def sample_shape(self, value: str, node: Any) -> tuple[int, int, int]:
        dims = self.shape.get(value)
        if dims is None or any(d <= 0 for d in dims):
            raise self.err(node, f"shape of '{value}' unknown after shape inference (give the "
                                 "model fixed input dimensions)")
        if len(dims) == 4:
            return (dims[1], dims[2], dims[3])
        if len(dims) == 2:
            return (dims[1], 1, 1)
        raise self.err(node, f"tensor '{value}' has rank {len(dims)}; only N x C x H x W and "
                             "N x F tensors are modelled")

    def is_const(self, value: str) -> bool:
        if value in self.const:
            return True
        node = self.producer.get(value)
        if node is None:
            return False
        if node.op_type in _CONST_OPS:
            return True
        # shape-only ops of constants (Unsqueeze, Reshape, Cast, ...) stay constants
        return (node.op_type in ("Unsqueeze", "Squeeze", "Reshape", "Cast", "Transpose")
                and self.is_const(node.input[0]))

    def const_value(self, value: str) -> Any:
        if value in self.const:
            return self.const[value]
        node = self.producer.get(value)
        if node is not None and node.op_type == "Constant":
            return self.onnx.numpy_helper.to_array(self.attrs(node)["value"])
        return None

    def act_inputs(self, node: Any) -> list[str]:
        return [i for i in node.input if i and not self.is_const(i)]

    def ref(self, value: str, node: Any) -> str:
        if value not in self.alias:
            raise self.err(node, f"input '{value}' comes from no mapped layer")
        return self.alias[value]

    def emit(self, node: Any, out_value: str, fields: dict[str, Any], inputs: list[str],
             name_hint: str | None = None) -> str:
        name = _safe_name(name_hint or node.name or out_value, self.used)
        layer: dict[str, Any] = {"name": name, **fields}
        refs = [self.ref(v, node) for v in inputs]
        prev = self.layers[-1]["name"] if self.layers else "input"
        if refs != [prev]:
            layer["inputs" if len(refs) > 1 else "input"] = refs if len(refs) > 1 else refs[0]
        self.layers.append(layer)
        self.alias[out_value] = name
        self.layer_type[name] = fields["type"]
        self.layer_shape[name] = self.sample_shape(out_value, node)
        return name

    def fold(self, node: Any, why: str) -> None:
        acts = self.act_inputs(node)
        self.alias[node.output[0]] = self.ref(acts[0], node)
        self.folded.setdefault((node.op_type, why), []).append(node.name or node.output[0])

    def fold_notes(self) -> list[str]:
        """One note per (op type, reason): how many nodes were folded, the first named."""
        out = []
        for (op, why), names in self.folded.items():
            what = f"{op} '{names[0]}'" if len(names) == 1 else (
                f"{len(names)} {op} nodes (first '{names[0]}')")
            out.append(f"{what} folded: {why}")
        return out

    # -- op mappers ----------------------------------------------------------------------------

    def window_fields(self, node: Any, a: dict[str, Any], kernel: list[int]) -> dict[str, Any]:
        f: dict[str, Any] = {}
        strides = _ints(a, "strides", [1, 1])
        pads = _ints(a, "pads", [0, 0, 0, 0])
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        extra = self.pad_of.get(node.input[0])
        if extra is not None:  # a separate Pad node before this window: merged into its padding
            if auto not in ("NOTSET", "VALID"):
                raise self.err(node, "auto_pad after a Pad node is not modelled")
            pads = [p + e for p, e in zip(pads, extra, strict=True)]
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            _, h, w = self.sample_shape(node.input[0], node)
            pads = [0, 0, 0, 0]
            dil = _ints(a, "dilations", [1, 1])
            for ax, size in enumerate((h, w)):
                out = -(-size // strides[ax])
                total = max((out - 1) * strides[ax] + dil[ax] * (kernel[ax] - 1) + 1 - size, 0)
                small, big = total // 2, total - total // 2
                pads[ax], pads[ax + 2] = (small, big) if auto == "SAME_UPPER" else (big, small)
        elif auto not in ("NOTSET", "VALID"):
            raise self.err(node, f"auto_pad {auto} is not supported")
        f["kernel"] = kernel[0] if kernel[0] == kernel[1] else list(kernel)
        if strides != [1, 1]:
            f["stride"] = strides[0] if strides[0] == strides[1] else strides
        if pads[:2] == pads[2:]:
            if pads[0] or pads[1]:
                f["padding"] = pads[0] if pads[0] == pads[1] else pads[:2]
        else:
            f["padding"] = pads
        return f

    def map_conv(self, node: Any) -> None:
        a = self.attrs(node)
        wshape = self.shape.get(node.input[1])
        kernel = _ints(a, "kernel_shape") or (wshape[2:] if wshape else None)
        if not kernel or len(kernel) != 2:
            raise self.err(node, "only 2-D convolutions are modelled")
        c_out = self.sample_shape(node.output[0], node)[0]
        transposed = node.op_type == "ConvTranspose"
        f: dict[str, Any] = {"type": "convtranspose" if transposed else "conv", "out": c_out}
        f.update(self.window_fields(node, a, kernel) if not transposed else {})
        if transposed:
            f["kernel"] = kernel[0] if kernel[0] == kernel[1] else list(kernel)
            st = _ints(a, "strides", [1, 1])
            if st != [1, 1]:
                f["stride"] = st[0] if st[0] == st[1] else st
            pads = _ints(a, "pads", [0, 0, 0, 0])
            if any(pads):
                f["padding"] = pads if pads[:2] != pads[2:] else (
                    pads[0] if pads[0] == pads[1] else pads[:2])
            op = _ints(a, "output_padding", [0, 0])
            if any(op):
                f["output_padding"] = op
        dil = _ints(a, "dilations", [1, 1])
        if dil != [1, 1]:
            f["dilation"] = dil[0] if dil[0] == dil[1] else dil
        g = int(a.get("group", 1))
        if g != 1:
            f["groups"] = g
        has_bias = len(node.input) > 2 and bool(node.input[2])
        restore = self.restore_norm and has_bias and not transposed
        f["bias"] = has_bias and not restore
        name = self.emit(node, node.output[0], f, [node.input[0]])
        if restore:
            self.restored += 1
            self.emit(node, node.output[0], {"type": "batchnorm"}, [node.output[0]],
                      name_hint=f"{name}_bn")
            self.alias[node.output[0]] = self.layers[-1]["name"]

    def map_gemm(self, node: Any) -> None:
        acts = self.act_inputs(node)
        if len(acts) != 1 or self.is_const(node.input[0]):
            raise self.err(node, "only a product of an activation and a constant weight matrix "
                                 "(an FC layer) is modelled")
        a = self.attrs(node)
        if node.op_type == "Gemm" and a.get("transA", 0):
            raise self.err(node, "transA=1 is not modelled (the activation must be the left "
                                 "operand)")
        out = self.sample_shape(node.output[0], node)[0]
        bias = node.op_type == "Gemm" and len(node.input) > 2 and bool(node.input[2])
        self.emit(node, node.output[0], {"type": "fc", "out": out, "bias": bias}, acts)

    def map_pool(self, node: Any) -> None:
        a = self.attrs(node)
        t = "maxpool" if node.op_type == "MaxPool" else "avgpool"
        kernel = _ints(a, "kernel_shape")
        f = {"type": t, **self.window_fields(node, a, kernel)}
        if "stride" not in f:
            f["stride"] = 1
        if a.get("ceil_mode", 0):
            f["ceil_mode"] = True
        if _ints(a, "dilations", [1, 1]) != [1, 1]:
            raise self.err(node, "dilated pooling is not modelled")
        self.emit(node, node.output[0], f, [node.input[0]])

    def map_eltwise(self, node: Any) -> None:
        acts = self.act_inputs(node)
        consts = [i for i in node.input if i and self.is_const(i)]
        t = "mul" if node.op_type == "Mul" else "add"
        if not consts:
            if len(acts) == 1:  # Sum of one tensor
                self.fold(node, "a sum of one tensor is that tensor")
                return
            self.emit(node, node.output[0], {"type": t}, acts)
            return
        src = self.alias.get(acts[0]) if len(acts) == 1 else None
        if src is not None and self.layer_type.get(src) == "batchnorm" and node.op_type in (
                "Mul", "Add"):
            self.fold(node, "per-channel scale/shift after a batchnorm is its affine part")
            return
        raise self.err(node, "element-wise op with a constant operand is only modelled as the "
                             "affine part of a preceding BatchNormalization; rewrite the model "
                             "(e.g. fold the constant into the previous layer) and export again")

    def map_reshape(self, node: Any) -> None:
        x = node.input[0]
        dims_in, dims_out = self.shape.get(x), self.shape.get(node.output[0])
        nxt = self.consumers.get(node.output[0], [])
        if (len(nxt) == 1 and nxt[0].op_type == "Transpose" and dims_out and len(dims_out) == 5):
            tr = nxt[0]
            after = self.consumers.get(tr.output[0], [])
            if len(after) == 1 and after[0].op_type == "Reshape" and (
                    list(self.attrs(tr).get("perm", [])) == [0, 2, 1, 3, 4]):
                self.skip.update({id(tr), id(after[0])})
                fields = {"type": "channelshuffle", "groups": int(dims_out[1])}
                self.emit(node, after[0].output[0], fields, [x],
                          name_hint=node.name or after[0].output[0])
                return
        if dims_in == dims_out:
            self.fold(node, "reshape to the same shape")
            return
        if dims_out and len(dims_out) == 2 and dims_in and len(dims_in) == 4:
            self.emit(node, node.output[0], {"type": "flatten"}, [x])
            return
        if dims_out and len(dims_out) == 4 and dims_in and len(dims_in) == 2 and (
                dims_out[2:] == [1, 1]):
            self.fold(node, "N x C -> N x C x 1 x 1 (the same per-sample tensor)")
            return
        raise self.err(node, f"reshape {dims_in} -> {dims_out} is not modelled (only flatten, "
                             "the channel-shuffle pattern and shape-preserving reshapes)")

    def map_split(self, node: Any) -> None:
        a = self.attrs(node)
        axis = int(a.get("axis", 0))
        if axis < 1 or axis > 3:
            raise self.err(node, "only splits along channels, height or width are modelled")
        name = ("channels", "height", "width")[axis - 1]
        start = 0
        for out in node.output:
            size = self.shape[out][axis]
            self.emit(node, out, {"type": "slice", "axis": name, "start": start,
                                  "end": start + size}, [node.input[0]], name_hint=out)
            start += size

    def map_slice(self, node: Any) -> None:
        starts = self.const_value(node.input[1]) if len(node.input) > 1 else None
        axes = self.const_value(node.input[3]) if len(node.input) > 3 else None
        if starts is None:
            a = self.attrs(node)
            starts, axes = a.get("starts"), a.get("axes")
        if starts is None or axes is None or len(list(axes)) != 1:
            raise self.err(node, "only a slice along one axis with constant bounds is modelled")
        axis = int(list(axes)[0])
        dims_in = self.shape[node.input[0]]
        axis = axis + len(dims_in) if axis < 0 else axis
        if axis < 1 or axis > 3:
            raise self.err(node, "only slices along channels, height or width are modelled")
        start = int(list(starts)[0])
        start = max(0, start + dims_in[axis] if start < 0 else min(start, dims_in[axis]))
        size = self.shape[node.output[0]][axis]
        self.emit(node, node.output[0], {"type": "slice", "axis": ("channels", "height",
                                                                   "width")[axis - 1],
                                         "start": start, "end": start + size}, [node.input[0]])

    def map_resize(self, node: Any) -> None:
        a = self.attrs(node)
        mode = a.get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode not in ("nearest", "linear", "bilinear"):
            raise self.err(node, f"resize mode {mode} is not modelled (nearest, linear)")
        c, h, w = self.sample_shape(node.input[0], node)
        _, ho, wo = self.sample_shape(node.output[0], node)
        f: dict[str, Any] = {"type": "resize", "mode": "nearest" if mode == "nearest"
                             else "bilinear"}
        if ho % h == 0 and wo % w == 0:
            f["scale"] = ho // h if ho // h == wo // w else [ho // h, wo // w]
        else:
            f["size"] = [ho, wo]
        self.emit(node, node.output[0], f, [node.input[0]])

    def map_node(self, node: Any) -> None:
        op = node.op_type
        if id(node) in self.skip or op in _CONST_OPS:
            return
        if all(self.is_const(i) for i in node.input if i) and node.input:
            return  # arithmetic on constants: part of a weight
        if op in ("Conv", "ConvTranspose"):
            self.map_conv(node)
        elif op in ("Gemm", "MatMul"):
            self.map_gemm(node)
        elif op in ("MaxPool", "AveragePool"):
            self.map_pool(node)
        elif op in ("GlobalAveragePool", "GlobalMaxPool"):
            t = "globalavgpool" if op == "GlobalAveragePool" else "globalmaxpool"
            self.emit(node, node.output[0], {"type": t}, [node.input[0]])
        elif op == "ReduceMean" and self._is_spatial_mean(node):
            self.emit(node, node.output[0], {"type": "globalavgpool"}, [node.input[0]])
        elif op == "BatchNormalization":
            self.emit(node, node.output[0], {"type": "batchnorm"}, [node.input[0]])
        elif op in ("InstanceNormalization", "GroupNormalization"):
            c = self.sample_shape(node.input[0], node)[0]
            groups = c if op == "InstanceNormalization" else int(self.attrs(node)["num_groups"])
            self.emit(node, node.output[0], {"type": "groupnorm", "groups": groups},
                      [node.input[0]])
        elif op == "LRN":
            self.emit(node, node.output[0], {"type": "lrn", "size": int(self.attrs(node)["size"])},
                      [node.input[0]])
        elif op in _ACTIVATIONS:
            act = _ACTIVATIONS[op]
            if act is None:
                self.fold(node, "the identity in inference")
            else:
                self.emit(node, node.output[0], {"type": act}, [node.input[0]])
        elif op in ("Add", "Sum", "Mul"):
            self.map_eltwise(node)
        elif op == "Concat":
            if int(self.attrs(node).get("axis", 1)) != 1:
                raise self.err(node, "only concatenation along channels is modelled")
            acts = self.act_inputs(node)
            if len(acts) == 1:
                self.fold(node, "a concatenation of one tensor")
            else:
                self.emit(node, node.output[0], {"type": "concat"}, acts)
        elif op == "Flatten":
            if int(self.attrs(node).get("axis", 1)) != 1:
                raise self.err(node, "only Flatten with axis=1 is modelled")
            if self.shape.get(node.input[0]) and len(self.shape[node.input[0]]) == 2:
                self.fold(node, "already flat")
            else:
                self.emit(node, node.output[0], {"type": "flatten"}, [node.input[0]])
        elif op == "Reshape":
            self.map_reshape(node)
        elif op in ("Squeeze", "Unsqueeze"):
            self._map_squeeze(node)
        elif op == "Split":
            self.map_split(node)
        elif op == "Slice":
            self.map_slice(node)
        elif op in ("Resize", "Upsample"):
            self.map_resize(node)
        elif op == "Pad":
            self.map_pad(node)
        else:
            raise self.err(node, "op type not supported by the importer; replace it in the "
                                 "model or write the network YAML by hand (cnnmem import -o "
                                 "writes one to start from)")

    def map_pad(self, node: Any) -> None:
        """Zero padding of height and width read only by convs and pools: their padding."""
        a = self.attrs(node)
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        pads = self.const_value(node.input[1]) if len(node.input) > 1 else a.get("pads")
        value = self.const_value(node.input[2]) if len(node.input) > 2 and node.input[2] else (
            a.get("value", 0.0))
        users = self.consumers.get(node.output[0], [])
        if (mode != "constant" or pads is None or len(list(pads)) != 8 or value is None
                or float(np.asarray(value).ravel()[0] if np.size(value) else 0.0) != 0.0):
            raise self.err(node, "only constant zero padding of an N x C x H x W tensor is "
                                 "modelled")
        p = [int(v) for v in pads]
        if p[0] or p[1] or p[4] or p[5] or min(p) < 0:
            raise self.err(node, "only padding of height and width (>= 0) is modelled")
        if not users or any(u.op_type not in ("Conv", "MaxPool", "AveragePool")
                            or u.input[0] != node.output[0] for u in users):
            raise self.err(node, "a Pad is modelled only as the padding of the convs / pools "
                                 "that read it")
        self.pad_of[node.output[0]] = [p[2], p[3], p[6], p[7]]
        self.fold(node, "merged into the padding of the conv / pool that reads it")

    def _is_spatial_mean(self, node: Any) -> bool:
        axes = self.attrs(node).get("axes")
        if axes is None and len(node.input) > 1:
            axes = self.const_value(node.input[1])
        return axes is not None and sorted(int(a) % 4 for a in axes) == [2, 3]

    def _map_squeeze(self, node: Any) -> None:
        din, dout = self.shape.get(node.input[0]), self.shape.get(node.output[0])
        if din and dout and [d for d in din if d != 1] == [d for d in dout if d != 1] and (
                len(dout) in (2, 4)):
            self.fold(node, "drops or adds axes of size 1 only")
            return
        raise self.err(node, f"{node.op_type} {din} -> {dout} is not modelled")

    # -- the whole graph -----------------------------------------------------------------------

    def run(self, name: str) -> ImportResult:
        inputs = [i for i in self.graph.input if i.name not in self.const]
        if len(inputs) != 1:
            raise InputError(f"the model has {len(inputs)} non-constant inputs; one is modelled",
                             file=self.file)
        x = inputs[0].name
        dims = self.shape.get(x, [])
        if len(dims) != 4 or any(d <= 0 for d in dims[1:]):
            raise InputError(f"input '{x}' has shape {dims}; an N x C x H x W input with fixed "
                             "C, H, W is needed", file=self.file)
        self.alias[x] = "input"
        for node in self.graph.node:
            self.map_node(node)
        self.notes.extend(self.fold_notes())
        convs = [lay for lay in self.layers if lay["type"] == "conv"]
        has_norm = any(lay["type"] in ("batchnorm", "groupnorm") for lay in self.layers)
        if convs and not has_norm and all(lay.get("bias") for lay in convs):
            self.notes.append(
                f"no norm layer and all {len(convs)} convs have a bias: if this is an eval-mode "
                "export, BatchNorm was folded into the convs by the exporter; import with "
                "--restore-norm to put a batchnorm after each of them for training analysis")
        elif self.restore_norm:
            self.notes.append(f"--restore-norm: {self.restored} batchnorm layer(s) added after "
                              "convs with a bias" if self.restored else
                              "--restore-norm: no conv has a bias; nothing added")
        data = {"name": name, "source": f"imported from {Path(self.file).name} by cnnmem "
                "import", "input": list(dims[1:]), "layers": self.layers}
        return ImportResult(data=data, shapes=self.layer_shape, notes=self.notes)


def import_onnx(path: str | os.PathLike[str], *, restore_norm: bool = False) -> ImportResult:
    """Read an ONNX model file and map it to network YAML data (see the module docstring)."""
    onnx = _onnx()
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=str(path))
    try:
        model = onnx.load(str(p))
    except Exception as exc:  # protobuf decode errors
        raise InputError(f"cannot read the ONNX model: {exc}", file=str(path)) from None
    return import_model(model, str(path), restore_norm=restore_norm)


def import_model(model: Any, file: str, *, restore_norm: bool = False) -> ImportResult:
    """Map an in-memory ``onnx.ModelProto`` (``file`` names it in messages and the name)."""
    return _Importer(model, file, restore_norm).run(re.sub(r"\W", "_", Path(file).stem))


def network_of(result: ImportResult, file: str) -> Any:
    """The validated Network of an import; each layer's shape is checked against ONNX's."""
    from cnnmem.workload.loader import parse_network  # noqa: PLC0415

    net = parse_network(result.data, file=file)
    for layer in net.layers:
        want = result.shapes[layer.name]
        if layer.out_shape != want:
            raise InputError(f"layer '{layer.name}': cnnmem infers shape {list(layer.out_shape)}"
                             f" but ONNX gives {list(want)}", file=file)
    return net


def load_onnx_network(path: str | os.PathLike[str], *, restore_norm: bool = False) -> Any:
    """An ONNX model file as a validated Network."""
    return network_of(import_onnx(path, restore_norm=restore_norm), str(path))


def to_yaml(result: ImportResult) -> str:
    """Readable network YAML: one flow-style line per layer, its output shape as a comment."""
    import yaml  # noqa: PLC0415

    def flow(value: Any) -> str:
        text = yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False)
        return text.removesuffix("\n...\n").strip()

    d = result.data
    lines = [f"name: {flow(d['name'])}", f"source: {flow(d['source'])}",
             f"input: {flow(d['input'])}  # channels, height, width"]
    lines += [f"# note: {n}" for n in result.notes]
    lines.append("layers:")
    for lay in d["layers"]:
        c, h, w = result.shapes[lay["name"]]
        lines.append(f"  - {flow(lay)}  # -> [{c}, {h}, {w}]")
    return "\n".join(lines) + "\n"


__all__ = ["INSTALL_HINT", "ImportResult", "import_model", "import_onnx", "load_onnx_network",
           "network_of", "to_yaml"]
