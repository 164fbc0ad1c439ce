"""Issue 18 numbers: training bound, mbs-greedy, mbs-optimal, mbs-recompute on ResNet-50/101 and
Inception-v3/v4, batch 256, WaveCore (hw/wavecore.yaml), buffers 2, 10, 32 MiB.

Run: .venv/bin/python scripts/recompute_table.py  (prints a markdown table; GiB = 2^30 B)."""

from __future__ import annotations

from cnnmem.hardware import load_hardware
from cnnmem.model.precision import Precision
from cnnmem.model.schedule import run_strategy
from cnnmem.model.training_bound import network_training_bound_bytes
from cnnmem.workload import load_network

NETS = ("resnet50", "resnet101", "inception_v3", "inception_v4")
MIB = 2.0**20
GIB = 2.0**30


def main() -> None:
    hw = load_hardware("wavecore")
    prec = Precision.of(hw)
    print("| network | MiB | bound 1 GiB | bound 2 GiB | mbs-greedy GiB (x b1) | "
          "mbs-optimal GiB (x b1) | mbs-recompute GiB (x b1, x b2) | opt/rec DRAM | "
          "rec MAC overhead | rec/opt latency | recompute groups, one-pass |")
    print("|" + "---|" * 11)
    for name in NETS:
        net = load_network(name)
        for mib in (2, 10, 32):
            cap = mib * MIB
            b1 = float(network_training_bound_bytes(net, prec, 256, cap)[0, 0])
            b2 = float(network_training_bound_bytes(net, prec, 256, cap, recompute=True)[0, 0])
            res = {s: run_strategy(s, net, hw, mode="training", batch=256,
                                   buffer_bytes=cap)[1].totals
                   for s in ("mbs-greedy", "mbs-optimal", "mbs-recompute")}
            g, o, r = (res[s] for s in ("mbs-greedy", "mbs-optimal", "mbs-recompute"))
            print(f"| {name} | {mib} | {b1 / GIB:.2f} | {b2 / GIB:.3f} | "
                  f"{g['dram_bytes'] / GIB:.2f} ({g['dram_bytes'] / b1:.2f}) | "
                  f"{o['dram_bytes'] / GIB:.2f} ({o['dram_bytes'] / b1:.2f}) | "
                  f"{r['dram_bytes'] / GIB:.2f} ({r['dram_bytes'] / b1:.2f}, "
                  f"{r['dram_bytes'] / b2:.1f}) | {o['dram_bytes'] / r['dram_bytes']:.3f} | "
                  f"{r['recompute_macs'] / o['macs']:+.1%} | "
                  f"{r['latency_s'] / o['latency_s']:.3f} | "
                  f"{r['recompute_groups']}/{r['groups']}, {r['one_pass_groups']} |", flush=True)


if __name__ == "__main__":
    main()
