"""How well a conv/FC pass maps onto a systolic MAC array [reconstruction].

Without an array shape in the hardware description every MAC slot is usable and compute time is
MACs / (MAC units x clock x utilization). With ``array: [R, C]`` the MAC units are weight-
stationary systolic arrays of R rows x C columns (TPU-style; WaveCore publishes two 128 x 128
arrays). A pass is a GEMM: an M x K operand streams through a K x N stationary operand held in
R x C tiles, so the fraction of MAC slots doing useful work is

    efficiency = K / (ceil(K/R) R)  x  N / (ceil(N/C) C)  x  M / (M + R + C)

(ragged last tiles along K and N, and filling and draining the array once per stationary tile
while M rows stream). The GEMM of each pass, per sample batch n:

======== ===================== ============== =====================
pass     M (streamed rows)     N (columns)    K (reduction)
======== ===================== ============== =====================
forward  n x H_O x W_O         C_O / g        (C_I / g) K_h K_w
dgrad    n x H_I x W_I         C_I / g        (C_O / g) K_h K_w
wgrad    (C_I / g) K_h K_w     C_O / g        n x H_O x W_O
======== ===================== ============== =====================

Grouped and depthwise convolutions map one group at a time (N = C_O / g), which is why they
use a large array poorly. Compute time becomes MACs / (efficiency x MAC units x clock x
utilization); energy still counts the MACs done. Small sub-batches (MBS) shorten M and pay the
fill and drain; the baseline at the full batch does not. The layer-by-layer, MBS, Layer Fusion
and OCCAM costs use it; the TNPU strategies model their own PE split (conv and FC units of PEs,
not a systolic array) and do not.
"""

from __future__ import annotations

import numpy as np

from cnnmem.hardware import Hardware
from cnnmem.model.gconv import GConv


def gemm_dims(g: GConv, batch: np.ndarray | float
              ) -> tuple[np.ndarray, float, np.ndarray | float]:
    """(M, N, K) of a layer-pass's GEMM for sub-batch sizes ``batch`` (M is an array)."""
    n = np.asarray(batch, dtype=float)
    taps = g.k_h * g.k_w
    if g.pass_name == "forward":
        return n * g.out_h * g.out_w, float(g.out_c), float(g.red_c * taps)
    if g.pass_name == "dgrad":  # dX pixels: out_elems / channels
        return n * (g.out_elems / (g.out_c * g.groups)), float(g.out_c), float(g.red_c * taps)
    positions = g.b_elems / (g.out_c * g.groups)  # wgrad: dY positions per sample
    return np.full_like(n, float(g.red_c * taps)), float(g.out_c), n * positions


def mapping_efficiency(hw: Hardware, m: np.ndarray | float, n: np.ndarray | float,
                       k: np.ndarray | float) -> np.ndarray:
    """Useful fraction of MAC slots for GEMMs (M, N, K) on the hardware's arrays (1 if none)."""
    m, n, k = (np.asarray(v, dtype=float) for v in (m, n, k))
    if hw.array_rows <= 0:
        return np.ones(np.broadcast_shapes(m.shape, n.shape, k.shape))
    rows, cols = float(hw.array_rows), float(hw.array_cols)
    eff_k = k / (np.ceil(k / rows) * rows)
    eff_n = n / (np.ceil(n / cols) * cols)
    eff_m = m / (m + rows + cols)
    return eff_k * eff_n * eff_m


def pass_efficiency(hw: Hardware, g: GConv, batch: np.ndarray | float) -> np.ndarray:
    """Mapping efficiency of one layer-pass at sub-batch sizes ``batch``."""
    return mapping_efficiency(hw, *gemm_dims(g, batch))
