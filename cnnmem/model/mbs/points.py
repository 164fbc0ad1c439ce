"""The sweep's hot path: one fixed grouping, uniform sub-batch sizes x capacities.

Part of :mod:`cnnmem.model.mbs` (the package docstring has the model)."""

from __future__ import annotations

import numpy as np

from cnnmem.model import rollup
from cnnmem.model.mbs.rollup import (
    group_array_macs,
    group_kept_bytes,
)
from cnnmem.model.mbs.traffic import (
    Model,
)

# ------------------------------------------------------------------------------------------
# The sweep's hot path: one fixed grouping, uniform sub-batch sizes x capacities


POINT_KEYS = ("dram_bytes", "energy_dram_pj", "energy_buffer_pj", "energy_compute_pj",
              "energy_static_pj", "latency_s", "compute_s", "memory_s")
#: fields _regime_values gives as buffer bytes / latency (s), costed per capacity after the sum
CAPACITY_SCALED = ("energy_buffer_pj", "energy_static_pj")


def _regime_values(m: Model, s: np.ndarray, e: np.ndarray, n: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Per group and sub-batch, the point fields in the two feasible regimes (dW accumulated on
    chip, or read-modify-written per sub-batch): arrays (G, K, 2, F) in POINT_KEYS order, plus
    the buffer needs (G, K) of both regimes. The same formulas as :func:`_group_terms`."""
    t, hw, N = m.tables, m.hw, float(m.batch)
    ea, ew, eg = m.prec.activation, m.prec.weight, m.prec.gradient
    g = (s[:, None], e[:, None])
    S = np.ceil(N / n)[None, :]
    wsum = t.weight_elems[g]
    act = t.in_elems[g] + t.out_elems[g]
    fwd = N * (act + t.stash_write_elems[g]) * ea + S * wsum * ew
    macs_f = N * t.macs[g]
    macs_b = macs_f + N * t.macs_dgrad[g]  # wgrad, and the dgrad backprop computes
    mac_rate, vec_rate = hw.effective_macs_per_s, hw.mac_units * hw.clock_hz
    slots = group_array_macs(m, s[:, None], e[:, None], n[None, :])  # (G, K) each
    slots_f, slots_b = (macs_f, macs_b) if slots is None else slots
    comp_f = slots_f / mac_rate + N * t.vec_forward[g] / vec_rate
    side = np.sqrt(hw.mac_units)
    kept_f, kept_b = group_kept_bytes(m, s[:, None], e[:, None])  # (G, 1): on chip in a group
    opb_f, opb_b = ea + ew, (2 * eg + ew + ea) / 2
    bw = hw.dram_bandwidth_bytes_per_s
    out = np.zeros(fwd.shape + (2, len(POINT_KEYS)))
    for r, accumulate in enumerate((True, False)):
        if m.training:
            dw = wsum * eg if accumulate else (2.0 * S - 1.0) * wsum * eg
            grad = t.grad_in_elems[g] + t.grad_out_elems[g]
            bwd = (N * ((grad + t.fork_elems[g]) * eg + (t.stash_read_dgrad_elems[g]
                                                       + t.stash_read_wgrad_elems[g]) * ea)
                   + S * wsum * ew + dw)
            comp_b = slots_b / mac_rate + N * t.vec_dgrad[g] / vec_rate
            lat = np.maximum(comp_f, fwd / bw) + np.maximum(comp_b, bwd / bw)
            buf = (2 * (fwd + bwd) + (macs_f * opb_f + macs_b * opb_b) / side
                   + 2 * (kept_f + kept_b))
            macs, reg_bytes = macs_f + macs_b, macs_f * opb_f + macs_b * opb_b
        else:
            bwd = comp_b = 0.0
            lat = np.maximum(comp_f, fwd / bw)
            buf = 2 * fwd + macs_f * opb_f / side + 2 * kept_f
            macs, reg_bytes = macs_f, macs_f * opb_f
        dram = fwd + bwd
        fixed = rollup.capacity_independent_parts(
            hw, dram_bytes=dram, macs=macs,
            register_bytes=reg_bytes if hw.register_bytes > 0 else 0.0)
        # buffer bytes and latency here; their per-capacity costs are applied after the sum
        # over groups (CAPACITY_SCALED), by the roll-up's capacity-dependent parts
        fields = (dram, fixed["energy_dram_pj"], buf, fixed["energy_compute_pj"], lat, lat,
                  comp_f + comp_b, dram / bw)
        for f, v in enumerate(fields):
            out[:, :, r, f] = v
    peak = t.peak_sample_bytes[g] * n[None, :]
    needs = {"acc": peak + t.weight_acc_bytes[g], "rmw": peak + t.weight_ws_bytes[g]}
    return out, np.stack([needs["acc"], needs["rmw"]], axis=2), needs


def fixed_grouping_points(m: Model, cuts: tuple[int, ...], sub_batch: np.ndarray
                          ) -> dict[str, np.ndarray]:
    """Totals of one fixed grouping for every capacity x uniform sub-batch: arrays (C, K).

    The same numbers as ``evaluate(m, plan_cuts(m, cuts, sub_batch))`` (tested), computed for
    the sweep's design points without a loop over them: per group, the feasible regimes' values
    are (G, K) arrays that do not depend on the capacity; which regime applies at capacity c is a
    (G, C, K) mask, and the sum over groups is one batched matrix product per regime.

    The capacity enters only through those masks (``need <= capacity``) and the baseline
    fallback's values at that capacity, so capacities that no buffer need separates and whose
    fallback values are equal give equal sums (:func:`capacity_classes`): the masks and sums are
    formed once per class (a chunk of a dense capacity axis has a few classes), and only the
    per-capacity buffer and static energy is costed per capacity.
    """
    L = len(m.net)
    e = np.array(sorted(cuts) + [L - 1], dtype=np.int64)
    s = np.concatenate([[0], e[:-1] + 1])
    n = np.asarray(sub_batch, dtype=float)
    vals, needs, _ = _regime_values(m, s, e, n)  # (G, K, 2, F), (G, K, 2)
    fb = m.fallback.fields
    fb_keys = POINT_KEYS + ("buffer_need_bytes",)
    fb_e = np.stack([fb[k][e] for k in fb_keys], axis=-1)  # (G, C, F + 1)
    first, of = capacity_classes(m.caps, needs, fb_e.transpose(1, 0, 2))
    if first.size == 1 < m.caps.size:
        # one class, formed twice: the group sums below are then matrix products, as over
        # the chunk's capacities (a one-row product is a matrix-vector one, summed in
        # another order: other last bits)
        first = np.repeat(first, 2)
    fb_e = fb_e[:, first]  # (G, U, F + 1): one capacity per class from here on
    cap = m.caps[first][None, :, None]  # (1, U, 1)
    acc = needs[:, None, :, 0] <= cap  # (G, U, K)
    ok = needs[:, None, :, 1] <= cap
    mbs_dram = np.where(acc, vals[:, None, :, 0, 0], vals[:, None, :, 1, 0])  # (G, U, K)
    fb_dram = fb_e[:, :, POINT_KEYS.index("dram_bytes"), None]  # (G, U, 1)
    # single-layer group: the baseline layer at n = N, when it does not fit, or when cheaper
    single = (s == e)[:, None, None] & ((n >= m.batch)[None, None, :] | ~ok
                                        | (fb_dram <= mbs_dram))
    use_acc = acc & ~single
    use_rmw = ok & ~acc & ~single
    infeasible = (~ok & ~single).any(axis=0)[of]  # (C, K)
    # sum over groups: (K, U, G) @ (K, G, F) for each regime, and (U, K, G) @ (U, G, F)
    tot = (np.matmul(use_acc.transpose(2, 1, 0).astype(float), vals[:, :, 0, :].transpose(1, 0, 2))
           + np.matmul(use_rmw.transpose(2, 1, 0).astype(float),
                       vals[:, :, 1, :].transpose(1, 0, 2))).transpose(1, 0, 2)  # (U, K, F)
    fb_vals = fb_e[:, :, :len(POINT_KEYS)]  # (G, U, F)
    fb_vals = np.where(np.isfinite(fb_vals), fb_vals, 1e300)  # inf x 0 would give nan
    fb_sum = np.matmul(single.transpose(1, 2, 0).astype(float), fb_vals.transpose(1, 0, 2))
    by_cap = rollup.capacity_dependent_parts(
        m.hw, buffer_bytes=tot[:, :, POINT_KEYS.index("energy_buffer_pj")][of],
        latency_s=tot[:, :, POINT_KEYS.index("energy_static_pj")][of],
        capacity_bytes=m.caps[:, None])
    out = {}
    for f, key in enumerate(POINT_KEYS):  # a loop over fields
        if key in CAPACITY_SCALED:  # costed at each capacity, not at its class's
            v = by_cap[key] + fb_sum[:, :, f][of]
        else:
            v = (tot[:, :, f] + fb_sum[:, :, f])[of]
        out[key] = np.where((v >= 1e299) | infeasible, np.inf, v)
    need = np.where(single, fb_e[:, :, len(POINT_KEYS), None],
                    np.where(acc, needs[:, None, :, 0], needs[:, None, :, 1]))
    out["buffer_need_bytes"] = need.max(axis=0)[of]
    return out


def capacity_classes(capacity_bytes: np.ndarray, thresholds_bytes: np.ndarray,
                     per_capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Capacities that give the same points: (first, of) with ``capacity_bytes[first]`` one
    capacity per class and ``of`` (C,) each capacity's class.

    Two capacities are in one class when no threshold lies between them (every ``need <= cap``
    comparison against ``thresholds_bytes`` has the same outcome) and their ``per_capacity``
    rows (C, W) are bitwise equal (the fallback values a capacity uses)."""
    caps = np.asarray(capacity_bytes, dtype=float)
    rank = np.searchsorted(np.unique(thresholds_bytes), caps, side="right")
    key = np.ascontiguousarray(np.column_stack([rank.astype(float),
                                                per_capacity.reshape(caps.size, -1)]))
    rows = key.view(np.dtype((np.void, key.dtype.itemsize * key.shape[1]))).reshape(-1)
    _, first, of = np.unique(rows, return_index=True, return_inverse=True)
    return first, of.reshape(-1)
