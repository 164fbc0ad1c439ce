"""Per-group traffic tables of MBS: which tensors cross a group boundary, per pass and tensor kind.

Part of :mod:`cnnmem.model.mbs` (the package docstring has the model)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cnnmem.model.gconv import PASSES, input_gradient_needed, layer_gconvs
from cnnmem.model.grouping import (
    interval_events_cumsum,
    range_max,
    range_sum,
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
    """Per-sample quantities of every group [s..e] (arrays (L, L), valid for e >= s)."""

    in_elems: np.ndarray  # distinct tensors entering the group
    out_elems: np.ndarray  # tensors leaving the group (or network outputs)
    stash_write_elems: np.ndarray
    stash_read_dgrad_elems: np.ndarray
    stash_read_wgrad_elems: np.ndarray
    fork_elems: np.ndarray  # signed gradient-accumulation elements (x 3 already)
    peak_sample_bytes: np.ndarray  # peak live bytes per sample
    weight_elems: np.ndarray  # sum of the group's parameters
    weight_ws_bytes: np.ndarray  # weight working set, dW re-read per sub-batch
    weight_acc_bytes: np.ndarray  # working set when all group dW accumulate on chip
    macs: np.ndarray  # per sample, one pass
    #: tensors entering / leaving the group whose gradient backprop computes (none of a tensor
    #: with no parameter upstream, e.g. the network input; issue #12 item 2)
    grad_in_elems: np.ndarray
    grad_out_elems: np.ndarray
    macs_dgrad: np.ndarray  # per sample: MACs of the dgrad passes backprop computes
    vec_forward: np.ndarray
    vec_dgrad: np.ndarray


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


@lru_cache(maxsize=16)
def group_tables(net: Network, prec: Precision, training: bool, weight_tile: str = "layer",
                 input_gradient: bool = False) -> GroupTables:
    """Precompute every group's per-sample quantities in O(L^2) numpy work (cached).

    Without ``input_gradient`` backprop computes no gradient of a tensor with no parameter
    upstream (:func:`cnnmem.model.gconv.input_gradient_needed`): not written where it enters a
    group, not read where it leaves one, not summed at a fork, and the dgrad of a layer that
    needs none is not computed (its fork sum, read by its own wgrad, is kept)."""
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
    cons = [sorted(set(c)) for c in cons_raw]
    needs = _needs(net, training, input_gradient)
    needers: list[list[int]] = [[] for _ in range(n + 1)]
    needers_c: list[list[int]] = [[] for _ in range(n + 1)]
    for i, ts in enumerate(needs):
        for t in ts:
            needers[t].append(i)
            if net.layers[i].is_compute:
                needers_c[t].append(i)

    d_in, d_out, d_nin, d_nout, d_fork = (np.zeros((n, n)) for _ in range(5))
    g_in, g_out = np.zeros((n, n)), np.zeros((n, n))
    d_need = {"all": np.zeros((n, n)), "compute": np.zeros((n, n))}

    def first_at_or_after(lst: list[int], rows: np.ndarray) -> np.ndarray:
        a = np.asarray(lst)
        return a[np.searchsorted(a, rows)]

    for t in range(n + 1):
        p, el, c = int(prod[t]), elems[t], cons[t]
        for d_i, d_o, v in ((d_in, d_out, el), (g_in, g_out, el * grad_of[t])):
            if c:  # entering groups that start after the producer
                rows = np.arange(p + 1, c[-1] + 1)
                np.add.at(d_i, (rows, first_at_or_after(c, rows)), v)
            if p >= 0:  # leaving the producer's group while a consumer is outside
                d_o[: p + 1, p] += v
                if c:
                    d_o[: p + 1, c[-1]] -= v
        for key, nd in (("all", needers[t]), ("compute", needers_c[t])):
            if not nd:
                continue
            nd = sorted(set(nd))
            if p >= 0:
                d_need[key][: p + 1, nd[0]] += el
            rows = np.arange(p + 1, nd[-1] + 1)
            np.add.at(d_need[key], (rows, first_at_or_after(nd, rows)), el)
            if key == "all" and p >= 0:
                d_nin[: p + 1, nd[0]] += el
                if not c:
                    d_nout[: p + 1, nd[0]] += el
                elif nd[0] < c[-1]:
                    d_nout[: p + 1, nd[0]] += el
                    d_nout[: p + 1, c[-1]] -= el
        cr = cons_raw[t]
        if training and p >= 0 and len(cr) >= 2 and grad_of[t]:
            d_fork[: p + 1, p] += 3.0 * (len(cr) - 1) * el
            for ci in cr[:-1]:
                d_fork[: p + 1, ci] -= 3.0 * el
            for j in range(1, len(cr)):
                d_fork[p + 1: cr[j - 1] + 1, cr[j]] -= 3.0 * el

    in_e, out_e = interval_events_cumsum(d_in), interval_events_cumsum(d_out)
    need_all = interval_events_cumsum(d_need["all"])
    need_c = interval_events_cumsum(d_need["compute"])
    stash_w = interval_events_cumsum(d_nin) - interval_events_cumsum(d_nout)

    # peak live footprint per sample, incrementally over the group end e
    ea, eg = prec.activation, prec.gradient
    need_col = np.array([sum(elems[t] for t in ts) for ts in needs])
    live = np.zeros((n, n))
    peak = np.zeros((n, n))
    last_use = {t: int(prod[t]) for t in range(n + 1)}
    for e in range(n):
        live[: e + 1, e] += elems[e]
        lo = e
        for t in sorted({n if p < 0 else p for p in net.producers[e]}):
            pc = last_use[t]
            if pc >= 0:
                live[: pc + 1, pc + 1: e + 1] += elems[t]
            live[pc + 1: e + 1, e] += elems[t]
            lo = min(lo, pc + 1)
            last_use[t] = e
        sub = live[: e + 1, lo: e + 1]
        vals = sub * ea
        if training:
            mask = np.arange(lo, e + 1)[None, :] >= np.arange(e + 1)[:, None]
            vals = np.maximum(vals, sub * eg + mask * need_col[None, lo: e + 1] * ea)
        best = vals.max(axis=1)
        peak[: e + 1, e] = np.maximum(peak[: e + 1, e - 1], best) if e > 0 else best

    w = net.weight_elems.astype(float)
    if weight_tile == "channel":
        ws = np.array([lay.weight_elems / max(1, lay.out_channels) if lay.weight_elems else 0.0
                       for lay in net.layers])
    else:
        ws = w
    ws_bytes = ws * (prec.weight + (prec.gradient if training else 0.0))
    macs = np.array([layer_gconvs(lay, i, ("forward",))[0].macs_per_sample if lay.is_compute
                     else 0 for i, lay in enumerate(net.layers)], dtype=float)
    vec_f = np.array([streaming_elementwise_ops(lay, "forward") for lay in net.layers], float)
    vec_d = np.array([streaming_elementwise_ops(lay, "dgrad") for lay in net.layers], float)
    vec_d[no_backward(net, input_gradient)] = 0.0  # as the baseline: no element-wise dgrad
    wsum = range_sum(w)
    return GroupTables(
        in_elems=in_e, out_elems=out_e, stash_write_elems=stash_w,
        stash_read_dgrad_elems=need_all - need_c, stash_read_wgrad_elems=need_c,
        fork_elems=interval_events_cumsum(d_fork), peak_sample_bytes=peak, weight_elems=wsum,
        weight_ws_bytes=range_max(ws_bytes),
        weight_acc_bytes=range_max(ws * prec.weight) + (wsum * prec.gradient if training
                                                        else 0.0),
        macs=range_sum(macs), vec_forward=range_sum(vec_f), vec_dgrad=range_sum(vec_d),
        grad_in_elems=interval_events_cumsum(g_in), grad_out_elems=interval_events_cumsum(g_out),
        macs_dgrad=range_sum(macs * dgrad_needed))
