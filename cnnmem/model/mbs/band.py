"""Tables over the groups [s..e] of consecutive layers, in memory linear in the layer count.

Part of :mod:`cnnmem.model.mbs` (issue #16, "Scale"). A table holds a value for every group
[s..e] whose depth ``e - s + 1`` is at most its band (:data:`cnnmem.limits.MAX_GROUP_LAYERS`,
or the whole network when it has fewer layers): ``L x band`` values, not ``L x L``. Tables are
indexed like the square arrays they replace, ``table[s, e]`` with integers or broadcast arrays
(0 where ``s > e``, as below the diagonal of a square table; a ValueError where the group is
deeper than the band: callers check groupings against the limit first).

* :class:`Banded`: values stored per (group end e, depth - 1), row e holding the groups that
  end at e, filled by a sweep over e (:func:`band_event_sums` and the live-set sweeps of
  :mod:`cnnmem.model.mbs.tables`); stored as int32 when every value is an integer that fits
  (exact; element counts are integers), else float64.
* :class:`RangeSum` and :class:`RangeMax`: sums and maxima of a per-layer vector over [s..e]
  from O(L) prefix sums and O(L log L) sparse tables (any depth; a sum is the difference of
  two prefix sums, as in the square (L, L) tables these replaced, so values are unchanged).
* :class:`Difference` and :class:`PlusScaled`: tables derived from two others on access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

#: largest magnitude stored as int32
_INT32_MAX = 2**31 - 1


class PairTable(Protocol):
    """A value per group [s..e], indexed ``table[s, e]`` (integers or broadcast arrays)."""

    def __getitem__(self, key: tuple[Any, Any]) -> Any: ...


def _depths(key: tuple[Any, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s, e = key
    s_arr, e_arr = np.asarray(s, dtype=np.int64), np.asarray(e, dtype=np.int64)
    return s_arr, e_arr, e_arr - s_arr


def _scalar(v: np.ndarray) -> Any:
    """A 0-d result as a numpy scalar (as indexing a square array with integers gives)."""
    return v[()] if np.ndim(v) == 0 else v


def band_store(n: int, band: int, bound: float, integral: bool) -> np.ndarray:
    """A zeroed (n, band) table to fill row by row: int32 when every value will be an integer
    of magnitude at most ``bound`` < 2**31 (exact), else float64."""
    small = integral and bound <= _INT32_MAX
    return np.zeros((n, band), dtype=np.int32 if small else float)


@dataclass(frozen=True, eq=False)
class Banded:
    """Values of the groups [e - d..e] at ``data[e, d]`` for depths d + 1 up to the band."""

    data: np.ndarray  # (L, band)

    @property
    def band(self) -> int:
        return int(self.data.shape[1])

    def __getitem__(self, key: tuple[Any, Any]) -> Any:
        s, e, d = _depths(key)
        if np.any(d >= self.band):
            raise ValueError(f"a group of {int(np.max(d)) + 1} layers is deeper than the "
                             f"table's band of {self.band} (cnnmem.limits.MAX_GROUP_LAYERS)")
        vals = self.data[e, np.maximum(d, 0)].astype(float)
        return _scalar(np.where(d < 0, 0.0, vals))


@dataclass(frozen=True, eq=False)
class RangeSum:
    """``sum(values[s..e])`` (0 for s > e): ``c[e + 1] - c[s]`` of the prefix sums."""

    prefix: np.ndarray  # (L + 1,)

    @staticmethod
    def of(values: np.ndarray) -> RangeSum:
        return RangeSum(np.concatenate([[0.0], np.cumsum(values, dtype=float)]))

    def __getitem__(self, key: tuple[Any, Any]) -> Any:
        s, e, d = _depths(key)
        ok = d >= 0
        return _scalar(np.where(ok, self.prefix[np.where(ok, e, s) + 1] - self.prefix[s], 0.0))


@dataclass(frozen=True, eq=False)
class RangeMax:
    """``max(0, values[s..e])`` (0 for s > e) from a sparse table: level k holds the maximum
    of the 2**k values starting at each layer (-inf past the end)."""

    levels: np.ndarray  # (K, L)

    @staticmethod
    def of(values: np.ndarray) -> RangeMax:
        v = np.asarray(values, dtype=float)
        rows = [v]
        width = 1
        while 2 * width <= v.size:
            prev = rows[-1]
            nxt = np.full(v.size, -np.inf)
            nxt[: v.size - 2 * width + 1] = np.maximum(prev[: v.size - 2 * width + 1],
                                                       prev[width: v.size - width + 1])
            rows.append(nxt)
            width *= 2
        return RangeMax(np.array(rows) if v.size else np.zeros((1, 0)))

    def __getitem__(self, key: tuple[Any, Any]) -> Any:
        s, e, d = _depths(key)
        ok = d >= 0
        depth = np.where(ok, d + 1, 1)
        k = np.floor(np.log2(depth)).astype(np.int64)
        k = np.where((1 << (k + 1)) <= depth, k + 1, np.where((1 << k) > depth, k - 1, k))
        end = np.where(ok, e, s) - (1 << k) + 1
        m = np.maximum(self.levels[k, s], self.levels[k, end])
        return _scalar(np.where(ok, np.maximum(m, 0.0), 0.0))


@dataclass(frozen=True, eq=False)
class Difference:
    """``a[s, e] - b[s, e]``."""

    a: PairTable
    b: PairTable

    def __getitem__(self, key: tuple[Any, Any]) -> Any:
        return self.a[key] - self.b[key]


@dataclass(frozen=True, eq=False)
class PlusScaled:
    """``a[s, e] + b[s, e] * scale`` (``a[s, e] + 0.0`` when ``b`` is None)."""

    a: PairTable
    b: PairTable | None
    scale: float

    def __getitem__(self, key: tuple[Any, Any]) -> Any:
        return self.a[key] + (self.b[key] * self.scale if self.b is not None else 0.0)


def band_event_sums(n: int, band: int, lo: np.ndarray, hi: np.ndarray, col: np.ndarray,
                    values: np.ndarray) -> list[Banded]:
    """Banded tables ``V_k[s, e] = sum of values[j, k] over the events j with
    lo_j <= s <= hi_j and col_j <= e`` (an event is a change of the value of the groups that
    start in [lo, hi] once they reach layer col; every event has hi <= col).

    The sum of a square table's event matrix cumulated along e, for the groups of at most
    ``band`` layers, built by one sweep over the group end e keeping the running value of the
    groups that end there (O(L x band) memory and work). Values are integers here (element
    counts), so the order of summation does not change them."""
    lo, hi, col = (np.asarray(a, dtype=np.int64) for a in (lo, hi, col))
    vals = np.asarray(values, dtype=float)
    vals = vals[:, None] if vals.ndim == 1 else vals
    k_tables = vals.shape[1]
    order = np.argsort(col, kind="stable")
    lo, hi, col, vals = lo[order], hi[order], col[order], vals[order]
    ptr = np.searchsorted(col, np.arange(n + 1))
    bound = np.abs(vals).sum(axis=0)  # no value can exceed the sum of its events' magnitudes
    integral = np.all(vals == np.round(vals), axis=0)
    out = [np.zeros((n, band), dtype=np.int32 if (ok and b <= _INT32_MAX) else float)
           for ok, b in zip(integral, bound, strict=True)]
    run = np.zeros((n + 1, k_tables))  # run[s]: the value of [s..e] for s in the window
    for e in range(n):
        w0 = max(0, e - band + 1)
        a, b = ptr[e], ptr[e + 1]
        if b > a:
            first = np.maximum(lo[a:b], w0)
            keep = first <= hi[a:b]
            if keep.any():
                diff = np.zeros((e - w0 + 2, k_tables))
                np.add.at(diff, first[keep] - w0, vals[a:b][keep])
                np.add.at(diff, hi[a:b][keep] + 1 - w0, -vals[a:b][keep])
                run[w0: e + 1] += np.cumsum(diff[:-1], axis=0)
        column = run[w0: e + 1][::-1]
        for k in range(k_tables):
            out[k][e, : e - w0 + 1] = column[:, k]
    return [Banded(o) for o in out]
