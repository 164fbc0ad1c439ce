"""Parallel sweeps on this machine (--jobs N): byte-identical to the serial run, errors and
signals end every worker, no Dask involved."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sweep_procs import FILES, SWEEP, alive, children, sweep_files

from cnnmem.cli import main
from cnnmem.errors import InputError
from cnnmem.sweep import engine, pool
from cnnmem.sweep.spec import load_sweep


@pytest.mark.parametrize("jobs", [2, 3])  # 3: two workers and the client
def test_jobs_n_equals_jobs_1(tmp_path: Path, jobs: int) -> None:
    serial = sweep_files(tmp_path, "serial")
    parallel = sweep_files(tmp_path, "jobs", "--jobs", str(jobs))
    for f in FILES:
        assert parallel[f] == serial[f], f
    run = json.loads((tmp_path / "jobs" / "run.json").read_text())
    assert run["jobs"] == jobs and run["points_evaluated"] == json.loads(
        (tmp_path / "serial" / "run.json").read_text())["points_evaluated"]


def test_jobs_with_a_shared_table_equals_jobs_1(tmp_path: Path) -> None:
    """Above 1,024 capacities the fallback table goes through the step search, which --jobs
    builds in shares on every process (steps, then rows, in shared memory)."""
    big = SWEEP.replace("steps: 24", "steps: 1500").replace(
        "strategies: [mbs, mbs-optimal, layerwise]", "strategies: [mbs]").replace(
        "  grouping: [block, stage]\n", "")
    serial = sweep_files(tmp_path, "serial", "--chunk-points", "4096", sweep=big)
    parallel = sweep_files(tmp_path, "jobs", "--jobs", "2", "--chunk-points", "4096", sweep=big)
    for f in FILES:
        assert parallel[f] == serial[f], f


def test_spawned_workers_equal_jobs_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where fork is not used (macOS, Windows) the workers are spawned: they import cnnmem,
    receive the sweep pickled and build their tables themselves; the files are the same."""
    monkeypatch.setattr(pool, "start_method", lambda: "spawn")
    serial = sweep_files(tmp_path, "serial")
    parallel = sweep_files(tmp_path, "jobs", "--jobs", "2")
    for f in FILES:
        assert parallel[f] == serial[f], f


def test_block_cutter_covers_every_chunk_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SWEEP.replace("steps: 24", "steps: 50"))
    spec = load_sweep(str(path))
    tasks = engine.plan(spec)
    cutter = engine.BlockCutter(tasks, 96)
    total = cutter.chunks_left
    rng = np.random.default_rng(0)
    seen: list[tuple[int, int]] = []
    while (b := cutter.cut(int(rng.integers(1, 5)))) is not None:
        per = engine.capacities_per_chunk(tasks[b.task_index], 96)
        assert b.first % per == 0  # chunks of the serial run, whole
        assert b.end == tasks[b.task_index].capacity_bytes.size or b.end % per == 0
        seen.append((b.task_index, b.first))
        seen.append((b.task_index, b.end))
    assert cutter.chunks_left == 0
    chunks = sum(-(-t.capacity_bytes.size // engine.capacities_per_chunk(t, 96))
                 for t in tasks)
    assert total == chunks
    # consecutive blocks meet: task by task, from 0 to its last capacity
    by_task: dict[int, list[int]] = {}
    for task, edge in seen:
        by_task.setdefault(task, []).append(edge)
    for task, edges in by_task.items():
        assert edges[0] == 0 and edges[-1] == tasks[task].capacity_bytes.size
        assert all(edges[k] == edges[k + 1] for k in range(1, len(edges) - 1, 2))


def test_jobs_2_imports_no_dask_and_prints_nothing(tmp_path: Path) -> None:
    """--jobs needs no Dask (its pool is plain forked processes) and, with --quiet, writes
    nothing on stderr (two sweeps at once bind no port either)."""
    spec = tmp_path / "s.yaml"
    spec.write_text(SWEEP)
    code = ("import sys\nfrom cnnmem.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code, "sweep", str(spec), "-o",
                          str(tmp_path / "out"), "--quiet", "--jobs", "2"], capture_output=True,
                         text=True, timeout=120)
    assert (tmp_path / "out" / "results.parquet").exists(), out.stderr
    assert out.stdout.strip() == "[]"
    assert out.stderr == ""


def test_jobs_and_scheduler_together_is_one_line_exit_2(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SWEEP)
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(spec), "-o", str(tmp_path / "out"), "--jobs", "2", "--scheduler",
              "tcp://127.0.0.1:1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--scheduler" in err[0], err
    assert not (tmp_path / "out").exists()


def _failing_block(message: str, exit_code: int | None) -> object:
    """evaluate_block that fails in a worker process (not in the client): an InputError, or
    the process's sudden end (exit_code)."""
    original = pool.evaluate_block
    client = os.getpid()

    def block(*args: object, **kwargs: object) -> object:
        if os.getpid() != client:
            if exit_code is not None:
                os._exit(exit_code)
            raise InputError(message, field="capacity")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    return block


@pytest.mark.parametrize("exit_code", [None, 9])
def test_worker_failure_is_one_line_and_leaves_nothing(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str],
                                                       exit_code: int | None) -> None:
    """A worker's error reaches the user as one line (its InputError: exit 2; a worker that
    died: exit 1), with no output directory and no worker process left (the workers are
    forked, so the patched function is theirs too)."""
    monkeypatch.setattr(pool, "evaluate_block", _failing_block("worker says no", exit_code))
    spec = tmp_path / "s.yaml"
    spec.write_text(SWEEP.replace("steps: 24", "steps: 400"))
    before = children(os.getpid())
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(spec), "-o", str(tmp_path / "out"), "--quiet", "--jobs", "2",
              "--chunk-points", "96"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    if exit_code is None:
        assert exc.value.code == 2 and "worker says no" in err[0]
    else:
        assert exc.value.code == 1 and "worker process ended" in err[0]
        assert f"exit code {exit_code}" in err[0]
    assert not (tmp_path / "out").exists()
    assert not [p for p in children(os.getpid()) - before if alive(p)]


def test_worker_gone_before_any_work_is_one_line_exit_1(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """A worker that ends at once (before it reads a message): the client's next send or
    receive finds it gone; one line, exit 1 (not a broken pipe's silent exit 0)."""
    monkeypatch.setattr(pool, "_worker_main", lambda *args: os._exit(7))
    build = pool.build_shared_tables

    def after_the_worker_ended(p: pool.LocalPool, *args: object) -> None:
        for w in p.workers:
            w.process.join()  # the next send meets a closed pipe (EPIPE)
        build(p, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pool, "build_shared_tables", after_the_worker_ended)
    spec = tmp_path / "s.yaml"
    spec.write_text(SWEEP.replace("steps: 24", "steps: 1500"))  # a shared table: sends first
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(spec), "-o", str(tmp_path / "out"), "--quiet", "--jobs", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 1 and len(err) == 1 and "exit code 7" in err[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("sig,wait_s", [
    ("SIGTERM", 2.0), ("SIGINT", 0.0),
    pytest.param("SIGTERM", 0.0, marks=pytest.mark.slow),
    pytest.param("SIGINT", 2.0, marks=pytest.mark.slow)])
def test_signal_with_jobs_leaves_no_files_and_no_workers(tmp_path: Path, sig: str,
                                                         wait_s: float) -> None:
    """A signal during a --jobs 2 sweep, as the worker starts (0 s) or while blocks run (2 s):
    exit 143/130, no output directory, no traceback, and the worker process gone."""
    spec = tmp_path / "s.yaml"
    # 76.8 M points: about 60 s on two free cores, far longer than the wait
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
            workers |= children(proc.pid)
            time.sleep(0.05)  # until the worker process runs
        time.sleep(wait_s)
        workers |= children(proc.pid)
        assert proc.poll() is None, proc.communicate()
        assert workers
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
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = [p for p in workers if alive(p)]
    for p in leftover:  # never leave them running, even when the test fails
        os.kill(p, signal.SIGKILL)
    assert not leftover


def test_progress_bar_counts_points_with_jobs(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """With --jobs too the bar counts the evaluated points as the blocks finish."""
    bars = []
    progress = engine._progress

    def recorder(total: int, quiet: bool) -> object:  # the run's own bar (quiet: no tqdm)
        bars.append(progress(total, quiet))
        return bars[-1]

    monkeypatch.setattr(engine, "_progress", recorder)
    spec = tmp_path / "s.yaml"
    spec.write_text(SWEEP)
    s = engine.run_sweep(load_sweep(str(spec)), tmp_path / "out", quiet=True, jobs=2,
                         chunk_points=96)
    (bar,) = bars
    assert bar.n == bar.total == s.points > 0
