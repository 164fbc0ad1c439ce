"""Parallel and distributed sweeps on Dask: byte-identical to the serial run, clean shutdown.

Every process these tests start is bound to 127.0.0.1 and stopped in a ``finally``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnmem.cli import main

pytest.importorskip("distributed")

#: several tasks (strategies, groupings, a hardware axis), a self-chosen grouping (per-point
#: cuts), infeasible points, and small chunks so each task is several blocks
SWEEP = """\
sweep: dask-check
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


def _sweep(tmp_path: Path, out: str, *extra: str) -> dict[str, bytes]:
    spec = tmp_path / "s.yaml"
    spec.write_text(SWEEP)
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(spec), "-o", str(tmp_path / out), "--quiet", "--csv", "--keep", "all",
              "--chunk-points", "96", *extra])
    assert exc.value.code in (0, None)
    return {f: (tmp_path / out / f).read_bytes() for f in FILES}


def _children(pid: int) -> set[int]:
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


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("jobs", [2, 3])  # 3: two workers, the client takes blocks back
def test_jobs_n_equals_jobs_1(tmp_path: Path, jobs: int) -> None:
    serial = _sweep(tmp_path, "serial")
    parallel = _sweep(tmp_path, "jobs", "--jobs", str(jobs))
    for f in FILES:
        assert parallel[f] == serial[f], f
    run = json.loads((tmp_path / "jobs" / "run.json").read_text())
    assert run["jobs"] == jobs and run["points_evaluated"] == json.loads(
        (tmp_path / "serial" / "run.json").read_text())["points_evaluated"]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
    for p in reversed(procs):
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_scheduler_on_loopback_equals_serial(tmp_path: Path) -> None:
    """A `dask scheduler` and two `dask worker`s on 127.0.0.1 (subprocesses, as a user would
    start them), a sweep through --scheduler, its files compared with the serial run's."""
    sched_file = tmp_path / "scheduler.json"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    dask = [sys.executable, "-m", "dask"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    procs = [subprocess.Popen(dask + ["scheduler", "--host", "127.0.0.1", "--port", "0",
                                      "--no-dashboard", "--scheduler-file", str(sched_file)],
                              **quiet)]  # type: ignore[call-overload]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written whole before the scheduler accepts clients
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(2):
            procs.append(subprocess.Popen(
                dask + ["worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                        "--no-nanny", "--no-dashboard"], **quiet))  # type: ignore[call-overload]
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        serial = _sweep(tmp_path, "serial")
        distributed = _sweep(tmp_path, "cluster", "--scheduler", address)
        for f in FILES:
            assert distributed[f] == serial[f], f
    finally:
        _stop(procs)
    assert not any(_alive(p.pid) for p in procs)


def test_missing_dask_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    spec = tmp_path / "s.yaml"
    spec.write_text(SWEEP)
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(spec), "-o", str(tmp_path / "out"), "--jobs", "2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cnnmem[dask]" in err[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("sig,wait_s", [
    ("SIGTERM", 4.0), ("SIGINT", 0.0),
    pytest.param("SIGTERM", 0.0, marks=pytest.mark.slow),
    pytest.param("SIGINT", 4.0, marks=pytest.mark.slow)])
def test_signal_with_jobs_leaves_no_files_and_no_workers(tmp_path: Path, sig: str,
                                                         wait_s: float) -> None:
    """A signal during a --jobs 2 sweep, as the worker starts (0 s) or while blocks run (4 s):
    exit 143/130, no output directory, and every worker process of the embedded cluster
    gone (--jobs 2: one worker process, the client evaluating blocks too)."""
    spec = tmp_path / "s.yaml"
    # 76.8 M points: about 160 s of CPU after the workers start, ~80 s on two free cores, 20x
    # the 4 s wait (40,000 steps: 17 s of CPU, ~8.5 s on two cores, only 2x; 200,000: 82 s);
    # the workers start as soon at any size, so the test takes no longer
    spec.write_text(SWEEP.replace("steps: 24", "steps: 400000"))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", "from cnnmem.cli import main; main()",
                             "sweep", str(spec), "-o", str(out), "--quiet", "--jobs", "2",
                             "--chunk-points", "4096"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not workers:
            workers |= _children(proc.pid)
            time.sleep(0.1)  # until the cluster's worker processes run
        time.sleep(wait_s)
        workers |= _children(proc.pid)
        assert proc.poll() is None, proc.communicate()
        assert workers  # the embedded cluster's worker process(es)
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == (143 if sig == "SIGTERM" else 130), err
    assert b"Traceback" not in err
    assert not out.exists()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = [p for p in workers if _alive(p)]
    for p in leftover:  # never leave them running, even when the test fails
        os.kill(p, signal.SIGKILL)
    assert not leftover


def test_progress_bar_counts_points_with_jobs(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """With Dask too the bar counts the evaluated points as the blocks finish."""
    from cnnmem.sweep import engine
    from cnnmem.sweep.spec import load_sweep

    bars = []

    class Recorder:
        def __init__(self, total: int, quiet: bool) -> None:
            self.total, self.n = total, 0
            bars.append(self)

        def __enter__(self) -> Recorder:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def update(self, k: int) -> None:
            self.n += k

        def refresh(self) -> None:
            pass

    monkeypatch.setattr(engine, "_progress", Recorder)
    spec = tmp_path / "s.yaml"
    spec.write_text(SWEEP)
    s = engine.run_sweep(load_sweep(str(spec)), tmp_path / "out", quiet=True, jobs=2,
                         chunk_points=96)
    (bar,) = bars
    assert bar.n == bar.total == s.points > 0


def test_jobs_1_imports_no_dask(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SWEEP)
    code = ("import sys\nfrom cnnmem.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code, "sweep", str(spec), "-o",
                          str(tmp_path / "out"), "--quiet"], capture_output=True, text=True,
                         timeout=120)
    assert (tmp_path / "out" / "results.parquet").exists(), out.stderr
    assert out.stdout.strip() == "[]"


def test_jobs_2_with_port_8787_taken_prints_nothing(tmp_path: Path) -> None:
    """Two sweeps at once: the embedded cluster serves no dashboard and binds no fixed port,
    so a second sweep (here: a socket holding 8787, Dask's default) prints no "Port 8787 is
    already in use" warning; stderr stays empty with --quiet."""
    import socket

    spec = tmp_path / "s.yaml"
    spec.write_text(SWEEP)
    holder = socket.socket()
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            holder.bind(("127.0.0.1", 8787))
        except OSError:
            pass  # already taken by someone else: the condition under test holds anyway
        holder.listen(1)
        proc = subprocess.run([sys.executable, "-c", "from cnnmem.cli import main; main()",
                               "sweep", str(spec), "-o", str(tmp_path / "out"), "--quiet",
                               "--jobs", "2"], capture_output=True, text=True, timeout=300)
    finally:
        holder.close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
