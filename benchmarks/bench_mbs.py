"""Time mbs-optimal (and mbs-greedy, mbs-recompute) for ResNet-50 over 64 buffer capacities.

Run: ``python benchmarks/bench_mbs.py``. The issue's target: mbs-optimal < 1 s for 64
capacities. "cold" includes the per-network group tables (cached afterwards) and the baseline
per-layer costs; "warm" reuses the cached tables.
"""

from __future__ import annotations

import time

import numpy as np

from cnnmem.hardware import load_hardware
from cnnmem.model import mbs
from cnnmem.model.precision import Precision
from cnnmem.model.schedule import SweepRequest, sweep_evaluators
from cnnmem.workload import load_network


def main() -> None:
    net = load_network("resnet50")
    hw = load_hardware("wavecore")
    caps = np.geomspace(1 * 2**20, 64 * 2**20, 64)  # 1 MiB .. 64 MiB
    evaluators = sweep_evaluators()
    req = SweepRequest(network=net, hardware=hw, mode="training", batch=32,
                       capacity_bytes=caps)
    for name in ("mbs-optimal", "mbs-optimal", "mbs-greedy", "layerwise"):
        t0 = time.perf_counter()
        pts = evaluators[name](req)
        dt = time.perf_counter() - t0
        print(f"{name:12s} resnet50, batch 32, {caps.size} capacities: {dt:.3f} s "
              f"(dram at 10 MiB ~ {np.interp(10 * 2**20, caps, pts.dram_bytes[:, 0]):.3e} B)")
    from cnnmem.model.mbs import recompute

    for label in ("cold", "warm"):
        t0 = time.perf_counter()
        pts = evaluators["mbs-recompute"](req)
        dt = time.perf_counter() - t0
        print(f"mbs-recompute ({label}) resnet50, batch 32, {caps.size} capacities: {dt:.3f} s "
              f"(dram at 10 MiB ~ {np.interp(10 * 2**20, caps, pts.dram_bytes[:, 0]):.3e} B)")
    for name in ("resnet50", "inception_v4"):
        recompute.recompute_peak_bytes.cache_clear()
        t0 = time.perf_counter()
        recompute.recompute_peak_bytes(load_network(name), Precision.of(hw))
        print(f"recompute live-set table of {name} (cold): {time.perf_counter() - t0:.3f} s")
    mbs.group_tables.cache_clear()
    t0 = time.perf_counter()
    mbs.group_tables(net, Precision.of(hw), True)
    print(f"group tables alone (cold): {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
