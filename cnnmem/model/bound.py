"""Communication lower bound of one layer-pass (Chen et al., HPCA 2020; papers.md section 1).

In elements, for an on-chip buffer of M elements::

    Q_LB = max( |I| + |W| + |O| ,  2 * #MAC / sqrt(rho * M) + |O| ),   rho = max(1, K_h K_w / s^2)

|I| counts the input elements some window reads (papers.md: "|I| without padding"), and #MAC
counts the MACs on real inputs only (``GConv.real_macs_per_sample``): a MAC whose input operand
is zero padding moves no data, and counting it lets the "bound" exceed traffic a legal tiling
attains on strided, padded small maps (issue #12 item 5). For VGG-16 conv3_1 this lowers the
sqrt term from 2.408 M to 2.351 M elements (papers.md's worked value 3.21 M used the padded
924.8 M MACs; the real-input count is 902.9 M). With mixed
precisions the bound is taken in bytes with e_min = the smallest bytes-per-element among the
pass's operands: the buffer holds at most M_bytes / e_min elements and every element moved costs
at least e_min bytes, so ``e_min * 2 * #MAC / sqrt(rho * M_bytes / e_min) + e_out * |O|`` bounds
any dataflow; with one precision e this is exactly e * Q_LB. [reconstruction: the paper treats
one precision.]
"""

from __future__ import annotations

import numpy as np

from cnnmem.model.gconv import GConv
from cnnmem.model.precision import Precision


def lower_bound_elems(macs: np.ndarray | float, rho: float, read_once: np.ndarray | float,
                      out_elems: np.ndarray | float, capacity_elems: np.ndarray | float
                      ) -> np.ndarray:
    """The paper's formula in elements, broadcast over its array arguments."""
    m = np.asarray(capacity_elems, dtype=float)
    return np.maximum(read_once, 2.0 * np.asarray(macs, float) / np.sqrt(rho * m) + out_elems)


def operand_totals(g: GConv, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Element counts |A|, |B|, |O| of the pass for each batch size (A = touched elements)."""
    n = np.asarray(batch, dtype=float)
    if g.is_weight_stationary:  # wgrad: X and dY scale with N, dW does not
        return n * g.a_touched_elems, n * g.b_elems, np.full_like(n, float(g.out_elems))
    return n * g.a_touched_elems, np.full_like(n, float(g.b_elems)), n * g.out_elems


def lower_bound_bytes(g: GConv, batch: np.ndarray, capacity_bytes: np.ndarray,
                      precision: Precision) -> np.ndarray:
    """Lower bound on DRAM bytes, shape (len(batch), len(capacity_bytes))."""
    n = np.atleast_1d(np.asarray(batch, dtype=float))[:, None]
    m = np.atleast_1d(np.asarray(capacity_bytes, dtype=float))[None, :]
    ea, eb, eo = (precision.bytes_of(k) for k in (g.a_kind, g.b_kind, g.out_kind))
    e_min = min(ea, eb, eo)
    a, b, o = operand_totals(g, n)
    read_once = ea * a + eb * b + eo * o
    streamed = e_min * 2.0 * g.real_macs_per_sample * n / np.sqrt(g.rho * m / e_min)
    return np.maximum(read_once, streamed + eo * o)
