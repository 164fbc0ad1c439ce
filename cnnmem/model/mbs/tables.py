"""Per-group traffic tables of MBS: which tensors cross a group boundary, per pass and tensor kind.

Part of :mod:`cnnmem.model.mbs` (the package docstring has the model)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from cnnmem.limits import MAX_GROUP_LAYERS, check_count
from cnnmem.model.gconv import PASSES, input_gradient_needed, layer_gconvs
from cnnmem.model.mbs.band import (
    Banded,
    Difference,
    PairTable,
    PlusScaled,
    RangeMax,
    RangeSum,
    band_event_sums,
    band_store,
)
from cnnmem.model.precision import Precision
from cnnmem.model.streaming import streaming_elementwise_ops
from cnnmem.workload.network import Network

KINDS = ("activations", "stash", "weights", "gradients")
CELLS = tuple((p, k) for p in PASSES for k in KINDS)
NOTE_NORM = ("batchnorm inside an MBS group is modelled as per-sample norm (GroupNorm-like "
             "statistics, one pass over an on-chip sample); single-layer full-batch groups run "
             "it as conventional batchnorm")



def cell_key(pass_name: str, kind: str) -> str:
    return f"dram_{pass_name}_{kind}_bytes"


# ------------------------------------------------------------------------------------------
# Per-(start, end) tables of a network, per sample


@dataclass(frozen=True)
class GroupTables:
    """Per-sample quantities of every group [s..e] of at most ``band`` layers, indexed
    ``table[s, e]`` (:mod:`cnnmem.model.mbs.band`: memory linear in layers x band)."""

    in_elems: PairTable  # distinct tensors entering the group
    out_elems: PairTable  # tensors leaving the group (or network outputs)
    stash_write_elems: PairTable
    stash_read_dgrad_elems: PairTable
    stash_read_wgrad_elems: PairTable
    fork_elems: PairTable  # signed gradient-accumulation elements (x 3 already)
    peak_sample_bytes: PairTable  # peak live bytes per sample
    weight_elems: PairTable  # sum of the group's parameters
    weight_ws_bytes: PairTable  # weight working set, dW re-read per sub-batch
    weight_acc_bytes: PairTable  # working set when all group dW accumulate on chip
    macs: PairTable  # per sample, one pass
    #: tensors entering / leaving the group whose gradient backprop computes (none of a tensor
    #: with no parameter upstream, e.g. the network input; issue #12 item 2)
    grad_in_elems: PairTable
    grad_out_elems: PairTable
    macs_dgrad: PairTable  # per sample: MACs of the dgrad passes backprop computes
    vec_forward: PairTable
    vec_dgrad: PairTable
    band: int = 0  # deepest group the tables hold (layers)


def _needs(net: Network, training: bool, input_gradient: bool = False) -> list[list[int]]:
    """Tensor indices (layer index; L = network input) each layer needs in backward.

    Without ``input_gradient``, a parameterless layer whose dgrad is skipped
    (:func:`cnnmem.model.gconv.input_gradient_needed`) runs no backward at all, as in the
    baseline (:func:`cnnmem.model.cost.layer_pass_costs`), and needs nothing."""
    n = len(net)
    skipped = no_backward(net, input_gradient)
    out: list[list[int]] = []
    for i, layer in enumerate(net.layers):
        ins = sorted({n if p < 0 else p for p in net.producers[i]})
        stash = layer.behaviour.stash  # the type's behaviour record
        if not training or stash == "none" or skipped[i]:
            need: list[int] = []
        elif stash in ("input", "input+output"):
            need = list(ins) + ([i] if stash == "input+output" else [])
        else:  # output: activation functions, softmax; mask: dropout (output-sized)
            need = [i]
        out.append(need)
    return out


def no_backward(net: Network, input_gradient: bool = False) -> np.ndarray:
    """Per layer: it runs no backward in training (a parameterless layer whose dgrad is not
    needed; none with ``input_gradient``)."""
    if input_gradient:
        return np.zeros(len(net), dtype=bool)
    return ~np.array(input_gradient_needed(net), dtype=bool) & (net.weight_elems == 0)



@lru_cache(maxsize=64)
def layer_gconv_table(net: Network) -> dict[int, tuple[Any, ...]]:
    """The forward, dgrad and wgrad GConvs of every conv/FC layer by layer index, built once
    per network (the tables, the baseline fallback's split and the roll-up share them)."""
    return {i: tuple(layer_gconvs(layer, i, PASSES)) for i, layer in enumerate(net.layers)
            if layer.is_compute}


def group_band(n_layers: int) -> int:
    """Deepest group the tables hold: the whole network, at most
    :data:`cnnmem.limits.MAX_GROUP_LAYERS` layers."""
    return max(1, min(int(n_layers), MAX_GROUP_LAYERS))


def band_notes(n_layers: int) -> tuple[str, ...]:
    """A schedule note when a self-choosing MBS search was restricted by the band."""
    if n_layers <= MAX_GROUP_LAYERS:
        return ()
    return (f"groups of at most {MAX_GROUP_LAYERS} layers considered (cnnmem.limits."
            f"MAX_GROUP_LAYERS; the network has {n_layers:,}): a deeper group could cost less",)


def check_group_depth(first: np.ndarray, last: np.ndarray, field: str = "cuts") -> None:
    """InputError when a group [first..last] of an explicit grouping is deeper than
    :data:`cnnmem.limits.MAX_GROUP_LAYERS` (its tables are not built)."""
    depth = np.asarray(last) - np.asarray(first) + 1
    if depth.size:
        check_count(int(depth.max()), MAX_GROUP_LAYERS, field=field,
                    what="layers in one MBS group")


def check_cuts_depth(cuts: tuple[int, ...], n_layers: int, field: str = "cuts") -> None:
    """:func:`check_group_depth` of the groups an explicit cut list makes."""
    ends = np.array(sorted(set(int(c) for c in cuts) | {n_layers - 1}), dtype=np.int64)
    check_group_depth(np.concatenate([[0], ends[:-1] + 1]), ends, field)


def _user_ranges(p: int, users: list[int]) -> list[tuple[int, int, int]]:
    """For a tensor produced at p (-1: the network input) and its sorted distinct users, the
    group starts in (prev user, user] that first reach it at each user: (lo, hi, user)."""
    out = []
    prev = p
    for x in users:
        if x > prev:
            out.append((prev + 1, x, x))
            prev = x
    return out


#: the event-summed tables, in the column order of :func:`_table_events`
_EVENT_TABLES = ("in", "out", "stash_write", "need_all", "need_compute", "fork", "grad_in",
                 "grad_out")


def _table_events(net: Network, training: bool, input_gradient: bool
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Events (lo, hi, col, values (E, 8)): every group starting in [lo, hi] gains values
    once it reaches layer col (see :func:`cnnmem.model.mbs.band.band_event_sums`), per table of
    :data:`_EVENT_TABLES`; a loop over tensors and their users."""
    n = len(net)
    dgrad_needed = np.array(input_gradient_needed(net) if not input_gradient
                            else (True,) * n, dtype=bool)
    grad_of = np.append(dgrad_needed | (net.weight_elems > 0), input_gradient)  # per tensor
    elems = np.append(net.out_elems.astype(float), float(net.input_elems))  # tensor L = input
    prod = np.append(np.arange(n), -1)
    cons_raw: list[list[int]] = [[] for _ in range(n + 1)]
    for i in range(n):
        for p in net.producers[i]:
            cons_raw[n if p < 0 else p].append(i)
    cons_raw = [sorted(c) for c in cons_raw]
    needs = _needs(net, training, input_gradient)
    needers: list[list[int]] = [[] for _ in range(n + 1)]
    needers_c: list[list[int]] = [[] for _ in range(n + 1)]
    for i, ts in enumerate(needs):
        for t in ts:
            needers[t].append(i)
            if net.layers[i].is_compute:
                needers_c[t].append(i)
    lo: list[int] = []
    hi: list[int] = []
    col: list[int] = []
    table: list[int] = []
    val: list[float] = []

    def add(a: int, b: int, c: int, k: int, v: float) -> None:
        lo.append(a)
        hi.append(b)
        col.append(c)
        table.append(k)
        val.append(v)

    IN, OUT, STASH, NEED, NEED_C, FORK, G_IN, G_OUT = range(8)
    for t in range(n + 1):
        p, el = int(prod[t]), float(elems[t])
        c = sorted(set(cons_raw[t]))
        for k_in, k_out, v in ((IN, OUT, el), (G_IN, G_OUT, el * grad_of[t])):
            for a, b, x in _user_ranges(p, c):  # entering groups that start after p
                add(a, b, x, k_in, v)
            if p >= 0:  # leaving the producer's group while a consumer is outside
                add(0, p, p, k_out, v)
                if c:
                    add(0, p, c[-1], k_out, -v)
        for k, nd_raw in ((NEED, needers[t]), (NEED_C, needers_c[t])):
            if not nd_raw:
                continue
            nd = sorted(set(nd_raw))
            if p >= 0:
                add(0, p, nd[0], k, el)
            for a, b, x in _user_ranges(p, nd):
                add(a, b, x, k, el)
            if k == NEED and p >= 0:  # stash writes: needed inside, not written as an output
                add(0, p, nd[0], STASH, el)
                if not c:
                    add(0, p, nd[0], STASH, -el)
                elif nd[0] < c[-1]:
                    add(0, p, nd[0], STASH, -el)
                    add(0, p, c[-1], STASH, el)
        cr = cons_raw[t]
        if training and p >= 0 and len(cr) >= 2 and grad_of[t]:
            add(0, p, p, FORK, 3.0 * (len(cr) - 1) * el)
            for ci in cr[:-1]:
                add(0, p, ci, FORK, -3.0 * el)
            for j in range(1, len(cr)):
                add(p + 1, cr[j - 1], cr[j], FORK, -3.0 * el)
    values = np.zeros((len(lo), len(_EVENT_TABLES)))
    values[np.arange(len(lo)), np.array(table, dtype=np.int64)] = val
    return (np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64),
            np.array(col, dtype=np.int64), values)


class LiveWindow:
    """The stash-mode live set of the groups [s..e] swept over the group end e, for the starts
    s of the band: ``live[s, l]``, per-sample elements live at step l (tensors produced and
    still awaited by a later layer of the group, entering the group and still awaited, the
    layer's own output). Buffers of (2 band)^2 values re-based every band steps (``extra``
    more buffers in the same layout for callers' own per-(s, l) values)."""

    def __init__(self, net: Network, band: int, extra: int = 0) -> None:
        n = len(net)
        self.n, self.band = n, band
        self.width = min(2 * band, n)
        self.bufs = [np.zeros((self.width, self.width)) for _ in range(1 + extra)]
        self.base = 0
        self.elems = np.append(net.out_elems.astype(float), float(net.input_elems))
        self.inputs = [sorted({n if p < 0 else p for p in net.producers[e]}) for e in range(n)]
        self.last_use = {t: (t if t < n else -1) for t in range(n + 1)}

    def window(self, e: int) -> int:
        """First group start of the band at group end e."""
        return max(0, e - self.band + 1)

    def advance(self, e: int) -> int:
        """Add layer e (called for e = 0, 1, ...); returns the first step l >= window(e) whose
        live values changed."""
        w0 = self.window(e)
        if e - self.base >= self.width:  # re-base: keep rows and columns from base + band on
            keep = self.width - self.band
            for buf in self.bufs:
                buf[:keep, :keep] = buf[self.band:, self.band:].copy()
                buf[keep:, :] = 0.0
                buf[:, keep:] = 0.0
            self.base += self.band
        o, live = self.base, self.bufs[0]
        live[w0 - o: e - o + 1, e - o] += self.elems[e]
        lo = e
        for t in self.inputs[e]:
            pc = self.last_use[t]
            if pc >= w0:  # in groups holding its previous use it stays live until e
                live[w0 - o: pc - o + 1, pc + 1 - o: e - o + 1] += self.elems[t]
            live[max(pc + 1, w0) - o: e - o + 1, e - o] += self.elems[t]  # else loaded for e
            lo = min(lo, pc + 1)
            self.last_use[t] = e
        return max(lo, w0)

    def block(self, k: int, w0: int, lo: int, e: int) -> np.ndarray:
        """Buffer k's values of starts [w0..e] (rows) at steps [lo..e] (columns), a view."""
        o = self.base
        return self.bufs[k][w0 - o: e - o + 1, lo - o: e - o + 1]


def _peak_sample_bytes(net: Network, prec: Precision, training: bool, band: int,
                       needs: list[list[int]]) -> Banded:
    """Peak live bytes per sample of every group in the band, incrementally over the group end
    e: forward the live set in activations; backward (training) its gradients plus the
    activations layer l reloads."""
    n = len(net)
    ea, eg = prec.activation, prec.gradient
    live = LiveWindow(net, band)
    need_col = np.array([sum(live.elems[t] for t in ts) for ts in needs])
    running = np.zeros(n)
    # a step's live set holds each tensor at most once: integers up to these bytes
    peak = band_store(n, band, (live.elems.sum() + need_col.max(initial=0.0)) * max(ea, eg),
                      float(ea).is_integer() and float(eg).is_integer())
    for e in range(n):
        lo = live.advance(e)
        w0 = live.window(e)
        sub = live.block(0, w0, lo, e)
        vals = sub * ea
        if training:
            mask = np.arange(lo, e + 1)[None, :] >= np.arange(w0, e + 1)[:, None]
            vals = np.maximum(vals, sub * eg + mask * need_col[None, lo: e + 1] * ea)
        running[w0: e + 1] = np.maximum(running[w0: e + 1], vals.max(axis=1))
        peak[e, : e - w0 + 1] = running[w0: e + 1][::-1]
    return Banded(peak)


@lru_cache(maxsize=16)
def group_tables(net: Network, prec: Precision, training: bool, weight_tile: str = "layer",
                 input_gradient: bool = False) -> GroupTables:
    """Every group's per-sample quantities, for the groups of at most :func:`group_band`
    layers, in O(L x band) memory (cached).

    Without ``input_gradient`` backprop computes no gradient of a tensor with no parameter
    upstream (:func:`cnnmem.model.gconv.input_gradient_needed`): not written where it enters a
    group, not read where it leaves one, not summed at a fork, and the dgrad of a layer that
    needs none is not computed (its fork sum, read by its own wgrad, is kept)."""
    n = len(net)
    band = group_band(n)
    dgrad_needed = np.array(input_gradient_needed(net) if not input_gradient
                            else (True,) * n, dtype=bool)
    ev = band_event_sums(n, band, *_table_events(net, training, input_gradient))
    tab = dict(zip(_EVENT_TABLES, ev, strict=True))
    peak = _peak_sample_bytes(net, prec, training, band, _needs(net, training, input_gradient))
    w = net.weight_elems.astype(float)
    if weight_tile == "channel":
        ws = np.array([lay.weight_elems / max(1, lay.out_channels) if lay.weight_elems else 0.0
                       for lay in net.layers])
    else:
        ws = w
    ws_bytes = ws * (prec.weight + (prec.gradient if training else 0.0))
    gconvs = layer_gconv_table(net)
    macs = np.array([gconvs[i][0].macs_per_sample if i in gconvs else 0 for i in range(n)],
                    dtype=float)
    vec_f = np.array([streaming_elementwise_ops(lay, "forward") for lay in net.layers], float)
    vec_d = np.array([streaming_elementwise_ops(lay, "dgrad") for lay in net.layers], float)
    vec_d[no_backward(net, input_gradient)] = 0.0  # as the baseline: no element-wise dgrad
    wsum = RangeSum.of(w)
    return GroupTables(
        in_elems=tab["in"], out_elems=tab["out"], stash_write_elems=tab["stash_write"],
        stash_read_dgrad_elems=Difference(tab["need_all"], tab["need_compute"]),
        stash_read_wgrad_elems=tab["need_compute"], fork_elems=tab["fork"],
        peak_sample_bytes=peak, weight_elems=wsum, weight_ws_bytes=RangeMax.of(ws_bytes),
        weight_acc_bytes=PlusScaled(RangeMax.of(ws * prec.weight),
                                    wsum if training else None, prec.gradient),
        macs=RangeSum.of(macs), vec_forward=RangeSum.of(vec_f), vec_dgrad=RangeSum.of(vec_d),
        grad_in_elems=tab["grad_in"], grad_out_elems=tab["grad_out"],
        macs_dgrad=RangeSum.of(macs * dgrad_needed), band=band)
