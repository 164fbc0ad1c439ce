"""Benchmark of the per-layer cost core (issue 3): all layers of ResNet-50 x 3 passes
x 64 capacities x 10 batch sizes in one call. Prints wall time (best of N runs).

    python benchmarks/bench_core.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cnnmem.hardware import default_hardware
from cnnmem.model.cost import layer_pass_costs
from cnnmem.workload import load_network


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--network", default="resnet50")
    args = ap.parse_args()
    net = load_network(args.network)
    hw = default_hardware()
    caps = np.geomspace(64 * 1024, 64 * 2**20, 64)
    batches = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        costs = layer_pass_costs(net, hw, batches, caps, training=True)
        times.append(time.perf_counter() - t0)
    n_compute = sum(1 for layer in net.layers if layer.is_compute)
    points = n_compute * 3 * caps.size * batches.size
    print(f"{args.network}: {n_compute} conv/FC layers x 3 passes x {caps.size} capacities x "
          f"{batches.size} batch sizes = {points:,} layer-pass evaluations "
          f"(+ {len(costs.layer) - n_compute * 3} streaming layer-passes)")
    print(f"best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s "
          f"({points / min(times):,.0f} layer-pass evaluations/s)")


if __name__ == "__main__":
    main()
