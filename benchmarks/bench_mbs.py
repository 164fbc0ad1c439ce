"""Time mbs-optimal (and mbs-greedy, mbs-recompute) for ResNet-50 over 64 buffer capacities.

Run: ``python benchmarks/bench_mbs.py``. The issue's target: mbs-optimal < 1 s for 64
capacities. "cold" includes the per-network group tables (cached afterwards) and the baseline
per-layer costs; "warm" reuses the cached tables.

``python benchmarks/bench_mbs.py --layers 10000`` (issue #16 "Scale"): a network of that many
layers (conv 3x3 + relu blocks on an 8x8x8 input, the fuzz campaign's ``scale`` network, via
``repeat:``) through the MBS steps one at a time, each step's time, the bytes of the banded
tables and the peak RSS (the target: under 1 GiB and a few minutes).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import yaml

from cnnmem.hardware import load_hardware
from cnnmem.model import mbs
from cnnmem.model.precision import Precision
from cnnmem.model.schedule import SweepRequest, sweep_evaluators
from cnnmem.workload import load_network, load_network_text


def deep_network_text(layers: int) -> str:
    """The fuzz campaign's ``scale`` network: conv 3x3 + relu blocks, ``layers // 2`` times."""
    return yaml.safe_dump({"name": f"deep{layers}", "input": [8, 8, 8],
                           "blocks": {"b": {"layers": [
                               {"type": "conv", "out": 8, "kernel": 3, "padding": 1},
                               {"type": "relu"}]}},
                           "layers": [{"block": "b", "repeat": layers // 2}]})


def scale(layers: int, hw_name: str, batch: int) -> None:
    """Each MBS step on a network of ``layers`` layers at the hardware's buffer."""
    from cnnmem.model.mbs import band, recompute

    hw = load_hardware(hw_name)
    prec = Precision.of(hw)

    def step(label: str, fn):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        out = fn()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{label:38s} {time.perf_counter() - t0:7.2f} s   peak RSS so far {rss:7.0f} MiB")
        return out

    net = step(f"load {layers} layers", lambda: load_network_text(deep_network_text(layers)))
    tables = step("group tables (banded)", lambda: mbs.group_tables(net, prec, True))
    stored = sum(v.data.nbytes for v in vars(tables).values() if isinstance(v, band.Banded))
    print(f"  band {tables.band} layers, banded tables {stored / 2**20:.0f} MiB "
          f"(square float64 tables: {16 * len(net) ** 2 * 8 / 2**30:.1f} GiB)")
    m = step("model (+ baseline per-layer fallback)",
             lambda: mbs.build_model(net, hw, batch, [hw.buffer_bytes], True))
    plan = step("mbs-optimal DP", lambda: mbs.plan_optimal(m, None))
    step("evaluate (groups and totals)", lambda: mbs.evaluate(m, plan, with_groups=True))
    step("mbs-greedy", lambda: mbs.plan_greedy(m, None))
    step("mbs-fs DP", lambda: mbs.plan_optimal(m, np.array([1])))
    step("recompute live-set table", lambda: recompute.recompute_peak_bytes(net, prec))
    step("mbs-recompute DP", lambda: recompute.plan_recompute(m))


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=0,
                        help="run the scale mode on a network of this many layers")
    parser.add_argument("--hw", default="wavecore")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    if args.layers:
        scale(args.layers, args.hw, args.batch)
    else:
        main()
