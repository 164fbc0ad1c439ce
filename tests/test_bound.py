"""The communication lower bound and its attaining dataflow (issue 3)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnmem.cli import cli
from cnnmem.model.bound import lower_bound_bytes, lower_bound_elems
from cnnmem.model.dataflow import best_tiling
from cnnmem.model.gconv import PASSES, layer_gconvs, network_gconvs
from cnnmem.model.precision import Precision
from cnnmem.workload import load_network, load_network_text

E2 = Precision.uniform(2)


def conv_net(c_in: int, h: int, w: int, c_out: int, k: int, s: int, p: int, g: int = 1,
             d: int = 1) -> str:
    return (f"name: t\ninput: [{c_in}, {h}, {w}]\nlayers:\n"
            f"  - {{name: c, type: conv, out: {c_out}, kernel: {k}, stride: {s}, padding: {p},"
            f" groups: {g}, dilation: {d}, bias: false}}\n")


def test_paper_worked_values_vgg16() -> None:
    """papers.md section 1: B=1, M=65,536 elements (2-byte elements in a 128 KiB buffer)."""
    net = load_network("vgg16")
    gs = {g.layer: g for g in network_gconvs(net, ("forward",))}
    conv3_1, conv5_1 = gs["conv3.0.conv"], gs["conv5.0.conv"]
    assert conv3_1.macs_per_sample == pytest.approx(924.8e6, rel=1e-3)
    assert conv5_1.macs_per_sample == pytest.approx(462.4e6, rel=1e-3)
    lb31 = lower_bound_bytes(conv3_1, [1], [131072], E2)[0, 0] / 2
    lb51 = lower_bound_bytes(conv5_1, [1], [131072], E2)[0, 0] / 2
    assert lb31 / 1e6 == pytest.approx(3.21, abs=0.005)
    assert lb51 / 1e6 == pytest.approx(2.56, abs=0.005)
    # conv5_1: the read-once term dominates (weights 2.36 M elements)
    assert conv5_1.b_elems == pytest.approx(2.36e6, rel=1e-3)


def test_cli_vgg16_dataflow_within_125_percent_of_bound() -> None:
    res = CliRunner().invoke(cli, ["bound", "vgg16", "--buffer", "128KiB", "--batch", "1",
                                   "--format", "csv"])
    assert res.exit_code == 0, res.output
    import io

    import pandas as pd

    df = pd.read_csv(io.StringIO(res.output))
    conv = df[df["type"] == "conv"]
    assert len(conv) == 13
    assert (conv["dataflow_over_bound"] >= 1.0).all()
    assert (conv["dataflow_over_bound"] <= 1.25).all()
    assert df.iloc[-1]["layer"] == "TOTAL"
    for col in ("layer", "pass", "macs", "lower_bound_bytes", "dataflow_bytes",
                "dataflow_over_bound", "tile"):
        assert col in df.columns


def test_rho_one_gives_gemm_bound() -> None:
    """A 1x1 stride-1 conv is a GEMM: bound = 2mnk/sqrt(M) + mn when that term dominates."""
    net = load_network_text(conv_net(256, 8, 8, 512, 1, 1, 0))
    (g,) = layer_gconvs(net.layers[0], 0, ("forward",))
    assert g.rho == 1.0
    m_elems = 1024
    m, n, k = 8 * 8, 512, 256
    expected = 2 * m * n * k / np.sqrt(m_elems) + m * n
    got = lower_bound_bytes(g, [1], [m_elems * 2], E2)[0, 0] / 2
    assert got == pytest.approx(max(expected, m * k + n * k + m * n))
    assert got == pytest.approx(expected)
    assert lower_bound_elems(2 * m * n * k / 2, 1.0, 0, m * n, m_elems) == pytest.approx(expected)


def test_infeasible_when_smallest_tile_does_not_fit() -> None:
    net = load_network_text(conv_net(64, 32, 32, 64, 3, 1, 1))
    (g,) = layer_gconvs(net.layers[0], 0, ("forward",))
    r = best_tiling(g, [1], [8.0, 1e6], E2)
    assert not r.feasible[0, 0] and np.isinf(r.traffic_bytes[0, 0])
    assert (r.tile[0, 0] == -1).all()
    assert r.feasible[0, 1]
    assert r.min_need_bytes[0] > 8


layer_params = st.fixed_dictionaries({
    "c_in": st.sampled_from([1, 3, 8, 16, 32, 64]),
    "hw": st.integers(1, 40),
    "c_out": st.sampled_from([1, 4, 8, 16, 48, 64, 128]),
    "k": st.integers(1, 7),
    "s": st.integers(1, 3),
    "p": st.integers(0, 3),
    "d": st.integers(1, 2),
    "depthwise": st.booleans(),
})


def _layer(params: dict) -> tuple:
    k, s, p, d = params["k"], params["s"], params["p"], params["d"]
    hw = max(params["hw"], d * (k - 1) + 1)
    c_in = params["c_in"]
    c_out = c_in if params["depthwise"] else params["c_out"]
    g = c_in if params["depthwise"] else 1
    net = load_network_text(conv_net(c_in, hw, hw, c_out, k, s, min(p, k // 2), g, d))
    return net.layers[0], net


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_params, st.lists(st.integers(1, 64), min_size=1, max_size=3),
       st.lists(st.floats(64, 4e6), min_size=2, max_size=6),
       st.sampled_from([(2, 2, 2), (1, 1, 1), (2, 1, 4), (4, 4, 4)]))
def test_dataflow_never_beats_bound_and_both_monotone(params: dict, batch: list[int],
                                                       caps: list[float], prec: tuple) -> None:
    layer, _ = _layer(params)
    precision = Precision(*prec)
    caps_sorted = np.sort(np.array(caps))
    for g in layer_gconvs(layer, 0, PASSES):
        lb = lower_bound_bytes(g, batch, caps_sorted, precision)
        df = best_tiling(g, batch, caps_sorted, precision)
        finite = np.isfinite(df.traffic_bytes)
        assert np.all(df.traffic_bytes[finite] >= lb[finite] * (1 - 1e-9)), (g.pass_name, g)
        # both non-increasing as the buffer grows (inf -> finite is a decrease)
        assert np.all(np.diff(lb, axis=1) <= 1e-6 * lb[:, 1:])
        traffic = np.nan_to_num(df.traffic_bytes, posinf=1e300)
        assert np.all(np.diff(traffic, axis=1) <= 1e-6 * traffic[:, 1:])
        # the chosen tile fits the buffer
        assert np.all(df.need_bytes[finite] <= np.broadcast_to(caps_sorted, finite.shape)[finite])


@settings(max_examples=200, deadline=None)
@given(layer_params, st.integers(1, 32))
def test_pass_operand_sizes_consistent_with_forward(params: dict, batch: int) -> None:
    layer, _ = _layer(params)
    fwd, dgrad, wgrad = layer_gconvs(layer, 0, PASSES)
    assert fwd.macs_per_sample == dgrad.macs_per_sample == wgrad.macs_per_sample == layer.macs
    # dgrad: reads dY (forward output), writes dX (forward input), same weights
    assert dgrad.a_elems == fwd.out_elems and dgrad.out_elems == fwd.a_elems
    assert dgrad.b_elems == fwd.b_elems
    # wgrad: reads X and dY, writes dW (forward weights)
    assert wgrad.a_elems == fwd.a_elems and wgrad.b_elems == fwd.out_elems
    assert wgrad.out_elems == fwd.b_elems
    assert fwd.rho == dgrad.rho == wgrad.rho == max(1.0, layer.kernel[0] * layer.kernel[1]
                                                    / (layer.stride[0] * layer.stride[1]))
    assert fwd.a_touched_elems <= fwd.a_elems


def test_full_fit_reads_each_operand_near_once() -> None:
    """With an unlimited buffer the dataflow moves input (+ padding halo), weights, output once."""
    net = load_network_text(conv_net(16, 20, 20, 32, 3, 1, 1))
    (g,) = layer_gconvs(net.layers[0], 0, ("forward",))
    r = best_tiling(g, [4], [1e12], E2)
    ideal = 2 * (4 * 16 * 20 * 20 + 32 * 16 * 9 + 4 * 32 * 20 * 20)
    assert ideal <= r.traffic_bytes[0, 0] <= ideal * 1.25


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_params, st.lists(st.integers(1, 64), min_size=1, max_size=3),
       st.lists(st.floats(64, 4e6), min_size=2, max_size=6),
       st.sampled_from([(2, 2, 2), (1, 1, 1), (2, 1, 4)]))
def test_dataflow_never_beats_bound_slow(params: dict, batch: list[int], caps: list[float],
                                         prec: tuple) -> None:
    test_dataflow_never_beats_bound_and_both_monotone.hypothesis.inner_test(
        params, batch, caps, prec)
