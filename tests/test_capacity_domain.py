"""The fallback table of a capacity domain gives the direct build's numbers at every capacity."""

from __future__ import annotations

import mmap

import numpy as np
import pytest

from cnnmem.hardware import load_hardware
from cnnmem.model.mbs import capacity
from cnnmem.model.mbs.capacity import capacity_domain, fallback_capacity_steps
from cnnmem.model.mbs.fallback import layer_fallback
from cnnmem.model.mbs.traffic import build_model
from cnnmem.sweep import pool
from cnnmem.workload import load_network


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("net_name,training", [("resnet50", True), ("mobilenet_v2", False)])
def test_step_table_equals_direct_build(monkeypatch: pytest.MonkeyPatch, net_name: str,
                                        training: bool) -> None:
    """Through the step search (forced for a small domain): at every step, just below it
    and at random capacities between, the selected columns equal a direct evaluation."""
    monkeypatch.setattr(capacity, "DIRECT_CAPACITIES", 0)
    net, hw = load_network(net_name), load_hardware("wavecore")
    steps = fallback_capacity_steps(net, hw, 32, training)
    assert steps.size > 10  # the staircases have steps: the check below compares many columns
    rng = np.random.default_rng(0)
    picked = rng.choice(steps, 60, replace=False)
    caps = np.unique(np.concatenate([picked, np.nextafter(picked, -np.inf),
                                     np.geomspace(steps[0] / 4, steps[-1] * 4, 40)]))
    direct = layer_fallback(net, hw, 32, caps, training)
    with capacity_domain(caps):
        for lo in range(0, caps.size, 37):  # chunks select their columns of the shared table
            part = caps[lo:lo + 37]
            m = build_model(net, hw, 32, part, training)
            for key, v in direct.fields.items():
                assert _same(m.fallback.fields[key], v[:, lo:lo + 37]), key
            for cell, c in direct.cells.items():
                assert _same(m.fallback.cells[cell], c[:, lo:lo + 37]), cell


def test_capacity_outside_the_domain_is_built_directly() -> None:
    net, hw = load_network("mobilenet_v2"), load_hardware("wavecore")
    caps = np.array([2.0**20, 2.0**22])
    with capacity_domain(np.array([2.0**21])):
        m = build_model(net, hw, 8, caps, False)
    direct = layer_fallback(net, hw, 8, caps, False)
    assert all(_same(m.fallback.fields[k], v) for k, v in direct.fields.items())


@pytest.mark.parametrize("net_name,training,n_caps", [("resnet50", True, 3000),
                                                      ("googlenet", False, 3000),
                                                      ("mobilenet_v2", True, 200)])
@pytest.mark.parametrize("parts", [2, 3])
def test_table_built_in_parts_equals_the_whole(net_name: str, training: bool, n_caps: int,
                                               parts: int) -> None:
    """A --jobs sweep builds a domain's fallback table in parts, one per process (shares of
    the layers: steps, then rows) and installs the joined table: bit for bit the table one
    process builds (through the step search with 3,000 capacities, directly with 200)."""
    net, hw = load_network(net_name), load_hardware("wavecore")
    domain = capacity.CapacityDomain.of(np.round(np.geomspace(2.0**16, 2.0**27, n_caps)))
    key = capacity.TableKey(net, hw, 32, training, domain)
    shares = [capacity.layer_share(net, k, parts) for k in range(parts)]
    assert sorted(i for s in shares for i in s) == list(range(len(net)))  # a partition
    assert all(shares)
    steps = None
    if capacity.needs_steps(domain):
        steps = capacity.join_steps([capacity.capacity_steps_part(key, k, parts)
                                     for k in range(parts)])
        assert np.array_equal(steps, fallback_capacity_steps(net, hw, 32, training))
    whole = capacity.fallback_table(net, hw, 32, training, domain)
    capacity._TABLES.clear()
    # as the processes of a --jobs sweep do: each writes its share into the shared table
    # (here one after the other, in one process) and installs it
    n_cols = capacity.representatives(domain, steps)[0].size
    arena = mmap.mmap(-1, pool.table_bytes(len(net), n_cols) + 4096)
    for k in range(parts):
        pool._write_table_part(arena, 4096, key, steps, k, parts)
    joined = capacity.fallback_table(net, hw, 32, training, domain)
    assert joined is not whole and np.array_equal(joined.column, whole.column)
    for name in whole.fallback.fields:
        a, b = joined.fallback.fields[name], whole.fallback.fields[name]
        assert a.tobytes() == b.tobytes(), name
    for cell in whole.fallback.cells:
        a, b = joined.fallback.cells[cell], whole.fallback.cells[cell]
        assert a.tobytes() == b.tobytes(), cell
