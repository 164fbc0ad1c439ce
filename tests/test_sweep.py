"""Sweep files, the engine's outputs (determinism, atomicity) and the report."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnnmem.cli import main
from cnnmem.errors import InputError
from cnnmem.model.grouping import format_cuts, parse_cuts
from cnnmem.sweep import engine
from cnnmem.sweep.engine import run_sweep
from cnnmem.sweep.spec import load_sweep

SMALL = """\
sweep: small
networks: [lenet5]
hardware: [edge]
mode: training
batch: 8
strategies: [layerwise]
axes:
  capacity: {from: 16 KiB, to: 1 MiB, steps: 5, scale: log}
  dram_bandwidth: [10 GB/s, 20 GB/s]
"""


def write(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def run_cli(args):
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code


def read_results(path):
    return pd.read_parquet(path / "results.parquet")


def test_small_sweep_outputs(tmp_path):
    spec = load_sweep(write(tmp_path, SMALL))
    s = run_sweep(spec, tmp_path / "out", quiet=True)
    df = read_results(tmp_path / "out")
    assert s.points == len(df) == 10 and df["feasible"].all()
    assert set(df["dram_bandwidth_bytes_per_s"]) == {1e10, 2e10}
    assert (df["sub_batch"] == 8).all()  # layerwise runs the whole batch
    np.testing.assert_allclose(df["energy_pj"], df[["energy_dram_pj", "energy_buffer_pj",
                                                    "energy_compute_pj",
                                                    "energy_static_pj"]].sum(axis=1), rtol=1e-12)
    # same traffic at both bandwidths; lower bandwidth never faster
    a = df[df.dram_bandwidth_bytes_per_s == 1e10].reset_index()
    b = df[df.dram_bandwidth_bytes_per_s == 2e10].reset_index()
    np.testing.assert_allclose(a.dram_bytes, b.dram_bytes)
    assert (a.latency_s >= b.latency_s).all()
    pareto = pd.read_csv(tmp_path / "out" / "pareto.csv")
    assert 0 < len(pareto) <= len(df)
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert info["points"] == 10 and info["sweep_text"] == SMALL
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "pareto.csv", "results.parquet", "run.json"]


INFEASIBLE = SMALL.replace("from: 16 KiB, to: 1 MiB, steps: 5", "from: 1 B, to: 1 MiB, steps: 9")


def test_deterministic_bytes(tmp_path):
    """Same inputs, same bytes, whatever the chunking (Parquet row groups are fixed) and the
    row-group size of the writer; the CSV equals the Parquet file's rows."""
    spec_file = write(tmp_path, INFEASIBLE)
    for name, extra in (("a", []), ("b", ["--chunk-points", "2"]), ("c", ["--chunk-points", "3"])):
        assert run_cli(["sweep", spec_file, "-o", str(tmp_path / name), "--quiet", "--csv",
                        "--keep", "all", *extra]) == 0
    for f in ("results.parquet", "results.csv", "pareto.csv"):
        a = (tmp_path / "a" / f).read_bytes()
        assert a == (tmp_path / "b" / f).read_bytes() == (tmp_path / "c" / f).read_bytes()
    pq = read_results(tmp_path / "a")
    csv = pd.read_csv(tmp_path / "a" / "results.csv")
    pd.testing.assert_frame_equal(pq, csv, check_dtype=False)
    assert not pq["feasible"].all() and pq["feasible"].any()  # the case has both kinds
    # several row groups, cut at the same rows whatever the chunking
    from cnnmem.sweep import output

    spec = load_sweep(spec_file)
    for name, chunk in (("d", 1 << 16), ("e", 2)):
        old = output.ROW_GROUP_ROWS
        output.ROW_GROUP_ROWS = 4
        try:
            run_sweep(spec, tmp_path / name, quiet=True, chunk_points=chunk, keep="all")
        finally:
            output.ROW_GROUP_ROWS = old
    import pyarrow.parquet as papq

    assert papq.ParquetFile(tmp_path / "d" / "results.parquet").num_row_groups == 5
    assert ((tmp_path / "d" / "results.parquet").read_bytes()
            == (tmp_path / "e" / "results.parquet").read_bytes())


def test_keep_modes_and_counts(tmp_path, capsys):
    spec_file = write(tmp_path, INFEASIBLE)
    frames, infos = {}, {}
    for keep in ("all", "feasible", "pareto"):
        assert run_cli(["sweep", spec_file, "-o", str(tmp_path / keep), "--keep", keep]) == 0
        frames[keep] = read_results(tmp_path / keep)
        infos[keep] = json.loads((tmp_path / keep / "run.json").read_text())
        out = capsys.readouterr().out
        info = infos[keep]
        assert (f"{info['points_feasible']:,} feasible, "
                f"{info['points_evaluated'] - info['points_feasible']:,} infeasible; "
                f"{info['points_written']:,} written (--keep {keep})") in out
    everything = frames["all"]
    assert infos["all"]["points_evaluated"] == len(everything) == 18
    assert infos["all"]["points_written"] == 18
    feasible = everything["feasible"]
    assert feasible.to_numpy().tolist() == np.isfinite(
        everything[list(engine.METRICS)].to_numpy()).all(axis=1).tolist()
    assert 0 < feasible.sum() < len(everything)
    assert infos["feasible"]["points_feasible"] == infos["feasible"]["points_written"] == \
        feasible.sum() == len(frames["feasible"])
    pd.testing.assert_frame_equal(frames["feasible"],
                                  everything[feasible].reset_index(drop=True))
    pareto = pd.read_csv(tmp_path / "pareto" / "pareto.csv")
    assert len(frames["pareto"]) == len(pareto) == infos["pareto"]["points_written"]
    assert infos["pareto"]["points_evaluated"] == 18
    for keep in ("all", "feasible"):  # the front does not depend on what is written
        assert (tmp_path / keep / "pareto.csv").read_bytes() == \
            (tmp_path / "pareto" / "pareto.csv").read_bytes()


def test_report_reads_csv_when_that_is_the_results_file(tmp_path):
    out = tmp_path / "out"
    assert run_cli(["sweep", write(tmp_path, SMALL), "-o", str(out), "--quiet", "--csv"]) == 0
    assert run_cli(["report", str(out), "--quiet"]) == 0
    with_parquet = (out / "report.md").read_text()
    (out / "results.parquet").unlink()
    assert run_cli(["report", str(out), "--quiet"]) == 0
    assert (out / "report.md").read_text() == with_parquet
    (out / "results.csv").unlink()
    assert run_cli(["report", str(out), "--quiet"]) == 2


#: 1.28 M points: the signal test waits for the first chunk file and 0.3 s more, so the run
#: must last well past that. After the first chunk file appears this sweep has about 8 s of CPU
#: work left (at 4,000 capacity steps, before: about 1.1 s, under 4x the wait), and reaching
#: the first chunk takes the same 2 s at either size.
SLOW_SWEEP = """\
sweep: slow
networks: [resnet50]
hardware: [edge]
mode: training
batch: 32
strategies: [mbs]
axes:
  capacity: {from: 256 KiB, to: 64 MiB, steps: 40000, scale: log}
  sub_batch: {from: 1, to: 32}
  grouping: [layer]
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_signal_leaves_no_partial_files(tmp_path, sig):
    """SIGTERM (as well as Ctrl-C) in the middle of a sweep: no temporary or partial file,
    the output directory the run created is gone, and earlier results stay untouched."""
    import signal
    import subprocess
    import sys
    import time

    spec_file = write(tmp_path, SLOW_SWEEP)
    for existing in (False, True):
        out = tmp_path / ("old" if existing else "new")
        if existing:
            out.mkdir()
            (out / "results.parquet").write_bytes(b"old")
        proc = subprocess.Popen([sys.executable, "-c", "from cnnmem.cli import main; main()",
                                 "sweep", spec_file, "-o", str(out), "--quiet", "--csv",
                                 "--chunk-points", "4096"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not any(out.glob(".results.*")) and time.monotonic() < deadline:
            time.sleep(0.05)  # wait until the run is writing
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.3)
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == (143 if sig == "SIGTERM" else 130), err
        assert b"Traceback" not in err
        if existing:
            assert [p.name for p in out.iterdir()] == ["results.parquet"]
            assert (out / "results.parquet").read_bytes() == b"old"
        else:
            assert not out.exists()


def test_atomic_on_error(tmp_path, monkeypatch):
    spec = load_sweep(write(tmp_path, SMALL))
    calls = {"n": 0}
    real = engine.ResultWriter.write

    def failing(writer, table):  # interrupted after the first rows are written
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(writer, table)

    monkeypatch.setattr(engine.ResultWriter, "write", failing)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, quiet=True, chunk_points=1)
    assert not out.exists()  # created by the run, removed with its temp files
    out.mkdir()
    (out / "results.parquet").write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        calls["n"] = 0
        run_sweep(spec, out, quiet=True, chunk_points=1, csv=True)
    assert sorted(p.name for p in out.iterdir()) == ["results.parquet"]
    assert (out / "results.parquet").read_text() == "old\n"


@pytest.mark.parametrize("patch, message", [
    (("mode: training", "mode: learning"), "mode"),
    (("strategies: [layerwise]", "strategies: [nosuch]"), "strategy 'nosuch'"),
    (("networks: [lenet5]", "networks: [nonet]"), "nonet"),
    (("steps: 5", "steps: -1"), "axes.capacity"),
    (("scale: log", "scale: cubic"), "scale"),
    (("dram_bandwidth: [10 GB/s, 20 GB/s]", "dram_bandwidth: [10 parsecs]"), "unknown unit"),
    (("dram_bandwidth: [10 GB/s, 20 GB/s]", "warp_speed: [1]"), "unknown axis"),
    (("batch: 8", "batch: 8\nobjectives: [beauty]"), "unknown objective"),
    (("dram_bandwidth: [10 GB/s, 20 GB/s]", "sub_batch: [1, 64]"), "1..batch"),
])
def test_bad_sweep_files(tmp_path, capsys, patch, message):
    bad = write(tmp_path, SMALL.replace(*patch))
    with pytest.raises(InputError) as exc:
        load_sweep(bad)
    assert exc.value.file == bad and exc.value.line is not None
    assert message in exc.value.format()
    out = tmp_path / "out"
    assert run_cli(["sweep", bad, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not out.exists()


def test_exhaustive_and_random_groupings(tmp_path):
    from cnnmem.sweep.spec import GroupingSpec
    from cnnmem.workload import load_network

    net = load_network("lenet5")
    n = len(net)
    ex = engine.expand_grouping(net, GroupingSpec("exhaustive"))
    assert len(ex) == 2 ** (n - 1) and len({c for _, c in ex}) == len(ex)
    ex3 = engine.expand_grouping(net, GroupingSpec("exhaustive", max_depth=3))
    for _, cuts in ex3:
        ends = list(cuts) + [n - 1]
        assert np.diff([-1] + ends).max() <= 3
    r1 = engine.expand_grouping(net, GroupingSpec("random", 20, seed=3))
    assert r1 == engine.expand_grouping(net, GroupingSpec("random", 20, seed=3))
    big = load_network("resnet50")
    with pytest.raises(InputError, match="at most 16 layers"):
        engine.expand_grouping(big, GroupingSpec("exhaustive"))
    assert engine.structure_cuts(big, "stage") != engine.structure_cuts(big, "block")


def test_cuts_round_trip():
    assert format_cuts((0, 1, 2, 5, 7, 8, 20), 21) == "0..2;5;7..8"
    assert parse_cuts("0..2;5;7..8") == (0, 1, 2, 5, 7, 8)


def test_csv_files_round_trip_the_values(tmp_path):
    """results.csv and pareto.csv read back to exactly the values in results.parquet (the
    front's rows are result rows), with inf, empty sub_batch and commas in texts."""
    text = INFEASIBLE.replace("strategies: [layerwise]", "strategies: [layerwise, mbs-greedy]")
    out = tmp_path / "out"
    assert run_cli(["sweep", write(tmp_path, text), "-o", str(out), "--quiet", "--csv",
                    "--keep", "all"]) == 0
    pq = read_results(out)
    def read_csv(path):  # an empty field is a missing sub_batch or an empty cut list
        df = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"cuts": str})
        return df.assign(cuts=df["cuts"].fillna(""))

    csv = read_csv(out / "results.csv")
    pd.testing.assert_frame_equal(pq, csv, check_dtype=False)
    assert np.isinf(pq["dram_bytes"]).any() and pq["sub_batch"].isna().any()
    pareto = read_csv(out / "pareto.csv")
    assert list(pareto.columns) == list(pq.columns)
    pareto = pareto.astype(pq.dtypes.to_dict())
    assert len(pareto.merge(pq.drop_duplicates(), on=list(pq.columns))) == len(pareto) > 0


def test_mbs_sweep_and_report(tmp_path):
    from cnnmem.model.schedule import sweep_evaluators

    if "mbs" not in sweep_evaluators():
        pytest.skip("mbs not available")
    text = SMALL.replace("strategies: [layerwise]",
                         "strategies: [layerwise, mbs-greedy, mbs]").replace(
        "dram_bandwidth: [10 GB/s, 20 GB/s]", "sub_batch: [1, 4, 8]\n  grouping: [block, all]")
    out = tmp_path / "out"
    assert run_cli(["sweep", write(tmp_path, text), "-o", str(out), "--quiet"]) == 0
    df = read_results(out)
    assert set(df.strategy) == {"layerwise", "mbs-greedy", "mbs"}
    assert set(df[df.strategy == "mbs"].grouping) == {"block", "all"}
    assert set(df[df.strategy == "mbs"].sub_batch) == {1, 4, 8}
    assert run_cli(["report", str(out), "--quiet"]) == 0
    md = (out / "report.md").read_text()
    for fig in ("traffic_vs_capacity", "energy_breakdown"):
        assert f"figures/{fig}.png" in md
        assert (out / "figures" / f"{fig}.png").stat().st_size > 10_000
        assert (out / "figures" / f"{fig}.svg").exists()
    assert "| network |" in md


RERUN = """\
sweep: rerun
networks: [lenet5]
hardware: [{hw}]
mode: {mode}
batch: 8
chips: {chips}
strategies: [{strategy}]
axes:
  capacity: [64 KiB, 256 KiB]
{axes}"""

#: (strategy, mode, hardware, chips, extra axes): every registered strategy
RERUN_CASES = [
    ("layerwise", "training", "edge", 1, ""),
    ("mbs-greedy", "training", "edge", 1, ""),
    ("mbs-optimal", "training", "edge", 1, ""),
    ("mbs-fs", "training", "edge", 1, ""),
    ("mbs-recompute", "training", "edge", 1, ""),
    ("mbs", "training", "edge", 1,
     "  sub_batch: [2, 8]\n  grouping: [{random: 3, seed: 7, max_depth: 4}, stage, greedy]\n"),
    ("fusion", "inference", "edge", 1,
     "  grouping: [{random: 3, seed: 7, max_depth: 4}, stage, optimal]\n"),
    ("occam", "inference", "occam_chip", 2,
     "  grouping: [{random: 3, seed: 7, max_depth: 4}, block, optimal]\n"),
    ("tnpu", "training", "tnpu", 1, ""),
    ("dnpu-like", "training", "tnpu", 1, ""),
    ("dadiannao-like", "training", "tnpu", 1, ""),
]


def test_rerun_cases_cover_every_strategy():
    from cnnmem.model.schedule import strategies

    assert {c[0] for c in RERUN_CASES} == set(strategies())


@pytest.mark.parametrize("strategy, mode, hw, chips, axes", RERUN_CASES,
                         ids=[c[0] for c in RERUN_CASES])
def test_a_result_row_reruns_as_that_exact_schedule(tmp_path, capsys, strategy, mode, hw,
                                                    chips, axes):
    """Each row, turned back into a request (sweep.rerun.request_of_row), re-run through
    `cnnmem schedule` gives the row's value of every metric."""
    from cnnmem.sweep.rerun import request_of_row

    text = RERUN.format(hw=hw, mode=mode, strategy=strategy, chips=chips, axes=axes)
    spec = load_sweep(write(tmp_path, text))
    run_sweep(spec, tmp_path / "out", quiet=True, keep="all")
    df = read_results(tmp_path / "out")
    assert len(df) >= 2
    for _, row in df.iterrows():
        rr = request_of_row(spec, row)
        args = rr.command().split("  #")[0].replace("'", "").split()[1:]
        capsys.readouterr()
        assert run_cli(args + ["--totals", "--format", "json"]) == 0
        totals = json.loads(capsys.readouterr().out)["totals"]
        for metric in engine.METRICS:
            want = float(row[metric]) if row[metric] != "" else float("nan")
            if metric in engine.RATIO_METRICS and mode == "inference":
                assert np.isnan(want) and metric not in totals  # no training bound
                continue
            got = totals.get(metric, "missing")
            assert got != "missing", f"{strategy}: schedule totals lack {metric}"
            assert ((got is None and not np.isfinite(want))
                    or got == pytest.approx(want, rel=1e-12)), (strategy, metric, dict(row))


SWEEP_DIR = Path(__file__).resolve().parents[1] / "sweeps"


@pytest.mark.parametrize("path", sorted(SWEEP_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_builtin_sweep_files_are_valid(path):
    """Every built-in sweep parses, names existing strategies and hardware, and plans."""
    spec = load_sweep(str(path))
    tasks = engine.plan(spec)
    assert tasks and sum(t.n_points for t in tasks) > 0


def test_readme_quickstart_runs_and_reports(tmp_path):
    """The README's main command, end to end."""
    assert run_cli(["sweep", "quickstart", "-o", str(tmp_path / "q"),  # a built-in, by name
                    "--quiet"]) == 0
    assert run_cli(["report", str(tmp_path / "q")]) == 0
    df = read_results(tmp_path / "q")
    assert set(df["strategy"]) == {"layerwise", "mbs-greedy", "mbs-optimal", "mbs"}
    report = (tmp_path / "q" / "report.md").read_text()
    for fig in ("traffic_vs_capacity", "energy_breakdown", "best_schedule_groups"):
        assert (tmp_path / "q" / "figures" / f"{fig}.png").stat().st_size > 1000
        assert f"figures/{fig}.png" in report


def test_progress_bar_counts_evaluated_points(tmp_path, monkeypatch):
    """Strategies that choose their sub-batch return one point per capacity, not one per
    planned sub-batch: the bar's total ends equal to the points evaluated."""
    bars = []
    progress = engine._progress

    def recorder(total, quiet):  # the run's own bar (quiet: the counting stand-in, no tqdm)
        bars.append(progress(total, quiet))
        return bars[-1]

    monkeypatch.setattr(engine, "_progress", recorder)
    text = SMALL.replace("strategies: [layerwise]", "strategies: [layerwise, mbs-greedy, mbs]"
                         ).replace("dram_bandwidth: [10 GB/s, 20 GB/s]", "sub_batch: [1, 4, 8]")
    s = run_sweep(load_sweep(write(tmp_path, text)), tmp_path / "out", quiet=True)
    (bar,) = bars
    assert bar.n == bar.total == s.points == 5 * (1 + 1 + 3)


def test_progress_bar_on_a_terminal_only(tmp_path):
    """On a terminal the sweep draws a tqdm bar on stderr; with --quiet (or stderr not a
    terminal) nothing is drawn and tqdm is not even imported."""
    import fcntl  # POSIX terminals: imported here, not at module level
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios
    import threading

    path = write(tmp_path, SMALL)
    code = ("import sys\nfrom cnnmem.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\nprint('tqdm' in sys.modules)")
    quiet = subprocess.run([sys.executable, "-c", code, "sweep", path, "-o",
                            str(tmp_path / "q"), "--quiet"], capture_output=True, text=True,
                           timeout=120)
    assert quiet.stdout.strip().splitlines()[-1] == "False" and quiet.stderr == ""
    leader, follower = pty.openpty()
    # a terminal of 24 x 100 (a new pseudo-terminal has 0 columns: tqdm would draw nothing)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    chunks: list[bytes] = []

    def read() -> None:  # while the sweep runs: a closed terminal drops what is unread
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc = subprocess.run([sys.executable, "-c", code, "sweep", path, "-o",
                               str(tmp_path / "t")], stdout=subprocess.PIPE, stderr=follower,
                              text=True, timeout=120)
    finally:
        os.close(follower)
        reader.join(10)
        os.close(leader)
    drawn = b"".join(chunks)
    assert proc.stdout.strip().splitlines()[-1] == "True"
    assert b"sweep:" in drawn and b"pt" in drawn  # the bar: "sweep: ... pt/s"
