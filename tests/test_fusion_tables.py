"""Banded group tables of Layer Fusion and OCCAM (cnnmem.model.fusion_tables, issue #16
'Scale'): equal to the dense matrices of before (tests/fusion_reference.py, the oracle), the
banded DPs equal brute force over groups of bounded depth, the depth limit is exact and
reported, and the tables are linear in layers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnmem import limits
from cnnmem.hardware import load_hardware
from cnnmem.model.fusion import (
    brute_force_partition,
    evaluate,
    parse_options,
    partition_dp,
    resolve_options,
    rolled_totals,
    unit_costs,
)
from cnnmem.model.fusion_tables import (
    INNER,
    MACS,
    N_TABLES,
    NEED,
    TRAFFIC,
    band_of,
    band_tables,
    fusion_table_spec,
    geometry,
    occam_table_spec,
    units_of,
)
from cnnmem.model.grouping import (
    budgeted_dp,
    budgeted_dp_columns,
    replicated_bottleneck_dp,
    replicated_bottleneck_dp_columns,
)
from cnnmem.workload import load_network_text

sys.path.insert(0, str(Path(__file__).parent))
import fusion_reference as reference  # noqa: E402
from test_fusion import small_networks  # noqa: E402


def chain(layers: int, hw_c: int = 8) -> str:
    return ("name: deep\ninput: [8, 8, 8]\nblocks:\n  b:\n    layers:\n"
            f"    - {{type: conv, out: {hw_c}, kernel: 3, padding: 1}}\n    - {{type: relu}}\n"
            f"layers:\n- {{block: b, repeat: {layers // 2}}}\n")


def dense(spec_tables: np.ndarray, n_units: int) -> np.ndarray:
    """A full-depth band (N_TABLES, U, U) back to dense (N_TABLES, U, U) over (first, last)."""
    out = np.zeros((N_TABLES, n_units, n_units))
    for j in range(n_units):
        out[:, : j + 1, j] = spec_tables[:, j, n_units - j - 1:]
    return out


def reference_tables(kind: str, net, hw, opts: dict) -> dict[str, np.ndarray]:
    """need, traffic, inner and MACs (batch 1) of every group from the dense oracle."""
    ea = hw.bytes_per_activation
    starts, ends = units_of(net, opts["pool"])
    geo = geometry(net)
    traffic, staging, staging_px, inner = reference.boundary_matrices(net, ends, ea)
    if kind == "occam":
        need = reference.closure_matrix(net, ends, geo, hw, opts["window"], opts["filters"],
                                        staging)
        factor = np.ones((len(net), ends.size))
    else:
        need, factor = reference.fusion_storage(net, ends, geo, hw, opts, staging_px)
    cm = np.concatenate([np.zeros((1, ends.size)),
                         np.cumsum(net.macs.astype(float)[:, None] * factor, 0)])
    u = np.arange(ends.size)
    macs = np.triu(cm[ends[u][None, :] + 1, u[None, :]] - cm[starts[u][:, None], u[None, :]])
    return {"need": need, "traffic": traffic, "inner": inner, "macs": macs}


OPTION_SETS = [
    ("occam", {}), ("occam", {"window": "k+s-1", "filters": "streamed"}),
    ("occam", {"pool": "separate"}),
    ("fusion", {}), ("fusion", {"filters": "resident", "pool": "separate"}),
    ("fusion", {"variant": "recompute", "tile": 1}),
    ("fusion", {"variant": "recompute", "tile": 3, "filters": "resident"}),
]


@settings(max_examples=60, deadline=None)
@given(net=small_networks(), which=st.integers(0, len(OPTION_SETS) - 1),
       depth=st.integers(1, 4))
def test_band_tables_equal_dense_reference(net, which: int, depth: int) -> None:
    """Every table of every group, full depth and a shallow band, equals the dense oracle."""
    kind, options = OPTION_SETS[which]
    hw = load_hardware("occam_chip")
    opts = parse_options(kind, options)
    want = reference_tables(kind, net, hw, opts)
    spec = (occam_table_spec if kind == "occam" else fusion_table_spec)(net, hw, opts, 1)
    n = spec.n_units
    full = band_tables(spec, n)
    got = dense(full.tables, n)
    for name, row in (("need", NEED), ("traffic", TRAFFIC), ("inner", INNER), ("macs", MACS)):
        np.testing.assert_allclose(np.triu(got[row]), np.triu(want[name]), rtol=1e-12,
                                   err_msg=name)
    shallow = band_tables(spec, depth)
    for name, row in (("need", NEED), ("traffic", TRAFFIC)):
        fill = np.inf if row == NEED else 0.0
        np.testing.assert_allclose(shallow.tables[row], band_of(want[name], shallow.depth, fill),
                                   rtol=1e-12, err_msg=name)


@settings(max_examples=100, deadline=None)
@given(net=small_networks(), cap_kib=st.integers(1, 64), depth=st.integers(1, 5))
def test_bounded_depth_dp_equals_brute_force(net, cap_kib: int, depth: int) -> None:
    """The banded DP (groups of at most ``depth`` units) = brute force over every cut set with
    the deeper groups not allowed."""
    hw = load_hardware("occam_chip")
    _, ends = units_of(net)
    traffic, staging, _, _ = reference.boundary_matrices(net, ends, 2.0)
    need = reference.closure_matrix(net, ends, geometry(net), hw, "k", "resident", staging)
    n = ends.size
    d = min(depth, n)
    fallback = np.diag(traffic)[:, None] * 3.0 + 1.0
    cap = cap_kib * 1024.0
    total, start = partition_dp(band_of(traffic, d), band_of(need, d), np.array([cap]), fallback)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    need_bounded = np.where(j - i + 1 > d, np.inf, need)
    assert total[0] == pytest.approx(brute_force_partition(traffic, need_bounded, cap,
                                                           fallback[:, 0]))
    groups = [(int(s), e) for e, s in enumerate(start[:, 0]) if s >= 0]
    assert all(e - s + 1 <= d for s, e in groups)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 7), depth=st.integers(1, 7), chips=st.integers(1, 4),
       seed=st.integers(0, 2**31 - 1))
def test_column_dps_banded_equal_dense(n: int, depth: int, chips: int, seed: int) -> None:
    """The budgeted and replicated-bottleneck DPs given the band's columns = the dense DPs with
    the groups deeper than the band not allowed."""
    rng = np.random.default_rng(seed)
    d = min(depth, n)
    cost = rng.integers(1, 50, (n, n, 2)).astype(float)
    t = rng.integers(1, 5, (n, n, 2)) * 1e-3
    w = rng.integers(1, 3, (n, n, 2))
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    deep = ((j - i + 1 > d) | (i > j))[:, :, None]
    cost_d, t_d = np.where(deep, np.inf, cost), np.where(deep, np.inf, t)
    cost_b, t_b, w_b = band_of(cost, d), band_of(t, d), band_of(w, d, 0)

    def column(band: np.ndarray, e: int) -> np.ndarray:
        return band[e, d - min(e + 1, d):]

    want = budgeted_dp(cost_d, w, chips)
    got = budgeted_dp_columns(n, lambda e: (column(cost_b, e), column(w_b, e)), chips, 2)
    assert np.array_equal(got.total, want.total) and np.array_equal(got.path, want.path)
    assert np.array_equal(got.choice, want.choice)
    assert np.array_equal(
        replicated_bottleneck_dp_columns(n, lambda e: column(t_b, e), chips, 2),
        replicated_bottleneck_dp(t_d, chips))


def test_depth_limit_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the limit at 3 units, a capacity where no 3-unit group fits gives the unlimited
    result and is not flagged; one where a deeper group fits is flagged (and then the
    result may differ); fixed groupings are never limited."""
    net = load_network_text(chain(24))  # 12 units of conv + relu
    hw = load_hardware("occam_chip")
    for kind, caps in (("occam", np.geomspace(1024, 64 * 1024, 13)),
                       ("fusion", np.geomspace(64, 4096, 13))):
        free = evaluate(kind, net, hw, caps, chips=4)
        monkeypatch.setattr(limits, "MAX_FUSED_GROUP_UNITS", 3)
        capped = evaluate(kind, net, hw, caps, chips=4)
        fixed = evaluate(kind, net, hw, caps, chips=4, grouping="all")
        monkeypatch.undo()
        flagged = capped.depth_limited
        assert flagged is not None and flagged.any() and not flagged.all()
        deepest = np.array([max(e - s + 1 for e, s in enumerate(free.start[:, c]) if s >= 0)
                            for c in range(caps.size)])
        assert np.all(flagged[deepest > 3])  # the unlimited optimum needed a deeper group
        for key, v in rolled_totals(free, net).items():
            assert np.array_equal(v[~flagged], rolled_totals(capped, net)[key][~flagged]), key
        assert not free.depth_limited.any() and not fixed.depth_limited.any()
        unlimited_fixed = evaluate(kind, net, hw, caps, chips=4, grouping="all")
        for key, v in rolled_totals(unlimited_fixed, net).items():
            assert np.array_equal(v, rolled_totals(fixed, net)[key], equal_nan=True), key


def test_depth_limited_is_noted() -> None:
    """`cnnmem schedule` says when the limit may have changed the grouping."""
    from cnnmem.model.schedule import ScheduleRequest, get_strategy

    net = load_network_text(chain(2 * (limits.MAX_FUSED_GROUP_UNITS + 8)))
    hw = load_hardware("occam_chip")
    res = get_strategy("occam").run(ScheduleRequest(net, hw, "inference", 1, 8))
    assert any("MAX_FUSED_GROUP_UNITS" in n for n in res.notes)
    small = get_strategy("occam").run(ScheduleRequest(load_network_text(chain(40)), hw,
                                                      "inference", 1, 8))
    assert not any("MAX_FUSED_GROUP_UNITS" in n for n in small.notes)


def table_arrays(uc) -> list[np.ndarray]:
    """The arrays held by a UnitCosts: its bands and per-unit tables (not the network)."""
    arrays = [v for v in vars(uc).values() if isinstance(v, np.ndarray)]
    return arrays + [v for v in vars(uc.band).values() if isinstance(v, np.ndarray)]


@pytest.mark.parametrize("kind", ["occam", "fusion"])
def test_tables_linear_in_layers(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #16 'Scale' (not timed): the tables of a few-hundred-layer network hold at most
    N_TABLES x U x D entries each (no U x U matrix), and twice the layers hold twice the
    entries."""
    monkeypatch.setattr(limits, "MAX_FUSED_GROUP_UNITS", 16)
    hw = load_hardware("occam_chip")
    entries = {}
    for layers in (400, 800):
        net = load_network_text(chain(layers))
        opts = resolve_options(kind, net, {}, None)
        table_spec = occam_table_spec if kind == "occam" else fusion_table_spec
        uc = unit_costs(table_spec(net, hw, opts, 1), net, hw, np.array([hw.buffer_bytes]),
                        opts, 1, 0)
        u = uc.n_units
        assert u == layers // 2 and uc.band.depth == 16
        assert all(a.size <= N_TABLES * u * 16 < u * u for a in table_arrays(uc))
        entries[layers] = sum(a.size for a in table_arrays(uc))
    assert entries[800] <= 2 * entries[400] + 16
