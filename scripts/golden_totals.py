"""Write tests/data/golden_totals.json: every strategy's schedule totals (every metric) on a few
built-in networks, capacities and batches, plus a few option variants.

The refactor of issue #11 must leave these numbers unchanged except for listed defect fixes;
tests/test_golden.py compares the current model against the file. Regenerate (in the commit that
changes a number on purpose, saying why) with:

    python scripts/golden_totals.py            # writes tests/data/golden_totals.json
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

#: the commit the snapshot was first taken at (before the strategy-contract refactor); later
#: regenerations record their own source_commit and list what changed in their commit message
BASELINE_COMMIT = "3482590623062d36767e780d62a612d5f33bb16f"
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "golden_totals.json"

NETWORKS = ("lenet5", "mpcnn", "alexnet", "resnet50", "googlenet")
CAPACITIES = (256 * 1024, 4 * 1024 * 1024)
#: (strategy, mode, hardware, batches, chips, sub_batch, options)
CASES: tuple[tuple[str, str, str, tuple[int, ...], int | None, int | None, dict[str, Any]], ...] = (
    ("layerwise", "training", "edge", (2, 8), None, None, {}),
    ("layerwise", "inference", "edge", (1, 4), None, None, {}),
    ("mbs-greedy", "training", "wavecore", (2, 8), None, None, {}),
    ("mbs-optimal", "training", "wavecore", (2, 8), None, None, {}),
    ("mbs-fs", "training", "wavecore", (2, 8), None, None, {}),
    ("mbs", "training", "wavecore", (2, 8), None, 2, {"grouping": "block"}),
    ("mbs", "training", "wavecore", (8,), None, None, {"grouping": "layer",
                                                       "weight_tile": "channel"}),
    ("mbs-optimal", "inference", "wavecore", (4,), None, None, {}),
    ("mbs-recompute", "training", "wavecore", (2, 8), None, None, {}),
    ("fusion", "inference", "edge", (1, 4), None, None, {}),
    ("fusion", "inference", "edge", (1,), None, None, {"variant": "recompute",
                                                       "filters": "resident"}),
    ("occam", "inference", "occam_chip", (1, 4), 1, None, {}),
    ("occam", "inference", "occam_chip", (4,), 4, None, {"partition": "balanced",
                                                         "window": "k+s-1"}),
    ("tnpu", "training", "tnpu", (2, 8), None, None, {}),
    ("tnpu", "training", "tnpu", (8,), None, None, {"pe_sharing": "static"}),
    ("dnpu-like", "training", "tnpu", (2, 8), None, None, {}),
    ("dadiannao-like", "training", "tnpu", (2, 8), None, None, {}),
)


def case_key(strategy: str, mode: str, hw: str, net: str, cap: int, batch: int,
             chips: int | None, sub: int | None, options: dict[str, Any]) -> str:
    opts = ",".join(f"{k}={v}" for k, v in sorted(options.items()))
    return (f"{strategy}|{mode}|{hw}|{net}|cap={cap}|batch={batch}|chips={chips}|"
            f"sub={sub}|{opts}")


def _number(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    return x if math.isfinite(x) else repr(x)  # "inf" / "nan" as text in JSON


def compute() -> dict[str, dict[str, Any]]:
    from cnnmem.hardware import load_hardware
    from cnnmem.model.schedule import run_strategy
    from cnnmem.workload.library import load_network

    nets = {n: load_network(n) for n in NETWORKS}
    out: dict[str, dict[str, Any]] = {}
    for strategy, mode, hw_name, batches, chips, sub, options in CASES:
        hw = load_hardware(hw_name)
        for net_name, net in nets.items():
            for cap in CAPACITIES:
                for batch in batches:
                    key = case_key(strategy, mode, hw_name, net_name, cap, batch, chips, sub,
                                   options)
                    _, res = run_strategy(strategy, net, hw, mode=mode, batch=batch,
                                          buffer_bytes=cap, chips=chips, sub_batch=sub,
                                          options={k: str(v) for k, v in options.items()})
                    out[key] = {k: _number(v) for k, v in sorted(res.totals.items())}
    return out


def main() -> int:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    baseline = BASELINE_COMMIT
    data = {"baseline_commit": baseline, "source_commit": commit,
            "note": "schedule totals per case; regenerate with scripts/golden_totals.py",
            "cases": compute()}
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({len(data['cases'])} cases, commit {commit[:10]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
