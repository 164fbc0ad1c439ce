"""What two cores of this machine can give the sweep at best: the speed-up of the 10 M-point
sweep's blocks split between two processes that share nothing and say nothing to each other.

    python benchmarks/bench_parallel_ceiling.py            # 5 repeats
    python benchmarks/bench_parallel_ceiling.py --repeat 10

Each repeat, in a new process: the model caches are built (one warm-up block), the blocks of
4 chunks are evaluated one after the other (one core), then the process forks and each of the
two processes evaluates every other block at the same time (no pipe, no writing, no front
merge, no table shared). The ratio of the one-core time to the slower half is the ceiling of
any ``--jobs 2`` on the block phase of this sweep on this machine; ``--jobs 2`` must also build
the fallback table, gather the results and write them. Also prints the same for a pure-Python
loop (no memory traffic): on a virtual machine two busy vCPUs need not run as fast as one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_sweep import BIG  # noqa: E402


def _halves(work: list, run) -> tuple[float, float, float]:  # type: ignore[type-arg]
    """(one process, first half, second half) seconds of ``run`` over ``work``."""
    t0 = time.perf_counter()
    run(work)
    serial = time.perf_counter() - t0
    r, w = os.pipe()
    pid = os.fork()
    t0 = time.perf_counter()
    run(work[::2] if pid else work[1::2])
    mine = time.perf_counter() - t0
    if pid == 0:
        os.write(w, str(mine).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    return serial, mine, float(os.read(r, 64))


def _one() -> None:
    from cnnmem.sweep.engine import capacity_blocks, evaluate_block, plan
    from cnnmem.sweep.memory import keep_freed_memory
    from cnnmem.sweep.spec import load_sweep

    keep_freed_memory()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(BIG.format(strategy="mbs", n_cap=10_000_000 // 256))
        spec = load_sweep(str(path))
    tasks = plan(spec)
    blocks = capacity_blocks(tasks, 65536, 4)

    def sweep(bs: list) -> None:  # type: ignore[type-arg]
        for b in bs:
            evaluate_block(spec, tasks[b.task_index], b, 65536, "feasible", True)

    def loop(items: list) -> None:  # type: ignore[type-arg]
        s = 0
        for _ in items:
            for i in range(300_000):
                s += i

    sweep(blocks[:1])  # the caches
    print(json.dumps({"sweep": _halves(blocks, sweep), "python": _halves(list(range(60)), loop)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        _one()
        return
    ratios: dict[str, list[float]] = {"sweep": [], "python": []}
    for k in range(args.repeat):
        out = json.loads(subprocess.run([sys.executable, __file__, "--one"], check=True,
                                        capture_output=True, text=True).stdout)
        for name, (serial, a, b) in out.items():
            ratios[name].append(serial / max(a, b))
            print(f"repeat {k + 1} {name}: one process {serial:.2f} s, two halves at once "
                  f"{a:.2f} s and {b:.2f} s: {serial / max(a, b):.2f}x; load "
                  f"{os.getloadavg()[0]:.2f}", flush=True)
    for name, r in ratios.items():
        print(f"{name}: median {statistics.median(r):.2f}x (min {min(r):.2f}, max {max(r):.2f}) "
              f"of {len(r)}")


if __name__ == "__main__":
    main()
