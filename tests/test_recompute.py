"""mbs-recompute (issue 18): DP = brute force, never above mbs-optimal, above bound 2."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from netgen import small_nets

from cnnmem.hardware import load_hardware
from cnnmem.model import mbs
from cnnmem.model.mbs.recompute import (
    best_recompute_dram,
    evaluate_recompute,
    inner_needed_elems,
    plan_recompute,
    recompute_group_dram,
    recompute_peak_bytes,
)
from cnnmem.model.precision import Precision
from cnnmem.model.schedule import TRAINING, SweepRequest, run_strategy, sweep_evaluators
from cnnmem.model.training_bound import network_training_bound_bytes
from cnnmem.workload import load_network, load_network_text

HW = load_hardware("wavecore")
CAPS = np.geomspace(2.0**9, 2.0**17, 7)  # bytes; spans infeasible .. everything fits
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.data_too_large])


def _model(text: str, batch: int) -> mbs.Model:
    return mbs.build_model(load_network_text(text), HW, batch, CAPS, True)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return bool(np.all((np.isinf(a) & np.isinf(b)) | np.isclose(a, b, rtol=1e-9)))


def _brute_force(m: mbs.Model, recompute: bool = True) -> np.ndarray:
    """Least DRAM bytes per capacity over every grouping and, per group, every sub-batch
    1..N and every backward mode (stash, recompute; one pass for the last group), enumerated
    jointly (the full product of per-group options), from the explicit per-n group costs (not
    the DP's closed forms)."""
    L, N = len(m.net), m.batch
    caps = np.arange(m.caps.size)
    options: dict[tuple[int, int], np.ndarray] = {}  # (s, e) -> (2N, C)
    for s in range(L):
        for e in range(s, L):
            ns = np.arange(1, N + 1)[:, None]
            options[(s, e)] = np.concatenate([
                mbs.group_dram(m, np.array(s), e, ns, caps[None, :])]
                + ([recompute_group_dram(m, np.array(s), e, ns, caps[None, :])] if recompute
                   else [])
                + ([recompute_group_dram(m, np.array(s), e, ns, caps[None, :], one_pass=True)]
                   if e == L - 1 else []))
    best = np.full(m.caps.size, np.inf)
    for r in range(L):
        for cuts in itertools.combinations(range(L - 1), r):
            groups = list(zip([0] + [c + 1 for c in cuts], list(cuts) + [L - 1], strict=True))
            for pick in itertools.product(*(range(len(options[g])) for g in groups)):
                total = sum(options[g][k] for g, k in zip(groups, pick, strict=True))
                best = np.minimum(best, total)
    return best


def _small(text: str, batch: int, limit: int = 20000) -> bool:
    L = len(load_network_text(text))
    return 2 ** (L - 1) * (3 * batch) ** L <= limit


# ------------------------------------------------------------------------------------------
# the DP is optimal for its model: equal to brute force


@settings(max_examples=40, **SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 3))
def test_recompute_dp_equals_brute_force(text: str, batch: int) -> None:
    assume(_small(text, batch))  # the joint enumeration grows as 2^(L-1) (3N)^L
    m = _model(text, batch)
    plan, rec = plan_recompute(m)
    tot, _ = evaluate_recompute(m, plan, rec)
    assert _same(tot["dram_bytes"], _brute_force(m))


@settings(max_examples=60, **SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 9))
def test_closed_form_equals_scan_over_sub_batches(text: str, batch: int) -> None:
    m = _model(text, batch)
    L = len(m.net)
    caps = np.arange(m.caps.size)
    for e, one_pass in itertools.product(range(L), (False, True)):
        s = np.arange(e + 1)
        best, n_best = best_recompute_dram(m, s, e, one_pass)
        scan = recompute_group_dram(m, s[:, None, None], e,
                                    np.arange(1, batch + 1)[None, :, None], caps[None, None, :],
                                    one_pass)
        assert _same(best, scan.min(axis=1))
        at_n = recompute_group_dram(m, s[:, None], e, np.maximum(n_best, 1), caps[None, :],
                                    one_pass)
        assert _same(np.where(np.isfinite(best), at_n, np.inf), best)


@settings(max_examples=40, **SETTINGS)
@given(text=small_nets(dag=True))
def test_inner_needed_equals_direct_sets(text: str) -> None:
    net = load_network_text(text)
    needs = mbs._needs(net, True)
    table = inner_needed_elems(net)
    L = len(net)
    for s in range(L):
        for e in range(s, L):
            held = {t for i in range(s, e + 1) for t in needs[i] if s <= t <= e}
            assert table[s, e] == pytest.approx(sum(float(net.out_elems[t]) for t in held))


# ------------------------------------------------------------------------------------------
# never above mbs-optimal; above bound 2; the schedule agrees with the sweep


@settings(max_examples=60, **SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 8))
def test_never_above_mbs_optimal_and_above_bound_2(text: str, batch: int) -> None:
    net = load_network_text(text)
    ev = sweep_evaluators()
    req = SweepRequest(network=net, hardware=HW, mode=TRAINING, batch=batch, capacity_bytes=CAPS)
    rec = np.asarray(ev["mbs-recompute"](req).dram_bytes, float).ravel()
    opt = np.asarray(ev["mbs-optimal"](req).dram_bytes, float).ravel()
    assert np.all((rec <= opt * (1 + 1e-12)) | (np.isinf(rec) & np.isinf(opt)))
    bound2 = network_training_bound_bytes(net, Precision.of(HW), batch, CAPS,
                                          recompute=True)[0]
    assert np.all(rec >= bound2 * (1 - 1e-12))


def test_resnet50_schedule_table_sweep_and_bound_columns() -> None:
    net = load_network("resnet50")
    cap = 10 * 2.0**20
    _, res = run_strategy("mbs-recompute", net, HW, mode=TRAINING, batch=256, buffer_bytes=cap)
    _, opt = run_strategy("mbs-optimal", net, HW, mode=TRAINING, batch=256, buffer_bytes=cap)
    table, tot = res.groups, res.totals
    assert table["recompute"].dtype == bool and table["recompute"].any()
    assert table["dram_bytes"].sum() == pytest.approx(tot["dram_bytes"])
    assert table["recompute_macs"].sum() == pytest.approx(tot["recompute_macs"])
    assert tot["macs"] == pytest.approx(opt.totals["macs"] + tot["recompute_macs"])
    assert tot["recompute_groups"] == int(table["recompute"].sum())
    assert tot["dram_bytes"] < opt.totals["dram_bytes"]
    bound2 = float(network_training_bound_bytes(net, Precision.of(HW), 256, cap,
                                                recompute=True)[0, 0])
    assert tot["training_bound_bytes"] == pytest.approx(bound2)  # bound 2: it recomputes
    assert tot["dram_over_bound"] == pytest.approx(tot["dram_bytes"] / bound2)
    bound1 = float(network_training_bound_bytes(net, Precision.of(HW), 256, cap)[0, 0])
    assert opt.totals["training_bound_bytes"] == pytest.approx(bound1)
    req = SweepRequest(network=net, hardware=HW, mode=TRAINING, batch=256,
                       capacity_bytes=np.array([cap]))
    pc = sweep_evaluators()["mbs-recompute"](req)
    assert float(np.asarray(pc.dram_bytes).ravel()[0]) == pytest.approx(tot["dram_bytes"])


@settings(max_examples=40, **SETTINGS)
@given(text=small_nets(dag=True))
def test_recompute_peak_between_stash_peak_and_holding_everything(text: str) -> None:
    """The recompute live-set table: without held tensors it is exactly the stash-mode peak of
    group_tables (the same loop); with them it lies between that peak and the stash peak plus
    every held tensor at once."""
    net = load_network_text(text)
    prec = Precision.of(HW)
    stash = mbs.group_tables(net, prec, True).peak_sample_bytes
    iu = np.triu_indices(len(net))
    assert np.allclose(recompute_peak_bytes(net, prec, False)[iu], stash[iu], rtol=1e-12)
    held = recompute_peak_bytes(net, prec)[iu]
    assert np.all(held >= stash[iu] * (1 - 1e-12))
    everything = stash[iu] + inner_needed_elems(net)[iu] * prec.activation
    assert np.all(held <= everything * (1 + 1e-12))


@pytest.mark.slow
@settings(max_examples=400, **SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 4))
def test_recompute_dp_equals_brute_force_many(text: str, batch: int) -> None:
    test_recompute_dp_equals_brute_force.hypothesis.inner_test(text, batch)


@settings(max_examples=40, **SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 3))
def test_one_pass_without_recomputation_is_above_bound_1(text: str, batch: int) -> None:
    """Stash groups plus a one-pass last group recompute nothing (class R0): every such
    schedule, the best of them included, stays at or above bound 1."""
    assume(_small(text, batch))
    m = _model(text, batch)
    best = _brute_force(m, recompute=False)
    bound1 = network_training_bound_bytes(m.net, m.prec, batch, CAPS)[0]
    assert np.all(best >= bound1 * (1 - 1e-12))
