"""Sped-up numeric hot paths are bitwise equal to the formulas they replaced (issue #15).

Each reference below is the previous implementation, kept verbatim: the sweep's output files
must stay byte-identical, so these compare bit patterns, not values within a tolerance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netgen import small_nets

from cnnmem.hardware import load_hardware
from cnnmem.model import mbs, rollup
from cnnmem.model.mbs.capacity import capacity_domain
from cnnmem.model.mbs.points import CAPACITY_SCALED, POINT_KEYS, _regime_values
from cnnmem.workload import load_network, load_network_text

SETTINGS = dict(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.array_equal(a.view(np.uint64), b.view(np.uint64)))


# ------------------------------------------------------------------------------------------
# mbs.fixed_grouping_points: masks and sums once per capacity class


def fixed_grouping_points_reference(m: mbs.Model, cuts: tuple[int, ...], sub_batch: np.ndarray
                                    ) -> dict[str, np.ndarray]:
    """The previous fixed_grouping_points: (G, C, K) masks over every capacity."""
    L = len(m.net)
    e = np.array(sorted(cuts) + [L - 1], dtype=np.int64)
    s = np.concatenate([[0], e[:-1] + 1])
    n = np.asarray(sub_batch, dtype=float)
    vals, needs, _ = _regime_values(m, s, e, n)  # (G, K, 2, F), (G, K, 2)
    cap = m.caps[None, :, None]  # (1, C, 1)
    acc = needs[:, None, :, 0] <= cap  # (G, C, K)
    ok = needs[:, None, :, 1] <= cap
    mbs_dram = np.where(acc, vals[:, None, :, 0, 0], vals[:, None, :, 1, 0])  # (G, C, K)
    fb_dram = m.fallback.fields["dram_bytes"][e][:, :, None]  # (G, C, 1)
    single = (s == e)[:, None, None] & ((n >= m.batch)[None, None, :] | ~ok
                                        | (fb_dram <= mbs_dram))
    use_acc = acc & ~single
    use_rmw = ok & ~acc & ~single
    infeasible = (~ok & ~single).any(axis=0)  # (C, K)
    tot = (np.matmul(use_acc.transpose(2, 1, 0).astype(float), vals[:, :, 0, :].transpose(1, 0, 2))
           + np.matmul(use_rmw.transpose(2, 1, 0).astype(float),
                       vals[:, :, 1, :].transpose(1, 0, 2))).transpose(1, 0, 2)  # (C, K, F)
    by_cap = rollup.capacity_dependent_parts(
        m.hw, buffer_bytes=tot[:, :, POINT_KEYS.index("energy_buffer_pj")],
        latency_s=tot[:, :, POINT_KEYS.index("energy_static_pj")],
        capacity_bytes=m.caps[:, None])
    for key in CAPACITY_SCALED:
        tot[:, :, POINT_KEYS.index(key)] = by_cap[key]
    fb = m.fallback.fields
    fb_vals = np.stack([fb[k][e] for k in POINT_KEYS], axis=-1)  # (G, C, F)
    fb_vals = np.where(np.isfinite(fb_vals), fb_vals, 1e300)  # inf x 0 would give nan
    fb_sum = np.matmul(single.transpose(1, 2, 0).astype(float), fb_vals.transpose(1, 0, 2))
    tot = tot + fb_sum
    tot = np.where((tot >= 1e299) | infeasible[:, :, None], np.inf, tot)
    need = np.where(single, fb["buffer_need_bytes"][e][:, :, None],
                    np.where(acc, needs[:, None, :, 0], needs[:, None, :, 1]))
    out = {k: tot[:, :, f] for f, k in enumerate(POINT_KEYS)}
    out["buffer_need_bytes"] = need.max(axis=0)
    return out


def _assert_points_equal(m: mbs.Model, cuts: tuple[int, ...], sub: np.ndarray) -> None:
    new = mbs.fixed_grouping_points(m, cuts, sub)
    ref = fixed_grouping_points_reference(m, cuts, sub)
    assert set(new) == set(ref)
    for key in ref:
        assert _bits_equal(new[key], ref[key]), key


def _random_caps(rng: np.random.Generator, size: int) -> np.ndarray:
    """Log-uniform capacities, shuffled, some repeated, a few at exact powers of two."""
    caps = 2.0 ** rng.uniform(12, 28, size)
    caps[rng.random(size) < 0.1] = 2.0 ** rng.integers(12, 28)
    caps[rng.random(size) < 0.1] = caps[0]
    return caps


@pytest.mark.parametrize("hw_name", ["wavecore", "wavecore_sram", "tnpu"])
@pytest.mark.parametrize("training", [True, False])
def test_fixed_grouping_points_bitwise_on_resnet50(hw_name: str, training: bool) -> None:
    net, hw = load_network("resnet50"), load_hardware(hw_name)
    rng = np.random.default_rng(15)
    for trial in range(3):
        batch = int(rng.choice([32, 256]))
        caps = (np.geomspace(512 * 2**10, 64 * 2**20, 300) if trial == 0
                else _random_caps(rng, int(rng.integers(1, 200))))
        sub = np.unique(rng.integers(1, batch + 1, int(rng.integers(1, 40))))
        cuts = tuple(int(c) for c in np.sort(rng.choice(len(net) - 1, int(rng.integers(0, 40)),
                                                        replace=False)))
        m = mbs.build_model(net, hw, batch, caps, training)
        _assert_points_equal(m, cuts, sub)
        with capacity_domain(caps):  # the fallback of the sweep's shared table
            _assert_points_equal(mbs.build_model(net, hw, batch, caps[: caps.size // 2 + 1],
                                                 training), cuts, sub)


@pytest.mark.parametrize("chunk_caps", [1, 2, 3, 12, 40])
@pytest.mark.parametrize("n_sub", [1, 2, 64])
def test_fixed_grouping_points_bitwise_per_chunk(chunk_caps: int, n_sub: int) -> None:
    """Chunks of a dense capacity axis, as the engine cuts them: one capacity, one class (a
    run of close capacities), a single sub-batch size."""
    net, hw = load_network("alexnet"), load_hardware("wavecore")
    caps = np.geomspace(256 * 2**10, 128 * 2**20, 400)
    sub = np.unique(np.linspace(1, 64, n_sub).astype(int))
    with capacity_domain(caps):
        for lo in range(0, caps.size, 37 * chunk_caps):
            m = mbs.build_model(net, hw, 64, caps[lo:lo + chunk_caps], True)
            for cuts in ((), (2, 5), tuple(range(len(net) - 1))):
                _assert_points_equal(m, cuts, sub)


@settings(**SETTINGS)
@given(text=small_nets(dag=True), batch=st.integers(1, 9), training=st.booleans(),
       data=st.data())
def test_fixed_grouping_points_bitwise_on_small_nets(text: str, batch: int, training: bool,
                                                     data: st.DataObject) -> None:
    net = load_network_text(text)
    L = len(net)
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    caps = np.concatenate([_random_caps(rng, int(rng.integers(1, 60))) / 2**8,
                           np.geomspace(2.0**9, 2.0**17, 40)])
    hw = load_hardware(data.draw(st.sampled_from(["wavecore", "wavecore_sram"])))
    m = mbs.build_model(net, hw, batch, caps, training)
    cuts = tuple(sorted(data.draw(st.sets(st.integers(0, max(0, L - 2)), max_size=L - 1))))
    cuts = tuple(c for c in cuts if c < L - 1)
    _assert_points_equal(m, cuts, np.arange(1, batch + 1))


def test_capacity_classes() -> None:
    """A class: no threshold between its capacities and equal per-capacity rows."""
    caps = np.array([1.0, 2.0, 3.0, 3.0, 5.0, 6.0, 2.5, 2.5])
    thresholds = np.array([2.0, 5.5, np.nan])
    rows = np.array([0.0, 0, 0, 0, 0, 0, 0, 7])[:, None]
    first, of = mbs.points.capacity_classes(caps, thresholds, rows)
    assert of.shape == caps.shape
    groups = {tuple(np.flatnonzero(of == k)) for k in range(first.size)}
    assert groups == {(0,), (1, 2, 3, 4, 6), (5,), (7,)}
    assert all(of[first[k]] == k for k in range(first.size))


# ------------------------------------------------------------------------------------------
# engine.round_significant: finite values only, powers of ten from a table


def round_significant_reference(x: np.ndarray, digits: int = 15) -> np.ndarray:
    """The previous round_significant: the formula on every value."""
    x = np.asarray(x, dtype=float)
    finite = np.isfinite(x) & (x != 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        e = np.floor(np.log10(np.abs(np.where(finite, x, 1.0))))
        scale = 10.0 ** (digits - 1 - e)
        r = np.rint(x * scale) / scale
    return np.where(finite & np.isfinite(r), r, x)


def _awkward_values() -> np.ndarray:
    """Every decade of float64 at, just below and just above its power of ten, subnormals,
    the extremes, signs, zeros and non-finite values."""
    with np.errstate(over="ignore"):
        p10 = 10.0 ** np.arange(-330, 310, dtype=float)
    base = np.concatenate([p10, np.nextafter(p10, 0), np.nextafter(p10, np.inf),
                           5e-324 * np.arange(1, 200),
                           [1.7976931348623157e308, 2.2250738585072014e-308, np.nan, np.inf,
                            0.0, -0.0]])
    with np.errstate(over="ignore"):
        more = np.concatenate([base * 1.2345678901234567, base * 9.999999999999999,
                               base * 0.5000000000000001])
    both = np.concatenate([base, more])
    return np.concatenate([both, -both])


@pytest.mark.parametrize("digits", [15, 6, 17])
def test_round_significant_bitwise(digits: int) -> None:
    from cnnmem.sweep.engine import round_significant

    rng = np.random.default_rng(digits)
    random = rng.random(200_000) * 10.0 ** rng.uniform(-320, 308, 200_000)
    random[rng.random(random.size) < 0.5] *= -1
    for x in (_awkward_values(), random, np.where(rng.random(random.size) < 0.9, np.inf, random),
              random.reshape(400, 500), np.zeros(0), np.array([np.inf, -np.inf, np.nan])):
        assert _bits_equal(round_significant(x, digits), round_significant_reference(x, digits))
