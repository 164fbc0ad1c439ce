"""Sweep throughput and peak memory.

    python benchmarks/bench_sweep.py                      # sweeps/resnet50-mbs.yaml
    python benchmarks/bench_sweep.py --points 1000000     # a large synthetic sweep
    python benchmarks/bench_sweep.py --points 1000000 --keep all --csv
    python benchmarks/bench_sweep.py --points 10000000 --jobs 1,2   # one core vs 2 workers

With ``--jobs 1,2`` the sweep runs once per value (cold caches only for the first) and the
result files of every run are compared byte for byte with the first run's. ``--fresh N``
instead runs every ``--jobs`` value N times, interleaved, each in a new process (cold caches,
as `cnnmem sweep` runs), and prints every run's time in ``run_sweep`` and the medians: on a
shared machine a single pair of runs says little.

Prints design points (evaluated, feasible, written), wall time, model/writing split, points
per second, file sizes, CPU seconds (this process; with --jobs also its worker processes: on a
shared machine their sum says more than the wall time) and peak RSS. ``--keep`` and ``--csv``
are those of `cnnmem sweep`.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnmem.sweep.engine import DEFAULT_CHUNK_POINTS, DEFAULT_KEEP, KEEP_CHOICES, run_sweep
from cnnmem.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parents[1]

BIG = """\
sweep: big
networks: [resnet50]
hardware: [wavecore]
mode: training
batch: 256
strategies: [{strategy}]
axes:
  capacity: {{from: 512 KiB, to: 64 MiB, steps: {n_cap}, scale: log}}
  sub_batch: {{from: 1, to: 256}}
"""


def model_throughput(repeat: int = 5) -> None:
    """Design points/s of the vectorized model alone (no file writing): ResNet-50 training on
    WaveCore, `mbs` with a fixed grouping, 64 capacities x 256 uniform sub-batch sizes per call
    (16,384 whole-network design points), best of ``repeat`` calls after one warm-up."""
    import numpy as np

    from cnnmem.hardware import load_hardware
    from cnnmem.model.schedule import SweepRequest, sweep_evaluators
    from cnnmem.workload import load_network

    net, hw = load_network("resnet50"), load_hardware("wavecore")
    caps = np.geomspace(512 * 2**10, 64 * 2**20, 64)
    sub = np.arange(1, 257)
    ev = sweep_evaluators()["mbs"]
    rng = np.random.default_rng(1)
    random_cuts = tuple(int(c) for c in np.sort(rng.choice(len(net) - 1, 24, replace=False)))
    for label, grouping in (("stage", "stage"), ("block", "block"), ("layer", "layer"),
                            ("random-24-cuts", random_cuts)):
        req = SweepRequest(net, hw, "training", 256, caps, sub, grouping)
        ev(req)
        best = min(_timed(ev, req) for _ in range(repeat))
        n = caps.size * sub.size
        print(f"  mbs grouping {label:15s} {n:,} points in {best * 1e3:6.1f} ms = "
              f"{n / best:12,.0f} design points/s")


def _cpu_s() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its ended child processes (the
    --jobs worker processes count once the run has ended them)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[Any], Any], arg: Any) -> float:
    t0 = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t0


def _one_run(args: argparse.Namespace) -> None:
    """One sweep in this (new) process; prints its time in run_sweep and CPU seconds."""
    import json

    path, out, jobs = args.one_run.split(",")
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    s = run_sweep(load_sweep(path), out, quiet=True, chunk_points=args.chunk_points,
                  keep=args.keep, csv=args.csv, jobs=int(jobs))
    wall = time.perf_counter() - t0
    cpu = [b - a for a, b in zip(cpu0, _cpu_s(), strict=True)]
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "points": s.points}))


def _fresh_runs(args: argparse.Namespace) -> None:
    import json
    import statistics
    import subprocess
    import sys

    jobs = [int(j) for j in args.jobs.split(",")]
    walls: dict[int, list[float]] = {j: [] for j in jobs}
    with tempfile.TemporaryDirectory() as tmp:
        path = args.sweep
        if args.points:
            path = str(Path(tmp) / "big.yaml")
            Path(path).write_text(BIG.format(strategy=args.strategy,
                                             n_cap=max(1, args.points // 256)))
        reference: dict[str, bytes] = {}
        for r in range(args.fresh):
            for j in jobs:
                out = Path(tmp) / f"out-{r}-{j}"
                cmd = [sys.executable, __file__, "--one-run", f"{path},{out},{j}",
                       "--chunk-points", str(args.chunk_points), "--keep", args.keep]
                if args.csv:
                    cmd.append("--csv")
                res = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                                text=True).stdout)
                files = {p.name: p.read_bytes() for p in sorted(out.glob("*"))
                         if p.name != "run.json"}
                reference = reference or files
                walls[j].append(res["wall_s"])
                print(f"run {r + 1} --jobs {j}: {res['points']:,} points, run_sweep "
                      f"{res['wall_s']:.2f} s ({res['points'] / res['wall_s']:,.0f} points/s), "
                      f"CPU {res['cpu_s'][0]:.2f} s + {res['cpu_s'][1]:.2f} s in workers; "
                      f"load {os.getloadavg()[0]:.2f}; "
                      f"{'files identical' if files == reference else 'FILES DIFFER'}",
                      flush=True)
    base = statistics.median(walls[jobs[0]])
    for j in jobs:
        med = statistics.median(walls[j])
        print(f"--jobs {j}: median {med:.2f} s of {len(walls[j])} (min {min(walls[j]):.2f}, "
              f"max {max(walls[j]):.2f}); {base / med:.2f}x the --jobs {jobs[0]} median")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sweep", nargs="?", default=str(ROOT / "sweeps" / "resnet50-mbs.yaml"))
    ap.add_argument("--points", type=int, default=0, help="synthetic sweep of ~N points")
    ap.add_argument("--strategy", default="mbs", help="strategy of the synthetic sweep")
    ap.add_argument("--chunk-points", type=int, default=DEFAULT_CHUNK_POINTS)
    ap.add_argument("--keep", choices=KEEP_CHOICES, default=DEFAULT_KEEP)
    ap.add_argument("--csv", action="store_true", help="also write results.csv")
    ap.add_argument("--no-model-only", action="store_true", help="skip the model-only figures")
    ap.add_argument("--jobs", default="1", help="comma-separated --jobs values to run")
    ap.add_argument("--scheduler", default=None, help="also run on this Dask scheduler")
    ap.add_argument("--fresh", type=int, default=0,
                    help="run each --jobs value this many times, interleaved, in new processes")
    ap.add_argument("--one-run", help=argparse.SUPPRESS)  # a --fresh child: sweep,out,jobs
    args = ap.parse_args()
    if args.one_run:
        _one_run(args)
        return
    if args.fresh:
        _fresh_runs(args)
        return
    runs = [(int(j), None) for j in args.jobs.split(",")]
    if args.scheduler:
        runs.append((1, args.scheduler))
    with tempfile.TemporaryDirectory() as tmp:  # first, with cold caches
        path = args.sweep
        if args.points:
            path = str(Path(tmp) / "big.yaml")
            Path(path).write_text(BIG.format(strategy=args.strategy,
                                             n_cap=max(1, args.points // 256)))
        spec = load_sweep(path)
        reference: dict[str, bytes] = {}
        for k, (jobs, scheduler) in enumerate(runs):
            out = Path(tmp) / f"out{k}"
            cpu0 = _cpu_s()
            t0 = time.perf_counter()
            s = run_sweep(spec, out, quiet=True, chunk_points=args.chunk_points,
                          keep=args.keep, csv=args.csv, jobs=jobs, scheduler=scheduler)
            wall = time.perf_counter() - t0
            cpu = [b - a for a, b in zip(cpu0, _cpu_s(), strict=True)]
            files = {p.name: p.read_bytes() for p in sorted(out.glob("*"))
                     if p.name != "run.json"}
            same = ""
            if k == 0:
                reference = files
            else:
                same = ("; files byte-identical to the first run" if files == reference
                        else "; FILES DIFFER from the first run")
            sizes = ", ".join(f"{p.name} {p.stat().st_size / 2**20:.1f} MiB"
                              for p in sorted(out.glob("results.*")))
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB
            where = f"--scheduler {scheduler}" if scheduler else f"--jobs {jobs}"
            print(f"{spec.name} {where}: {s.points:,} points evaluated ({s.feasible_points:,} "
                  f"feasible, {s.written_points:,} written, --keep {args.keep}"
                  f"{' --csv' if args.csv else ''}), wall {wall:.2f} s (model {s.model_s:.2f} s"
                  f"{' summed over workers' if jobs > 1 or scheduler else ''}, writing "
                  f"{s.write_s:.2f} s), {s.points / wall:,.0f} points/s overall; {sizes}; "
                  f"Pareto front {s.pareto_points:,}; CPU {cpu[0]:.2f} s in this process"
                  f"{f' + {cpu[1]:.2f} s in its worker processes' if cpu[1] else ''}; "
                  f"peak RSS of this process {rss:.0f} MiB"
                  f"{' (cold caches)' if k == 0 else ''}; load average "
                  f"{os.getloadavg()[0]:.2f}{same}", flush=True)
    if not args.points and not args.no_model_only:
        print("model only (ResNet-50 training, WaveCore):")
        model_throughput()


if __name__ == "__main__":
    main()
