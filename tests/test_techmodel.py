"""The technology cost model (cnnmem.hardware.techmodel): monotonicity, calibration, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnmem.errors import InputError
from cnnmem.hardware import techmodel as tm

SRAM_NODES = sorted(tm.SRAM_BITCELL_UM2)
capacities = st.lists(st.floats(min_value=64.0, max_value=float(1 << 30)), min_size=2,
                      max_size=20)
nodes = st.floats(min_value=min(SRAM_NODES), max_value=max(SRAM_NODES))
widths = st.sampled_from([8, 16, 32, 64, 128, 256, 512])
banks = st.floats(min_value=4096.0, max_value=float(1 << 26))


def _sorted(values: list[float]) -> np.ndarray:
    return np.sort(np.asarray(values, float))


# ----------------------------------------------------------------------------- monotonicity

@settings(max_examples=200, deadline=None)
@given(capacities, nodes, widths, banks, st.floats(min_value=0.3, max_value=1.0))
def test_sram_costs_non_decreasing_in_capacity(caps, node, width, bank, efficiency):
    m = tm.SramBufferCost(node_nm=node, word_bits=width, bank_bytes=bank,
                          array_efficiency=efficiency)
    c = _sorted(caps)
    for f in (m.energy_pj_per_byte, m.leakage_w, m.area_mm2, m.energy_pj_per_access):
        v = f(c)
        assert np.all(np.isfinite(v)) and np.all(v >= 0)
        assert np.all(np.diff(v) >= -1e-12 * np.abs(v[1:])), f.__name__


@settings(max_examples=100, deadline=None)
@given(capacities, widths)
def test_per_byte_energy_does_not_depend_on_word_width(caps, width):
    """Stated limit of the model: every energy term is proportional to the word width."""
    c = _sorted(caps)
    a = tm.SramBufferCost(word_bits=width).energy_pj_per_byte(c)
    b = tm.SramBufferCost(word_bits=64).energy_pj_per_byte(c)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    per_access = tm.SramBufferCost(word_bits=width).energy_pj_per_access(c)
    np.testing.assert_allclose(per_access, a * width / 8, rtol=1e-12)


def test_banking_adds_wire_energy_only_above_the_bank():
    m = tm.SramBufferCost(bank_bytes=tm.MIB)
    small = np.array([4 * tm.KIB, 256 * tm.KIB, tm.MIB])
    assert np.all(m.wire_energy_pj(small) == 0)
    big = np.array([2 * tm.MIB, 16 * tm.MIB])
    assert np.all(m.wire_energy_pj(big) > 0)
    assert np.all(m.bank_energy_pj(big) == m.bank_energy_pj(tm.MIB))


# ----------------------------------------------------------------------------- calibration

@pytest.mark.parametrize("capacity,published_pj", sorted(tm.HOROWITZ_SRAM_64BIT_PJ.items()))
def test_sram_access_energy_meets_horowitz_45nm_points(capacity, published_pj):
    """Horowitz ISSCC 2014, 45 nm 0.9 V, 64-bit access: 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ.

    Two parameters fit three points, so this checks the power-law form, not an identity.
    """
    m = tm.SramBufferCost(node_nm=45, word_bits=64)
    model = float(m.energy_pj_per_access(capacity))
    assert model == pytest.approx(published_pj, rel=tm.SRAM_ENERGY_TOLERANCE)


def test_fitted_exponent_is_sub_linear_and_near_square_root():
    """A bank's per-access energy grows with its side (~sqrt of capacity), not its capacity."""
    assert 0.4 < tm.SRAM_BANK_ALPHA < 0.55


def test_wavecore_buffer_energy_is_near_the_model_at_10_mib():
    """wavecore.yaml's 12.5 pJ/B (the 1 MB point, banked) vs the banked model at 10 MiB, 45 nm."""
    e = float(tm.SramBufferCost(node_nm=45).energy_pj_per_byte(10 * tm.MIB))
    assert 12.5 <= e <= 12.5 * 1.25


@pytest.mark.parametrize("node", SRAM_NODES)
def test_area_equals_cited_bitcell_at_full_array_efficiency(node):
    """Wiring check (holds by construction): the area path uses the cited cell at its node."""
    m = tm.SramBufferCost(node_nm=node, array_efficiency=1.0)
    bits = 8.0 * tm.MIB
    assert float(m.area_mm2(tm.MIB)) == pytest.approx(bits * tm.SRAM_BITCELL_UM2[node] * 1e-6)


def test_horowitz_mac_energies_at_45nm():
    """Wiring check (table lookup): MAC = multiply + accumulate add of the cited entries."""
    assert tm.mac_energy_pj("fp16-fp32") == pytest.approx(1.1 + 0.9)  # wavecore.yaml's 2.0 pJ
    assert tm.mac_energy_pj("fp32") == pytest.approx(3.7 + 0.9)
    assert tm.mac_energy_pj("int8") == pytest.approx(0.2 + 0.1)


def test_mac_costs_rise_with_precision():
    order = ["int8", "fp16", "fp16-fp32", "fp32"]
    for node in (45, 16, 7):
        e = [tm.mac_energy_pj(p, node) for p in order]
        a = [tm.mac_area_um2(p, node) for p in order]
        assert e == sorted(e) and a == sorted(a)


def test_dram_energies():
    assert tm.dram_energy_pj_per_byte("HBM2") == pytest.approx(31.2)  # 3.9 pJ/bit
    assert tm.dram_energy_pj_per_byte("hbm2") < tm.dram_energy_pj_per_byte("lpddr4") < \
        tm.dram_energy_pj_per_byte("ddr3")
    with pytest.raises(InputError, match="unknown DRAM technology"):
        tm.dram_energy_pj_per_byte("ddr9")


# ----------------------------------------------------------------------------- node scaling

@given(nodes)
def test_energy_scale_is_identity_at_the_same_node(node):
    assert tm.energy_scale(node, from_node_nm=node) == pytest.approx(1.0, rel=1e-12)


@given(st.floats(min_value=7, max_value=130), st.floats(min_value=7, max_value=130))
def test_energy_and_area_scaling_monotone_in_node(a, b):
    small, large = min(a, b), max(a, b)
    assert tm.energy_scale(small) <= tm.energy_scale(large) + 1e-15
    assert tm.logic_area_scale(small) <= tm.logic_area_scale(large) + 1e-15
    assert tm.energy_scale(small, from_node_nm=large) <= 1.0 + 1e-12


@given(st.floats(min_value=7, max_value=90), st.floats(min_value=7, max_value=90))
def test_sram_costs_monotone_in_node(a, b):
    small, large = min(a, b), max(a, b)
    cap = np.array([256 * tm.KIB, 32 * tm.MIB])
    ms, ml = tm.SramBufferCost(node_nm=small), tm.SramBufferCost(node_nm=large)
    assert np.all(ms.area_mm2(cap) <= ml.area_mm2(cap) * (1 + 1e-12))
    assert np.all(ms.energy_pj_per_byte(cap) <= ml.energy_pj_per_byte(cap) * (1 + 1e-12))


def test_stillmaker_fit_at_45nm_reference_is_one_and_shrinks_to_7nm():
    assert tm.energy_scale(45) == pytest.approx(1.0)
    assert tm.energy_scale(45, 0.9) == pytest.approx(1.0)
    # a lower supply at the same node costs less (CV^2)
    assert tm.energy_scale(45, 0.7) < tm.energy_scale(45, 0.9)
    assert 0.02 < tm.energy_scale(7) < 0.2


def test_scaling_rejects_nodes_outside_the_tables():
    with pytest.raises(InputError, match="field 'to_node_nm'"):
        tm.energy_scale(5)
    with pytest.raises(InputError, match="field 'node_nm'"):
        tm.SramBufferCost(node_nm=180)
    with pytest.raises(InputError, match="tabulated node"):
        tm.energy_scale(28, 0.9)


# ----------------------------------------------------------------------------- the other forms

@given(capacities, st.floats(min_value=0, max_value=1e3), st.floats(min_value=0, max_value=10),
       st.floats(min_value=0, max_value=1e3))
def test_constant_model_returns_the_constant(caps, e, w, a):
    m = tm.ConstantBufferCost(e, w, a)
    c = _sorted(caps)
    assert np.all(m.energy_pj_per_byte(c) == e)
    assert np.all(m.leakage_w(c) == w)
    assert np.all(m.area_mm2(c) == a)
    assert m.energy_pj_per_byte(c).shape == c.shape


def test_all_forms_share_the_interface():
    forms = [tm.ConstantBufferCost(12.5), tm.SramBufferCost(),
             tm.TableBufferCost((1e3, 1e6), (1.0, 2.0), (0.0, 1e-3), (0.1, 1.0))]
    for m in forms:
        assert isinstance(m, tm.BufferCostModel)


TABLE = tm.TableBufferCost(capacity_bytes=(64 * tm.KIB, tm.MIB, 16 * tm.MIB),
                           energy_pj_per_byte_values=(4.0, 12.0, 20.0),
                           leakage_w_values=(0.001, 0.01, 0.2),
                           area_mm2_values=(0.5, 5.0, 80.0))


def test_table_hits_its_rows_and_interpolates_in_log_log():
    caps = np.array(TABLE.capacity_bytes)
    np.testing.assert_allclose(TABLE.energy_pj_per_byte(caps), TABLE.energy_pj_per_byte_values)
    np.testing.assert_allclose(TABLE.area_mm2(caps), TABLE.area_mm2_values)
    # geometric midpoint of two rows -> geometric mean of the values
    mid = np.sqrt(64 * tm.KIB * tm.MIB)
    assert float(TABLE.energy_pj_per_byte(mid)) == pytest.approx(np.sqrt(4.0 * 12.0))
    # clamped outside
    assert float(TABLE.leakage_w(1.0)) == pytest.approx(0.001)
    assert float(TABLE.leakage_w(1e12)) == pytest.approx(0.2)


@given(capacities)
def test_table_is_monotone(caps):
    c = _sorted(caps)
    for f in (TABLE.energy_pj_per_byte, TABLE.leakage_w, TABLE.area_mm2):
        assert np.all(np.diff(f(c)) >= -1e-12)


def test_table_accepts_lists_and_stays_hashable():
    t = tm.TableBufferCost([1e3, 1e6], np.array([1.0, 2.0]), [0.0, 1e-3], [0.1, 1.0])
    assert isinstance(t.capacity_bytes, tuple) and hash(t) == hash(
        tm.TableBufferCost((1e3, 1e6), (1.0, 2.0), (0.0, 1e-3), (0.1, 1.0)))
    with pytest.raises(InputError, match="list of numbers"):
        tm.TableBufferCost(1e3, (1.0,), (0.0,), (0.1,))


def test_table_with_zero_leakage_stays_zero_and_monotone():
    t = tm.TableBufferCost((1e3, 1e6, 1e7), (1.0, 2.0, 3.0), (0.0, 0.0, 0.0), (0.0, 1.0, 2.0))
    c = np.geomspace(1e2, 1e8, 50)
    assert np.all(t.leakage_w(c) == 0)
    assert np.all(np.diff(t.area_mm2(c)) >= 0)


@pytest.mark.parametrize("kwargs,field,message", [
    ({"capacity_bytes": (1e6, 1e3)}, "table.capacity", "strictly increasing"),
    ({"capacity_bytes": (1e3, -1.0)}, "table.capacity[1]", "positive"),
    ({"energy_pj_per_byte_values": (2.0, 1.0)}, "table.energy", "must not decrease"),
    ({"leakage_w_values": (0.0, float("nan"))}, "table.leakage[1]", "finite"),
    ({"area_mm2_values": (1.0,)}, "table.area", "1 values for 2 capacities"),
])
def test_table_validation_names_the_field(kwargs, field, message):
    base = {"capacity_bytes": (1e3, 1e6), "energy_pj_per_byte_values": (1.0, 2.0),
            "leakage_w_values": (0.0, 1e-3), "area_mm2_values": (0.1, 1.0)}
    with pytest.raises(InputError, match=message) as exc:
        tm.TableBufferCost(**{**base, **kwargs})
    assert exc.value.field == field


@pytest.mark.parametrize("kwargs,field", [
    ({"word_bits": 12}, "word_bits"),
    ({"word_bits": True}, "word_bits"),
    ({"bank_bytes": 0}, "bank_bytes"),
    ({"array_efficiency": 1.5}, "array_efficiency"),
    ({"leakage_pw_per_bit": -1}, "leakage_pw_per_bit"),
    ({"node_nm": float("inf")}, "node_nm"),
    ({"vdd": 0.2}, "vdd"),
    ({"node_nm": 28, "vdd": 0.9}, "vdd"),
])
def test_sram_validation_names_the_field(kwargs, field):
    with pytest.raises(InputError) as exc:
        tm.SramBufferCost(**kwargs)
    assert exc.value.field == field


def test_constant_validation_and_capacity_validation():
    with pytest.raises(InputError, match="field 'buffer_energy'"):
        tm.ConstantBufferCost(-1.0)
    with pytest.raises(InputError, match="field 'capacity'"):
        tm.SramBufferCost().area_mm2(np.array([1.0, 0.0]))
    with pytest.raises(InputError, match="unknown precision"):
        tm.mac_energy_pj("fp8")
