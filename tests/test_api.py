"""The Python API (cnnmem/__init__.py, cnnmem/api.py): the same numbers as the command line,
unit-named columns, no file written unless asked, InputError with the CLI's one line."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import cnnmem
from cnnmem.cli import cli

REPO = Path(__file__).resolve().parents[1]

#: a column name that carries a unit: bytes, picojoules, seconds (per sample ...), rates,
#: square millimetres, watts
UNIT = re.compile(r"(^|_)(bytes|pj|s|mm2|w)(_|$)|_per_s$")
#: dimensionless numbers: counts and ratios (their names say what they count or compare)
DIMENSIONLESS = {"macs", "groups", "sub_batch", "n_layers", "chips_used", "replicas",
                 "tiled_fallback_groups", "group", "first", "last", "dataflow_over_bound",
                 "dram_over_bound", "recompute_groups", "one_pass_groups", "recompute_macs",
                 "mac_utilization", "conv_unit_utilization", "fc_unit_utilization",
                 "unit_pes", "unit_pes_alone", "layer_passes", "macs_per_sample"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from cnnmem.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=300)


def _numeric_names(names: list[str], values: list[object]) -> list[str]:
    return [n for n, v in zip(names, values, strict=True)
            if isinstance(v, int | float) and not isinstance(v, bool)]


def _assert_unit_named(names: list[str]) -> None:
    bad = [n for n in names if not UNIT.search(n) and n not in DIMENSIONLESS]
    assert not bad, f"columns without a unit: {bad}"


def test_acceptance_one_liner_matches_the_cli(tmp_path):
    code = ("import cnnmem; print(cnnmem.schedule('resnet50', 'wavecore', 'mbs-optimal', "
            "batch=32).totals['dram_bytes'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    cli = _cli("schedule", "resnet50", "--hw", "wavecore", "--strategy", "mbs-optimal",
               "--batch", "32", "--totals", "--format", "csv")
    assert float(r.stdout) == pd.read_csv(io.StringIO(cli.stdout))["dram_bytes"][0]
    assert float(r.stdout) > 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [
    ("resnet50", "wavecore", "mbs-optimal", {"batch": 32}),
    ("alexnet", "tnpu", "tnpu", {"batch": 50}),
    ("vgg16", "occam_chip", "occam", {"chips": 4}),
    ("resnet50", "edge", "mbs", {"batch": 16, "sub_batch": 4, "buffer": "2MiB",
                                 "weight_tile": "channel"}),
])
def test_schedule_totals_and_groups_equal_the_cli(args):
    network, hw, strategy, kw = args
    s = cnnmem.schedule(network, hw, strategy, **kw)
    flags = ["--hw", hw, "--strategy", strategy]
    for k, v in kw.items():
        if k == "weight_tile":
            flags += ["-O", f"{k}={v}"]
        else:
            flags += [f"--{k.replace('_', '-')}", str(v)]
    runner = CliRunner()
    totals = runner.invoke(cli, ["schedule", network, *flags, "--totals", "--format", "csv"])
    groups = runner.invoke(cli, ["schedule", network, *flags, "--format", "csv"])
    assert totals.exit_code == 0 and groups.exit_code == 0, totals.output + groups.output
    cli_totals = pd.read_csv(io.StringIO(totals.output)).iloc[0]
    assert cli_totals["strategy"] == s.strategy == strategy
    assert list(cli_totals.index[1:]) == list(s.totals.index)
    for name, value in s.totals.items():
        if isinstance(value, str):
            assert str(cli_totals[name]) == value
        else:
            assert float(cli_totals[name]) == pytest.approx(float(value), rel=1e-12), name
    cli_groups = pd.read_csv(io.StringIO(groups.output))
    assert list(cli_groups.columns) == list(s.groups.columns)
    assert len(cli_groups) == len(s.groups)
    for col in s.groups.select_dtypes("number").columns:
        assert cli_groups[col].to_numpy() == pytest.approx(s.groups[col].to_numpy(), rel=1e-12)
    _assert_unit_named(_numeric_names(list(s.totals.index), list(s.totals)))
    _assert_unit_named(list(s.groups.select_dtypes("number").columns))
    assert {"dram_bytes", "energy_pj", "latency_s"} <= set(s.totals.index)


def test_timeline_where_the_strategy_has_one(tmp_path):
    from cnnmem.model.schedule import TimelineData

    s = cnnmem.schedule("alexnet", "tnpu", "tnpu", batch=50)
    assert isinstance(s.timeline, TimelineData)
    assert {"start_s", "finish_s"} <= set(s.timeline.intervals.columns)
    assert s.plot_timeline(tmp_path / "t.png").stat().st_size > 1000
    layerwise = cnnmem.schedule("alexnet", "tnpu", "layerwise", batch=50)
    assert layerwise.timeline is None
    with pytest.raises(cnnmem.InputError, match="has no timeline"):
        layerwise.plot_timeline(tmp_path / "none.png")


def test_load_functions_take_names_paths_mappings_and_objects():
    net = cnnmem.load_network("resnet50")
    assert cnnmem.load_network(REPO / "networks" / "resnet50.yaml").total_macs == net.total_macs
    assert cnnmem.load_network(net) is net
    hw = cnnmem.load_hardware("wavecore")
    assert cnnmem.load_hardware(hw) is hw
    mine = cnnmem.load_hardware({"name": "mine", "buffer": "2MiB", "mac_units": 1024,
                                 "clock": "1GHz", "dram_bandwidth": "100GB/s"})
    assert mine.buffer_bytes == 2 * 2**20 and mine.name == "mine"
    s = cnnmem.schedule(net, mine, "layerwise", batch=4)
    assert s.request.hardware == mine and s.request.batch == 4
    assert cnnmem.load_sweep("quickstart").name == "quickstart"


def test_bound_equals_the_cli():
    df = cnnmem.bound("vgg16", "128KiB", batch=1, total=True)
    r = CliRunner().invoke(cli, ["bound", "vgg16", "--buffer", "128KiB", "--format", "csv"])
    assert r.exit_code == 0, r.output
    cli_df = pd.read_csv(io.StringIO(r.output))
    assert list(cli_df.columns) == list(df.columns)
    assert cli_df["dataflow_bytes"].to_numpy() == pytest.approx(df["dataflow_bytes"].to_numpy())
    assert df["layer"].iloc[-1] == "TOTAL"
    per_layer = cnnmem.bound("vgg16", 128 * 1024, passes="all")
    assert set(per_layer["pass"]) == {"forward", "dgrad", "wgrad"}
    _assert_unit_named(list(per_layer.select_dtypes("number").columns))


def test_strategies_table_equals_the_cli():
    df = cnnmem.strategies()
    r = CliRunner().invoke(cli, ["strategies", "--format", "csv"])
    assert list(pd.read_csv(io.StringIO(r.output))["strategy"]) == list(df["strategy"])
    assert {"mbs-optimal", "layerwise", "tnpu", "occam"} <= set(df["strategy"])
    opts = cnnmem.strategies(options=True)
    assert ("occam", "window") in set(zip(opts["strategy"], opts["option"], strict=True))


def test_sweep_without_out_writes_nothing_and_equals_the_files(tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    mem = cnnmem.sweep("quickstart")
    assert list(work.iterdir()) == []  # nothing written
    assert mem.out is None and mem.files == ()
    files = cnnmem.sweep("quickstart", out=tmp_path / "run")
    assert {p.name for p in (tmp_path / "run").iterdir()} == {
        "results.parquet", "pareto.csv", "run.json"}
    pd.testing.assert_frame_equal(mem.results, files.results)
    pd.testing.assert_frame_equal(mem.front, files.front)
    assert (mem.points, mem.feasible_points) == (files.points, files.feasible_points)
    assert len(mem.results) == mem.feasible_points and mem.results["feasible"].all()
    numeric = list(mem.results.select_dtypes("number").columns)
    assert {"capacity_bytes", "dram_bytes", "energy_pj", "latency_s"} <= set(numeric)
    _assert_unit_named(numeric)
    # the front is the CLI's pareto.csv
    r = CliRunner().invoke(cli, ["sweep", "quickstart", "-o", str(tmp_path / "cli"), "--quiet"])
    assert r.exit_code == 0, r.output
    cli_front = pd.read_csv(tmp_path / "cli" / "pareto.csv")
    assert cli_front["dram_bytes"].to_numpy() == pytest.approx(mem.front["dram_bytes"])
    assert list(cli_front.columns) == list(mem.front.columns)


def test_sweep_from_a_mapping_and_keep(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = {"sweep": "api", "networks": ["alexnet"], "hardware": ["wavecore"],
            "mode": "inference", "batch": 1, "strategies": ["layerwise"],
            "objectives": ["dram_bytes", "capacity_bytes"],
            "axes": {"capacity": {"from": "64 KiB", "to": "8 MiB", "steps": 5,
                                  "scale": "log"}}}
    every = cnnmem.sweep(spec, keep="all")
    assert len(every.results) == every.points == 5
    front = cnnmem.sweep(spec, keep="pareto")
    pd.testing.assert_frame_equal(front.results, front.front)
    assert list(tmp_path.iterdir()) == []
    # a single capacity gives the schedule's totals
    one = cnnmem.schedule("alexnet", "wavecore", "layerwise", mode="inference", batch=1,
                          buffer=float(every.results["capacity_bytes"][0]))
    assert every.results["dram_bytes"][0] == pytest.approx(float(one.totals["dram_bytes"]))


def test_sweep_jobs_is_checked_or_passed_through(tmp_path, monkeypatch):
    import inspect

    from cnnmem.sweep.engine import run_sweep

    with pytest.raises(cnnmem.InputError, match="jobs"):
        cnnmem.sweep("quickstart", jobs=0)
    if "jobs" not in inspect.signature(run_sweep).parameters:  # one process only
        with pytest.raises(cnnmem.InputError, match="jobs=2: this sweep engine runs in one"):
            cnnmem.sweep("quickstart", jobs=2)
        return
    monkeypatch.chdir(tmp_path)
    one, two = cnnmem.sweep("quickstart"), cnnmem.sweep("quickstart", jobs=2)
    pd.testing.assert_frame_equal(one.results, two.results)
    pd.testing.assert_frame_equal(one.front, two.front)
    assert list(tmp_path.iterdir()) == []


def test_reproduce_statuses_as_a_dataframe():
    df = cnnmem.reproduce("chen-bound-conv3_1")
    assert list(df["name"]) == ["chen-bound-conv3_1"]
    assert df["status"].iloc[0] in {"PASS", "IDENTITY", "EXPECTED-MISS"}
    r = CliRunner().invoke(cli, ["reproduce", "chen-bound-conv3_1", "--format", "csv"])
    assert pd.read_csv(io.StringIO(r.output))["modeled"][0] == pytest.approx(df["modeled"][0])


@pytest.mark.parametrize("call, cli_args", [
    (lambda: cnnmem.load_network("no_such_net"), ["show", "no_such_net"]),
    (lambda: cnnmem.schedule("resnet50", "no_such_hw", "layerwise"),
     ["schedule", "resnet50", "--hw", "no_such_hw", "--strategy", "layerwise"]),
    (lambda: cnnmem.schedule("resnet50", "wavecore", "no_such_strategy"),
     ["schedule", "resnet50", "--hw", "wavecore", "--strategy", "no_such_strategy"]),
    (lambda: cnnmem.schedule("resnet50", "wavecore", "mbs", buffer="12 parsecs"),
     ["schedule", "resnet50", "--hw", "wavecore", "--strategy", "mbs", "--buffer",
      "12 parsecs"]),
    (lambda: cnnmem.schedule("vgg16", "occam_chip", "occam", window="z"),
     ["schedule", "vgg16", "--hw", "occam_chip", "--strategy", "occam", "-O", "window=z"]),
    (lambda: cnnmem.sweep("no_such_sweep"), ["sweep", "no_such_sweep"]),
    (lambda: cnnmem.reproduce("no_such_scenario"), ["reproduce", "no_such_scenario"]),
])
def test_bad_input_raises_input_error_with_the_cli_line(call, cli_args, tmp_path,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(cnnmem.InputError) as info:
        call()
    r = _cli(*cli_args)
    assert r.returncode == 2
    # the same line; the API names its parameter where the CLI names its option
    assert r.stderr.strip() == f"error: {info.value}".replace("'buffer'", "'--buffer'")
    assert "\n" not in str(info.value)


def test_bad_counts_raise_input_error():
    with pytest.raises(cnnmem.InputError, match="field 'batch'"):
        cnnmem.schedule("resnet50", "wavecore", "layerwise", batch=0)
    with pytest.raises(cnnmem.InputError, match="field 'chips'"):
        cnnmem.schedule("vgg16", "occam_chip", "occam", chips=2.5)
    with pytest.raises(cnnmem.InputError, match="field 'pass'"):
        cnnmem.bound("vgg16", "1MiB", passes="sideways")
    with pytest.raises(cnnmem.InputError, match="field 'keep'"):
        cnnmem.sweep("quickstart", keep="some")


def test_api_names_survive_submodule_imports():
    import cnnmem.reproduce  # noqa: F401  (rebinds the attribute without the guard)
    import cnnmem.sweep.engine  # noqa: F401
    from cnnmem import api

    assert cnnmem.sweep is api.sweep and cnnmem.reproduce is api.reproduce
    assert set(cnnmem.__all__) >= {"load_network", "load_hardware", "schedule", "bound",
                                   "sweep", "reproduce", "strategies", "InputError"}


def test_import_cnnmem_is_light():
    code = ("import sys, cnnmem\n"
            "print([m for m in ('numpy', 'pandas', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.strip() == "[]"


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "less DRAM traffic" in out and "capacity_bytes" in out
    assert list(tmp_path.iterdir()) == []
