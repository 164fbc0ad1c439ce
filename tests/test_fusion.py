"""Layer Fusion and OCCAM (cnnmem.model.fusion, cnnmem.model.receptive): the exact Layer Fusion
reproduction, papers.md's hand-computed OCCAM values, DP = brute force, monotonicity, STAP."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnmem.cli import cli, main
from cnnmem.errors import InputError
from cnnmem.hardware import load_hardware
from cnnmem.model.fusion import (
    boundary_matrices,
    brute_force_partition,
    closure_matrix,
    evaluate,
    geometry,
    parse_options,
    partition_dp,
    pipeline_throughput_per_s,
    stap_replicas,
    units_of,
)
from cnnmem.model.receptive import chain_input_rows, input_rows, overlap_rows
from cnnmem.model.schedule import ScheduleRequest, get_strategy
from cnnmem.workload import load_network, load_network_text

MIB = 2.0**20


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
    layer = evaluate("fusion", net, hw, np.array([hw.buffer_bytes]), options=opts,
                     grouping="layer")
    fused = evaluate("fusion", net, hw, np.array([hw.buffer_bytes]), options=opts)
    assert layer.totals["feature_map_bytes"][0] == 20_220_928 * 4
    assert fused.totals["feature_map_bytes"][0] == 953_344 * 4
    assert round(layer.totals["feature_map_bytes"][0] / MIB, 2) == 77.14
    assert round(fused.totals["feature_map_bytes"][0] / MIB, 2) == 3.64
    reduction = 1 - fused.totals["feature_map_bytes"][0] / layer.totals["feature_map_bytes"][0]
    assert round(reduction, 3) == 0.953
    # the DSE at 362 KB chooses the single fused group, and it fits
    assert fused.totals["groups"][0] == 1
    assert fused.totals["buffer_need_bytes"][0] <= 362_000
    # overlap buffers alone (K - s rows of each fused intermediate map) = 336 KiB
    geo = geometry(net)
    first = np.arange(len(net)) > 0
    ov = (overlap_rows(geo.k_eff, geo.stride) * geo.in_w * geo.in_c * 4)[first & geo.is_window]
    assert ov.sum() == 336 * 1024


def test_layer_fusion_recompute_costs_macs_not_traffic() -> None:
    net = load_network("vgg19_fusion5")
    hw = fp32()
    cap = np.array([1e9])
    reuse = evaluate("fusion", net, hw, cap, options={"variant": "reuse"}, grouping="all")
    rec = evaluate("fusion", net, hw, cap, options={"variant": "recompute", "tile": 4},
                   grouping="all")
    assert rec.totals["feature_map_bytes"][0] == reuse.totals["feature_map_bytes"][0]
    assert rec.totals["macs"][0] > reuse.totals["macs"][0] == net.total_macs


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
    total, start = partition_dp(cost, need, np.array([8, 16]) * MIB)
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
    traffic, staging, _, _ = boundary_matrices(net, ends, 2.0)
    need = closure_matrix(net, ends, geometry(net), hw, "k", "resident", staging)
    n = ends.size
    fallback = np.diag(traffic)[:, None] * 3.0 + 1.0  # any finite per-unit fallback
    cap = cap_kib * 1024.0
    total, _ = partition_dp(traffic, need, np.array([cap]), fallback)
    brute = brute_force_partition(traffic, need, cap, fallback[:, 0])
    assert total[0] == pytest.approx(brute)
    assert n == len(starts)


@settings(max_examples=100, deadline=None)
@given(net=small_networks())
def test_unlimited_capacity_is_one_partition(net) -> None:
    hw = load_hardware("occam_chip")
    ev = evaluate("occam", net, hw, np.array([1e12]))
    assert ev.totals["groups"][0] == 1
    outputs = sum(net.out_elems[o] for o in net.outputs)
    assert ev.totals["feature_map_bytes"][0] == (net.input_elems + outputs) * 2.0
    assert ev.totals["tiled_fallback_groups"][0] == 0


@settings(max_examples=100, deadline=None)
@given(net=small_networks(), kind=st.sampled_from(["occam", "fusion"]))
def test_traffic_non_increasing_in_capacity(net, kind: str) -> None:
    hw = load_hardware("occam_chip")
    caps = np.geomspace(256, 4 * MIB, 25)
    ev = evaluate(kind, net, hw, caps)
    d = ev.totals["dram_bytes"]
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
    ev = evaluate("occam", net, hw, caps, chips=8)
    for k, c in enumerate(caps):
        one = evaluate("occam", net, hw, np.array([c]), chips=8)
        assert one.totals["dram_bytes"][0] == pytest.approx(ev.totals["dram_bytes"][k])


def test_branch_live_across_cut_counts() -> None:
    net = load_network_text(
        "name: res\ninput: [8, 8, 8]\nlayers:\n"
        "  - {name: a, type: conv, out: 8, kernel: 3, padding: 1}\n"
        "  - {name: b, type: conv, out: 8, kernel: 3, padding: 1}\n"
        "  - {name: add, type: add, inputs: [a, b]}\n")
    ev = evaluate("occam", net, load_hardware("occam_chip"), np.array([1e9]),
                  grouping=(0,))  # cut after a: a's output is read by b and (later) by add
    t = 512 * 2.0
    # group 1: read input, write a; group 2: read a once, write add's output
    assert ev.totals["feature_map_bytes"][0] == 4 * t


# ------------------------------------------------------------------------------------------
# Options, strategies, CLI


def test_options_validated() -> None:
    assert parse_options("occam", {"window": "k+s-1"})["window"] == "k+s-1"
    with pytest.raises(InputError, match="window"):
        parse_options("occam", {"window": "2k"})
    with pytest.raises(InputError, match="unknown option"):
        parse_options("occam", {"variant": "reuse"})


def test_window_switch_grows_closure() -> None:
    net, hw = load_network("vgg16"), load_hardware("occam_chip")
    k = evaluate("occam", net, hw, np.array([1e12]), options={"window": "k"})
    k2 = evaluate("occam", net, hw, np.array([1e12]), options={"window": "k+s-1"})
    assert k2.totals["buffer_need_bytes"][0] > k.totals["buffer_need_bytes"][0]


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
