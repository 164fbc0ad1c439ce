"""The golden snapshot: every strategy's schedule totals (every metric) on a few networks,
capacities, batches and option variants, as taken before the strategy-contract refactor
(tests/data/golden_totals.json records the commit). A change here must be a listed defect fix,
regenerated with scripts/golden_totals.py in the commit that makes it."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import golden_totals  # noqa: E402

GOLDEN = json.loads((ROOT / "tests" / "data" / "golden_totals.json").read_text())


@pytest.fixture(scope="module")
def current() -> dict:
    return golden_totals.compute()


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0) or a == b
    return a == b


def test_golden_has_a_source_commit() -> None:
    assert len(GOLDEN["source_commit"]) == 40


def test_every_registered_strategy_is_in_the_snapshot() -> None:
    from cnnmem.model.schedule import strategies

    covered = {key.split("|")[0] for key in GOLDEN["cases"]}
    assert covered == set(strategies())


def test_totals_equal_the_golden_snapshot(current: dict) -> None:
    assert set(current) == set(GOLDEN["cases"])
    diffs = []
    for key, want in GOLDEN["cases"].items():
        got = current[key]
        for metric in sorted(set(want) | set(got)):
            if metric not in got or metric not in want or not _same(got[metric], want[metric]):
                diffs.append(f"{key} {metric}: golden {want.get(metric)!r}, "
                             f"now {got.get(metric)!r}")
    assert not diffs, f"{len(diffs)} differences, first: " + "\n".join(diffs[:10])
