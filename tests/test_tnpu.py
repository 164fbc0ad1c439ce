"""TNPU and its baselines: event schedule properties (static split and dynamic PE sharing), the
contract's property on random networks, papers.md hand values, energy identity, sweep and
bandwidth consistency, CLI (schedule --timeline, tnpu-bandwidth)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnnmem.cli import cli
from cnnmem.errors import InputError
from cnnmem.hardware import load_hardware
from cnnmem.model.schedule import (
    POINT_FIELDS,
    ScheduleRequest,
    SweepRequest,
    get_strategy,
    sweep_evaluators,
)
from cnnmem.model.tnpu import (
    CHAIN,
    CONV,
    FCP,
    PHASES,
    TNPU_PREDECESSOR,
    bandwidth_speedups,
    parse_options,
    simulate,
    simulate_shared_pu,
    strategy_costs,
)
from cnnmem.workload import load_network, load_network_text

HW = load_hardware("tnpu")

# ------------------------------------------------------------------------------------------
# The event schedule on random item durations (fast: no cost core)

durations_st = st.lists(st.floats(min_value=0.0, max_value=10.0, allow_nan=False), min_size=6,
                        max_size=6)


def _durations(values: list[float]) -> dict[tuple[str, str], np.ndarray]:
    return {k: np.asarray(v) for k, v in zip(CHAIN, values, strict=True)}


def _sum(d: dict[tuple[str, str], np.ndarray], part: str) -> float:
    return float(sum(d[(part, ph)] for ph in PHASES))


@settings(max_examples=300, deadline=None)
@given(durations_st, st.integers(1, 12), st.integers(0, 3))
def test_static_tnpu_never_slower_than_dnpu_and_speedup_at_most_2(values: list[float], batch: int,
                                                           lookahead: int) -> None:
    d = _durations(values)
    tnpu = float(simulate("tnpu", batch, d, lookahead).makespan_s)
    dnpu = float(simulate("dnpu-like", batch, d).makespan_s)
    serial = batch * (_sum(d, CONV) + _sum(d, FCP))
    assert dnpu == pytest.approx(serial)  # no overlap at all
    assert tnpu <= dnpu * (1 + 1e-12) + 1e-12
    assert serial <= 2 * tnpu * (1 + 1e-12) + 1e-12


@settings(max_examples=300, deadline=None)
@given(durations_st, st.integers(1, 12))
def test_tnpu_between_steady_state_and_one_fill_slot(values: list[float], batch: int) -> None:
    """N max(t_C, t_F) <= makespan <= N max(t_C, t_F) + t_C + t_F (papers.md: "+ one slot")."""
    d = _durations(values)
    tc, tf = _sum(d, CONV), _sum(d, FCP)
    tnpu = float(simulate("tnpu", batch, d).makespan_s)
    assert tnpu >= batch * max(tc, tf) * (1 - 1e-12) - 1e-12
    assert tnpu <= (batch * max(tc, tf) + tc + tf) * (1 + 1e-12) + 1e-12


@settings(max_examples=200, deadline=None)
@given(durations_st, st.integers(1, 8))
def test_events_respect_units_and_dependencies(values: list[float], batch: int) -> None:
    d = _durations(values)
    tl = simulate("tnpu", batch, d)
    assert len(tl.events) == batch * len(PHASES) * 2
    df = tl.intervals()
    for _, unit_df in df.groupby("unit"):  # a unit runs one event at a time
        u = unit_df.sort_values("start_s")
        assert (u["start_s"].to_numpy()[1:] >= u["finish_s"].to_numpy()[:-1] - 1e-12).all()
    finish = {(e.sample, e.part, e.phase): float(f)
              for e, f in zip(tl.events, tl.finish_s, strict=True)}
    start = {(e.sample, e.part, e.phase): float(s)
             for e, s in zip(tl.events, tl.start_s, strict=True)}
    for s in range(batch):
        for b, q in zip(CHAIN, TNPU_PREDECESSOR, strict=True):
            if q >= 0:
                assert start[(s, *b)] >= finish[(s, *CHAIN[q])] - 1e-12


@pytest.mark.parametrize("sharing", ["static", "dynamic"])
def test_conv_backward_does_not_wait_for_fc_weight_gradient(sharing: str) -> None:
    """Backprop needs the FC data gradient only: conv BP starts when FC BP ends, while a long
    FC GD still runs (issue #12 item 9; before, conv BP waited for FC GD: start 13, not 3)."""
    d = _durations([1.0, 1.0, 1.0, 10.0, 1.0, 1.0])
    if sharing == "static":
        tl = simulate("tnpu", 1, d)
    else:
        tl = simulate_shared_pu(1, d, d, 1, (256.0, 16.0))
    start = {(e.sample, e.part, e.phase): float(np.asarray(s))
             for e, s in zip(tl.events, tl.start_s, strict=True)}
    assert start[(0, CONV, "dgrad")] == pytest.approx(3.0)
    assert float(np.asarray(tl.makespan_s)) == pytest.approx(13.0)


@given(durations_st)
@settings(max_examples=100, deadline=None)
def test_static_batch_one_has_no_overlap(values: list[float]) -> None:
    """One sample: the only overlap is FC GD beside conv BP/GD (backprop does not wait for FC
    GD); without FC GD work static TNPU = DNPU-like and no two events overlap."""
    d = _durations(values)
    tl = simulate("tnpu", 1, d)
    dnpu = float(simulate("dnpu-like", 1, d).makespan_s)
    assert float(tl.makespan_s) <= dnpu * (1 + 1e-12) + 1e-12
    d[(FCP, "wgrad")] = np.asarray(0.0)
    tl = simulate("tnpu", 1, d)
    assert float(tl.makespan_s) == pytest.approx(float(simulate("dnpu-like", 1, d).makespan_s))
    df = tl.intervals().sort_values("start_s")
    assert (df["start_s"].to_numpy()[1:] >= df["finish_s"].to_numpy()[:-1] - 1e-12).all()


def test_cross_sample_overlap_happens_with_two_samples() -> None:
    d = _durations([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    df = simulate("tnpu", 2, d).intervals()
    conv1 = df[(df["unit"] == CONV) & (df["sample"] == 1)].iloc[0]  # conv FP of sample 1
    fc0 = df[(df["unit"] == FCP) & (df["sample"] == 0)]
    assert (fc0["start_s"] < conv1["finish_s"]).any() and (fc0["finish_s"] > conv1["start_s"]).any()


@settings(max_examples=200, deadline=None)
@given(durations_st, st.integers(2, 12), st.floats(0.5, 0.99))
def test_static_tnpu_not_slower_than_dadiannao_when_fc_memory_bound(
        values: list[float], batch: int, conv_share: float) -> None:
    """DaDianNao-like gives conv work all PEs (conv time x r, r = P_c / P_all) and FC work the
    same memory-bound time. Static TNPU's makespan <= N max(C, F) + C + F, so it is not slower
    when F >= C (1 - r + 1/N) [a sufficient condition; the tests below show where it fails]."""
    d = _durations(values)
    tc, tf = _sum(d, CONV), _sum(d, FCP)
    assume(tf >= tc * (1 - conv_share + 1 / batch))
    dd = {k: (v * conv_share if k[0] == CONV else v) for k, v in d.items()}
    tnpu = float(simulate("tnpu", batch, d).makespan_s)
    assert tnpu <= float(simulate("dadiannao-like", batch, dd).makespan_s) * (1 + 1e-12) + 1e-12


# ------------------------------------------------------------------------------------------
# Dynamic PE sharing (the default) on random items built like the model's: each item is a few
# layer-passes with a compute time on the whole PU and a memory time; on a share of P PEs the
# compute time scales by P_all / P (the roofline of item_seconds)

layer_pass_st = st.tuples(st.floats(0.0, 10.0), st.floats(0.0, 10.0))  # (compute on all, memory)
items_st = st.lists(st.lists(layer_pass_st, min_size=0, max_size=3), min_size=6, max_size=6)


def _shared(items: list[list[tuple[float, float]]], fc_pes: float, all_pes: float = 272.0
            ) -> tuple[dict[tuple[str, str], np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """(split durations: conv on all - fc_pes, FC on fc_pes PEs; durations on all PEs)."""
    share = {CONV: (all_pes - fc_pes) / all_pes, FCP: fc_pes / all_pes}
    split = {k: np.asarray(sum(max(c / share[k[0]], m) for c, m in lp)) for k, lp
             in zip(CHAIN, items, strict=True)}
    whole = {k: np.asarray(sum(max(c, m) for c, m in lp)) for k, lp
             in zip(CHAIN, items, strict=True)}
    return split, whole


def _le(a: float, b: float) -> bool:
    return a <= b * (1 + 1e-9) + 1e-12


@settings(max_examples=300, deadline=None)
@given(items_st, st.integers(1, 10), st.integers(0, 3), st.sampled_from([1.0, 16.0, 136.0]))
def test_dynamic_never_slower_than_either_baseline_and_at_most_2x(
        items: list[list[tuple[float, float]]], batch: int, lookahead: int,
        fc_pes: float) -> None:
    split, whole = _shared(items, fc_pes)
    tl = simulate_shared_pu(batch, split, whole, lookahead, (272.0 - fc_pes, fc_pes))
    tnpu = float(tl.makespan_s)
    dadiannao = float(simulate("dadiannao-like", batch, whole).makespan_s)
    dnpu = float(simulate("dnpu-like", batch, split).makespan_s)
    assert _le(tnpu, dadiannao) and _le(tnpu, dnpu)
    # the sequential schedule of the same PU (every event alone on all PEs) is dadiannao-like
    assert _le(dadiannao, 2 * tnpu)
    df = tl.intervals()
    assert set(df["pes"]) <= {272.0, 272.0 - fc_pes, fc_pes}
    for _, lane in df.groupby("unit"):  # a lane runs one event at a time
        lane = lane.sort_values("start_s")
        assert (lane["start_s"].to_numpy()[1:] >= lane["finish_s"].to_numpy()[:-1] - 1e-9).all()
    # at every segment boundary the running segments use at most the whole PU
    for t in df["start_s"]:
        live = df[(df["start_s"] <= t) & (df["finish_s"] > t)]
        assert live["pes"].sum() <= 272.0
    start = {(e.sample, e.part, e.phase): float(v) for e, v in zip(tl.events, tl.start_s,
                                                                    strict=True)}
    finish = {(e.sample, e.part, e.phase): float(v) for e, v in zip(tl.events, tl.finish_s,
                                                                     strict=True)}
    for smp in range(batch):
        for b, q in zip(CHAIN, TNPU_PREDECESSOR, strict=True):
            if q >= 0:
                assert start[(smp, *b)] >= finish[(smp, *CHAIN[q])] - 1e-12


@settings(max_examples=100, deadline=None)
@given(items_st, st.sampled_from([1.0, 16.0, 136.0]))
def test_dynamic_batch_one_has_no_overlap(items: list[list[tuple[float, float]]],
                                          fc_pes: float) -> None:
    """One sample: without FC GD work every event runs alone on the whole PU, = DaDianNao-like
    exactly; with it, FC GD may overlap conv BP/GD (never slower)."""
    split, whole = _shared(items, fc_pes)
    tl = simulate_shared_pu(1, split, whole, 1, (272.0 - fc_pes, fc_pes))
    assert _le(float(tl.makespan_s), float(simulate("dadiannao-like", 1, whole).makespan_s))
    split[(FCP, "wgrad")] = whole[(FCP, "wgrad")] = np.asarray(0.0)
    tl = simulate_shared_pu(1, split, whole, 1, (272.0 - fc_pes, fc_pes))
    assert float(tl.makespan_s) == pytest.approx(
        float(simulate("dadiannao-like", 1, whole).makespan_s), rel=1e-12, abs=1e-12)
    df = tl.intervals().sort_values("start_s")
    assert (df["start_s"].to_numpy()[1:] >= df["finish_s"].to_numpy()[:-1] - 1e-12).all()


def test_dynamic_allocation_changes_mid_event() -> None:
    """Conv FP(0) runs alone on all 272 PEs; FC FP(0) then starts beside conv FP(1) (lookahead
    1) on 16 PEs and gets the whole PU when conv work runs dry: one event, two segments."""
    items = [[(1.0, 0.0)]] + [[(1.0, 0.0)]] * 3 + [[(0.1, 0.0)]] * 2
    split, whole = _shared(items, 16.0)
    df = simulate_shared_pu(2, split, whole, 1, (256.0, 16.0)).intervals()
    fc0 = df[(df["unit"] == FCP) & (df["sample"] == 0) & (df["phase"] == "FP")]
    assert list(fc0["pes"]) == [16.0, 272.0]
    conv0 = df[(df["unit"] == CONV) & (df["sample"] == 0) & (df["phase"] == "FP")]
    assert list(conv0["pes"]) == [272.0]


# ------------------------------------------------------------------------------------------
# Real networks on hw/tnpu.yaml


def _lat(strategy: str, net: str, batch: int = 50, **opts: str) -> float:
    c = strategy_costs(strategy, load_network(net), HW, batch, options=opts)
    return float(c.latency_s[0, 0])


def _steady(net: str) -> tuple[float, float]:
    """papers.md steady state: (t_C + t_F) / max(t_C, t_F) per sample, both baselines (item
    times on the static split; the formula is the static split's steady state)."""
    t = {}
    for s in ("tnpu", "dnpu-like", "dadiannao-like"):
        c = strategy_costs(s, load_network(net), HW, 50)
        t[s] = [sum(float(c.item_s[(p, ph)][0, 0]) for ph in PHASES) for p in (CONV, FCP)]
    return sum(t["dadiannao-like"]) / max(t["tnpu"]), sum(t["dnpu-like"]) / max(t["tnpu"])


@pytest.mark.parametrize("net, dadiannao, dnpu", [
    # papers.md section 4, hand-computed with the reconstruction; the Caffe (original, grouped)
    # AlexNet reproduces them; torchvision's alexnet gives 1.439 / 1.466 (fewer conv MACs)
    ("alexnet_caffe", 1.45, 1.47),
    ("vgg16", 1.13, 1.19),
])
@pytest.mark.xfail(strict=True, reason="papers.md's hand values stream the FC dW write-only; "
                   "with the running sum read back per sample (issue #12 item 9) FC GD is "
                   "longer: alexnet_caffe 1.34 / vgg16 1.20 vs dadiannao-like")
def test_papers_md_hand_values(net: str, dadiannao: float, dnpu: float) -> None:
    dd, dn = _steady(net)
    assert dd == pytest.approx(dadiannao, abs=0.005)  # the hand values have two decimals
    assert dn == pytest.approx(dnpu, abs=0.005)


def test_simulated_makespan_includes_fill_only() -> None:
    """The event schedule of 50 samples stays within one fill slot of the steady state."""
    dd, dn = _steady("alexnet_caffe")  # the steady-state formula is the static split's
    sim = _lat("dnpu-like", "alexnet_caffe") / _lat("tnpu", "alexnet_caffe", pe_sharing="static")
    # at most the steady state; below it by more than the fill when the lanes' shared DRAM
    # bandwidth slows concurrent memory-bound work (issue #12 item 1)
    assert sim <= dn


def test_fc_weights_streamed_per_sample_unless_resident() -> None:
    net = load_network("alexnet")
    c = strategy_costs("tnpu", net, HW, 50)
    fc_w = sum(layer.weight_elems for layer in net.layers if layer.family == "fc")
    # forward and dgrad read W, wgrad writes dW, every sample (234 MB of fp32 weights), and
    # reads the running sum back in every sample after the first
    assert c.dram_bytes[0, 0] >= (50 * 3 + 49) * 4 * fc_w
    lenet = load_network("lenet5")  # 0.25 MB of FC weights fit the 2 MiB buffer
    auto = strategy_costs("tnpu", lenet, HW, 50)
    never = strategy_costs("tnpu", lenet, HW, 50, options={"resident": "never"})
    # all of LeNet-5's weights (conv part too) stay on chip: 3 x |W| per sample (+ the running
    # dW read back by 49 samples) become 3 x |W| per mini-batch; the first conv computes no
    # dgrad (issue #12 item 2), so its W is read twice per sample, not three times
    first_w = lenet.layers[0].weight_elems
    assert never.dram_bytes[0, 0] - auto.dram_bytes[0, 0] == pytest.approx(
        49 * 4 * (4 * lenet.total_params - first_w))


def test_static_split_slower_than_dadiannao_where_it_loses() -> None:
    """Why pe_sharing=static breaks "tnpu never slower than either baseline": LeNet-5's FC
    weights sit on chip, so its FC work is compute-bound on the 16-PE FC unit (DaDianNao-like
    gives it 272 PEs); and at batch 1 nothing overlaps while 16 PEs idle."""
    static = {"pe_sharing": "static"}
    assert _lat("tnpu", "lenet5", **static) > 2 * _lat("dadiannao-like", "lenet5")
    assert _lat("tnpu", "lenet5", resident="never", pe_sharing="static") < _lat(
        "dadiannao-like", "lenet5", resident="never")
    for net in ("lenet5", "mpcnn", "alexnet", "vgg16"):
        assert _lat("tnpu", net, **static) <= _lat("dnpu-like", net)


def test_dynamic_sharing_fixes_those_cases() -> None:
    """The default (dynamic) on the same cases: not slower than DaDianNao-like, batch 1 equal
    to it (no cross-sample overlap, every event alone on all PEs)."""
    assert _lat("tnpu", "lenet5") <= _lat("dadiannao-like", "lenet5")
    assert _lat("tnpu", "vgg16", batch=1) <= _lat("dadiannao-like", "vgg16", batch=1)
    for net in ("lenet5", "mpcnn", "alexnet", "vgg16"):
        assert _lat("tnpu", net) <= _lat("tnpu", net, pe_sharing="static") * (1 + 1e-12)


def test_dynamic_speedup_over_dnpu_like_can_exceed_2() -> None:
    """Counterexample to "speedup over a sequential baseline <= 2" if DNPU-like is taken as the
    sequential baseline of dynamic TNPU: the bound holds against the sequential schedule of the
    same PU (DaDianNao-like, what batch 1 gives), but DNPU-like's FC unit has only 16 PEs, and
    LeNet-5's FC work (weights on chip) is compute-bound: with dynamic sharing FC work borrows
    the whole PU while conv work has nothing ready. The gain beyond 2x is PE sharing, not
    cross-sample overlap: DaDianNao-like (no overlap at all, all PEs) is itself > 2x faster than
    DNPU-like here. (At batch 1 LeNet-5's weights are loaded once per sample, FC work is
    memory-bound and the ratio is about 1.)"""
    assert _lat("dnpu-like", "lenet5") / _lat("tnpu", "lenet5") > 2
    assert _lat("dnpu-like", "lenet5") / _lat("dadiannao-like", "lenet5") > 2
    assert _lat("dadiannao-like", "lenet5") / _lat("tnpu", "lenet5") <= 2


# Random small networks through the whole model (cost core, residency, roofline, schedule)

conv_st = st.tuples(st.integers(1, 8), st.integers(1, 3), st.booleans())  # out, kernel, pool


@st.composite
def small_networks(draw: st.DrawFn) -> str:
    c, hw = draw(st.integers(1, 4)), draw(st.integers(4, 12))
    lines = ["name: rnd", f"input: [{c}, {hw}, {hw}]", "layers:"]
    size = hw
    for i, (out, k, pool) in enumerate(draw(st.lists(conv_st, min_size=0, max_size=3))):
        if k > size:
            break
        lines.append(f"  - {{name: conv{i}, type: conv, out: {out}, kernel: {k}}}")
        size = size - k + 1
        if pool and size >= 2:
            lines.append(f"  - {{name: pool{i}, type: maxpool, kernel: 2}}")
            size //= 2
    fcs = draw(st.lists(st.integers(1, 64), min_size=0, max_size=2))
    if fcs:
        lines.append("  - {name: flat, type: flatten}")
    lines += [f"  - {{name: fc{i}, type: fc, out: {o}}}" for i, o in enumerate(fcs)]
    if len(lines) == 3:  # at least one layer
        lines.append("  - {name: fc0, type: fc, out: 4}")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None)
@given(small_networks(), st.integers(1, 8), st.sampled_from([1e3, 64e3, 2 * 2**20]),
       st.sampled_from([1e6, 17.1e9, 1e13]), st.sampled_from([1, 16, 136]))
def test_contract_property_on_random_networks(text: str, batch: int, buffer_bytes: float,
                                              bandwidth: float, fc_pes: int) -> None:
    """The issue's property for the default tnpu (dynamic): never slower than dnpu-like and
    dadiannao-like; speedup over the sequential schedule of the same PU (dadiannao-like) <= 2;
    batch 1 has no cross-sample overlap (= dadiannao-like). Static: never slower than
    dnpu-like, its sequential baseline, and at most 2x faster than it."""
    net = load_network_text(text)
    hw = HW.replace(buffer_bytes=buffer_bytes, dram_bandwidth_bytes_per_s=bandwidth,
                    conv_mac_units=272 - fc_pes, fc_mac_units=fc_pes)
    lat = {s: float(strategy_costs(s, net, hw, batch).latency_s[0, 0])
           for s in ("tnpu", "dnpu-like", "dadiannao-like")}
    static = float(strategy_costs("tnpu", net, hw, batch,
                                  options={"pe_sharing": "static"}).latency_s[0, 0])
    assert _le(lat["tnpu"], lat["dnpu-like"]) and _le(lat["tnpu"], lat["dadiannao-like"])
    assert _le(lat["dadiannao-like"], 2 * lat["tnpu"])
    assert _le(static, lat["dnpu-like"]) and _le(lat["dnpu-like"], 2 * static)
    one = strategy_costs("tnpu", net, hw, 1)  # batch 1: only FC GD beside conv BP/GD
    assert _le(float(one.latency_s[0, 0]),
               float(strategy_costs("dadiannao-like", net, hw, 1).latency_s[0, 0]))
    # shared DRAM bandwidth (issue #12 item 1): latency >= max(MACs / peak, bytes / bandwidth)
    for s in ("tnpu", "dnpu-like", "dadiannao-like"):
        for opts in ({}, {"pe_sharing": "static"}):
            c = strategy_costs(s, net, hw, batch, options=opts)
            floor = max(c.macs / (272 * hw.clock_hz), float(c.dram_bytes[0, 0]) / bandwidth)
            assert float(c.latency_s[0, 0]) >= floor * (1 - 1e-9), (s, opts)


def test_lanes_share_the_dram_bandwidth() -> None:
    """AlexNet batch 50 on hw/tnpu.yaml: before issue #12 item 1 TNPU moved 37.36 GB in
    2.078 s on 17.1 GB/s (each lane had the whole bandwidth); now latency >= bytes / bandwidth
    with either PE sharing."""
    net = load_network("alexnet")
    for sharing in ("dynamic", "static"):
        c = strategy_costs("tnpu", net, HW, 50, options={"pe_sharing": sharing})
        assert float(c.latency_s[0, 0]) >= float(c.dram_bytes[0, 0]) / \
            HW.dram_bandwidth_bytes_per_s * (1 - 1e-12)


@pytest.mark.parametrize("baseline", ["dnpu-like", "dadiannao-like"])
def test_energy_reduction_is_one_minus_inverse_speedup_at_equal_power(baseline: str) -> None:
    """Memory energy zero and equal, activity-independent power (the reading under which the
    published figures follow from the speedups): energy is power x time."""
    hw = HW.replace(buffer_cost=None, mac_energy_pj=0.0, static_power_w=1.0)
    net = load_network("alexnet")
    t = strategy_costs("tnpu", net, hw, 50, options={"memory_energy": "off"})
    b = strategy_costs(baseline, net, hw, 50, options={"memory_energy": "off"})
    speedup = b.latency_s[0, 0] / t.latency_s[0, 0]
    reduction = 1 - t.energy_pj[0, 0] / b.energy_pj[0, 0]
    assert reduction == pytest.approx(1 - 1 / speedup, abs=1e-12)


def test_sourced_energy_with_memory_off_is_mac_energy_plus_leakage_times_time() -> None:
    """hw/tnpu.yaml's sourced costs with the paper's memory_energy=off: the same MAC energy in
    TNPU and its baselines (same work), static energy = buffer leakage x latency."""
    net = load_network("alexnet")
    t = strategy_costs("tnpu", net, HW, 8, options={"memory_energy": "off"})
    b = strategy_costs("dnpu-like", net, load_hardware("dnpu_like"), 8,
                       options={"memory_energy": "off"})
    assert HW.mac_energy_pj == pytest.approx(11.06, rel=1e-3)  # fp32 at 65 nm (techmodel)
    assert t.energy_compute_pj[0, 0] == pytest.approx(b.energy_compute_pj[0, 0], rel=1e-12)
    assert t.energy_compute_pj[0, 0] == pytest.approx(t.macs * HW.mac_energy_pj, rel=1e-12)
    leak = float(HW.buffer_cost.leakage_w(HW.buffer_bytes))
    assert t.energy_static_pj[0, 0] == pytest.approx(leak * t.latency_s[0, 0] * 1e12, rel=1e-12)


def test_memory_energy_switch() -> None:
    hw = HW.replace(dram_energy_pj_per_byte=20.0, buffer_cost=None,
                    buffer_energy_pj_per_byte=1.0)
    net = load_network("mpcnn")
    on = strategy_costs("tnpu", net, hw, 4)
    off = strategy_costs("tnpu", net, hw, 4, options={"memory_energy": "off"})
    assert on.energy_dram_pj[0, 0] == pytest.approx(20.0 * on.dram_bytes[0, 0])
    assert off.energy_dram_pj[0, 0] == 0 and off.energy_buffer_pj[0, 0] == 0
    assert off.energy_static_pj[0, 0] == on.energy_static_pj[0, 0]


def test_schedule_totals_and_sweep_agree() -> None:
    net = load_network("mpcnn")
    caps = np.array([64e3, 2 * 2**20])
    for s in ("tnpu", "dnpu-like", "dadiannao-like"):
        res = get_strategy(s).run(ScheduleRequest(net, HW, batch=8))
        for key in ("latency_s", "energy_pj", "dram_bytes", "conv_unit_utilization",
                    "fc_unit_utilization"):
            assert np.isfinite(res.totals[key])
        assert 0 < res.totals["conv_unit_utilization"] <= 1
        assert 0 < res.totals["fc_unit_utilization"] <= 1
        pts = sweep_evaluators()[s](SweepRequest(net, HW, "training", 8, caps))
        assert pts.latency_s.shape == (2, 1)
        assert HW.buffer_bytes == caps[1]
        for metric in POINT_FIELDS + ("energy_pj",):  # every metric (issue #11)
            assert np.asarray(getattr(pts, metric))[1, 0] == pytest.approx(
                res.totals[metric], rel=1e-12), (s, metric)
        assert pts.dram_bytes[0, 0] >= pts.dram_bytes[1, 0]  # a small buffer: weights stream


def test_bandwidth_sweep_matches_schedules() -> None:
    net = load_network("alexnet")
    bws = [4e9, 17.1e9, 68e9]
    for sharing, sequential in (("dynamic", "dadiannao"), ("static", "dnpu")):
        opts = {"pe_sharing": sharing}
        df = bandwidth_speedups(net, HW, bws, batch=10, options=opts)
        for bw, row in zip(bws, df.itertuples(), strict=True):
            hw = HW.replace(dram_bandwidth_bytes_per_s=bw)
            t = strategy_costs("tnpu", net, hw, 10, options=opts).latency_s[0, 0]
            d = strategy_costs("dnpu-like", net, hw, 10).latency_s[0, 0]
            assert row.speedup_vs_dnpu_like_x == pytest.approx(d / t)
        col = df[f"speedup_vs_{sequential}_like_x"]
        assert (col <= 2).all() and (col >= 1).all()
        assert (df["speedup_vs_dnpu_like_x"] >= 1).all()


def test_conv_only_network_and_bad_input() -> None:
    net = load_network_text("name: c\ninput: [3, 16, 16]\nlayers:\n"
                            "  - {name: conv1, type: conv, out: 8, kernel: 3}\n")
    # nothing to overlap: static = DNPU-like, dynamic (conv work alone on all PEs) = DaDianNao
    assert _one(net, "tnpu", pe_sharing="static") == pytest.approx(_one(net, "dnpu-like"))
    assert _one(net, "tnpu") == pytest.approx(_one(net, "dadiannao-like"))
    with pytest.raises(InputError, match="pe_sharing"):
        parse_options({"pe_sharing": "greedy"})
    with pytest.raises(InputError, match="lookahead"):
        parse_options({"lookahead": "-1"})
    with pytest.raises(InputError, match="bogus"):
        parse_options({"bogus": 1})
    with pytest.raises(InputError, match="conv_mac_units"):
        strategy_costs("tnpu", net, load_hardware("dadiannao_like"), 2)


def _one(net: object, strategy: str, **opts: str) -> float:
    return float(strategy_costs(strategy, net, HW, 4,  # type: ignore[arg-type]
                                options=opts).latency_s[0, 0])


# ------------------------------------------------------------------------------------------
# CLI


def test_schedule_cli_with_timeline(tmp_path: object) -> None:
    out = tmp_path / "t.png"  # type: ignore[operator]
    r = CliRunner().invoke(cli, ["schedule", "mpcnn", "--hw", "tnpu", "--strategy", "tnpu",
                                 "--batch", "6", "--timeline", str(out), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '"conv_unit_utilization"' in r.output and '"latency_s"' in r.output
    svg = tmp_path / "t.svg"  # type: ignore[operator]
    r = CliRunner().invoke(cli, ["schedule", "lenet5", "--hw", "tnpu", "--strategy",
                                 "dadiannao-like", "--batch", "3", "--timeline", str(svg)])
    assert r.exit_code == 0, r.output
    assert b"<svg" in svg.read_bytes()[:500]


def test_bandwidth_cli_and_errors(tmp_path: object) -> None:
    from cnnmem.cli import main

    plot = tmp_path / "bw.png"  # type: ignore[operator]
    r = CliRunner().invoke(cli, ["tnpu-bandwidth", "lenet5", "--hw", "tnpu", "--bandwidths",
                                 "4GB/s,17.1GB/s", "--format", "csv", "--plot", str(plot)])
    assert r.exit_code == 0, r.output
    assert "speedup_vs_dnpu_like_x" in r.output.splitlines()[0]
    assert plot.exists()
    for argv in (["tnpu-bandwidth", "lenet5", "--bandwidths", "fast"],
                 ["schedule", "lenet5", "--hw", "edge", "--strategy", "tnpu"],
                 ["schedule", "lenet5", "--hw", "tnpu", "--strategy", "tnpu", "-O", "x=1"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(items_st, min_size=2, max_size=4), st.integers(1, 6), st.integers(0, 2))
def test_dynamic_lock_step_over_points_equals_each_point_alone(
        points: list[list[list[tuple[float, float]]]], batch: int, lookahead: int) -> None:
    """The vectorized (lock-step) simulation of several design points gives every point exactly
    what simulating it alone gives: times and PE-allocation stretches."""
    pairs = [_shared(items, 16.0) for items in points]
    split = {k: np.array([float(p[0][k]) for p in pairs]) for k in CHAIN}
    whole = {k: np.array([float(p[1][k]) for p in pairs]) for k in CHAIN}
    together = simulate_shared_pu(batch, split, whole, lookahead, (256.0, 16.0))
    for i, (s1, w1) in enumerate(pairs):
        alone = simulate_shared_pu(batch, s1, w1, lookahead, (256.0, 16.0))
        assert np.allclose([a[i] for a in together.finish_s],
                           [float(a) for a in alone.finish_s])
        assert together.segments_at((i,)) == alone.segments_at(())
