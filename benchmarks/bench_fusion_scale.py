"""Wall time and peak RSS of ``cnnmem schedule <deep chain> --hw occam_chip --strategy occam``
and ``--strategy fusion`` (inference) at 2,000 and 10,000 layers (issue #16 'Scale').

Run: ``python benchmarks/bench_fusion_scale.py [LAYERS...]``. The network is the scale case of
tests/fuzz.py: ``repeat:`` of a conv 3x3 + relu block on 8 x 8 x 8 maps (one unit per block).
Each command runs in its own process, which reports its own peak RSS (``ru_maxrss``). The
issue's target: 10,000 layers in under 1 GiB and a few minutes (before the banded tables: 2,000
layers took ~38 s and 285 MB, 10,000 layers did not finish in 10 minutes and passed 1.7 GB).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def chain_yaml(layers: int) -> str:
    return yaml.safe_dump({"name": "deep", "input": [8, 8, 8],
                           "blocks": {"b": {"layers": [{"type": "conv", "out": 8, "kernel": 3,
                                                        "padding": 1}, {"type": "relu"}]}},
                           "layers": [{"block": "b", "repeat": layers // 2}]}, sort_keys=False)


CHILD = """
import resource, sys
from cnnmem.cli import main
try:
    main(sys.argv[1:])
finally:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def run(path: Path, strategy: str) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, exit code) of one schedule command in a child process."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, "schedule", str(path), "--hw",
                          "occam_chip", "--strategy", strategy, "--totals"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         check=False)
    seconds = time.perf_counter() - t0
    peak_kib = int(out.stderr.strip().splitlines()[-1])
    return seconds, peak_kib / 1024, out.returncode


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [2000, 10000]
    with tempfile.TemporaryDirectory() as tmp:
        for layers in sizes:
            path = Path(tmp) / f"deep{layers}.yaml"
            path.write_text(chain_yaml(layers), encoding="utf-8")
            for strategy in ("occam", "fusion"):
                seconds, mib, code = run(path, strategy)
                print(f"{strategy:6s} {layers:6,d} layers: {seconds:6.1f} s, peak RSS "
                      f"{mib:6.0f} MiB, exit {code}")


if __name__ == "__main__":
    main()
