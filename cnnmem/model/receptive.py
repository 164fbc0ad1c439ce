"""Receptive-field arithmetic along one spatial axis (papers.md section 3).

To produce ``r`` output rows of a window layer (conv or pooling: kernel K, stride s, dilation d,
padding p) the layer needs ``(r - 1) * s + d * (K - 1) + 1`` input rows; chaining this backwards
through a fused group gives the rows of every earlier map that ``r`` rows of the last map need
(R_j = (r-1)s_j + K_j, R_l = (R_{l+1}-1)s_l + K_l). Padding rows are not stored: the count is
clipped to the input height (at the borders the window overlaps padding, never more real rows
than the map has). Pooling is a window layer like any other; element-wise layers pass rows
through unchanged (K = s = 1).

All functions are pure and broadcast over numpy arrays.
"""

from __future__ import annotations

import numpy as np


def effective_kernel(kernel: np.ndarray | int, dilation: np.ndarray | int = 1) -> np.ndarray:
    """Span of a dilated window in input rows: d * (K - 1) + 1."""
    return np.asarray(dilation) * (np.asarray(kernel) - 1) + 1


def input_rows(out_rows: np.ndarray | int, kernel: np.ndarray | int, stride: np.ndarray | int,
               in_rows: np.ndarray | int, dilation: np.ndarray | int = 1) -> np.ndarray:
    """Input rows that ``out_rows`` consecutive output rows need, clipped to the map height."""
    r = np.asarray(out_rows)
    need = (r - 1) * np.asarray(stride) + effective_kernel(kernel, dilation)
    return np.minimum(need, np.asarray(in_rows))


def chain_input_rows(out_rows: int, kernels: list[int], strides: list[int],
                     in_heights: list[int], dilations: list[int] | None = None) -> list[int]:
    """Rows of each layer's input that ``out_rows`` rows of the LAST layer's output need.

    Layers are given first to last; the result is in the same order (result[0] = rows of the
    first layer's input).
    """
    dilations = dilations or [1] * len(kernels)
    rows = [0] * len(kernels)
    r = out_rows
    for i in range(len(kernels) - 1, -1, -1):
        r = int(input_rows(r, kernels[i], strides[i], in_heights[i], dilations[i]))
        rows[i] = r
    return rows


def window_rows(kernel: np.ndarray | int, stride: np.ndarray | int, in_rows: np.ndarray | int,
                dilation: np.ndarray | int = 1, window: str = "k") -> np.ndarray:
    """Rows of a layer's input a steady-state row stream keeps on chip.

    ``window="k"``: the last K rows (one output row's worth; the next s rows overwrite the
    oldest). ``window="k+s-1"``: K + s - 1 rows (the next output row's fresh rows arrive while
    the current window is still in use, double buffering). Clipped to the map height.
    """
    k = effective_kernel(kernel, dilation)
    rows = k if window == "k" else k + np.asarray(stride) - 1
    return np.minimum(rows, np.asarray(in_rows))


def overlap_rows(kernel: np.ndarray | int, stride: np.ndarray | int,
                 dilation: np.ndarray | int = 1) -> np.ndarray:
    """Rows shared by vertically adjacent windows (Layer Fusion's overlap buffer): max(K - s, 0)."""
    return np.maximum(effective_kernel(kernel, dilation) - np.asarray(stride), 0)
