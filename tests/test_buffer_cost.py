"""The buffer cost model in the hardware file and the single roll-up (issues #14, #11 item 3):
a constant-cost file gives the golden numbers, capacity-dependent costs reach every strategy
the same way in `schedule` and `sweep`, file:line:field errors, area columns, objectives."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnnmem.errors import InputError
from cnnmem.hardware import load_hardware
from cnnmem.hardware.spec import HW_DIR, parse_hardware
from cnnmem.hardware.techmodel import SramBufferCost
from cnnmem.model import rollup
from cnnmem.model.schedule import run_strategy
from cnnmem.sweep.engine import METRICS, run_sweep
from cnnmem.sweep.spec import load_sweep
from cnnmem.workload.library import load_network
from cnnmem.yamlio import load_yaml_text

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = json.loads((ROOT / "tests" / "data" / "golden_totals.json").read_text())["cases"]


def _flat_table_file(tmp_path: Path, name: str) -> Path:
    """Preset ``name`` with its constant buffer_energy given as a one-row table (the
    capacity-dependent code path with a cost that does not depend on the capacity)."""
    text = (HW_DIR / f"{name}.yaml").read_text()
    hw = load_hardware(name)
    lines = [ln for ln in text.splitlines() if not ln.startswith("buffer_energy:")]
    lines.append(f"buffer_cost: {{table: [{{capacity: 1 KiB, energy: "
                 f"{hw.buffer_energy_pj_per_byte!r} pJ/B, leakage: 0 W, area: 0}}]}}")
    path = tmp_path / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _golden_cases(hw_name: str, limit: int) -> list[tuple[str, dict]]:
    cases = [(k, v) for k, v in GOLDEN.items() if k.split("|")[2] == hw_name
             and "resnet50" not in k and "alexnet" not in k]
    return cases[:limit]


def _run_case(key: str, hw) -> dict:
    strategy, mode, _, net, cap, batch, chips, sub, opts = key.split("|")
    options = dict(o.split("=") for o in opts.split(",") if o)
    _, res = run_strategy(strategy, load_network(net), hw, mode=mode,
                          batch=int(batch.split("=")[1]),
                          buffer_bytes=float(cap.split("=")[1]),
                          chips=None if chips == "chips=None" else int(chips.split("=")[1]),
                          sub_batch=None if sub == "sub=None" else int(sub.split("=")[1]),
                          options=options)
    return res.totals


@pytest.mark.parametrize("hw_name", ["edge", "wavecore", "occam_chip"])
def test_a_constant_cost_table_gives_the_golden_numbers(tmp_path, hw_name):
    """The numbers of the snapshot taken before the cost model (not this code against
    itself): every strategy of the snapshot on that preset, through the table code path."""
    hw = load_hardware(_flat_table_file(tmp_path, hw_name))
    assert hw.buffer_cost is not None
    cases = _golden_cases(hw_name, 12)
    assert cases
    for key, want in cases:
        got = _run_case(key, hw)
        for metric, value in want.items():
            if isinstance(value, float):
                assert math.isclose(float(got[metric]), value, rel_tol=1e-12) or (
                    float(got[metric]) == value), (key, metric, got[metric], value)


def test_the_roll_up_static_energy_is_static_power_plus_leakage_times_latency():
    hw = load_hardware("wavecore_sram").replace(static_power_w=0.5)
    _, res = run_strategy("layerwise", load_network("lenet5"), hw, batch=4)
    t = res.totals
    leak = float(hw.buffer_cost.leakage_w(hw.buffer_bytes))
    assert leak > 0 and t["buffer_leakage_w"] == pytest.approx(leak)
    assert t["energy_static_pj"] == pytest.approx((0.5 + leak) * t["latency_s"] * 1e12,
                                                   rel=1e-12)
    assert t["area_mm2"] == pytest.approx(t["area_buffer_mm2"] + t["area_array_mm2"])
    assert t["area_array_mm2"] == pytest.approx(hw.mac_units * 5824e-6)


@pytest.mark.parametrize("strategy, mode", [("layerwise", "training"),
                                            ("mbs-optimal", "training"),
                                            ("fusion", "inference"), ("tnpu", "training")])
def test_the_sram_model_equals_a_constant_at_the_capacity_in_every_strategy(strategy, mode):
    """At capacity C every strategy's energy with the SRAM model equals its energy on a
    constant-cost chip of pJ/B = e(C) and static power = leakage(C): the model reaches every
    strategy through the one roll-up, with the capacity of the point."""
    net = load_network("lenet5")
    hw = load_hardware("wavecore_sram").replace(mac_units=1024, array_rows=0, array_cols=0,
                                               conv_mac_units=768, fc_mac_units=256)
    for cap in (256 * 1024, 4 << 20):
        e, leak = (float(hw.buffer_cost.energy_pj_per_byte(cap)),
                   float(hw.buffer_cost.leakage_w(cap)))
        flat = hw.replace(buffer_cost=None, buffer_energy_pj_per_byte=e, static_power_w=leak)
        _, a = run_strategy(strategy, net, hw, mode=mode, batch=4, buffer_bytes=cap)
        _, b = run_strategy(strategy, net, flat, mode=mode, batch=4, buffer_bytes=cap)
        for metric in ("energy_buffer_pj", "energy_static_pj", "energy_pj", "dram_bytes"):
            assert a.totals[metric] == pytest.approx(b.totals[metric], rel=1e-12), metric
        assert a.totals["energy_buffer_pj"] > 0


SWEEP = """\
sweep: t
networks: [lenet5]
hardware: [{hw}]
mode: {mode}
batch: 4
strategies: [{strategy}]
axes:
  capacity: [64 KiB, 1 MiB, 8 MiB]
{axes}"""


@pytest.mark.parametrize("strategy, mode, axes", [
    ("layerwise", "training", ""),
    ("mbs-optimal", "training", ""),
    ("mbs", "training", "  sub_batch: [1, 4]\n  grouping: [block]\n"),
    ("fusion", "inference", ""),
    ("occam", "inference", ""),
    ("tnpu", "training", ""),
])
def test_sweep_rows_equal_schedule_runs_with_a_capacity_dependent_cost(tmp_path, strategy,
                                                                       mode, axes):
    """Every metric, energy parts and area included, with the SRAM model (buffer pJ/B and
    leakage vary along the sweep's capacity axis; MBS's fast path applies them after its sum
    over groups)."""
    hw_path = tmp_path / "hw.yaml"
    text = (HW_DIR / "wavecore_sram.yaml").read_text().replace(
        "static_power: 0 W", "static_power: 0.2 W")
    if strategy == "tnpu":
        text = text.replace("array: [128, 128]", "conv_mac_units: 24576\nfc_mac_units: 8192")
    hw_path.write_text(text)
    sweep = tmp_path / "s.yaml"
    sweep.write_text(SWEEP.format(hw=hw_path, mode=mode, strategy=strategy, axes=axes))
    spec = load_sweep(str(sweep))
    run_sweep(spec, tmp_path / "o", quiet=True, keep="all", csv=True)
    df = pd.read_csv(tmp_path / "o" / "results.csv", keep_default_na=False, na_values=[""])
    hw = load_hardware(hw_path)
    net = load_network("lenet5")
    checked = 0
    for _, row in df.iterrows():
        sub = None if pd.isna(row["sub_batch"]) or strategy != "mbs" else int(row["sub_batch"])
        grouping = "block" if strategy == "mbs" else None
        _, res = run_strategy(strategy, net, hw, mode=mode, batch=4,
                              buffer_bytes=float(row["capacity_bytes"]), sub_batch=sub,
                              grouping=grouping, chips=1 if strategy == "occam" else None)
        for metric in METRICS:  # every metric of a row (issue #11)
            if metric not in res.totals:  # no training bound in inference
                assert mode == "inference" and np.isnan(float(row[metric])), metric
                continue
            got, want = float(row[metric]), float(res.totals[metric])
            assert (got == want) or math.isclose(got, want, rel_tol=1e-12), (
                strategy, row["capacity_bytes"], metric, got, want)
        checked += 1
    assert checked == len(df) >= 3
    assert df["area_mm2"].is_monotonic_increasing
    assert df.groupby("capacity_bytes")["energy_static_pj"].min().gt(0).all()


def _hw_error(text: str) -> InputError:
    base = ("buffer: 1 MiB\nmac_units: 64\nclock: 1 GHz\ndram_bandwidth: 10 GB/s\n")
    with pytest.raises(InputError) as exc:
        parse_hardware(load_yaml_text(base + text, file="h.yaml"), file="h.yaml")
    return exc.value


@pytest.mark.parametrize("text, field, line, words", [
    ("buffer_energy: 1 pJ/B\nbuffer_cost: sram\n", "buffer_cost", 6, "not both"),
    ("buffer_cost: {model: sram, bank: -1 MiB}\n", "buffer_cost.bank", 5, "positive"),
    ("buffer_cost: {model: sram, banks: 4}\n", "buffer_cost.banks", 5, "unknown key"),
    ("buffer_cost: dram\n", "buffer_cost", 5, "expected constant, sram"),
    ("buffer_cost: {table: [{capacity: 2 MiB, energy: 2 pJ/B, leakage: 0 W, area: 1},\n"
     "  {capacity: 1 MiB, energy: 3 pJ/B, leakage: 0 W, area: 2}]}\n",
     "buffer_cost.table.capacity", 5, "strictly increasing"),
    ("buffer_cost: {table: [{capacity: 1 MiB, energy: 2 pJ}]}\n",
     "buffer_cost.table[0]", 5, "exactly capacity"),
    ("mac_precision: fp64\n", "mac_precision", 5, "must be"),
    ("mac_precision: fp16\nmac_energy: 1 pJ\n", "mac_precision", 5, "not both"),
    ("dram_technology: hbm2\ndram_energy: 3 pJ/B\n", "dram_technology", 5, "not both"),
    ("technology: {node_nm: 3}\nbuffer_cost: sram\n", "technology.node_nm", 5, ""),
])
def test_cost_model_field_errors_name_file_line_and_field(text, field, line, words):
    err = _hw_error(text)
    assert err.file == "h.yaml" and err.field == field and err.line == line, (
        err.file, err.line, err.field, err.message)
    assert words in err.message


def test_cost_model_fields_set_energy_area_and_dram_from_one_place():
    hw = load_hardware("wavecore_sram")
    assert hw.mac_energy_pj == pytest.approx(2.0)  # Horowitz fp16 mul 1.1 + fp32 add 0.9
    assert hw.mac_area_um2 == pytest.approx(1640 + 4184)
    assert hw.dram_energy_pj_per_byte == pytest.approx(3.9 * 8)
    assert float(rollup.buffer_pj_per_byte(hw, 1 << 20)) == pytest.approx(
        float(SramBufferCost().energy_pj_per_byte(1 << 20)))
    assert hash(hw) == hash(load_hardware("wavecore_sram"))  # stays cacheable


def test_default_objectives_take_area_when_the_hardware_models_it(tmp_path):
    for hw, want in (("wavecore_sram", "area_mm2"), ("wavecore", "capacity_bytes")):
        sweep = tmp_path / f"{hw}.yaml"
        sweep.write_text(SWEEP.format(hw=hw, mode="training", strategy="layerwise", axes=""))
        spec = load_sweep(str(sweep))
        assert spec.objectives == ("dram_bytes", "energy_pj", "latency_s", want)
    sweep.write_text(SWEEP.format(hw="wavecore", mode="training", strategy="layerwise",
                                  axes="") + "objectives: [dram_bytes, area]\n")
    assert load_sweep(str(sweep)).objectives == ("dram_bytes", "area_mm2")


def test_report_marks_the_energy_optimal_capacity(tmp_path):
    from cnnmem.report.runreport import write_report

    sweep = tmp_path / "s.yaml"
    sweep.write_text(SWEEP.format(hw="wavecore_sram", mode="training",
                                  strategy="layerwise, mbs-optimal", axes=""))
    run_sweep(load_sweep(str(sweep)), tmp_path / "o", quiet=True, keep="all", csv=True)
    md = write_report(tmp_path / "o").read_text()
    assert "## Energy vs buffer capacity" in md and "## DRAM traffic vs chip area" in md
    for name in ("energy_vs_capacity", "traffic_vs_area"):
        assert (tmp_path / "o" / "figures" / f"{name}.png").stat().st_size > 0
    df = pd.read_csv(tmp_path / "o" / "results.csv")
    for strategy, g in df.groupby("strategy"):
        best = g.loc[g["energy_pj"].idxmin(), "capacity_bytes"]
        from cnnmem.report.plots import format_bytes

        assert f"| {strategy} | {format_bytes(float(best))} |" in md


def test_chip_columns_are_zero_without_an_area_model():
    cols = rollup.chip_columns(load_hardware("edge"), np.array([1.0, 2.0]))
    assert all(np.all(v == 0) for v in cols.values())


def test_mbs_kept_tensors_are_counted_by_fusions_rule():
    """issue #12 item 8: a group keeps on chip every tensor produced inside it whose first
    consumer is inside it; K[s, e] sums them (checked against a direct count)."""
    from cnnmem.model.mbs.rollup import kept_elems_table

    net = load_network("resnet50")  # forks and joins (residual blocks)
    k = kept_elems_table(net)
    n = len(net)
    for s in range(0, n, 7):
        for e in range(s, n, 5):
            want = sum(float(net.layers[p].out_elems) for p in range(s, e + 1)
                       if net.consumers[p] and min(net.consumers[p]) <= e)
            assert k[s, e] == pytest.approx(want)
    assert k[0, 0] == 0 and k[0, n - 1] > 0


def test_mbs_buffer_energy_includes_the_kept_tensors():
    """One group of the whole of LeNet-5 at sub-batch 1: buffer bytes = 2 x DRAM + operand
    fetches / sqrt(P) + 2 x kept bytes (activations forward, gradients backward)."""
    from cnnmem.model.mbs.rollup import kept_elems_table

    net, hw = load_network("lenet5"), load_hardware("wavecore")
    n, batch = len(net), 4
    _, res = run_strategy("mbs", net, hw, batch=batch, sub_batch=1, grouping="all",
                          buffer_bytes=8 << 20)
    t = res.totals
    assert int(t["groups"]) == 1
    ea, ew, eg = hw.bytes_per_activation, hw.bytes_per_weight, hw.bytes_per_gradient
    macs_f = t["macs"] / 3
    operand = (macs_f * (ea + ew) + 2 * macs_f * (2 * eg + ew + ea) / 2) / np.sqrt(hw.mac_units)
    kept = batch * kept_elems_table(net)[0, n - 1] * (ea + eg)
    assert kept > 0
    want = hw.buffer_energy_pj_per_byte * (2 * t["dram_bytes"] + operand + 2 * kept)
    assert t["energy_buffer_pj"] == pytest.approx(want, rel=1e-9)
