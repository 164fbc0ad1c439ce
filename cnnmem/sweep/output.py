"""Result files: fast deterministic CSV formatting and atomic writes.

Numbers are formatted by array arithmetic (no Python loop per row): a whole number below 1e15 is
written as an integer (``524288``), any other finite number in scientific notation with 15
significant digits and trailing zeros dropped (``1.2345e-3``), infinity as ``inf`` and NaN as an
empty field. Every CSV reader (pandas, spreadsheets) reads these back; 15 significant digits
round-trip every float64 to within 1e-15 relative, and the text depends only on the values, so
the same inputs give byte-identical files.

:class:`AtomicOutputs` writes every file of a run under a temporary name in the output
directory and renames them into place only when the whole run succeeded: after an error or
Ctrl-C no partial file is left behind (earlier results, if any, stay untouched).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

_W = 22  # widest number: sign, 15 digits with point, e, exponent sign, 3 exponent digits
_D = 15  # significant digits
_POW = 10 ** np.arange(_D - 1, -1, -1, dtype=np.int64)


def _digits(v: np.ndarray, count: int) -> np.ndarray:
    """Decimal digits (n, count) of non-negative int64 ``v``, most significant first."""
    out = np.empty((v.size, count), np.uint8)
    q = v.copy()
    for j in range(count - 1, -1, -1):  # a loop over digit positions, not over numbers
        q10 = q // 10
        out[:, j] = q - q10 * 10
        q = q10
    return out


def number_bytes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Characters (n, 22) uint8 and a mask of the ones to keep, for numbers ``x`` (n,)."""
    x = np.asarray(x, dtype=float).ravel()
    n = x.size
    finite = np.isfinite(x)
    ax = np.where(finite, np.abs(x), 0.0)
    integral = finite & (ax < 1e15) & (ax == np.floor(ax))
    sci = finite & ~integral
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        e = np.where(sci, np.floor(np.log10(np.where(sci, ax, 1.0))), 0.0)
        m = np.rint(np.where(sci, ax, 0.0) * 10.0 ** (-e) * 10.0 ** (_D - 1))
    over = m >= 10.0**_D
    m = np.where(over, np.rint(m / 10), m)
    e = np.where(over, e + 1, e)
    under = sci & (m < 10.0 ** (_D - 1))
    m = np.where(under, m * 10, m)
    e = np.where(under, e - 1, e)
    v = np.where(integral, ax, m).astype(np.int64)
    dig = _digits(v, _D) + np.uint8(48)  # (n, 15) ASCII
    mat = np.zeros((n, _W), np.uint8)
    keep = np.zeros((n, _W), bool)
    mat[:, 0] = ord("-")
    keep[:, 0] = (x < 0) & ~np.isnan(x)
    # whole numbers: digits in columns 1..15 without leading zeros
    ndig = np.maximum(1, (v[:, None] >= _POW).sum(axis=1))
    int_keep = integral[:, None] & (np.arange(_D) >= (_D - ndig)[:, None])
    # scientific: d.dddddddddddddde[-]ddd in columns 1..21, trailing zeros dropped
    frac = dig[:, 1:]
    nonzero = frac != 48
    last = np.where(nonzero.any(axis=1), _D - 2 - np.argmax(nonzero[:, ::-1], axis=1), -1)
    ei = np.abs(e).astype(np.int64)
    edig = _digits(ei, 3) + np.uint8(48)
    endig = np.maximum(1, (ei[:, None] >= np.array([100, 10, 1])).sum(axis=1))
    isci = sci[:, None]
    mat[:, 1] = dig[:, 0]
    dot = np.full((n, 1), ord("."), np.uint8)
    pad = np.zeros((n, 1), np.uint8)
    mat[:, 2:17] = np.where(isci, np.concatenate([dot, frac], axis=1),
                            np.concatenate([frac, pad], axis=1))
    keep[:, 1:16] = int_keep
    keep[:, 1] |= sci
    keep[:, 2] |= sci & (last >= 0)
    keep[:, 3:17] |= isci & (np.arange(_D - 1) <= last[:, None])
    mat[:, 17] = ord("e")
    keep[:, 17] = sci
    mat[:, 18] = ord("-")
    keep[:, 18] = sci & (e < 0)
    mat[:, 19:22] = edig
    keep[:, 19:22] = isci & (np.arange(3) >= (3 - endig)[:, None])
    inf = np.isinf(x)
    if inf.any():
        mat[inf, 1:4] = np.frombuffer(b"inf", np.uint8)
        keep[inf, 1:4] = True
    return mat, keep


def _quote(s: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([s])
    return buf.getvalue()


def text_bytes(codes: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Characters and mask for a column of strings given as codes into ``labels``."""
    enc = [_quote(s).encode("utf-8") for s in labels] or [b""]
    width = max(1, max(len(b) for b in enc))
    table = np.zeros((len(enc), width), np.uint8)
    tkeep = np.zeros((len(enc), width), bool)
    for i, b in enumerate(enc):  # one row per distinct label
        table[i, :len(b)] = np.frombuffer(b, np.uint8)
        tkeep[i, :len(b)] = True
    codes = np.asarray(codes, dtype=np.int64)
    return table[codes], tkeep[codes]


Column = tuple[str, Any] | tuple[str, Any, Sequence[str]]


def csv_rows(columns: Sequence[Column], n: int) -> bytes:
    """CSV text of ``n`` rows. Each column: ("num", values) or ("text", codes, labels)."""
    if n == 0:
        return b""
    mats, keeps = [], []
    sep = np.full((n, 1), ord(","), np.uint8)
    for i, col in enumerate(columns):
        if col[0] == "num":
            m, k = number_bytes(np.broadcast_to(np.asarray(col[1], float), (n,)))
        else:
            labels: Any = col[2]  # type: ignore[misc]  # text columns carry their labels
            m, k = text_bytes(np.broadcast_to(np.asarray(col[1]), (n,)), labels)
        mats.append(m)
        keeps.append(k)
        last = i == len(columns) - 1
        mats.append(np.full((n, 1), ord("\n"), np.uint8) if last else sep)
        keeps.append(np.ones((n, 1), bool))
    return np.hstack(mats)[np.hstack(keeps)].tobytes()


def csv_header(names: Sequence[str]) -> bytes:
    return (",".join(_quote(c) for c in names) + "\n").encode("utf-8")


def dataframe_csv(df: Any) -> bytes:
    """A DataFrame as CSV with the same number format as the streamed result files."""
    import pandas as pd

    cols: list[Column] = []
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            cols.append(("num", s.to_numpy(dtype=float)))
        else:
            codes, uniques = pd.factorize(s.astype(str), sort=False)
            cols.append(("text", codes, [str(u) for u in uniques]))
    return csv_header([str(c) for c in df.columns]) + csv_rows(cols, len(df))


class AtomicOutputs:
    """Files of one run, written under temporary names and renamed into place on commit()."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._created_dir = not self.directory.exists()
        self._files: dict[str, tuple[Path, IO[bytes]]] = {}

    def open(self, name: str) -> IO[bytes]:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{name}.tmp-{os.getpid()}"
        fh = open(tmp, "wb")  # noqa: SIM115 - closed in commit/abort
        self._files[name] = (tmp, fh)
        return fh

    def write(self, name: str, data: bytes) -> None:
        self.open(name).write(data)

    def commit(self) -> list[Path]:
        for _tmp, fh in self._files.values():
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
        done = []
        for name, (tmp, _) in self._files.items():
            final = self.directory / name
            os.replace(tmp, final)
            done.append(final)
        self._files.clear()
        return done

    def abort(self) -> None:
        for tmp, fh in self._files.values():
            try:
                fh.close()
            finally:
                tmp.unlink(missing_ok=True)
        self._files.clear()
        if self._created_dir:
            try:
                self.directory.rmdir()  # only if empty
            except OSError:
                pass

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abort()
