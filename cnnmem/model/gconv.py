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
  loads the operand-A halo (b x x' x y') and z x K_h x K_w weights. In forward, x output rows read
  ``min(x*K, (x-1)*s + K_eff)`` input rows (K_eff = dilation*(K-1)+1; the first form is a
  strided gather used when K < s), zero-padding rows included. dgrad is a transposed
  convolution: its tiles cover the *padded* dX (H_I + 2p rows, the positions the forward pass's
  taps reach, so it performs the same MAC count as forward), and x rows of it read
  ``floor((x + K_eff - 2) / s) + 1`` rows of dY (out-of-range rows are streamed as zeros, as in
  forward); only the H_I real rows of dX are written.
* wgrad is *weight-stationary*: a tile of z output x c input channels (all K_h x K_w taps) of dW
  stays on chip while the N x H_O x W_O reduction streams in chunks of x x y output positions;
  each chunk loads z x x x y of dY and c x x' x y' of X (forward halo rule).
* All three passes have the same MAC count, N*H_O*W_O*C_O*(C_I/g)*K_h*K_w, and the same
  sliding-window reuse rho = max(1, K_h*K_w / s^2) (papers.md section 1) [reconstruction for
  dgrad and wgrad: the paper states the bound for the forward convolution].
* Element counts |I| (operands read at least once: untouched input rows of a strided conv are
  not counted), |W| and |O| feed the read-once term of the lower bound.
"""

from __future__ import annotations

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

    @property
    def is_weight_stationary(self) -> bool:
        return self.stationary == "weight"


def _touched_rows(size: int, out: int, k: int, s: int, p: int, d: int) -> int:
    """Rows of a length-``size`` input read by ``out`` windows of k taps (dilation d)."""
    taps = (np.arange(out)[:, None] * s - p + np.arange(k)[None, :] * d).ravel()
    taps = taps[(taps >= 0) & (taps < size)]
    return int(np.unique(taps).size)


def layer_gconvs(layer: Layer, index: int, passes: tuple[str, ...] = PASSES) -> list[GConv]:
    """The GConvs of one conv/FC layer for the requested passes (empty for other layers)."""
    if not layer.is_compute:
        return []
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
        dh, dw = layer.dilation
        g = layer.groups
    keh, kew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    macs = h_o * w_o * c_o * (c_i // g) * kh * kw
    rho = max(1.0, kh * kw / (sh * sw))
    x_elems = c_i * h_i * w_i
    x_touched = c_i * _touched_rows(h_i, h_o, kh, sh, ph, dh) * _touched_rows(w_i, w_o, kw, sw,
                                                                               pw, dw)
    y_elems = c_o * h_o * w_o
    w_elems = c_o * (c_i // g) * kh * kw
    common: dict[str, Any] = dict(
        layer=layer.name, layer_index=index, macs_per_sample=macs, groups=g, k_h=kh, k_w=kw,
        window_h=keh, window_w=kew, stride_h=sh, stride_w=sw, rho=rho)
    out: list[GConv] = []
    for p in passes:
        if p == "forward":
            out.append(GConv(pass_name=p, stationary="activation", out_h=h_o, out_w=w_o,
                             out_c=c_o // g, red_c=c_i // g, transposed=False, a_h=h_i, a_w=w_i,
                             a_elems=x_elems, a_touched_elems=x_touched, b_elems=w_elems,
                             out_elems=y_elems, a_kind=ACT, b_kind=WGT, out_kind=ACT, **common))
        elif p == "dgrad":
            out.append(GConv(pass_name=p, stationary="activation", out_h=h_i + 2 * ph,
                             out_w=w_i + 2 * pw,
                             out_c=c_i // g, red_c=c_o // g, transposed=True, a_h=h_o, a_w=w_o,
                             a_elems=y_elems, a_touched_elems=y_elems, b_elems=w_elems,
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


def network_gconvs(net: Network, passes: tuple[str, ...] = PASSES) -> list[GConv]:
    """All GConvs of a network, layer-major then pass order."""
    out: list[GConv] = []
    for i, layer in enumerate(net.layers):
        out.extend(layer_gconvs(layer, i, passes))
    return out
