"""The fallback table of a capacity domain gives the direct build's numbers at every capacity."""

from __future__ import annotations

import numpy as np
import pytest

from cnnmem.hardware import load_hardware
from cnnmem.model.mbs import capacity
from cnnmem.model.mbs.capacity import capacity_domain, fallback_capacity_steps
from cnnmem.model.mbs.fallback import layer_fallback
from cnnmem.model.mbs.traffic import build_model
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
