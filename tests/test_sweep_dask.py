"""Distributed sweeps on Dask (--scheduler): byte-identical to the serial run.

Every process these tests start is bound to 127.0.0.1 and stopped in a ``finally``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_procs import FILES, SWEEP, alive, sweep_files

from cnnmem.cli import main

pytest.importorskip("distributed")


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
        serial = sweep_files(tmp_path, "serial")
        distributed = sweep_files(tmp_path, "cluster", "--scheduler", address)
        for f in FILES:
            assert distributed[f] == serial[f], f
    finally:
        _stop(procs)
    assert not any(alive(p.pid) for p in procs)


def test_missing_dask_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    spec = tmp_path / "s.yaml"
    spec.write_text(SWEEP)
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(spec), "-o", str(tmp_path / "out"), "--scheduler",
              "tcp://127.0.0.1:1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cnnmem[dask]" in err[0], err
    assert not (tmp_path / "out").exists()
