"""Report figures and report.md: what is drawn equals the data (values, axis limits, legend
entries, panels per hardware), units scale, output bytes are deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.container import BarContainer

from cnnmem.cli import main
from cnnmem.model.cost import compulsory_bytes
from cnnmem.model.precision import Precision
from cnnmem.model.training_bound import network_training_bound_bytes
from cnnmem.report import plots, runreport
from cnnmem.sweep.engine import run_sweep
from cnnmem.sweep.spec import load_sweep

TWO_HW = """\
sweep: two-hw
networks: [lenet5]
hardware: [edge, datacenter]
mode: training
batch: 8
strategies: [layerwise, mbs-greedy, mbs]
axes:
  capacity: {from: 16 KiB, to: 1 MiB, steps: 5, scale: log}
  sub_batch: [2, 8]
  grouping: [block]
  dram_bandwidth: [10 GB/s, 20 GB/s]
"""


@pytest.fixture(scope="module")
def two_hw_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    d = tmp_path_factory.mktemp("rep")
    (d / "s.yaml").write_text(TWO_HW)
    spec = load_sweep(str(d / "s.yaml"))
    run_sweep(spec, d / "out", quiet=True)
    return d / "out", spec


def _prepared(run: Path, spec) -> tuple:
    keys = runreport.panel_columns(spec)
    best, energy = runreport._scan(runreport.results_file(run), keys)
    traffic, tkeys, same = runreport.collapse_same_traffic(best, keys)
    return keys, best, energy, traffic, tkeys, same


def _legend_texts(fig: plt.Figure) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def plots_training_label() -> str:
    return "whole-network training bound 1\n(schedules without recomputation)"


def test_format_bytes_scales() -> None:
    assert plots.format_bytes(0.0312 * plots.MIB) == "31.9 KiB"
    assert plots.format_bytes(32 * 1024) == "32 KiB"
    assert plots.format_bytes(3 * plots.GIB) == "3 GiB"
    assert plots.format_bytes(512) == "512 B"
    assert plots.format_column_value("dram_bandwidth_bytes_per_s", 1.28e10) == \
        "dram_bandwidth 12.8 GB/s"
    assert plots.format_energy(3.06e12) == "3.06 J"


def test_traffic_panels_per_hardware_and_drawn_values(two_hw_run) -> None:
    run, spec = two_hw_run
    keys, best, _, traffic, tkeys, same = _prepared(run, spec)
    # DRAM bandwidth changes no traffic: one panel stands for both values
    assert same == ["dram_bandwidth_bytes_per_s"] and tkeys == ["network", "hardware"]
    bounds = runreport._bounds(spec, traffic, tkeys)
    fig = plots.draw_traffic_vs_capacity(traffic, bounds, tkeys, training=True)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert sorted(ax.get_title() for ax in axes) == ["lenet5 on datacenter", "lenet5 on edge"]
    for ax in axes:
        hw = ax.get_title().split(" on ")[1]
        sub = traffic[traffic["hardware"] == hw]
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        for strat, g in sub.groupby("strategy"):
            x, y = plots.staircase(g)
            np.testing.assert_array_equal(lines[strat].get_xdata(), x)
            np.testing.assert_array_equal(lines[strat].get_ydata(), y)
        x_lo, x_hi = ax.get_xlim()
        y_lo, y_hi = ax.get_ylim()
        for ln in ax.get_lines():
            xd, yd = np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)
            if ln.get_label().startswith("compulsory"):  # axhline: axes-fraction x
                assert y_lo <= yd[0] <= y_hi
                continue
            assert (x_lo <= xd.min()) and (xd.max() <= x_hi), ln.get_label()
            assert (y_lo <= yd.min()) and (yd.max() <= y_hi), ln.get_label()
        # the bound of this panel is this hardware's
        b = bounds[("lenet5", hw)]
        hw_obj = dict(spec.hardware)[hw]
        assert b["compulsory_bytes"].iloc[0] == pytest.approx(
            float(compulsory_bytes(dict(spec.networks)["lenet5"], hw_obj, 8, training=True)))
        # the whole-network training bound 1 is drawn, and no (non-recomputing) strategy's
        # staircase goes below it at the capacities where both are known
        want = network_training_bound_bytes(dict(spec.networks)["lenet5"], Precision.of(hw_obj),
                                            8, b["capacity_bytes"].to_numpy(float))[0]
        np.testing.assert_allclose(b["training_bound_bytes"], want, rtol=1e-12)
        tb = lines[plots_training_label()]
        np.testing.assert_allclose(tb.get_ydata(), b.sort_values("capacity_bytes")[
            "training_bound_bytes"], rtol=1e-12)
        for _, g in sub.groupby("strategy"):
            x, y = plots.staircase(g)
            at = network_training_bound_bytes(dict(spec.networks)["lenet5"],
                                              Precision.of(hw_obj), 8, x)[0]
            assert np.all(y >= at * (1 - 1e-12))
    legend = _legend_texts(fig)
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in axes)
    assert set(traffic["strategy"]) <= set(legend)
    assert not any("OCCAM" in t for t in legend)  # no OCCAM here: no steady-state floor
    plt.close(fig)


def test_far_floor_is_written_not_drawn() -> None:
    best = pd.DataFrame({"network": "n", "hardware": "h", "strategy": "layerwise",
                         "capacity_bytes": [1024.0, 4096.0], "dram_bytes": [8e9, 4e9]})
    b = pd.DataFrame({"capacity_bytes": [1024.0, 4096.0], "lower_bound_bytes": [6e9, 3e9],
                      "compulsory_bytes": [1e6, 1e6], "compulsory_no_weights_bytes": [1e5, 1e5]})
    fig = plots.draw_traffic_vs_capacity(best, {("n", "h"): b})
    ax = fig.axes[0]
    assert ax.get_ylim()[0] > 1e9  # no empty decades down to the floor
    assert not any(ln.get_label().startswith("compulsory") for ln in ax.get_lines())
    assert any("compulsory traffic: 977 KiB (below the axis)" in t.get_text()
               for t in ax.texts)
    assert not any(t.startswith("compulsory") for t in _legend_texts(fig))
    plt.close(fig)


def test_energy_bars_equal_rows_normalised_to_layerwise(two_hw_run) -> None:
    run, spec = two_hw_run
    keys, _, energy, *_ = _prepared(run, spec)
    assert (energy["energy_static_pj"] == 0).all()  # edge and datacenter have no static power
    fig = plots.draw_energy_breakdown(energy, keys)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 4  # 2 hardware x 2 bandwidths: energy depends on both
    assert "static" not in _legend_texts(fig)
    assert _legend_texts(fig) == ["DRAM", "buffer", "compute"]
    for ax in axes:
        first, second = ax.get_title().split("\n")
        hw = first.split(" on ")[1]
        bw = float(second.split()[1]) * 1e9
        sub = energy[(energy["hardware"] == hw)
                     & np.isclose(energy["dram_bandwidth_bytes_per_s"], bw)]
        sub = sub.sort_values("strategy", kind="mergesort")
        base = float(sub.loc[sub["strategy"] == "layerwise", "energy_pj"].iloc[0])
        bars = [c for c in ax.containers if isinstance(c, BarContainer)]
        tops = np.sum([[p.get_height() for p in c.patches] for c in bars], axis=0)
        np.testing.assert_allclose(tops, sub["energy_pj"].to_numpy() / base, rtol=1e-12)
        assert ax.get_ylim()[1] > tops.max() * 1.1  # the tallest bar and its value fit
        values = [t.get_text().split("\n")[0] for t in ax.texts]
        assert values == [f"{v:.2f}" for v in tops]
        assert ax.get_ylabel() == "energy per batch / layerwise"
    plt.close(fig)


def test_static_energy_is_drawn_when_present() -> None:
    pts = pd.DataFrame({"network": "n", "hardware": "h", "strategy": ["a", "b"],
                        "capacity_bytes": [1024.0, 2048.0], "energy_pj": [3e9, 2e9],
                        "energy_dram_pj": [1e9, 1e9], "energy_buffer_pj": [0.0, 0.0],
                        "energy_compute_pj": [1e9, 5e8], "energy_static_pj": [1e9, 5e8]})
    fig = plots.draw_energy_breakdown(pts)
    assert _legend_texts(fig) == ["DRAM", "compute", "static"]
    ax = fig.axes[0]
    assert ax.get_ylabel().startswith("energy per batch (mJ")  # no layerwise: absolute
    assert [t.get_text() for t in ax.texts] == ["3 mJ", "2 mJ"]
    plt.close(fig)


def test_per_group_bars_by_tensor_kind(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["schedule", "resnet50", "--hw", "edge", "--strategy", "mbs-optimal", "--batch",
              "32", "--buffer", "32MiB", "--format", "csv"])
    from io import StringIO

    groups = pd.read_csv(StringIO(capsys.readouterr().out))
    kinds = plots.group_kind_columns(groups)
    assert [k[0] for k in kinds][:3] == ["dram_activations_bytes", "dram_stash_bytes",
                                         "dram_weights_bytes"]
    fig = plots.draw_per_group_traffic(groups, "t")
    ax = fig.axes[0]
    unit, factor = plots.byte_unit(float(groups["dram_bytes"].max()))
    assert ax.get_xlabel() == f"DRAM traffic per batch ({unit})"
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    widths = np.sum([[p.get_width() for p in c.patches] for c in bars], axis=0)
    np.testing.assert_allclose(widths * factor, groups["dram_bytes"], rtol=1e-9)
    assert [t.get_text() for t in ax.get_yticklabels()] == groups["layers"].tolist()
    for t, sb in zip(ax.texts, groups["sub_batch"], strict=True):
        assert t.get_text().endswith(f"sub-batch {sb}")
    assert ax.get_xlim()[1] > widths.max()
    plt.close(fig)


def test_many_groups_keep_their_total() -> None:
    n = plots.MAX_GROUP_BARS + 30
    g = pd.DataFrame({"layers": [f"l{i}" for i in range(n)],
                      "dram_bytes": np.arange(1.0, n + 1), "sub_batch": 4})
    drawn = plots.bars_of_groups(g)
    assert len(drawn) == plots.MAX_GROUP_BARS
    assert drawn["dram_bytes"].sum() == g["dram_bytes"].sum()
    assert drawn["layers"].iloc[-1] == "31 other groups"


@given(st.lists(st.integers(0, 300), min_size=1, max_size=80, unique=True))
def test_cuts_are_shortened_at_entry_boundaries(values: list[int]) -> None:
    cuts = ";".join(str(v) for v in sorted(values))
    short = runreport.shorten_cuts(cuts)
    if len(cuts) <= runreport.CUTS_WIDTH:
        assert short == cuts
        return
    head, more = short.split(" ... (+")
    kept = head.split(";")
    assert kept == cuts.split(";")[:len(kept)]  # whole entries, never a cut number
    assert int(more.rstrip(")")) == len(cuts.split(";")) - len(kept)


def test_report_md_columns_and_deterministic_bytes(two_hw_run) -> None:
    """report.md keeps the hardware-axis columns; figures are byte-identical on a re-run."""
    run, _ = two_hw_run
    assert runreport.write_report(run).exists()
    md = (run / "report.md").read_text()
    header = next(line for line in md.splitlines()
                  if line.startswith("| network |") and "| capacity |" in line)  # the front
    assert "| dram_bandwidth_bytes_per_s |" in header
    assert "dram_bandwidth_bytes_per_s does not change any strategy's traffic" in md
    first = {p.name: p.read_bytes() for p in (run / "figures").iterdir()}
    runreport.write_report(run)
    second = {p.name: p.read_bytes() for p in (run / "figures").iterdir()}
    # 4 figures x (PNG, SVG): traffic, energy breakdown, energy vs capacity, best schedule
    # (no traffic-vs-area front: the hardware models no area)
    assert first == second and len(first) == 8


def _totals(capsys, *args: str) -> dict:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["schedule", *args, "--totals", "--format", "json"])
    assert exc.value.code == 0
    return json.loads(capsys.readouterr().out)["totals"]


@pytest.mark.parametrize("chips", [1, 4])
def test_compulsory_floors_bound_what_they_are_drawn_for(capsys, chips: int) -> None:
    """OCCAM's rows leave out the one-time filter load of a pipeline that keeps its filters
    on chip: its traffic can drop below the compulsory traffic with weights (the old label
    "any schedule" was wrong), never below the floor without weights, and the filter load
    added back restores the full floor. The other strategies stay above the full floor."""
    from cnnmem.hardware import load_hardware
    from cnnmem.workload import load_network

    net, hw = load_network("alexnet"), load_hardware("occam_chip")
    full = float(compulsory_bytes(net, hw, 1, training=False))
    stream = float(compulsory_bytes(net, hw, 1, training=False, include_weights=False))
    below = False
    for buf in ("512KiB", "8MiB"):
        t = _totals(capsys, "alexnet", "--hw", "occam_chip", "--strategy", "occam", "--mode",
                    "inference", "--batch", "1", "--chips", str(chips), "--buffer", buf)
        assert t["dram_bytes"] >= stream
        assert t["dram_bytes"] + t["filter_load_once_bytes"] >= full * (1 - 1e-12)
        below |= t["dram_bytes"] < full
        for other in ("layerwise", "fusion"):
            o = _totals(capsys, "alexnet", "--hw", "occam_chip", "--strategy", other,
                        "--mode", "inference", "--batch", "1", "--buffer", buf)
            assert o["dram_bytes"] >= full * (1 - 1e-12)
    assert below == (chips == 4)  # pipelined with resident filters only with enough chips


def test_computed_layerwise_baseline_equals_the_swept_row(two_hw_run) -> None:
    """Where a sweep has no layerwise row the energy figure is normalised to a baseline
    computed from the cost core; it equals what the layerwise strategy gives in a sweep."""
    run, spec = two_hw_run
    keys, _, energy, *_ = _prepared(run, spec)
    swept = energy[energy["strategy"] == "layerwise"]
    computed = runreport.layerwise_baselines(spec, energy[energy["strategy"] != "layerwise"],
                                             keys)
    assert len(computed) == len(swept) == 4
    for row in swept.itertuples(index=False):
        key = tuple(getattr(row, k) for k in keys)
        pj, cap = computed[key]
        assert pj == pytest.approx(row.energy_pj, rel=1e-12)
        assert cap == row.capacity_bytes
    fig = plots.draw_energy_breakdown(energy[energy["strategy"] != "layerwise"], keys, computed)
    for ax in fig.axes:
        assert ax.get_ylabel() == "energy per batch / layerwise"
        assert any("layerwise (not swept, computed)" in t.get_text() for t in ax.texts)
    plt.close(fig)
