"""Every conv/FC training pass as one "generalized convolution" (GConv).

A GConv has an output tensor computed by reducing over ``red`` channels, two input operands and
``macs`` multiply-accumulates. Each pass maps onto it as follows (N = batch, layer with C_I input
channels, C_O output channels, g groups, kernel K_h x K_w, stride s, output H_O x W_O, input
H_I x W_I; an FC layer is a 1x1 conv on a 1x1 map with C_I = flattened input features):

================  ==================  =====================  ======================  ==========
pass              output (stationary)  streamed operand A     streamed operand B      reduction
================  ==================  =====================  ======================  ==========
``forward``       Y  N x C_O x H_O x W_O  X (halo tiles)      W (z x K_h x K_w / ch)  C_I / g
``dgrad``         dX N x C_I x H_I x W_I  dY (transposed halo) W (z x K_h x K_w / ch)  C_O / g
``wgrad``         dW C_O x C_I/g x K x K  X (halo tiles)      dY (tiles)              N x H_O x W_O
================  ==================  =====================  ======================  ==========

* forward and dgrad are *activation-stationary*: an output tile of b samples x x rows x y cols x
  z channels stays on chip while the reduction channels stream; per reduction channel the tile
  loads the operand-A halo (b x x' x y') and z x K_h x K_w weights. The halo of a tile is
  exactly the set of *real* operand-A rows (cols) its outputs' taps reach: zero padding is
  generated on chip and never read from DRAM (issue #12 item 4). A tap of the forward pass
  joins output row o with input row r = o*s - p + k*d (k < K, 0 <= r < H_I); these (o, r)
  pairs (:func:`tap_pairs`) define every pass's halo. dgrad is the transposed convolution: its
  tiles cover the H_I real rows of dX, and dX row r reads the dY rows o of the pairs (o, r).
  Strided gathers (K < s) and dilations fall out of the same rule.
* wgrad is *weight-stationary*: a tile of z output x c input channels (all K_h x K_w taps) of dW
  stays on chip while the N x H_O x W_O reduction streams in chunks of x x y output positions;
  each chunk needs z x x x y of dY and c x x' x y' of X (forward halo rule). Chunks of one
  column strip go in row order and keep the X rows they share, so each strip loads every
  touched X row once (:mod:`cnnmem.model.dataflow`).
* All three passes perform the same MAC count, N*H_O*W_O*C_O*(C_I/g)*K_h*K_w
  (``macs_per_sample``: the array runs the taps on padding too); of these, ``real_macs_per_sample``
  = N*C_O*(C_I/g)*T_h*T_w with T = the number of tap pairs (o, r) on real input rows are the
  MACs on real inputs, the count the lower bound uses (issue #12 item 5: a MAC on a zero-padding
  operand needs no data moved, so counting it makes the "bound" exceed attainable traffic).
  The passes share the sliding-window reuse rho = max(1, K_h*K_w / s^2) (papers.md section 1)
  [reconstruction for dgrad and wgrad: the paper states the bound for the forward convolution;
  for a dilation d the reuse per axis is K*gcd(s, d)/s: a window on the gcd(s, d) lattice
  touches 1/gcd of the rows, each reused by K*gcd/s taps; = K/s for d = 1].
* Element counts |I| (operands read at least once: untouched input rows of a strided conv are
  not counted), |W| and |O| feed the read-once term of the lower bound.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnmem.workload.layers import Layer
from cnnmem.workload.network import Network

PASSES = ("forward", "dgrad", "wgrad")
INFERENCE_PASSES = ("forward",)

# operand kinds -> which bytes-per-element applies
ACT, WGT, GRAD = "activation", "weight", "gradient"


@dataclass(frozen=True)
class GConv:
    """One layer-pass as a generalized convolution (per-sample sizes in elements)."""

    layer: str
    layer_index: int
    pass_name: str
    stationary: str  # "activation" (forward, dgrad) or "weight" (wgrad)
    macs_per_sample: int
    # output tile space of the activation-stationary dataflow (or the dW tile space)
    out_h: int
    out_w: int
    out_c: int  # channels per group of the stationary output (z ranges over 1..out_c)
    red_c: int  # reduction channels per group
    groups: int
    k_h: int
    k_w: int
    # window geometry of operand A along rows / cols
    window_h: int  # K_eff rows
    window_w: int
    stride_h: int
    stride_w: int
    transposed: bool  # dgrad: window read from a stride-s map into a finer one
    a_h: int  # rows / cols of operand A (what the halo is clipped to)
    a_w: int
    # per-sample element counts
    a_elems: int  # operand A per sample (all channels)
    a_touched_elems: int  # of which are read by some window
    b_elems: int  # operand B (weights: total; dY for wgrad: per sample)
    out_elems: int  # output (per sample; for wgrad the total dW)
    a_kind: str
    b_kind: str
    out_kind: str
    rho: float
    # forward-pass geometry of the rows (cols) axis: input size, padding, dilation; the tap
    # pairs of :func:`tap_pairs` on these give every pass's halo (:func:`axis_pairs`)
    in_h: int = 1
    in_w: int = 1
    fwd_out_h: int = 1
    fwd_out_w: int = 1
    pad_h: int = 0
    pad_w: int = 0
    dil_h: int = 1
    dil_w: int = 1
    real_macs_per_sample: int = 0  # MACs whose input operand is a real (non-padding) element

    @property
    def is_weight_stationary(self) -> bool:
        return self.stationary == "weight"


def tap_pairs(size: int, out: int, k: int, s: int, p: int, d: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """(output row, input row) of every forward tap on a real input row: o*s - p + k*d."""
    o = np.repeat(np.arange(out), k)
    r = (o * s - p + np.tile(np.arange(k), out) * d)
    real = (r >= 0) & (r < size)
    return o[real], r[real]


def axis_pairs(g: GConv, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(output position, operand-A position) of every real tap of the pass along an axis."""
    if axis == 0:
        o, r = tap_pairs(g.in_h, g.fwd_out_h, g.k_h, g.stride_h, g.pad_h, g.dil_h)
    else:
        o, r = tap_pairs(g.in_w, g.fwd_out_w, g.k_w, g.stride_w, g.pad_w, g.dil_w)
    return (r, o) if g.transposed else (o, r)


def _touched_rows(size: int, out: int, k: int, s: int, p: int, d: int) -> int:
    """Rows of a length-``size`` input read by ``out`` windows of k taps (dilation d)."""
    return int(np.unique(tap_pairs(size, out, k, s, p, d)[1]).size)


def _real_taps(size: int, out: int, k: int, s: int, p: int, d: int) -> int:
    """Taps of ``out`` windows that land on a real (non-padding) row."""
    return int(tap_pairs(size, out, k, s, p, d)[0].size)


def layer_gconvs(layer: Layer, index: int, passes: tuple[str, ...] = PASSES) -> list[GConv]:
    """The GConvs of one conv/FC layer for the requested passes (empty for other layers)."""
    if not layer.is_compute:
        return []
    if layer.behaviour.transposed:
        return _transposed_gconvs(layer, index, passes)
    c_o, h_o, w_o = layer.out_shape
    if layer.family == "fc":
        c_i, h_i, w_i = layer.in_elems, 1, 1
        kh = kw = sh = sw = dh = dw = 1
        ph = pw = 0
        g = 1
    else:
        c_i, h_i, w_i = layer.in_shapes[0]
        kh, kw = layer.kernel
        sh, sw = layer.stride
        ph, pw = layer.padding
        if layer.padding_end is not None:  # asymmetric: the mean side (exact for the totals)
            ph, pw = (ph + layer.padding_end[0]) // 2, (pw + layer.padding_end[1]) // 2
        dh, dw = layer.dilation
        g = layer.groups
    keh, kew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    macs = h_o * w_o * c_o * (c_i // g) * kh * kw
    # a dilated window whose dilation shares a factor g with the stride skips the rows off that
    # lattice, so each touched row serves K*g/s taps, not K/s (reconstruction: the paper's
    # rho is for undilated convolutions, g = 1)
    rho = max(1.0, kh * math.gcd(sh, dh) * kw * math.gcd(sw, dw) / (sh * sw))
    x_elems = c_i * h_i * w_i
    x_touched = c_i * _touched_rows(h_i, h_o, kh, sh, ph, dh) * _touched_rows(w_i, w_o, kw, sw,
                                                                               pw, dw)
    y_elems = c_o * h_o * w_o
    w_elems = c_o * (c_i // g) * kh * kw
    real_macs = c_o * (c_i // g) * _real_taps(h_i, h_o, kh, sh, ph, dh) * _real_taps(
        w_i, w_o, kw, sw, pw, dw)
    dy_touched = c_o * (np.unique(tap_pairs(h_i, h_o, kh, sh, ph, dh)[0]).size
                        * np.unique(tap_pairs(w_i, w_o, kw, sw, pw, dw)[0]).size)
    common: dict[str, Any] = dict(
        layer=layer.name, layer_index=index, macs_per_sample=macs, groups=g, k_h=kh, k_w=kw,
        window_h=keh, window_w=kew, stride_h=sh, stride_w=sw, rho=rho, in_h=h_i, in_w=w_i,
        fwd_out_h=h_o, fwd_out_w=w_o, pad_h=ph, pad_w=pw, dil_h=dh, dil_w=dw,
        real_macs_per_sample=real_macs)
    out: list[GConv] = []
    for p in passes:
        if p == "forward":
            out.append(GConv(pass_name=p, stationary="activation", out_h=h_o, out_w=w_o,
                             out_c=c_o // g, red_c=c_i // g, transposed=False, a_h=h_i, a_w=w_i,
                             a_elems=x_elems, a_touched_elems=x_touched, b_elems=w_elems,
                             out_elems=y_elems, a_kind=ACT, b_kind=WGT, out_kind=ACT, **common))
        elif p == "dgrad":
            out.append(GConv(pass_name=p, stationary="activation", out_h=h_i, out_w=w_i,
                             out_c=c_i // g, red_c=c_o // g, transposed=True, a_h=h_o, a_w=w_o,
                             a_elems=y_elems, a_touched_elems=int(dy_touched), b_elems=w_elems,
                             out_elems=x_elems, a_kind=GRAD, b_kind=WGT, out_kind=GRAD, **common))
        elif p == "wgrad":
            out.append(GConv(pass_name=p, stationary="weight", out_h=h_o, out_w=w_o,
                             out_c=c_o // g, red_c=c_i // g, transposed=False, a_h=h_i, a_w=w_i,
                             a_elems=x_elems, a_touched_elems=x_touched, b_elems=y_elems,
                             out_elems=w_elems, a_kind=ACT, b_kind=GRAD, out_kind=GRAD,
                             **common))
        else:
            raise ValueError(f"unknown pass {p!r}")
    return out


_SWAP_PASS = {"forward": "dgrad", "dgrad": "forward", "wgrad": "wgrad"}


def _transposed_gconvs(layer: Layer, index: int, passes: tuple[str, ...]) -> list[GConv]:
    """A transposed convolution is the data-gradient of the convolution that maps its output
    shape back to its input shape (same kernel, stride, padding, groups): its forward pass is
    that convolution's dgrad, its dgrad that convolution's forward pass and its wgrad that
    convolution's wgrad with the operands' roles swapped. MACs per sample are equal."""
    equivalent = dataclasses.replace(layer, type="conv", in_shapes=(layer.out_shape,),
                                     out_shape=layer.in_shapes[0])
    wanted = tuple(_SWAP_PASS[p] for p in passes)
    out = []
    for g in layer_gconvs(equivalent, index, wanted):
        p = _SWAP_PASS[g.pass_name]
        if p == "forward":
            g = dataclasses.replace(g, pass_name=p, a_kind=ACT, out_kind=ACT)
        elif p == "dgrad":
            g = dataclasses.replace(g, pass_name=p, a_kind=GRAD, out_kind=GRAD)
        else:
            g = dataclasses.replace(g, a_kind=GRAD, b_kind=ACT)
        out.append(g)
    return out


def input_gradient_needed(net: Network) -> tuple[bool, ...]:
    """Per layer: whether training needs the gradient with respect to its input(s) (its dgrad).

    The gradient of a tensor is needed only if some layer with parameters lies upstream of it:
    a layer fed only by the network input, or by layers whose own inputs need no gradient (a
    pool or normalization without parameters between the input and the first conv), computes
    an input gradient no framework computes (issue #12 item 2: the first conv's dgrad). A layer
    with parameters upstream of any of its inputs needs its dgrad."""
    upstream_params: list[bool] = []  # per layer: its output depends on some parameter
    needed: list[bool] = []
    for i, layer in enumerate(net.layers):
        feeds = [upstream_params[j] for j in net.producers[i] if j >= 0]
        needed.append(any(feeds))
        upstream_params.append(any(feeds) or layer.weight_elems > 0)
    return tuple(needed)


def network_gconvs(net: Network, passes: tuple[str, ...] = PASSES) -> list[GConv]:
    """All GConvs of a network, layer-major then pass order."""
    out: list[GConv] = []
    for i, layer in enumerate(net.layers):
        out.extend(layer_gconvs(layer, i, passes))
    return out
