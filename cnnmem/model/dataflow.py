"""The bound-attaining dataflow: an integer tile search, vectorized over tiles, batch sizes and
buffer capacities (papers.md section 1; the pass mapping is documented in :mod:`gconv`).

For each layer-pass the candidate tiles (b, x, y, z) — or (c, x, y, z) for wgrad — are an array;
each candidate has a buffer need and a DRAM traffic that do not depend on the capacity. The
best traffic for a capacity M is the minimum over candidates with need <= M: candidates are
sorted by need once, the traffic's running minimum is taken, and every capacity is answered by
one binary search. A capacity below the smallest need is *infeasible* (traffic = inf).

Tile sizes tried along an axis of length n are the distinct values ceil(n / k) for a set of
tile counts k (all k <= 8, then roughly geometric, plus powers of two): a tile size that does
not change the tile count cannot lower traffic, so only these matter; the geometric thinning is
our speed compromise and can only make the dataflow's traffic larger, never below the bound.

Counting rules (per reduction channel, the tile holds one operand-A halo and its weights; no
double buffering):

* need_bytes = e_out*b*x*y*z + e_a*b*x'*y' + e_b*z*K_h*K_w        (activation-stationary)
  need_bytes = e_out*z*c*K_h*K_w + e_b*z*x*y + e_a*c*x'*y'         (weight-stationary, wgrad)
* wgrad's reduction is over output positions: a column strip of y output columns is streamed
  in chunks of x rows in row order, and the operand-A (X) rows that consecutive chunks share
  stay in the x' x y' halo buffer (a rolling line buffer), so each strip loads each touched X
  row once (the sliding-window reuse across chunks that forward/dgrad tiles cannot have: their
  reduction is over channels).
* traffic = A halo loads + B loads + output written once; the halo of a tile is the set of real
  operand-A rows (cols) its taps reach (:func:`halo_stats`; zero padding is generated on chip,
  never read), and the buffer holds the largest tile's halo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnnmem.model.gconv import GConv, axis_pairs
from cnnmem.model.precision import Precision

_SMALL_COUNTS = np.arange(1, 9)


def tile_sizes(n: int, max_sizes: int = 12) -> np.ndarray:
    """Distinct useful tile sizes along an axis of length ``n`` (descending)."""
    counts = set(_SMALL_COUNTS[_SMALL_COUNTS <= n].tolist())
    k = 8.0
    while k < n:
        k *= 1.6
        counts.add(min(n, int(round(k))))
    sizes = {-(-n // c) for c in counts}
    p = 1
    while p < n:
        sizes.add(p)
        p *= 2
    sizes.add(n)
    out = np.array(sorted(sizes, reverse=True), dtype=np.int64)
    if out.size > max_sizes:  # keep the largest, the smallest, and an even spread between
        keep = np.unique(np.round(np.geomspace(1, out.size, max_sizes)).astype(int) - 1)
        out = out[keep]
    return out


def halo_stats(g: GConv, tiles: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Per tile size along an output axis: (operand-A rows summed over all tiles, rows of the
    largest tile's halo). A tile's halo is the set of real operand-A rows its outputs' taps
    reach (:func:`cnnmem.model.gconv.axis_pairs`): padding is never read, and a strided gather
    (K < s) or a dilated window reads only the rows it uses. Vectorized over tile sizes."""
    out_pos, a_pos = axis_pairs(g, axis)
    tiles = np.asarray(tiles, dtype=np.int64)
    n_out = g.out_h if axis == 0 else g.out_w
    n_a = g.a_h if axis == 0 else g.a_w
    n_tiles_max = int(-(-n_out // tiles.min())) if tiles.size else 0
    if out_pos.size == 0 or tiles.size == 0:
        z = np.zeros(tiles.size)
        return z, z
    # one key per (tile size, tile, operand row) a tap joins; distinct keys = rows loaded
    tile_of = out_pos[None, :] // tiles[:, None]  # (n_sizes, n_pairs)
    size_ix = np.arange(tiles.size)[:, None]
    keys = (size_ix * n_tiles_max + tile_of) * n_a + a_pos[None, :]
    keys = np.unique(keys.ravel())
    per_tile = np.bincount(keys // n_a, minlength=tiles.size * n_tiles_max).reshape(
        tiles.size, n_tiles_max)
    return per_tile.sum(axis=1).astype(float), per_tile.max(axis=1).astype(float)


@dataclass(frozen=True)
class DataflowResult:
    """Best tiling per (batch, capacity). ``tile`` is (b|c, x, y, z); -1 where infeasible."""

    traffic_bytes: np.ndarray  # (n_batch, n_capacity), inf where infeasible
    need_bytes: np.ndarray  # buffer used by the chosen tile
    tile: np.ndarray  # (n_batch, n_capacity, 4) int64
    min_need_bytes: np.ndarray  # (n_batch,) smallest buffer any tile needs
    #: capacities (sorted, distinct) at which the chosen tile changes for some batch size: the
    #: result is constant on [step_k, step_k+1) (a tile fits when its need <= the capacity)
    step_need_bytes: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def feasible(self) -> np.ndarray:
        return np.isfinite(self.traffic_bytes)


def _batch_tiles(batch: np.ndarray) -> np.ndarray:
    """Candidate sub-batch tiles per batch size: (n_batch, n_b), 0 marks 'not a candidate'."""
    bmax = int(batch.max())
    base = tile_sizes(bmax, max_sizes=10)
    cand = np.concatenate([base[None, :].repeat(batch.size, 0), batch[:, None]], axis=1)
    return np.where(cand <= batch[:, None], cand, 0)


def _staircase(need: np.ndarray, traffic: np.ndarray, capacity: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of (rows, cands): index of the min-traffic candidate with need <= each capacity.

    Returns (index (rows, n_cap) or -1, min need per row, the sorted distinct needs at which the
    chosen candidate changes in some row)."""
    rows, ncand = need.shape
    order = np.argsort(need, axis=1, kind="stable")
    need_sorted = np.take_along_axis(need, order, axis=1)
    tr_sorted = np.take_along_axis(traffic, order, axis=1)
    # running argmin of traffic along the need-sorted axis
    run_min = np.minimum.accumulate(tr_sorted, axis=1)
    is_new = tr_sorted <= run_min
    pos = np.where(is_new, np.arange(ncand)[None, :], 0)
    run_arg = np.maximum.accumulate(pos, axis=1)
    # batched searchsorted: offset each row so the flattened needs are globally sorted
    finite_max = float(np.nanmax(np.where(np.isfinite(need_sorted), need_sorted, 0))) + 1.0
    offs = np.arange(rows, dtype=float)[:, None] * (finite_max * 2.0)
    flat = (np.minimum(need_sorted, finite_max * 1.2) + offs).ravel()  # inf = not a candidate
    q = (np.minimum(capacity[None, :], finite_max * 1.1) + offs).ravel()
    k = np.searchsorted(flat, q, side="right").reshape(rows, -1) - np.arange(rows)[:, None] * ncand
    # k = how many candidates fit; last fitting sorted position = k - 1
    idx_sorted = np.take_along_axis(run_arg, np.clip(k - 1, 0, ncand - 1), axis=1)
    idx = np.take_along_axis(order, idx_sorted, axis=1)
    steps = np.unique(need_sorted[is_new & np.isfinite(need_sorted)])
    return np.where(k > 0, idx, -1), need_sorted[:, 0], steps


def _xy_pairs(g: GConv, nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate (row-tile, col-tile) index pairs. A square activation-stationary problem (same
    size, kernel, stride, padding and dilation along both axes) is symmetric: the tile (x, y)
    costs what (y, x) costs, so only one of each mirrored pair is kept."""
    px, py = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    square = (g.out_h == g.out_w and g.k_h == g.k_w and g.stride_h == g.stride_w
              and g.window_h == g.window_w and g.pad_h == g.pad_w and g.a_h == g.a_w
              and not g.is_weight_stationary)  # wgrad streams rows, not columns, in order
    keep = (px <= py) if square else np.ones_like(px, dtype=bool)
    return px[keep], py[keep]


def best_tiling(g: GConv, batch: np.ndarray, capacity_bytes: np.ndarray,
                precision: Precision, *, max_sizes: int = 12) -> DataflowResult:
    """Search the dataflow's integer tiles for every batch size and capacity at once."""
    batch = np.atleast_1d(np.asarray(batch, dtype=np.int64))
    cap = np.atleast_1d(np.asarray(capacity_bytes, dtype=float))
    ea, eb, eo = (precision.bytes_of(k) for k in (g.a_kind, g.b_kind, g.out_kind))
    kk = g.k_h * g.k_w
    # wgrad's chunk shape sets its column-halo overhead (rows are read once, see below), so
    # its spatial sizes are searched more finely
    spatial = max_sizes + 8 if g.is_weight_stationary else max_sizes
    xs = tile_sizes(g.out_h, spatial)
    ys = tile_sizes(g.out_w, spatial)
    zs = tile_sizes(g.out_c, max_sizes + 4)
    rtot, hx = halo_stats(g, xs, 0)
    ctot, hy = halo_stats(g, ys, 1)
    ntx = -(-g.out_h // xs)
    nty = -(-g.out_w // ys)
    ntz = -(-g.out_c // zs)
    n_red_total = g.red_c * g.groups
    nb = batch.astype(float)

    px, py = _xy_pairs(g, xs.size, ys.size)  # (P,) the row/col tile pairs searched
    X, Y = xs[px].astype(float), ys[py].astype(float)
    halo_xy = hx[px] * hy[py]  # operand-A rows x cols one tile loads per reduction channel
    a_rows_cols = rtot[px] * ctot[py]  # summed over all spatial tiles
    n_xy_tiles = (ntx[px] * nty[py]).astype(float)

    if g.is_weight_stationary:
        cs = tile_sizes(g.red_c, max_sizes + 4)
        ntc = -(-g.red_c // cs)
        # axes: (c, xy pair, z); the batch only scales the traffic
        C, Z = cs[:, None, None].astype(float), zs[None, None, :].astype(float)
        need = (eo * Z * C * kk + eb * Z * (X * Y)[None, :, None]
                + ea * C * halo_xy[None, :, None])
        # the reduction runs over output positions, so chunks of one column strip are taken in
        # row order and the operand-A rows two chunks share stay on chip (a rolling line
        # buffer of the largest halo, which the need already holds): each strip loads every
        # touched row once, never a halo row twice
        rows_once = float(np.unique(axis_pairs(g, 0)[1]).size)
        a_loads = ntz[None, None, :] * n_red_total * (rows_once * ctot[py])[None, :, None]
        b_loads = ntc[:, None, None] * (g.out_c * g.groups) * g.out_h * g.out_w
        per_sample = (ea * a_loads + eb * b_loads).astype(float)
        shape = np.broadcast_shapes(need.shape, per_sample.shape)
        need_f = np.broadcast_to(need, shape).reshape(1, -1)
        per_f = np.broadcast_to(per_sample, shape).reshape(1, -1)
        idx, min_need, steps = _staircase(need_f, per_f, cap)
        idx = idx[0]
        traffic = np.where(idx >= 0, per_f[0, np.maximum(idx, 0)], np.inf)[None, :] * nb[:, None]
        traffic = traffic + eo * g.out_elems
        need_sel = np.where(idx >= 0, need_f[0, np.maximum(idx, 0)], np.nan)
        ci, pi, zi = np.unravel_index(np.maximum(idx, 0), shape)
        tile = np.stack([cs[ci], xs[px[pi]], ys[py[pi]], zs[zi]], axis=-1)
        tile = np.where((idx >= 0)[:, None], tile, -1)
        return DataflowResult(
            traffic_bytes=traffic,
            need_bytes=np.broadcast_to(need_sel, traffic.shape).copy(),
            tile=np.broadcast_to(tile[None], (batch.size, cap.size, 4)).copy(),
            min_need_bytes=np.full(batch.size, float(min_need[0])),
            step_need_bytes=steps,
        )

    bs = _batch_tiles(batch)  # (nB, n_b)
    B = bs[:, :, None, None].astype(float)
    Z = zs[None, None, None, :].astype(float)
    need = (eo * B * (X * Y)[:, None] * Z + ea * B * halo_xy[:, None]
            + eb * Z * kk)  # (nB, n_b, P, nz)
    need = np.where(B > 0, need, np.inf)
    a_loads = nb[:, None, None, None] * (ntz[None, :] * n_red_total * a_rows_cols[:, None])
    n_btiles = np.where(bs > 0, -(-batch[:, None] // np.maximum(bs, 1)), 0)
    b_loads = n_btiles[:, :, None, None] * n_xy_tiles[:, None] * float(g.b_elems)
    traffic = ea * a_loads + eb * b_loads  # (nB, n_b, P, nz)
    shape = np.broadcast_shapes(need.shape, traffic.shape)
    need_f = np.broadcast_to(need, shape).reshape(batch.size, -1)
    tr_f = np.broadcast_to(traffic, shape).reshape(batch.size, -1)
    idx, min_need, steps = _staircase(need_f, tr_f, cap)
    safe = np.maximum(idx, 0)
    best = np.take_along_axis(tr_f, safe, axis=1)
    out_bytes = eo * g.out_elems * nb[:, None]
    traffic_sel = np.where(idx >= 0, best + out_bytes, np.inf)
    need_sel = np.where(idx >= 0, np.take_along_axis(need_f, safe, axis=1), np.nan)
    _, bi, pi, zi = np.unravel_index(safe, shape)
    bsel = np.take_along_axis(bs, bi.reshape(batch.size, -1), axis=1).reshape(bi.shape)
    tile = np.stack([bsel, xs[px[pi]], ys[py[pi]], zs[zi]], axis=-1)
    tile = np.where((idx >= 0)[..., None], tile, -1)
    return DataflowResult(traffic_bytes=traffic_sel, need_bytes=need_sel, tile=tile,
                          min_need_bytes=min_need, step_need_bytes=steps)
