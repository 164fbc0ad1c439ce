"""Systolic-array mapping efficiency (cnnmem.model.array) and its use in compute times."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnmem.errors import InputError
from cnnmem.hardware import load_hardware, parse_hardware
from cnnmem.model.array import gemm_dims, mapping_efficiency, pass_efficiency
from cnnmem.model.cost import layer_pass_costs
from cnnmem.model.gconv import PASSES, layer_gconvs
from cnnmem.workload import load_network, load_network_text

WAVECORE = load_hardware("wavecore")  # two 128 x 128 arrays (published)
FLAT = WAVECORE.replace(array_rows=0, array_cols=0)


def test_hand_computed_efficiencies() -> None:
    # a 64-channel 1x1 conv fills half the rows and half the columns of a 128 x 128 array
    assert mapping_efficiency(WAVECORE, 1e12, 64, 64) == pytest.approx(0.25)
    # K = 192 needs two row tiles (75% used), N = 128 fills the columns, M = 256 -> 256/512
    assert mapping_efficiency(WAVECORE, 256, 128, 192) == pytest.approx(0.75 * 0.5)
    assert mapping_efficiency(FLAT, 1, 1, 1) == 1.0


def test_gemm_dims_of_the_three_passes() -> None:
    net = load_network_text("name: t\ninput: [8, 10, 10]\nlayers:\n"
                            "  - {name: c, type: conv, out: 16, kernel: 3, stride: 2, "
                            "padding: 1}\n")
    fwd, dgrad, wgrad = layer_gconvs(net.layers[0], 0, PASSES)
    m, n, k = gemm_dims(fwd, 4)
    assert (float(m), n, k) == (4 * 5 * 5, 16, 8 * 9)
    m, n, k = gemm_dims(dgrad, 4)
    assert (float(m), n, k) == (4 * 10 * 10, 8, 16 * 9)
    m, n, k = gemm_dims(wgrad, 4)
    assert (float(m), n, float(k)) == (8 * 9, 16, 4 * 5 * 5)


@settings(max_examples=200, deadline=None)
@given(st.floats(1, 1e7), st.integers(1, 5000), st.integers(1, 5000),
       st.sampled_from([(8, 8), (32, 32), (128, 128), (16, 64)]))
def test_efficiency_is_a_fraction_and_grows_with_m(m: float, n: int, k: int,
                                                   shape: tuple[int, int]) -> None:
    hw = WAVECORE.replace(array_rows=shape[0], array_cols=shape[1])
    e = float(mapping_efficiency(hw, m, n, k))
    assert 0 < e <= 1
    assert float(mapping_efficiency(hw, 2 * m, n, k)) >= e


def test_arrays_only_slow_compute_never_change_traffic_or_energy() -> None:
    net = load_network("resnet50")
    with_array = layer_pass_costs(net, WAVECORE, [1, 32], [2**20, 2**24])
    flat = layer_pass_costs(net, FLAT, [1, 32], [2**20, 2**24])
    np.testing.assert_array_equal(with_array.dram_bytes, flat.dram_bytes)
    np.testing.assert_array_equal(with_array.energy_dram_pj, flat.energy_dram_pj)
    np.testing.assert_array_equal(with_array.energy_compute_pj, flat.energy_compute_pj)
    assert np.all(with_array.compute_s >= flat.compute_s * (1 - 1e-12))
    assert with_array.compute_s.sum() > flat.compute_s.sum()
    # depthwise convolutions map one channel at a time: a small fraction of a big array
    mobilenet = load_network("mobilenet_v2")
    dw = next(i for i, layer in enumerate(mobilenet.layers) if layer.groups > 1)
    g = layer_gconvs(mobilenet.layers[dw], dw, ("forward",))[0]
    assert float(pass_efficiency(WAVECORE, g, 32)) < 0.01


def test_array_field_parsing_and_errors() -> None:
    base = {"buffer": "1 MiB", "mac_units": 1024, "clock": "1 GHz",
            "dram_bandwidth": "10 GB/s"}
    hw = parse_hardware({**base, "array": [32, 32]}, file="x.yaml")
    assert (hw.array_rows, hw.array_cols) == (32, 32)
    for bad in ([32], [0, 32], "32x32", [64, 64]):
        with pytest.raises(InputError) as exc:
            parse_hardware({**base, "array": bad}, file="x.yaml")
        assert exc.value.field == "array"
