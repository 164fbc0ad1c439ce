"""The strategy contract (issue #11): declared StrategySpecs, checked options and axes, one
row -> request function, and regression tests for the defects the issue lists."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnnmem.cli import main
from cnnmem.errors import InputError
from cnnmem.hardware import load_hardware
from cnnmem.model import rollup
from cnnmem.model import schedule as sched_mod
from cnnmem.model.cost import layer_pass_costs
from cnnmem.model.result import GroupBlock, StrategyResult
from cnnmem.model.schedule import (
    GroupingRule,
    OptionSpec,
    StrategySpec,
    run_strategy,
    strategy_specs,
)
from cnnmem.sweep.engine import run_sweep
from cnnmem.sweep.spec import load_sweep
from cnnmem.workload.library import load_network

ROOT = Path(__file__).resolve().parents[1]


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])


# ------------------------------------------------------------------------------------------
# The defects of issue #11, tried as a new user would


def test_fusion_takes_block_grouping(capsys):
    """Was a TypeError traceback (exit 1); block is a structural grouping fusion now takes."""
    code, out, err = cli(["schedule", "alexnet", "--hw", "occam_chip", "--strategy", "fusion",
                          "-O", "grouping=block", "--totals", "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["totals"]["dram_bytes"] > 0


def test_occam_rejects_greedy_grouping(capsys):
    code, _, err = cli(["schedule", "alexnet", "--hw", "occam_chip", "--strategy", "occam",
                        "-O", "grouping=greedy"], capsys)
    one_line_error(code, err, "greedy", "occam")


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return str(p)


SWEEP = """\
sweep: t
networks: [lenet5]
hardware: [{hw}]
mode: {mode}
batch: {batch}
strategies: [{strategies}]
axes:
  capacity: [64 KiB, 1 MiB]
{axes}"""


def test_sweep_greedy_grouping_on_fusion_is_an_input_error(tmp_path, capsys):
    path = write(tmp_path, SWEEP.format(hw="edge", mode="inference", batch=1,
                                        strategies="fusion", axes="  grouping: [greedy]\n"))
    code, _, err = cli(["sweep", path, "-o", str(tmp_path / "o"), "--quiet"], capsys)
    one_line_error(code, err, "fusion", "greedy", "axes.grouping")
    assert not (tmp_path / "o" / "results.csv").exists()


def test_occam_sweep_evaluates_every_grouping_of_the_axis(tmp_path):
    spec = load_sweep(write(tmp_path, SWEEP.format(
        hw="occam_chip", mode="inference", batch=1, strategies="occam",
        axes="  grouping: [layer, all, optimal]\n")))
    run_sweep(spec, tmp_path / "o", quiet=True, keep="all", csv=True)
    df = pd.read_csv(tmp_path / "o" / "results.csv", keep_default_na=False,
                     dtype={"cuts": str})
    assert set(df["grouping"]) == {"layer", "all", "optimal"}
    assert set(df.loc[df["grouping"] == "all", "cuts"]) == {""}
    layer_cuts = set(df.loc[df["grouping"] == "layer", "cuts"])  # every unit alone (a unit
    assert len(layer_cuts) == 1 and "" not in layer_cuts  # folds a conv with its relu/pool)


@pytest.mark.parametrize("strategy", ["fusion", "occam"])
def test_sub_batch_axis_no_strategy_takes_is_an_error(tmp_path, capsys, strategy):
    path = write(tmp_path, SWEEP.format(hw="occam_chip", mode="inference", batch=4,
                                        strategies=strategy, axes="  sub_batch: [1, 2]\n"))
    code, _, err = cli(["sweep", path, "-o", str(tmp_path / "o"), "--quiet"], capsys)
    one_line_error(code, err, "sub-batch", "axes.sub_batch")


@pytest.mark.parametrize("strategy", ["fusion", "occam"])
def test_sub_batch_on_fusion_and_occam_schedule_is_an_error(capsys, strategy):
    code, _, err = cli(["schedule", "lenet5", "--hw", "occam_chip", "--strategy", strategy,
                        "--batch", "4", "--sub-batch", "2"], capsys)
    one_line_error(code, err, strategy, "sub-batch")


@pytest.mark.parametrize("extra, words", [
    (["-O", "bogus=1"], ["bogus", "layerwise"]),
    (["--sub-batch", "2"], ["sub-batch", "layerwise"]),
    (["--chips", "3"], ["chips", "layerwise"]),
    (["-O", "bogus=1", "--sub-batch", "2", "--chips", "3"], ["layerwise"]),
])
def test_layerwise_rejects_what_it_does_not_take(capsys, extra, words):
    code, _, err = cli(["schedule", "lenet5", "--hw", "edge", "--strategy", "layerwise"]
                       + extra, capsys)
    one_line_error(code, err, *words)


@pytest.mark.parametrize("strategy", ["fusion", "occam", "mbs"])
@pytest.mark.parametrize("cuts, words", [("-1", ["outside"]), ("99", ["outside"]),
                                         ("5,3", ["increasing"]), ("3,3", ["increasing"]),
                                         ("x", ["layer indices"])])
def test_bad_cuts_are_rejected_by_every_strategy_taking_cuts(capsys, strategy, cuts, words):
    mode = "training" if strategy == "mbs" else "inference"
    code, _, err = cli(["schedule", "lenet5", "--hw", "occam_chip", "--strategy", strategy,
                        "--mode", mode, "-O", f"cuts={cuts}"], capsys)
    one_line_error(code, err, "cuts", *words)


def test_tnpu_register_energy_uses_the_cost_core_rule():
    """Register energy = MACs x operand bytes x pJ/B (cost.energy_latency), not MACs x pJ/B:
    with MAC energy 0 the TNPU compute energy equals the core's, per sample x batch."""
    hw = load_hardware("tnpu").replace(register_bytes=65536, register_energy_pj_per_byte=1.0,
                                       mac_energy_pj=0.0)
    net = load_network("lenet5")
    _, res = run_strategy("tnpu", net, hw, batch=4)
    core = layer_pass_costs(net, hw, [1], None, training=True).energy_compute_pj.sum()
    assert res.totals["energy_compute_pj"] == pytest.approx(4 * core, rel=1e-12)
    # 4-byte operands: two per MAC, 8 bytes: the old rule was 8x lower
    assert res.totals["energy_compute_pj"] == pytest.approx(8 * res.totals["macs"], rel=1e-12)


def test_report_best_schedule_total_equals_the_rows(tmp_path):
    """The report re-runs the lowest-energy row with its grouping/cuts/sub-batch; the plotted
    schedule's total DRAM traffic is the row's."""
    from cnnmem.report.runreport import _scan, best_schedule

    spec = load_sweep(write(tmp_path, SWEEP.format(
        hw="edge", mode="training", batch=8, strategies="mbs",
        axes="  sub_batch: [2, 8]\n  grouping: [layer, block, {random: 4, seed: 3}]\n")))
    run_sweep(spec, tmp_path / "o", quiet=True, keep="all", csv=True)
    _, energy = _scan(tmp_path / "o" / "results.csv")
    df = pd.read_csv(tmp_path / "o" / "results.csv", keep_default_na=False, na_values=[""],
                     dtype={"cuts": str, "grouping": str})
    for _, row in list(energy.iterrows()) + list(df.iterrows()):
        groups, _, totals = best_schedule(spec, row)
        assert groups["dram_bytes"].sum() == pytest.approx(float(row["dram_bytes"]), rel=1e-9)
        assert totals["dram_bytes"] == pytest.approx(float(row["dram_bytes"]), rel=1e-12)
        assert totals["energy_pj"] == pytest.approx(float(row["energy_pj"]), rel=1e-12)


def _imports(path: Path) -> set[str]:
    mods: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module)
    return mods


def test_model_imports_no_report_sweep_or_commands():
    """No package cycle model -> report -> sweep -> model: model/ is the bottom layer."""
    bad = []
    for path in sorted((ROOT / "cnnmem" / "model").rglob("*.py")):
        for mod in _imports(path):
            if mod.split(".")[:2] in (["cnnmem", "report"], ["cnnmem", "sweep"],
                                      ["cnnmem", "commands"]):
                bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not bad, bad


# ------------------------------------------------------------------------------------------
# Every option value each strategy advertises, through both schedule and sweep

HW_OF = {"tnpu": "tnpu", "dnpu-like": "tnpu", "dadiannao-like": "tnpu", "occam": "occam_chip"}


def _option_cases() -> list[tuple[str, str, object]]:
    out = []
    for name, spec in strategy_specs().items():
        for opt in spec.options:
            for value in opt.values():
                out.append((name, opt.name, value))
        for policy in spec.grouping.policies:
            out.append((name, "grouping", policy))
    return out


@pytest.mark.parametrize("strategy, key, value", _option_cases(),
                         ids=[f"{s}-{k}={v}" for s, k, v in _option_cases()])
def test_every_advertised_option_value_runs_in_schedule_and_sweep(tmp_path, capsys, strategy,
                                                                   key, value):
    spec = strategy_specs()[strategy]
    mode = spec.modes[0]
    hw = HW_OF.get(strategy, "edge")
    code, out, err = cli(["schedule", "lenet5", "--hw", hw, "--strategy", strategy, "--mode",
                          mode, "--batch", "4", "--buffer", "256KiB", "-O", f"{key}={value}",
                          "--totals", "--format", "json"]
                         + (["--chips", "1"] if spec.chips else []), capsys)  # as the sweep
    assert code == 0, err
    sched = json.loads(out)["totals"]
    axes = (f"  grouping: [{value}]\n" if key == "grouping" else "")
    text = SWEEP.format(hw=hw, mode=mode, batch=4, strategies=strategy, axes=axes).replace(
        "[64 KiB, 1 MiB]", "[256 KiB]")
    if key != "grouping":
        text += f"options: {{{key}: {value}}}\n"
    spec_s = load_sweep(write(tmp_path, text))
    run_sweep(spec_s, tmp_path / "o", quiet=True, keep="all", csv=True)
    df = pd.read_csv(tmp_path / "o" / "results.csv")
    assert len(df) == 1
    assert_row_is_schedule(df.iloc[0], sched)


def assert_row_is_schedule(row: pd.Series, totals: dict) -> None:
    """Every metric of a sweep row equals the schedule run of its point (issue #11: both are
    the one roll-up of the strategy's one result); rows are written to 15 digits."""
    from cnnmem.sweep.engine import METRICS

    for metric in METRICS:
        got, want = float(row[metric]), totals.get(metric)
        if want is None:  # JSON null: inf/nan in the schedule (infeasible, or no ratio)
            assert not np.isfinite(got), (metric, got)
            continue
        if metric == "dram_over_bound" and np.isnan(got):
            continue  # no training bound in inference sweeps
        assert got == pytest.approx(float(want), rel=1e-12, abs=0.0), (metric, got, want)


def test_an_option_no_listed_strategy_takes_is_a_sweep_error(tmp_path, capsys):
    text = SWEEP.format(hw="edge", mode="training", batch=4, strategies="layerwise, mbs",
                        axes="") + "options: {variant: reuse}\n"
    code, _, err = cli(["sweep", write(tmp_path, text), "-o", str(tmp_path / "o")], capsys)
    one_line_error(code, err, "variant", "options.variant")


def test_chips_no_listed_strategy_takes_is_a_sweep_error(tmp_path, capsys):
    text = SWEEP.format(hw="edge", mode="training", batch=4, strategies="mbs",
                        axes="").replace("batch: 4\n", "batch: 4\nchips: 3\n")
    code, _, err = cli(["sweep", write(tmp_path, text), "-o", str(tmp_path / "o")], capsys)
    one_line_error(code, err, "chips")


def test_strategies_command_shows_the_declared_contract(capsys):
    code, out, _ = cli(["strategies", "--format", "json"], capsys)
    assert code == 0
    rows = {r["strategy"]: r for r in json.loads(out)}
    assert set(rows) == set(strategy_specs())
    assert "weight_tile=layer|channel" in rows["mbs"]["options"]
    assert rows["occam"]["chips"] == "yes" and rows["layerwise"]["sub_batch"] == "whole"
    assert "cuts" in rows["fusion"]["grouping"]


def test_option_spec_parse():
    o = OptionSpec("x", "a", ("a", "b"))
    assert o.parse("B", "s") == "b"
    with pytest.raises(InputError, match="-O x"):
        o.parse("c", "s")
    n = OptionSpec("n", 1, minimum=1)
    assert n.parse("3", "s") == 3
    with pytest.raises(InputError, match=">= 1"):
        n.parse("0", "s")


# ------------------------------------------------------------------------------------------
# A toy strategy added in one place (this test module): schedule, sweep and validation work


@pytest.fixture
def toy_strategy():
    """A strategy added in this one module: a spec and one evaluator returning a
    StrategyResult (every layer a group, reading its weights ``scale`` times)."""
    spec = StrategySpec("toy", ("inference",), "a toy: every layer's weights read once",
                        options=(OptionSpec("scale", 1, minimum=1, help="multiplies traffic"),),
                        grouping=GroupingRule(("layer", "all"), cuts=True, default="all"),
                        latency="memory time")

    @sched_mod.register(spec)
    def evaluate(req):
        net, hw = req.network, req.hardware
        caps = np.atleast_1d(np.asarray(req.capacity_bytes, float))
        dram = (net.weight_elems * hw.bytes_per_weight * req.options["scale"]).astype(float)
        zero = np.zeros((len(net), 1, 1))
        # energy and times of each group (layer) at each capacity: the single model
        costs = rollup.energy_latency(hw, rollup.GroupCosts(
            dram_bytes=dram[:, None, None], macs=zero, operand_bytes_per_mac=0.0,
            capacity_bytes=caps[None, :, None]))
        block = GroupBlock({**costs, "dram_bytes": dram[:, None, None], "macs": zero,
                            "buffer_need_bytes": zero},
                           labels=lambda i, _: {"layers": net.layers[i].name})
        return StrategyResult("toy", (caps.size, 1), lambda: (block,),
                              total_keys=("dram_bytes", "energy_pj", "latency_s"),
                              columns=("group", "layers", "dram_bytes", "energy_pj"),
                              cuts=req.grouping)

    yield spec
    for reg in (sched_mod._REGISTRY, sched_mod._SPECS):
        reg.pop("toy", None)


def test_a_toy_strategy_touches_one_module(toy_strategy, tmp_path, capsys):
    code, out, err = cli(["schedule", "lenet5", "--hw", "edge", "--strategy", "toy", "-O",
                          "scale=2", "--totals", "--format", "json"], capsys)
    assert code == 0, err
    want = json.loads(out)["totals"]["dram_bytes"]
    code, _, err = cli(["schedule", "lenet5", "--hw", "edge", "--strategy", "toy", "-O",
                        "bogus=2"], capsys)
    one_line_error(code, err, "bogus", "toy")
    code, table, err = cli(["schedule", "lenet5", "--hw", "edge", "--strategy", "toy"], capsys)
    assert code == 0 and "conv1" in table, err
    text = SWEEP.format(hw="edge", mode="inference", batch=1, strategies="toy",
                        axes="  grouping: [layer]\n") + "options: {scale: 2}\n"
    run_sweep(load_sweep(write(tmp_path, text)), tmp_path / "o", quiet=True, keep="all", csv=True)
    df = pd.read_csv(tmp_path / "o" / "results.csv")
    assert (df["dram_bytes"] == want).all() and len(df) == 2
    assert list(df["energy_pj"]) == pytest.approx([json.loads(out)["totals"]["energy_pj"]] * 2,
                                                  rel=1e-12)
    code, out, _ = cli(["strategies"], capsys)
    assert "toy" in out


# ------------------------------------------------------------------------------------------
# CLI start-up: commands are imported lazily (timing: benchmarks/cli_startup.py)


def test_cli_command_table_matches_the_command_modules():
    import importlib

    from cnnmem.cli import COMMAND_MODULES

    for name, (module, _) in COMMAND_MODULES.items():
        mod = importlib.import_module(f"cnnmem.commands.{module}")
        assert name in {c.name for c in mod.COMMANDS}
    import pkgutil

    import cnnmem.commands as pkg

    every = set()
    for info in pkgutil.iter_modules(pkg.__path__):
        mod = importlib.import_module(f"cnnmem.commands.{info.name}")
        every |= {c.name for c in getattr(mod, "COMMANDS", [])}
    assert every == set(COMMAND_MODULES)


def test_help_and_version_import_no_numpy_pandas_or_matplotlib():
    import subprocess
    import sys

    code = ("import sys\nfrom cnnmem.cli import main\n"
            "for flag in ('--help', '--version'):\n"
            "    try:\n        main([flag])\n    except SystemExit:\n        pass\n"
            "heavy = [m for m in ('numpy', 'pandas', 'matplotlib') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "HEAVY []" in out, out


def test_readme_strategy_table_lists_every_declared_option():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.replace("\\|", "/").split("|")]
        if len(cells) > 4 and cells[1].startswith("`"):
            for name in cells[1].replace("`", "").split(","):
                rows[name.strip()] = cells[-2]
    for name, spec in strategy_specs().items():
        row = rows[name]
        for opt in spec.option_names:
            assert opt in row or "as `tnpu`" in row, (name, opt, row)
        if spec.grouping.takes:
            assert "grouping" in row, (name, row)


# ------------------------------------------------------------------------------------------
# The one roll-up (cnnmem/model/result.py)


def _two_point_result(**extra):
    """Two groups over 2 capacities x 1: group 1 exists only at the second capacity."""
    from cnnmem.model.result import StrategyResult

    costs = {"dram_bytes": np.array([[[1.0], [2.0]], [[10.0], [20.0]]]),
             "energy_dram_pj": np.array([[[1.0], [1.0]], [[5.0], [5.0]]]),
             "energy_buffer_pj": np.zeros((2, 2, 1)), "energy_compute_pj": np.zeros((2, 2, 1)),
             "energy_static_pj": np.zeros((2, 2, 1)),
             "latency_s": np.ones((2, 2, 1)), "compute_s": np.ones((2, 2, 1)),
             "memory_s": np.zeros((2, 2, 1)), "macs": np.ones((2, 2, 1)),
             "buffer_need_bytes": np.array([[[3.0], [3.0]], [[7.0], [9.0]]])}
    present = np.array([[[True], [True]], [[False], [True]]])
    block = GroupBlock(costs, present, labels=lambda i, v: {"name": f"g{i}"})
    return StrategyResult("toy", (2, 1), lambda: (block,),
                          total_keys=("dram_bytes", "energy_pj", "buffer_need_bytes", "groups"),
                          columns=("group", "name", "dram_bytes", "energy_pj"), **extra)


def test_roll_up_sums_only_the_groups_a_point_has():
    from cnnmem.model.result import roll_up, to_points, to_schedule

    r = roll_up(_two_point_result()).totals
    assert r["dram_bytes"].ravel().tolist() == [1.0, 22.0]
    assert r["energy_pj"].ravel().tolist() == [1.0, 6.0]
    assert r["buffer_need_bytes"].ravel().tolist() == [3.0, 9.0]
    assert r["groups"].ravel().tolist() == [1, 2]
    sched = to_schedule(_two_point_result())  # point (0, 0): group 0 only
    assert sched.totals == {"dram_bytes": 1.0, "energy_pj": 1.0, "buffer_need_bytes": 3.0,
                            "groups": 1}
    assert sched.groups.to_dict("records") == [{"group": 0, "name": "g0", "dram_bytes": 1.0,
                                                "energy_pj": 1.0}]
    pts = to_points(_two_point_result(derive=lambda t: {"latency_s": 2 * t["latency_s"]}))
    assert pts.dram_bytes.shape == (2, 1) and pts.latency_s.ravel().tolist() == [2.0, 4.0]


def test_point_totals_replace_group_sums():
    from cnnmem.model.result import to_points

    pts = to_points(_two_point_result(totals={"latency_s": np.array([[5.0], [6.0]])}))
    assert pts.latency_s.ravel().tolist() == [5.0, 6.0]
    assert pts.compute_s.ravel().tolist() == [1.0, 2.0]  # still the sum of the groups
