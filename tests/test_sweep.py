"""Sweep files, the engine's outputs (determinism, atomicity) and the report."""

import io
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
from cnnmem.sweep.output import csv_rows
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


def test_small_sweep_outputs(tmp_path):
    spec = load_sweep(write(tmp_path, SMALL))
    s = run_sweep(spec, tmp_path / "out", quiet=True)
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert s.points == len(df) == 10
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


def test_deterministic_bytes(tmp_path):
    spec_file = write(tmp_path, SMALL)
    assert run_cli(["sweep", spec_file, "-o", str(tmp_path / "a"), "--quiet"]) == 0
    assert run_cli(["sweep", spec_file, "-o", str(tmp_path / "b"), "--quiet",
                    "--chunk-points", "2"]) == 0
    for f in ("results.csv", "pareto.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_atomic_on_error(tmp_path, monkeypatch):
    spec = load_sweep(write(tmp_path, SMALL))
    calls = {"n": 0}
    real = engine._chunk_csv

    def failing(spec, ch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(spec, ch)

    monkeypatch.setattr(engine, "_chunk_csv", failing)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, quiet=True, chunk_points=1)
    assert not out.exists()  # created by the run, removed with its temp files
    out.mkdir()
    (out / "results.csv").write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        calls["n"] = 0
        run_sweep(spec, out, quiet=True, chunk_points=1)
    assert sorted(p.name for p in out.iterdir()) == ["results.csv"]
    assert (out / "results.csv").read_text() == "old\n"


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


def test_csv_numbers_round_trip():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.random(500) * 10.0 ** rng.integers(-12, 18, 500),
                        rng.integers(0, 10**12, 100).astype(float), [0, -3, np.inf]])
    text = csv_rows([("num", x), ("text", np.zeros(x.size, int), ["a,b"])], x.size)
    back = pd.read_csv(io.BytesIO(text), header=None)
    np.testing.assert_allclose(back[0].to_numpy(float), x, rtol=1e-14)
    assert (back[1] == "a,b").all()


def test_mbs_sweep_and_report(tmp_path):
    from cnnmem.model.schedule import sweep_evaluators

    if "mbs" not in sweep_evaluators():
        pytest.skip("mbs not available")
    text = SMALL.replace("strategies: [layerwise]",
                         "strategies: [layerwise, mbs-greedy, mbs]").replace(
        "dram_bandwidth: [10 GB/s, 20 GB/s]", "sub_batch: [1, 4, 8]\n  grouping: [block, all]")
    out = tmp_path / "out"
    assert run_cli(["sweep", write(tmp_path, text), "-o", str(out), "--quiet"]) == 0
    df = pd.read_csv(out / "results.csv", keep_default_na=False, na_values=[""])
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
    run_sweep(spec, tmp_path / "out", quiet=True)
    df = pd.read_csv(tmp_path / "out" / "results.csv", keep_default_na=False,
                     dtype={"cuts": str, "grouping": str})
    assert len(df) >= 2
    for _, row in df.iterrows():
        rr = request_of_row(spec, row)
        args = rr.command().split("  #")[0].replace("'", "").split()[1:]
        capsys.readouterr()
        assert run_cli(args + ["--totals", "--format", "json"]) == 0
        totals = json.loads(capsys.readouterr().out)["totals"]
        for metric in engine.METRICS:
            want = float(row[metric]) if row[metric] != "" else float("nan")
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
    assert run_cli(["sweep", str(SWEEP_DIR / "quickstart.yaml"), "-o", str(tmp_path / "q"),
                    "--quiet"]) == 0
    assert run_cli(["report", str(tmp_path / "q")]) == 0
    df = pd.read_csv(tmp_path / "q" / "results.csv")
    assert set(df["strategy"]) == {"layerwise", "mbs-greedy", "mbs-optimal", "mbs"}
    report = (tmp_path / "q" / "report.md").read_text()
    for fig in ("traffic_vs_capacity", "energy_breakdown", "best_schedule_groups"):
        assert (tmp_path / "q" / "figures" / f"{fig}.png").stat().st_size > 1000
        assert f"figures/{fig}.png" in report
