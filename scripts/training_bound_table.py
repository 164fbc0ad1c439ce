"""Training bound vs mbs-greedy / mbs-optimal at batch 256 on WaveCore (issue 18 numbers).

Usage: python scripts/training_bound_table.py  (runs `cnnmem schedule ... --totals --format csv`
and `cnnmem bound ... --training --format csv`; prints a markdown table)
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd

NETWORKS = ("resnet50", "resnet101", "inception_v3", "inception_v4")
BUFFERS = ("2MiB", "10MiB", "32MiB")
STRATEGIES = ("mbs-greedy", "mbs-optimal")
CNNMEM = str(Path(sys.executable).with_name("cnnmem"))


def csv(*args: str) -> pd.DataFrame:
    out = subprocess.run([CNNMEM, *args, "--format", "csv"], check=True, capture_output=True,
                         text=True).stdout
    return pd.read_csv(io.StringIO(out))


def main() -> None:
    gib = 2.0**30
    print("| network | buffer | compulsory GiB | bound 1 GiB | bound 2 GiB | mbs-greedy GiB "
          "(/bound 1) | mbs-optimal GiB (/bound 1) |")
    print("|---|---|---|---|---|---|---|")
    for net in NETWORKS:
        b = csv("bound", net, "--training", "--hw", "wavecore", "--batch", "256",
                "--buffer", ",".join(BUFFERS))
        for i, buf in enumerate(BUFFERS):
            bound = float(b["bound_no_recompute_bytes"][i])
            row = [net, buf, f"{b['compulsory_bytes'][i] / gib:.3f}", f"{bound / gib:.2f}",
                   f"{b['bound_recompute_bytes'][i] / gib:.3f}"]
            for s in STRATEGIES:
                t = csv("schedule", net, "--hw", "wavecore", "--strategy", s, "--mode",
                        "training", "--batch", "256", "--buffer", buf, "--totals")
                dram = float(t["dram_bytes"][0])
                row.append(f"{dram / gib:.2f} ({dram / bound:.2f}x)")
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
