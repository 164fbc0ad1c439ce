"""Mini-batch serialization strategies (cnnmem.model.mbs, cnnmem.model.grouping)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netgen import small_nets

from cnnmem.cli import cli, main
from cnnmem.errors import InputError
from cnnmem.hardware import load_hardware
from cnnmem.model import mbs
from cnnmem.model.grouping import backtrack, consecutive_dp, cuts_of_path, path_from_cuts
from cnnmem.model.precision import Precision
from cnnmem.model.schedule import ScheduleRequest, SweepRequest, get_strategy, sweep_evaluators
from cnnmem.workload import load_network, load_network_text

HW = load_hardware("wavecore")
CAPS = np.geomspace(2.0**9, 2.0**17, 7)  # bytes; spans infeasible .. everything fits
SETTINGS = dict(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _model(text: str, batch: int, training: bool = True) -> mbs.Model:
    net = load_network_text(text)
    return mbs.build_model(net, HW, batch, CAPS, training)


def _brute_force(m: mbs.Model) -> np.ndarray:
    """Least DRAM bytes per capacity over every grouping and every sub-batch 1..N."""
    L = len(m.net)
    ns = np.arange(1, m.batch + 1)
    caps = np.arange(m.caps.size)
    group = {}
    for s in range(L):
        for e in range(s, L):
            d = mbs.group_dram(m, np.array(s), e, ns[:, None], caps[None, :])
            group[(s, e)] = d.min(axis=0)
    best = np.full(m.caps.size, np.inf)
    for r in range(L):
        for cuts in itertools.combinations(range(L - 1), r):
            ends = list(cuts) + [L - 1]
            starts = [0] + [c + 1 for c in cuts]
            best = np.minimum(best, sum(group[(s, e)] for s, e in zip(starts, ends, strict=True)))
    return best


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return bool(np.all((np.isinf(a) & np.isinf(b)) | np.isclose(a, b, rtol=1e-9)))


def _sweep(name: str, m: mbs.Model, **kw: object) -> object:
    req = SweepRequest(network=m.net, hardware=HW, mode="training" if m.training else
                       "inference", batch=m.batch, capacity_bytes=m.caps, **kw)
    return sweep_evaluators()[name](req)


# ------------------------------------------------------------------------------------------
# the DP is optimal: equal to brute force


@settings(**SETTINGS)
@given(text=small_nets(dag=False), batch=st.integers(1, 6))
def test_optimal_equals_brute_force_on_chains(text: str, batch: int) -> None:
    m = _model(text, batch)
    tot, _ = mbs.evaluate(m, mbs.plan_optimal(m, None))
    assert _same(tot["dram_bytes"], _brute_force(m))


@settings(**SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 5))
def test_optimal_equals_brute_force_on_dags(text: str, batch: int) -> None:
    m = _model(text, batch)
    if len(m.net) > 9:
        return  # brute force is 2^(L-1) groupings
    tot, _ = mbs.evaluate(m, mbs.plan_optimal(m, None))
    assert _same(tot["dram_bytes"], _brute_force(m))


@settings(**SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 6))
def test_optimal_below_greedy_layerwise_and_monotone_in_buffer(text: str, batch: int) -> None:
    m = _model(text, batch)
    opt = _sweep("mbs-optimal", m).dram_bytes[:, 0]
    greedy = _sweep("mbs-greedy", m).dram_bytes[:, 0]
    layer = _sweep("layerwise", m).dram_bytes[:, 0]
    fs = _sweep("mbs-fs", m).dram_bytes[:, 0]
    tol = 1 + 1e-12
    assert np.all(opt <= greedy * tol)
    assert np.all(opt <= layer * tol)
    assert np.all(opt <= fs * tol)
    finite = opt[np.isfinite(opt)]
    assert np.all(np.diff(finite) <= 1e-9 * finite[:-1])  # non-increasing as the buffer grows
    assert np.all(np.isfinite(opt) >= np.isfinite(layer))  # MBS is feasible where layerwise is


@settings(**SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 6), training=st.booleans())
def test_full_batch_single_layer_groups_reproduce_layerwise(text: str, batch: int,
                                                            training: bool) -> None:
    m = _model(text, batch, training)
    pts = _sweep("mbs", m, sub_batch=np.array([batch]), grouping="layer")
    ref = _sweep("layerwise", m)
    for f in ("dram_bytes", "energy_pj", "latency_s", "compute_s", "memory_s"):
        assert _same(getattr(pts, f), getattr(ref, f)), f


# ------------------------------------------------------------------------------------------
# the O(L^2) tables equal a direct per-group computation


def _naive_tables(m: mbs.Model, s: int, e: int) -> dict[str, float]:
    net, L = m.net, len(m.net)
    prec = m.prec
    elems = list(net.out_elems.astype(float)) + [float(net.input_elems)]
    prod = list(range(L)) + [-1]
    cons = [[] for _ in range(L + 1)]
    for i in range(L):
        for p in net.producers[i]:
            cons[L if p < 0 else p].append(i)
    needs = mbs._needs(net, m.training)
    grp = range(s, e + 1)
    ext = {t for t in range(L + 1) if prod[t] < s and any(c in grp for c in cons[t])}
    out = {t for t in grp if not cons[t] or max(cons[t]) > e}
    needed = {t for lay in grp for t in needs[lay]}
    needed_c = {t for lay in grp if net.layers[lay].is_compute for t in needs[lay]}
    inner = set(grp)
    from cnnmem.model.gconv import input_gradient_needed

    # tensors whose gradient backprop computes: some parameter upstream (issue #12 item 2)
    grads = {t for t, nd in enumerate(input_gradient_needed(net))
             if nd or net.layers[t].weight_elems > 0}
    fork = 0.0
    if m.training:
        for t in inner & grads:
            k_ext = sum(c > e for c in cons[t])
            fork += 3 * max(k_ext - 1, 0) * elems[t]
        for t in (ext - {L}) & grads:
            mm = sum(c in grp for c in cons[t])
            fork -= 3 * max(mm - 1, 0) * elems[t]
    peak = 0.0
    for lay in grp:
        live = 0.0
        for t in range(L + 1):
            cin = [c for c in cons[t] if s <= c <= e]
            if t in inner:
                alive = prod[t] <= lay <= max([prod[t]] + cin)
            else:
                alive = bool(cin) and min(cin) <= lay <= max(cin)
            live += elems[t] * alive
        v = live * prec.activation
        if m.training:
            v = max(v, live * prec.gradient + sum(elems[t] for t in needs[lay])
                    * prec.activation)
        peak = max(peak, v)

    def total(ts: set[int]) -> float:
        return float(sum(elems[t] for t in ts))

    return {"in_elems": total(ext), "out_elems": total(out),
            "grad_in_elems": total(ext & grads), "grad_out_elems": total(out & grads),
            "stash_write_elems": total((needed & inner) - out),
            "stash_read_dgrad_elems": total(needed - needed_c),
            "stash_read_wgrad_elems": total(needed_c), "fork_elems": fork,
            "peak_sample_bytes": peak}


@settings(**SETTINGS)
@given(text=small_nets(dag=True), training=st.booleans())
def test_group_tables_equal_direct_computation(text: str, training: bool) -> None:
    m = _model(text, 2, training)
    L = len(m.net)
    for s in range(L):
        for e in range(s, L):
            ref = _naive_tables(m, s, e)
            for key, v in ref.items():
                assert getattr(m.tables, key)[s, e] == pytest.approx(v), (key, s, e)


# ------------------------------------------------------------------------------------------
# hand-computed group


CHAIN = """
name: chain
input: [2, 4, 4]
layers:
  - {name: c1, type: conv, out: 4, kernel: 3, padding: 1}
  - {name: r1, type: relu}
  - {name: c2, type: conv, out: 2, kernel: 1}
"""


def test_hand_computed_group_of_three_layers() -> None:
    m = mbs.build_model(load_network_text(CHAIN), HW, 8, [1e9], True)
    # per sample: x = 32, c1 out = r1 out = 64, c2 out = 32 elements; parameters (with bias)
    # 72 + 4 and 8 + 2 = 86; 2 B each
    cells, need, ok = mbs.mbs_cells(m, np.array(0), 2, np.array(4.0), np.array(1e9))
    N, S = 8, 2
    assert cells[("forward", "activations")] == N * (32 + 32) * 2  # x in, y out
    assert cells[("forward", "stash")] == N * 64 * 2  # r1's output (relu and c2 need it)
    assert cells[("forward", "weights")] == S * 86 * 2
    # dY in; dX of the network input not computed (issue #12 item 2): before, N x (32 + 32) x 2
    assert cells[("dgrad", "gradients")] == N * 32 * 2
    with_input = mbs.build_model(load_network_text(CHAIN), HW, 8, [1e9], True,
                                 input_gradient=True)
    cells_in, _, _ = mbs.mbs_cells(with_input, np.array(0), 2, np.array(4.0), np.array(1e9))
    assert cells_in[("dgrad", "gradients")] == N * (32 + 32) * 2  # dY in, dX out
    assert cells[("dgrad", "stash")] == 0  # relu's need = r1 out, also needed by c2 (wgrad)
    assert cells[("wgrad", "stash")] == N * (32 + 64) * 2  # x (c1) and r1 out (c2)
    assert cells[("wgrad", "weights")] == 86 * 2  # dW accumulated on chip, written once
    # need: 4 samples x peak (backward at c2: grads of r1 out + c2 out + reloaded r1 out) +
    # c1's weights (largest layer, 76) + the group's dW (86) accumulated on chip
    peak = max(32 + 64, 64 + 64, 64 + 32) * 2 + 64 * 2  # step c2: (64 + 32) * 2 + 64 * 2
    assert m.tables.peak_sample_bytes[0, 2] == peak
    assert need == 4 * peak + 76 * 2 + 86 * 2
    assert ok
    # a small buffer forces read-modify-write of dW: S writes + S - 1 reads
    small = 4 * peak + 76 * 4  # c1's W and dW fit, not all dW
    cells, _, ok = mbs.mbs_cells(m, np.array(0), 2, np.array(4.0), np.array(small))
    assert ok and cells[("wgrad", "weights")] == (2 * S - 1) * 86 * 2


POOL_FIRST = """\
name: pool_first
input: [2, 4, 4]
layers:
  - {name: p1, type: maxpool, input: input, kernel: 2, stride: 2}
  - {name: c1, type: conv, input: p1, out: 2, kernel: 1, padding: 0}
"""


def test_layer_with_no_backward_reads_no_stash_and_does_no_dgrad_work() -> None:
    """Issue #12 item 2, in MBS as in the baseline: a max-pool on the network input has no
    parameter upstream, so it runs no backward: its input (32 elements) is not re-read as stash
    and its element-wise dgrad work is not done (both were counted before); with
    ``input_gradient=True`` they are."""
    net = load_network_text(POOL_FIRST)
    prec = Precision.of(HW)
    t = mbs.group_tables(net, prec, True)
    assert t.stash_read_dgrad_elems[0, 1] == 0
    assert t.stash_read_wgrad_elems[0, 1] == 8  # c1's input (p1 out) for its weight gradient
    assert t.vec_dgrad[0, 1] == 0
    kept = mbs.group_tables(net, prec, True, input_gradient=True)
    assert kept.stash_read_dgrad_elems[0, 1] == 32  # the pool's input
    assert kept.vec_dgrad[0, 1] > 0


# ------------------------------------------------------------------------------------------
# strategies, results and CLI


@pytest.fixture(scope="module")
def resnet_results() -> dict[str, object]:
    net = load_network("resnet50")
    return {name: get_strategy(name).run(ScheduleRequest(net, HW, batch=32))
            for name in ("layerwise", "mbs-greedy", "mbs-optimal")}


def test_totals_have_breakdowns_that_add_up(resnet_results: dict) -> None:
    for name in ("mbs-greedy", "mbs-optimal"):
        r = resnet_results[name]
        t = r.totals
        for key in ("dram_bytes", "energy_pj", "latency_s"):
            assert np.isfinite(t[key]) and t[key] > 0
        assert sum(t[f"dram_{p}_bytes"] for p in ("forward", "dgrad", "wgrad")) == \
            pytest.approx(t["dram_bytes"])
        assert sum(t[f"dram_{k}_bytes"] for k in mbs.KINDS) == pytest.approx(t["dram_bytes"])
        assert r.groups["dram_bytes"].sum() == pytest.approx(t["dram_bytes"])
        assert t["energy_pj"] == pytest.approx(t["energy_dram_pj"] + t["energy_buffer_pj"]
                                               + t["energy_compute_pj"] + t["energy_static_pj"])
        assert t["macs"] == pytest.approx(resnet_results["layerwise"].totals["macs"])
        assert any("per-sample norm" in n for n in r.notes)
        assert (r.groups["buffer_need_bytes"] <= HW.buffer_bytes).all()


def test_resnet50_mbs_saves_traffic(resnet_results: dict) -> None:
    base = resnet_results["layerwise"].totals["dram_bytes"]
    opt = resnet_results["mbs-optimal"].totals["dram_bytes"]
    greedy = resnet_results["mbs-greedy"].totals["dram_bytes"]
    assert opt <= greedy < base
    assert resnet_results["mbs-optimal"].totals["latency_s"] < \
        resnet_results["layerwise"].totals["latency_s"]


def test_layer_grouping_full_batch_equals_layerwise_on_resnet(resnet_results: dict) -> None:
    net = load_network("resnet50")
    r = get_strategy("mbs").run(ScheduleRequest(net, HW, batch=32, sub_batch=32,
                                                options={"grouping": "layer"}))
    ref = resnet_results["layerwise"].totals
    for key in ("dram_bytes", "energy_pj", "latency_s"):
        assert r.totals[key] == pytest.approx(ref[key], rel=1e-12)


def test_sweep_records_cuts_per_capacity_and_fixed_sub_batches() -> None:
    m = _model(CHAIN, 8)
    pts = _sweep("mbs-optimal", m)
    assert pts.dram_bytes.shape == (CAPS.size, 1)
    # the grouping chosen per capacity: one boolean cut row per capacity
    assert pts.cuts.shape == (CAPS.size, len(m.net) - 1) and pts.cuts.dtype == bool
    plan = mbs.plan_optimal(m, None)
    assert [tuple(np.flatnonzero(r)) for r in pts.cuts] == cuts_of_path(plan.path)
    fixed = _sweep("mbs", m, sub_batch=np.array([1, 2, 8]), grouping="all")
    assert fixed.dram_bytes.shape == (CAPS.size, 3)
    assert fixed.cuts == ()
    cut = _sweep("mbs", m, sub_batch=np.array([2]), grouping=(0,))
    assert cut.cuts == (0,) and np.isfinite(cut.dram_bytes[-1, 0])
    # weights are re-read per sub-batch: where every point fits, smaller n = more traffic
    last = fixed.dram_bytes[-1]
    assert last[0] > last[1] > last[2]


def test_dp_helpers_backtrack_and_cuts() -> None:
    cost = np.array([[1.0, 5, 9], [0, 1, 4], [0, 0, 1]])  # cost[s, e]

    def gc(e: int) -> tuple[np.ndarray, np.ndarray]:
        return cost[: e + 1, e][:, None], np.zeros((e + 1, 1), dtype=np.int64)

    res = consecutive_dp(3, gc, 1)
    assert res.total[0] == 3.0 and cuts_of_path(res.path) == [(0, 1)]
    assert (path_from_cuts((0,), 3)[:, 0] == [0, -1, 1]).all()
    assert (backtrack(np.array([[0], [0], [2]]))[:, 0] == [-1, 0, 2]).all()


@pytest.mark.parametrize("opts, field", [({"cuts": "3,x"}, "cuts"), ({"cuts": "999"}, "cuts"),
                                         ({"cuts": "5,3"}, "cuts"),
                                         ({"grouping": "nope"}, "grouping"),
                                         ({"bogus": 1}, "-O bogus")])
def test_bad_options_raise_input_error(opts: dict, field: str) -> None:
    with pytest.raises(InputError) as err:
        get_strategy("mbs").run(ScheduleRequest(load_network_text(CHAIN), HW, batch=4,
                                                options=opts))
    assert err.value.field == field


def test_cli_schedule_formats_and_errors() -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["schedule", "resnet50", "--hw", "wavecore", "--strategy",
                              "mbs-optimal", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert {"dram_bytes", "energy_pj", "latency_s", "dram_stash_bytes"} <= set(data["totals"])
    assert {"sub_batch", "buffer_need_bytes", "dram_weights_bytes"} <= set(data["groups"][0])
    for bad in (["-O", "cuts=3,x"], ["--sub-batch", "64"]):
        with pytest.raises(SystemExit) as exc:
            main(["schedule", "resnet50", "--hw", "wavecore", "--strategy", "mbs", *bad])
        assert exc.value.code == 2


def test_inference_mode_has_no_backward_traffic() -> None:
    m = _model(CHAIN, 4, training=False)
    tot, _ = mbs.evaluate(m, mbs.plan_optimal(m, None))
    assert np.all(tot["dram_dgrad_bytes"] == 0) and np.all(tot["dram_wgrad_bytes"] == 0)
    assert Precision.of(HW).activation == 2.0


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=small_nets(dag=True), batch=st.integers(1, 8))
def test_optimal_equals_brute_force_many(text: str, batch: int) -> None:
    m = _model(text, batch)
    if len(m.net) > 10:
        return
    tot, _ = mbs.evaluate(m, mbs.plan_optimal(m, None))
    assert _same(tot["dram_bytes"], _brute_force(m))


@settings(**SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 8), training=st.booleans(),
       data=st.data())
def test_fixed_grouping_fast_path_equals_general_evaluation(text: str, batch: int,
                                                            training: bool,
                                                            data: st.DataObject) -> None:
    """The sweep's hot path (fixed grouping x sub-batch x capacity) = evaluate(plan_cuts)."""
    m = _model(text, batch, training)
    L = len(m.net)
    cuts = tuple(sorted(data.draw(st.sets(st.integers(0, max(0, L - 2)), max_size=L - 1))))
    cuts = tuple(c for c in cuts if c < L - 1)
    sub = np.arange(1, batch + 1)
    fast = mbs.fixed_grouping_points(m, cuts, sub)
    ref, _ = mbs.evaluate(m, mbs.plan_cuts(m, cuts, sub))
    for key in mbs.POINT_KEYS + ("buffer_need_bytes",):
        want = ref[key].reshape(m.caps.size, sub.size)
        assert _same(fast[key], want), key
    swept = _sweep("mbs", m, sub_batch=sub, grouping=cuts)
    assert _same(swept.dram_bytes, fast["dram_bytes"])


@settings(**SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 9), training=st.booleans())
def test_closed_form_best_sub_batch_equals_scan_over_all_sub_batches(text: str, batch: int,
                                                                     training: bool) -> None:
    """best_group_dram (the DP's closed form) = min over n = 1..N of group_dram, and its n
    achieves that minimum."""
    m = _model(text, batch, training)
    ns = np.arange(1, batch + 1)
    caps = np.arange(m.caps.size)
    for e in range(len(m.net)):
        starts = np.arange(e + 1)
        best, n_best = mbs.best_group_dram(m, starts, e)
        scan = mbs.group_dram(m, starts[:, None, None], e, ns[None, :, None], caps[None, None, :])
        assert _same(best, scan.min(axis=1))
        at_n = mbs.group_dram(m, starts[:, None], e, n_best, caps[None, :])
        assert _same(at_n, best)


def test_group_rows_add_up_and_gradient_bytes_are_not_negative() -> None:
    """Per-group rows: the kinds plus the signed fork column add up to the row's DRAM bytes,
    and the gradient column itself (dY in + dX out) is never negative."""
    net = load_network("googlenet")
    res = get_strategy("mbs-optimal").run(ScheduleRequest(net, HW, "training", 16))
    rows = res.groups
    kinds = [f"dram_{k}_bytes" for k in mbs.KINDS] + ["dram_gradient_forks_bytes"]
    np.testing.assert_allclose(rows[kinds].sum(axis=1), rows["dram_bytes"], rtol=1e-9)
    assert (rows["dram_gradients_bytes"] >= 0).all()
    assert rows["dram_bytes"].sum() == pytest.approx(res.totals["dram_bytes"], rel=1e-9)


CONCAT_NET = ("name: t\ninput: [1, 4, 4]\nlayers:\n"
              "  - {name: a, type: conv, input: input, out: 2, kernel: 1}\n"
              "  - {name: b, type: conv, input: input, out: 2, kernel: 1}\n"
              "  - {name: c, type: concat, inputs: [a, b]}\n"
              "  - {name: d, type: conv, input: c, out: 4, kernel: 1}\n")


def test_concat_moves_nothing_in_training() -> None:
    """Issue #12 item 7 in training: one concat rule for every strategy, its output is the
    union of its inputs' slices (a and b write straight into their slices of c), so the
    layer-by-layer training baseline charges c no traffic and no work in forward (before: read
    64 elements, write 64: 2 x 64 x 2 B x batch 4 = 1,024 B) nor in backward (dX are slices of
    dY). A concat that reads the network input itself copies it (data no layer has written):
    read 16 + 32, write 48 elements per sample."""
    from cnnmem.model.cost import layer_pass_costs

    net = load_network_text(CONCAT_NET)
    c = layer_pass_costs(net, HW, [4], [2.0**20], training=True)
    rows = c.layer_index == 2
    assert rows.any() and np.all(c.dram_bytes[rows] == 0)
    assert np.all(c.compute_s[rows] == 0)
    lw = get_strategy("layerwise").run(ScheduleRequest(net, HW, batch=4))
    assert float(lw.groups.loc[lw.groups["layers"] == "c", "dram_bytes"].iloc[0]) == 0.0
    raw = load_network_text(CONCAT_NET.replace("inputs: [a, b]", "inputs: [input, b]"))
    c2 = layer_pass_costs(raw, HW, [4], [2.0**20], training=True)
    fwd = (c2.layer_index == 2) & (np.array(c2.pass_name) == "forward")
    assert float(c2.dram_bytes[fwd][0, 0, 0]) == 4 * (16 + 32 + 48) * 2
