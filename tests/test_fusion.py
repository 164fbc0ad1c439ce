"""Layer Fusion and OCCAM (cnnmem.model.fusion, cnnmem.model.receptive): the exact Layer Fusion
reproduction, papers.md's hand-computed OCCAM values, DP = brute force, monotonicity, STAP."""

from __future__ import annotations

import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnmem.cli import cli, main
from cnnmem.errors import InputError
from cnnmem.hardware import load_hardware
from cnnmem.model.fusion import (
    brute_force_partition,
    evaluate,
    parse_options,
    partition_dp,
    partition_dp_balanced,
    pipeline_throughput_per_s,
    rolled_totals,
    stap_replicas,
)
from cnnmem.model.fusion_tables import band_of, geometry, units_of
from cnnmem.model.grouping import budgeted_dp, replicas_needed, replicated_bottleneck_dp
from cnnmem.model.receptive import chain_input_rows, input_rows, overlap_rows
from cnnmem.model.schedule import ScheduleRequest, get_strategy
from cnnmem.workload import load_network, load_network_text

sys.path.insert(0, str(Path(__file__).parent))
import fusion_reference as reference  # noqa: E402

MIB = 2.0**20


def totals(kind: str, net, hw, caps: np.ndarray, **kw) -> dict[str, np.ndarray]:
    """The totals (C,) of :func:`evaluate` through the one roll-up of schedules and sweeps."""
    return rolled_totals(evaluate(kind, net, hw, caps, **kw), net)


def fp32(hw_name: str = "occam_chip"):
    return load_hardware(hw_name).replace(bytes_per_activation=4.0, bytes_per_weight=4.0,
                                          bytes_per_gradient=4.0)


# ------------------------------------------------------------------------------------------
# Receptive-field arithmetic


def test_receptive_rows() -> None:
    # 3x3 stride 1: r output rows need r + 2 input rows; clipped at the map height
    assert int(input_rows(1, 3, 1, 224)) == 3
    assert int(input_rows(10, 3, 1, 224)) == 12
    assert int(input_rows(300, 3, 1, 224)) == 224
    # 2x2 stride 2 pool then 3x3 conv: one conv output row needs 3 pool rows = 6 conv rows
    assert chain_input_rows(1, [3, 2, 3], [1, 2, 1], [224, 224, 112]) == [8, 6, 3]
    assert int(overlap_rows(3, 1)) == 2 and int(overlap_rows(2, 2)) == 0


# ------------------------------------------------------------------------------------------
# Layer Fusion: exact reproduction (papers.md section 3)


def test_layer_fusion_vgg19_exact() -> None:
    net = load_network("vgg19_fusion5")
    hw = fp32().replace(buffer_bytes=362_000.0)
    opts = {"pool": "separate"}
    layer = totals("fusion", net, hw, np.array([hw.buffer_bytes]), options=opts,
                   grouping="layer")
    fused = totals("fusion", net, hw, np.array([hw.buffer_bytes]), options=opts)
    assert layer["feature_map_bytes"][0] == 20_220_928 * 4
    assert fused["feature_map_bytes"][0] == 953_344 * 4
    assert round(layer["feature_map_bytes"][0] / MIB, 2) == 77.14
    assert round(fused["feature_map_bytes"][0] / MIB, 2) == 3.64
    reduction = 1 - fused["feature_map_bytes"][0] / layer["feature_map_bytes"][0]
    assert round(reduction, 3) == 0.953
    # the DSE at 362 KB chooses the single fused group, and it fits
    assert fused["groups"][0] == 1
    assert fused["buffer_need_bytes"][0] <= 362_000
    # overlap buffers alone (K - s rows of each fused intermediate map) = 336 KiB
    geo = geometry(net)
    first = np.arange(len(net)) > 0
    ov = (overlap_rows(geo.k_eff, geo.stride) * geo.in_w * geo.in_c * 4)[first & geo.is_window]
    assert ov.sum() == 336 * 1024


def test_layer_fusion_recompute_costs_macs_not_traffic() -> None:
    net = load_network("vgg19_fusion5")
    hw = fp32()
    cap = np.array([1e9])
    reuse = totals("fusion", net, hw, cap, options={"variant": "reuse"}, grouping="all")
    rec = totals("fusion", net, hw, cap, options={"variant": "recompute", "tile": 4},
                 grouping="all")
    assert rec["feature_map_bytes"][0] == reuse["feature_map_bytes"][0]
    assert rec["macs"][0] > reuse["macs"][0] == net.total_macs


# ------------------------------------------------------------------------------------------
# OCCAM: papers.md hand-computed values of the reconstruction (VGG-16 conv layers, 16-bit)


def vgg16_conv_core() -> tuple[np.ndarray, np.ndarray, float]:
    """The papers.md accounting: conv layers only, a partition reads its first conv's input
    and writes its last conv's output; closure = filters + K rows x width x channels."""
    net = load_network("vgg16")
    convs = [lay for lay in net.layers if lay.family == "conv"]
    n = len(convs)
    ins = np.array([c.in_elems for c in convs], float) * 2
    outs = np.array([c.out_elems for c in convs], float) * 2
    per = np.array([c.weight_elems + c.kernel[0] * c.in_shapes[0][2] * c.in_shapes[0][0]
                    for c in convs], float) * 2
    cs = np.concatenate([[0.0], np.cumsum(per)])
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    cost = np.where(j >= i, ins[i] + outs[j], np.inf)
    need = np.where(j >= i, cs[j + 1] - cs[i], np.inf)
    base = float((ins + outs).sum() + sum(c.weight_elems for c in convs) * 2)
    return cost, need, base


def test_occam_hand_computed_values() -> None:
    cost, need, base = vgg16_conv_core()
    assert round(base / MIB, 1) == 71.2
    total, start = partition_dp(band_of(cost), band_of(need), np.array([8, 16]) * MIB)
    assert round(total[0] / MIB, 2) == 5.26
    assert round(total[1] / MIB, 2) == 1.44
    assert round(base / total[0], 1) == 13.5 and round(base / total[1], 1) == 49.6
    assert (start[:, 1] >= 0).sum() == 2  # conv1_1..conv4_3 | conv5_1..conv5_3


# ------------------------------------------------------------------------------------------
# Property tests


def random_chain(draw, residual: bool) -> str:
    n = draw(st.integers(2, 6))
    lines = ["name: rand", "input: [3, 16, 16]", "layers:"]
    prev = "input"
    h = 16
    for k in range(n):
        c = draw(st.sampled_from([4, 8, 16]))
        kern = draw(st.sampled_from([1, 3]))
        s = 2 if (h >= 4 and draw(st.booleans()) and k % 2) else 1
        lines.append(f"  - {{name: c{k}, type: conv, out: {c}, kernel: {kern}, stride: {s}, "
                     f"padding: {kern // 2}, inputs: [{prev}]}}")
        lines.append(f"  - {{name: r{k}, type: relu}}")
        h = -(-h // s)
        prev = f"r{k}"
        if draw(st.booleans()) and h >= 4:
            lines.append(f"  - {{name: p{k}, type: maxpool, kernel: 2, stride: 2}}")
            h //= 2
            prev = f"p{k}"
    if residual:
        lines.append(f"  - {{name: b0, type: conv, out: 8, kernel: 3, padding: 1, "
                     f"inputs: [{prev}]}}")
        lines.append("  - {name: b1, type: conv, out: 8, kernel: 3, padding: 1}")
        lines.append(f"  - {{name: sk, type: conv, out: 8, kernel: 1, inputs: [{prev}]}}")
        lines.append("  - {name: add, type: add, inputs: [b1, sk]}")
    return "\n".join(lines) + "\n"


@st.composite
def small_networks(draw):
    return load_network_text(random_chain(draw, draw(st.booleans())))


@settings(max_examples=150, deadline=None)
@given(net=small_networks(), cap_kib=st.integers(1, 64), pool=st.sampled_from(["fold",
                                                                              "separate"]))
def test_dp_equals_brute_force(net, cap_kib: int, pool: str) -> None:
    hw = load_hardware("occam_chip")
    starts, ends = units_of(net, pool)
    traffic, staging, _, _ = reference.boundary_matrices(net, ends, 2.0)
    need = reference.closure_matrix(net, ends, geometry(net), hw, "k", "resident", staging)
    n = ends.size
    fallback = np.diag(traffic)[:, None] * 3.0 + 1.0  # any finite per-unit fallback
    cap = cap_kib * 1024.0
    total, _ = partition_dp(band_of(traffic), band_of(need), np.array([cap]), fallback)
    brute = brute_force_partition(traffic, need, cap, fallback[:, 0])
    assert total[0] == pytest.approx(brute)
    assert n == len(starts)


@settings(max_examples=100, deadline=None)
@given(net=small_networks())
def test_unlimited_capacity_is_one_partition(net) -> None:
    hw = load_hardware("occam_chip")
    tot = totals("occam", net, hw, np.array([1e12]))
    assert tot["groups"][0] == 1
    outputs = sum(net.out_elems[o] for o in net.outputs)
    assert tot["feature_map_bytes"][0] == (net.input_elems + outputs) * 2.0
    assert tot["tiled_fallback_groups"][0] == 0


@settings(max_examples=100, deadline=None)
@given(net=small_networks(), kind=st.sampled_from(["occam", "fusion"]))
def test_traffic_non_increasing_in_capacity(net, kind: str) -> None:
    hw = load_hardware("occam_chip")
    caps = np.geomspace(256, 4 * MIB, 25)
    tot = totals(kind, net, hw, caps)
    d = tot["dram_bytes"]
    assert np.all(np.diff(d) <= 1e-9 * d[:-1])


@settings(max_examples=300, deadline=None)
@given(times=st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=8),
       extra=st.integers(0, 10))
def test_stap_replica_never_lowers_throughput(times: list[float], extra: int) -> None:
    t = np.array(times)
    thr = [float(pipeline_throughput_per_s(t[:, None], stap_replicas(t, len(t) + k)[:, None])[0])
           for k in range(extra + 1)]
    assert all(b >= a * (1 - 1e-12) for a, b in zip(thr, thr[1:], strict=False))
    assert stap_replicas(t, len(t) + extra).sum() == len(t) + extra


def test_capacity_vectorized_matches_single() -> None:
    net, hw = load_network("resnet50"), load_hardware("occam_chip")
    caps = np.array([2, 8, 32]) * MIB
    tot = totals("occam", net, hw, caps, chips=8)
    for k, c in enumerate(caps):
        one = totals("occam", net, hw, np.array([c]), chips=8)
        assert one["dram_bytes"][0] == pytest.approx(tot["dram_bytes"][k])


def test_branch_live_across_cut_counts() -> None:
    net = load_network_text(
        "name: res\ninput: [8, 8, 8]\nlayers:\n"
        "  - {name: a, type: conv, out: 8, kernel: 3, padding: 1}\n"
        "  - {name: b, type: conv, out: 8, kernel: 3, padding: 1}\n"
        "  - {name: add, type: add, inputs: [a, b]}\n")
    tot = totals("occam", net, load_hardware("occam_chip"), np.array([1e9]),
                 grouping=(0,))  # cut after a: a's output is read by b and (later) by add
    t = 512 * 2.0
    # group 1: read input, write a; group 2: read a once, write add's output
    assert tot["feature_map_bytes"][0] == 4 * t


# ------------------------------------------------------------------------------------------
# Options, strategies, CLI


def test_options_validated() -> None:
    assert parse_options("occam", {"window": "k+s-1"})["window"] == "k+s-1"
    with pytest.raises(InputError, match="window"):
        parse_options("occam", {"window": "2k"})
    with pytest.raises(InputError, match="takes no option"):
        parse_options("occam", {"variant": "reuse"})


def test_window_switch_grows_closure() -> None:
    net, hw = load_network("vgg16"), load_hardware("occam_chip")
    k = totals("occam", net, hw, np.array([1e12]), options={"window": "k"})
    k2 = totals("occam", net, hw, np.array([1e12]), options={"window": "k+s-1"})
    assert k2["buffer_need_bytes"][0] > k["buffer_need_bytes"][0]


def test_schedule_totals_and_iso_chip() -> None:
    net, hw = load_network("vgg16"), load_hardware("occam_chip")
    res = get_strategy("occam").run(ScheduleRequest(net, hw, "inference", 1, 8))
    for key in ("dram_bytes", "energy_pj", "latency_s", "throughput_per_s", "chip_s_per_image",
                "feature_map_bytes"):
        assert np.isfinite(res.totals[key])
    assert res.totals["chip_s_per_image"] == pytest.approx(8 / res.totals["throughput_per_s"])
    assert len(res.groups) == res.totals["groups"]


def test_cli_schedule_occam_and_bad_option() -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["schedule", "alexnet", "--hw", "occam_chip", "--strategy", "occam",
                             "--chips", "4"])
    assert r.exit_code == 0, r.output
    assert "throughput_per_s" in r.output and "stage_s" in r.output
    with pytest.raises(SystemExit) as exc:
        main(["schedule", "alexnet", "--hw", "occam_chip", "--strategy", "fusion",
              "-O", "variant=magic"])
    assert exc.value.code == 2


# ------------------------------------------------------------------------------------------
# OCCAM partition=balanced: the greatest pipeline throughput after STAP


def brute_force_balanced(stage_s: np.ndarray, cost: np.ndarray, chips: int
                         ) -> tuple[float, float]:
    """Every cut set with at most ``chips`` allowed groups; STAP by :func:`stap_replicas`.
    (least bottleneck max t/r, least traffic among those) of one problem."""
    n = stage_s.shape[0]
    best = (np.inf, np.inf)
    for k in range(min(chips, n)):
        for cuts in combinations(range(n - 1), k):
            ends = [*cuts, n - 1]
            firsts = [0, *(e + 1 for e in cuts)]
            t = np.array([stage_s[f, e] for f, e in zip(firsts, ends, strict=True)])
            if not np.isfinite(t).all():
                continue
            r = stap_replicas(t, chips)
            cand = (float(np.max(t / r)),
                    float(sum(cost[f, e] for f, e in zip(firsts, ends, strict=True))))
            best = min(best, cand)
    return best


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 7), chips=st.integers(1, 5), seed=st.integers(0, 2**31 - 1),
       p_block=st.sampled_from([0.0, 0.3, 0.7]), levels=st.sampled_from([3, 1000]))
def test_balanced_dp_equals_brute_force(n: int, chips: int, seed: int, p_block: float,
                                        levels: int) -> None:
    """The two DPs (replicated bottleneck, then least traffic at that bottleneck) = brute force
    over all cut sets with <= chips groups, STAP replicas from the greedy stap_replicas. Few
    distinct times (levels=3) make many ties, so the traffic tie-break is exercised."""
    rng = np.random.default_rng(seed)
    n_cap = 3
    t = rng.integers(1, levels + 1, (n, n, n_cap)).astype(float) * 1e-4
    cost = rng.integers(1, 50, (n, n, n_cap)).astype(float)
    blocked = rng.random((n, n, n_cap)) < p_block
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    blocked |= (i > j)[:, :, None]
    blocked &= ~(i == j)[:, :, None]  # a single unit is always allowed (tiled fallback)
    t = np.where(blocked, np.inf, t)
    cost = np.where(blocked, np.inf, cost)
    bottleneck, traffic, start = partition_dp_balanced(t, cost, chips)
    for c in range(n_cap):
        want = brute_force_balanced(t[:, :, c], cost[:, :, c], chips)
        assert bottleneck[c] == want[0]  # exact: the same t / r quotients
        assert traffic[c] == pytest.approx(want[1])
        if np.isfinite(want[0]):
            groups = [(int(s), e) for e, s in enumerate(start[:, c]) if s >= 0]
            assert len(groups) <= chips and groups[0][0] == 0 and groups[-1][1] == n - 1
            tg = np.array([t[s, e, c] for s, e in groups])
            assert float(np.max(tg / stap_replicas(tg, chips))) == want[0]
            assert sum(cost[s, e, c] for s, e in groups) == pytest.approx(want[1])
        else:
            assert (start[:, c] == -1).all()


@settings(max_examples=300, deadline=None)
@given(t=st.floats(1e-9, 1e3), b=st.floats(1e-9, 1e3), budget=st.integers(1, 64))
def test_replicas_needed_is_least(t: float, b: float, budget: int) -> None:
    r = int(replicas_needed(np.array([t]), np.array([b]), budget)[0])
    if r <= budget:
        assert t / float(r) <= b and (r == 1 or t / float(r - 1) > b)
    else:
        assert t / float(budget) > b


def test_grouping_budget_dps_small_cases() -> None:
    t = np.array([[4.0, 5.0], [np.inf, 1.0]])[:, :, None]
    # one chip: one group [0..1] (5); two chips: {4 | 1} -> 4, or [0..1] x2 -> 2.5
    assert replicated_bottleneck_dp(t, 1)[0] == 5.0
    assert replicated_bottleneck_dp(t, 2)[0] == 2.5
    assert replicated_bottleneck_dp(t, 3)[0] == 5.0 / 3
    assert replicated_bottleneck_dp(t, 0)[0] == np.inf
    cost = np.array([[1.0, 10.0], [np.inf, 1.0]])[:, :, None]
    w = np.array([[1, 1], [9, 1]])[:, :, None]
    res = budgeted_dp(cost, w, 2)
    assert res.total[0] == 2.0 and list(res.path[:, 0]) == [0, 1]
    res = budgeted_dp(cost, w, 1)
    assert res.total[0] == 10.0 and list(res.path[:, 0]) == [-1, 0]


@settings(max_examples=30, deadline=None)
@given(net=small_networks(), chips=st.integers(1, 4), stage_time=st.sampled_from(["max", "sum"]),
       bandwidth=st.sampled_from([None, 1e12]))
def test_balanced_evaluate_equals_brute_force(net, chips: int, stage_time: str,
                                              bandwidth: float | None) -> None:
    """End to end: the balanced schedule = the best of evaluating every cut set with <= chips
    groups whose multi-unit groups fit (fixed grouping, the same stage times and STAP);
    where none exists it is the traffic schedule. (A faster DRAM makes the small networks'
    stages compute-bound, where balance and least traffic differ more often.)"""
    hw = load_hardware("occam_chip")
    if bandwidth is not None:
        hw = hw.replace(dram_bandwidth_bytes_per_s=bandwidth)
    caps = np.geomspace(512, 128 * 1024, 10)
    opts = {"stage_time": stage_time}
    _, ends = units_of(net)
    n = ends.size
    best_thr = np.full(caps.size, -np.inf)
    best_dram = np.full(caps.size, np.inf)
    for k in range(min(chips, n)):
        for cut_units in combinations(range(n - 1), k):
            ev = evaluate("occam", net, hw, caps, chips=chips, options=opts,
                          grouping=tuple(int(ends[u]) for u in cut_units))
            multi = (ev.start >= 0) & (ev.start < np.arange(n)[:, None])
            ok = ~(multi & ~ev.group["fits"]).any(axis=0)
            tot = rolled_totals(ev, net)
            thr, dram = tot["throughput_per_s"], tot["dram_bytes"]
            better = ok & ((thr > best_thr) | ((thr == best_thr) & (dram < best_dram)))
            best_thr = np.where(better, thr, best_thr)
            best_dram = np.where(better, dram, best_dram)
    bal = totals("occam", net, hw, caps, chips=chips, options={**opts, "partition": "balanced"})
    traffic = totals("occam", net, hw, caps, chips=chips, options=opts)
    feasible = np.isfinite(best_dram)
    for c in range(caps.size):
        if feasible[c]:
            assert bal["throughput_per_s"][c] == pytest.approx(best_thr[c], rel=1e-12)
            assert bal["dram_bytes"][c] == pytest.approx(best_dram[c], rel=1e-12)
            assert bal["groups"][c] <= chips and bal["filter_reread_bytes"][c] == 0
        else:
            for key in ("throughput_per_s", "dram_bytes", "groups"):
                assert bal[key][c] == traffic[key][c]


def both_pipelined(a, b, chips: int) -> np.ndarray:
    return ((a["groups"] <= chips) & (a["filter_reread_bytes"] == 0)
            & (b["groups"] <= chips) & (b["filter_reread_bytes"] == 0))


@settings(max_examples=60, deadline=None)
@given(net=small_networks(), chips=st.integers(1, 8), batch=st.sampled_from([1, 3]))
def test_balanced_throughput_at_least_traffic(net, chips: int, batch: int) -> None:
    hw = load_hardware("occam_chip")
    caps = np.geomspace(512, 4 * MIB, 12)
    traffic = totals("occam", net, hw, caps, chips=chips, batch=batch)
    bal = totals("occam", net, hw, caps, chips=chips, batch=batch,
                 options={"partition": "balanced"})
    both = both_pipelined(traffic, bal, chips)
    assert np.all(~both | (bal["throughput_per_s"]
                           >= traffic["throughput_per_s"] * (1 - 1e-12)))
    # the traffic partition is the least-traffic pipeline: balanced never moves less
    assert np.all(~both | (bal["dram_bytes"]
                           >= traffic["dram_bytes"] * (1 - 1e-12)))


@pytest.mark.parametrize("name", ["alexnet", "resnet50", "googlenet", "vgg16"])
def test_balanced_named_networks(name: str) -> None:
    net, hw = load_network(name), load_hardware("occam_chip")
    caps = np.array([4, 8, 16, 64]) * MIB
    traffic = totals("occam", net, hw, caps, chips=8)
    bal = totals("occam", net, hw, caps, chips=8, options={"partition": "balanced"})
    both = both_pipelined(traffic, bal, 8)
    assert np.all(~both | (bal["throughput_per_s"]
                           >= traffic["throughput_per_s"] * (1 - 1e-12)))
    for k, c in enumerate(caps):  # vectorized over capacities = one capacity at a time
        one = totals("occam", net, hw, np.array([c]), chips=8,
                     options={"partition": "balanced"})
        for key in ("throughput_per_s", "dram_bytes", "groups"):
            assert one[key][0] == pytest.approx(bal[key][k], rel=1e-12)


def test_partition_default_is_traffic() -> None:
    net, hw = load_network("resnet50"), load_hardware("occam_chip")
    assert parse_options("occam", {})["partition"] == "traffic"
    with pytest.raises(InputError, match="partition"):
        parse_options("occam", {"partition": "fast"})
    with pytest.raises(InputError, match="takes no option"):
        parse_options("fusion", {"partition": "balanced"})
    caps = np.array([8 * MIB])
    a = evaluate("occam", net, hw, caps, chips=8)
    b = evaluate("occam", net, hw, caps, chips=8, options={"partition": "traffic"})
    for key, v in rolled_totals(a, net).items():
        assert np.array_equal(v, rolled_totals(b, net)[key]), key
    assert np.array_equal(a.start, b.start)


@pytest.mark.parametrize("pool", ["separate", "fold"])
@pytest.mark.parametrize("buffer_bytes", [362_000, 1_048_576])
def test_tiled_fallback_keeps_the_pool_traffic(pool: str, buffer_bytes: int) -> None:
    """Issue #12 item 6: a unit's tiled per-layer fallback dropped its pool's traffic, so the
    fallback looked cheaper than it is (vgg19_fusion5, grouping=layer, pool=separate at the
    published 362 KB: filter traffic -1,072,384 B before). Hand value: at batch 1 every
    filter is read once per image, 555,328 weights x 4 B = 2,221,312 B, whatever the groups."""
    net = load_network("vgg19_fusion5")
    hw = load_hardware("fusion_vgg").replace(buffer_bytes=buffer_bytes)
    opts = {"grouping": "layer", "pool": pool}
    res = get_strategy("fusion").run(ScheduleRequest(network=net, hardware=hw,
                                                     mode="inference", batch=1,
                                                     options=opts))
    t = res.totals
    assert net.total_params == 555_328
    assert t["filter_dram_bytes"] == 555_328 * 4
    assert t["dram_bytes"] >= t["feature_map_bytes"]


def test_concat_moves_nothing_at_a_group_boundary() -> None:
    """Issue #12 item 7, hand value: one concat rule for all strategies, its output is the union
    of its inputs' slices. a, b: 1x1 convs of a 1x4x4 input into 2 channels each, c = concat,
    d: 1x1 conv to 4 channels; 2 B per element, every layer its own group. a and b each read
    the input (16) and write their output (32): 96 B each; c moves nothing (before: it re-read
    and re-wrote its 64 elements, 256 B); d reads 64 and writes 64: 256 B. Total 448 B, the
    layer-by-layer feature traffic (layerwise 488 B - 40 B of filters)."""
    net = load_network_text("name: t\ninput: [1, 4, 4]\nlayers:\n"
                            "  - {name: a, type: conv, input: input, out: 2, kernel: 1}\n"
                            "  - {name: b, type: conv, input: input, out: 2, kernel: 1}\n"
                            "  - {name: c, type: concat, inputs: [a, b]}\n"
                            "  - {name: d, type: conv, input: c, out: 4, kernel: 1}\n")
    hw = load_hardware("occam_chip").replace(buffer_bytes=2**20)
    res = get_strategy("fusion").run(ScheduleRequest(network=net, hardware=hw, mode="inference",
                                                     batch=1, options={"grouping": "layer"}))
    assert list(res.groups["boundary_bytes"]) == [96.0, 96.0, 0.0, 256.0]
    assert res.totals["feature_map_bytes"] == 448.0
    lw = get_strategy("layerwise").run(ScheduleRequest(network=net, hardware=hw,
                                                       mode="inference", batch=1))
    assert res.totals["dram_bytes"] == lw.totals["dram_bytes"] == 488.0
