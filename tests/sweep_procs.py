"""Helpers of the parallel sweep tests: a small sweep through the CLI, live processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnmem.cli import main

#: several tasks (strategies, groupings, a hardware axis), a self-chosen grouping (per-point
#: cuts), infeasible points, and small chunks so each task is several blocks
SWEEP = """\
sweep: parallel-check
networks: [alexnet]
hardware: [wavecore]
mode: training
batch: 16
strategies: [mbs, mbs-optimal, layerwise]
axes:
  capacity: {from: 64 KiB, to: 16 MiB, steps: 24, scale: log}
  sub_batch: {from: 1, to: 16}
  grouping: [block, stage]
  dram_bandwidth: [10 GB/s, 40 GB/s]
"""
FILES = ("results.parquet", "results.csv", "pareto.csv")


def sweep_files(tmp_path: Path, out: str, *extra: str, sweep: str = SWEEP) -> dict[str, bytes]:
    """Run the sweep through the CLI (--keep all --csv, 96-point chunks); its files."""
    spec = tmp_path / "s.yaml"
    spec.write_text(sweep)
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(spec), "-o", str(tmp_path / out), "--quiet", "--csv", "--keep", "all",
              "--chunk-points", "96", *extra])
    assert exc.value.code in (0, None)
    return {f: (tmp_path / out / f).read_bytes() for f in FILES}


def children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.add(k)
            todo.append(k)
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
