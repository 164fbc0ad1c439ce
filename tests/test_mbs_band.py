"""MBS tables in band form (issue #16 "Scale"): every group of at most MAX_GROUP_LAYERS layers,
in memory linear in the layer count; the searches restricted to the band; explicit groupings
deeper than the limit refused. Sizes are checked, not times (speed: benchmarks/bench_mbs.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netgen import small_nets

from cnnmem.cli import main
from cnnmem.errors import InputError
from cnnmem.hardware import load_hardware
from cnnmem.limits import MAX_GROUP_LAYERS
from cnnmem.model import mbs
from cnnmem.model.mbs import band, recompute, rollup, tables, traffic
from cnnmem.model.precision import Precision
from cnnmem.workload import load_network, load_network_text

HW = load_hardware("wavecore")
PREC = Precision.of(HW)
CAPS = np.geomspace(2.0**9, 2.0**17, 7)
FIELDS = ("in_elems", "out_elems", "stash_write_elems", "stash_read_dgrad_elems",
          "stash_read_wgrad_elems", "fork_elems", "peak_sample_bytes", "weight_elems",
          "weight_ws_bytes", "weight_acc_bytes", "macs", "grad_in_elems", "grad_out_elems",
          "macs_dgrad", "vec_forward", "vec_dgrad")
SETTINGS = dict(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def _residual_chain(layers: int) -> str:
    """A network of ``layers`` layers (a multiple of 5): residual blocks conv-relu-conv-add-relu
    (forks, joins, stashes), the way a deep network YAML is written."""
    block = {"layers": [
        {"name": "c1", "type": "conv", "out": 4, "kernel": 3, "padding": 1},
        {"name": "r1", "type": "relu"},
        {"name": "c2", "type": "conv", "out": 4, "kernel": 3, "padding": 1},
        {"name": "add", "type": "add", "inputs": ["c2", "in"]},
        {"name": "r2", "type": "relu"}]}
    return yaml.safe_dump({"name": f"res{layers}", "input": [4, 6, 6], "blocks": {"r": block},
                           "layers": [{"name": "stage", "block": "r",
                                       "repeat": layers // 5}]})


def _clear_caches() -> None:
    for fn in (tables.group_tables, traffic._build_model, rollup.kept_elems_table,
               recompute.recompute_peak_bytes, recompute.inner_needed_elems):
        fn.cache_clear()


@pytest.fixture
def band_of(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Sets MAX_GROUP_LAYERS (as the tables see it) for the test."""

    def set_band(value: int) -> None:
        monkeypatch.setattr(tables, "MAX_GROUP_LAYERS", value)
        _clear_caches()

    yield set_band
    monkeypatch.undo()
    _clear_caches()


def _banded_bytes(t: tables.GroupTables) -> int:
    return sum(v.data.nbytes for v in vars(t).values() if isinstance(v, band.Banded))


def test_a_deep_network_gets_band_form_tables_of_linear_size() -> None:
    """600 layers > MAX_GROUP_LAYERS: every stored table is (layers, band), int32 where exact;
    the range tables are O(layers) vectors; nothing is (layers, layers)."""
    net = load_network_text(_residual_chain(600))
    L = len(net)
    t = mbs.group_tables(net, PREC, True)
    assert t.band == MAX_GROUP_LAYERS < L
    stored = [v for v in vars(t).values() if isinstance(v, band.Banded)]
    assert len(stored) == 8  # in, out, stash write, wgrad stash, fork, grad in/out, peak
    assert all(v.data.shape == (L, MAX_GROUP_LAYERS) for v in stored)
    assert all(v.data.dtype == np.int32 for v in stored)  # element counts, small
    assert _banded_bytes(t) <= 8 * L * MAX_GROUP_LAYERS * 4
    for v in vars(t).values():
        if isinstance(v, band.RangeSum | band.RangeMax):
            assert v.prefix.size <= L + 1 if isinstance(v, band.RangeSum) else (
                v.levels.size <= L * (1 + int(np.log2(L))))
    # a group inside the band is served, a deeper one is not
    assert t.in_elems[L - MAX_GROUP_LAYERS, L - 1] >= 0
    with pytest.raises(ValueError, match="band"):
        t.in_elems[L - MAX_GROUP_LAYERS - 1, L - 1]


def test_table_memory_grows_linearly_with_layers(band_of: object) -> None:
    band_of(16)  # type: ignore[operator]
    sizes = {}
    for layers in (200, 400):
        net = load_network_text(_residual_chain(layers))
        t = mbs.group_tables(net, PREC, True)
        sizes[layers] = _banded_bytes(t) + recompute.recompute_peak_bytes(
            net, PREC).data.nbytes + rollup.kept_elems_table(net).data.nbytes
        assert t.band == 16
    assert sizes[400] == 2 * sizes[200]


@pytest.mark.parametrize("name", ["resnet50", "googlenet"])
def test_band_tables_equal_the_full_tables_inside_the_band(name: str, band_of: object) -> None:
    """Forks, joins and concats: a band of 7 gives exactly the full tables' values of every
    group of at most 7 layers (the sweeps over the group end re-base their windows often)."""
    net = load_network(name)
    L = len(net)
    s, e = np.triu_indices(L)
    keep = e - s < 7
    s, e = s[keep], e[keep]
    full = mbs.group_tables(net, PREC, True)
    full_rec = recompute.recompute_peak_bytes(net, PREC)[s, e]
    full_kept = rollup.kept_elems_table(net)[s, e]
    band_of(7)  # type: ignore[operator]
    small = mbs.group_tables(net, PREC, True)
    assert small.band == 7
    for key in FIELDS:
        assert np.array_equal(getattr(full, key)[s, e], getattr(small, key)[s, e]), key
    assert np.array_equal(recompute.recompute_peak_bytes(net, PREC)[s, e], full_rec)
    assert np.array_equal(rollup.kept_elems_table(net)[s, e], full_kept)


def _brute_force_band(m: mbs.Model, depth: int) -> np.ndarray:
    """Least DRAM bytes per capacity over every grouping whose groups have at most ``depth``
    layers and every sub-batch 1..N."""
    L = len(m.net)
    ns = np.arange(1, m.batch + 1)
    caps = np.arange(m.caps.size)
    best = np.full(m.caps.size, np.inf)
    for r in range(L):
        for cuts in itertools.combinations(range(L - 1), r):
            ends = list(cuts) + [L - 1]
            starts = [0] + [c + 1 for c in cuts]
            if max(b - a + 1 for a, b in zip(starts, ends, strict=True)) > depth:
                continue
            tot = sum(mbs.group_dram(m, np.array(a), b, ns[:, None], caps[None, :]).min(axis=0)
                      for a, b in zip(starts, ends, strict=True))
            best = np.minimum(best, tot)
    return best


@settings(**SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 4), depth=st.integers(1, 3))
def test_banded_dp_equals_brute_force_over_groups_of_the_band(text: str, batch: int,
                                                              depth: int,
                                                              band_of: object) -> None:
    band_of(depth)  # type: ignore[operator]
    m = mbs.build_model(load_network_text(text), HW, batch, CAPS, True)
    if len(m.net) > 8:
        return
    plan = mbs.plan_optimal(m, None)
    tot, _ = mbs.evaluate(m, plan)
    want = _brute_force_band(m, depth)
    assert np.all((np.isinf(want) & np.isinf(tot["dram_bytes"]))
                  | np.isclose(tot["dram_bytes"], want, rtol=1e-9))
    for p in (plan, mbs.plan_greedy(m, None), recompute.plan_recompute(m)[0]):
        ends = np.nonzero(p.path >= 0)
        assert np.all(ends[0] - p.path[ends] < depth)  # no group deeper than the band


def test_explicit_grouping_deeper_than_the_limit_is_one_line_error(tmp_path, capsys) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(_residual_chain(600))
    code = None
    try:
        main(["schedule", str(path), "--hw", "wavecore", "--strategy", "mbs", "-O",
              "grouping=all", "--sub-batch", "1", "--totals"])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "600" in err[0] and f"{MAX_GROUP_LAYERS}" in err[0] and "cnnmem.limits" in err[0]
    net = load_network_text(_residual_chain(600))
    m = mbs.build_model(net, HW, 2, [1e9], True)
    with pytest.raises(InputError, match="MBS group"):
        mbs.plan_cuts(m, (), None)
    mbs.plan_cuts(m, (299,), None)  # two groups of 300 layers: inside the band


def test_a_search_restricted_by_the_band_says_so(tmp_path) -> None:
    """A self-choosing MBS schedule of a network deeper than the band notes the restriction;
    one of a built-in network (every group considered) does not."""
    import cnnmem

    path = tmp_path / "deep.yaml"
    path.write_text(_residual_chain(600))
    for strategy in ("mbs-optimal", "mbs-greedy", "mbs-recompute"):
        notes = cnnmem.schedule(str(path), "wavecore", strategy, batch=2).notes
        assert any(f"at most {MAX_GROUP_LAYERS} layers" in n and "600" in n for n in notes)
    assert not any("MAX_GROUP_LAYERS" in n
                   for n in cnnmem.schedule("resnet50", "wavecore", "mbs-optimal",
                                            batch=2).notes)
