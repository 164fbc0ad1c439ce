"""`cnnmem reproduce`: the scenario runner on tiny synthetic scenarios, bad scenario files, and
the real published-figure scenarios (``cnnmem reproduce all``, as CI runs it)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from cnnmem.cli import main
from cnnmem.reproduce import (
    ERROR,
    EXPECTED_MISS,
    IDENTITY,
    MISS,
    PASS,
    SCENARIO_DIR,
    RunCache,
    Tolerance,
    average,
    bound_metric,
    load_scenario,
    markdown,
    reproduce,
    schedule_metric,
    select_scenarios,
    status_of,
)

NET = textwrap.dedent("""\
    name: tiny
    input: [3, 16, 16]
    layers:
      - {name: c1, type: conv, out: 8, kernel: 3, padding: 1}
      - {name: r1, type: relu}
      - {name: c2, type: conv, out: 8, kernel: 3, padding: 1}
      - {name: fc, type: fc, out: 10}
    """)
HW = "name: h\nbuffer: 64 KiB\nmac_units: 256\nclock: 1 GHz\ndram_bandwidth: 10 GB/s\n"


def schedule_yaml(name: str, **over: object) -> str:
    fields: dict[str, object] = {
        "name": name, "figure": "synthetic", "source": "test", "published": 0.0,
        "metric": "reduction", "quantity": "dram_bytes", "strategy": "layerwise",
        "baseline": "layerwise", "networks": ["data/tiny.yaml"], "hw": "data/h.yaml",
        "mode": "training", "batch": 4, "tolerance": {"abs": 0.01},
    }
    fields.update(over)
    return "".join(f"{k}: {json.dumps(v)}\n" for k, v in fields.items() if v is not None)


@pytest.fixture()
def sdir(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tiny.yaml").write_text(NET)
    (tmp_path / "data" / "h.yaml").write_text(HW)
    return tmp_path


def write(d: Path, name: str, text: str) -> Path:
    p = d / f"{name}.yaml"
    p.write_text(text)
    return p


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--quiet", *args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


# ------------------------------------------------------------------------------ pure parts


def test_metrics() -> None:
    assert schedule_metric("reduction", [25, 50], [100, 100]) == pytest.approx(0.625)
    assert schedule_metric("ratio", [1, 2], [2, 8]) == pytest.approx(3.0)
    assert schedule_metric("improvement", [1, 2], [2, 8]) == pytest.approx(2.0)
    assert schedule_metric("value", [1, 3], None) == pytest.approx(2.0)
    assert schedule_metric("ratio", [1, 1], [2, 8], "geometric") == pytest.approx(4.0)
    assert schedule_metric("reduction", [1, 1], [4, 1], "geometric") == pytest.approx(0.5)
    assert average([1, 4], "geometric") == pytest.approx(2.0)
    with pytest.raises(ValueError):
        average([0, 1], "geometric")
    assert bound_metric("max", [1.1, 1.3, 1.2]) == 1.3
    assert bound_metric("min", [1.1, 1.3]) == 1.1
    with pytest.raises(ValueError):
        bound_metric("value", [1.0, 2.0])


def test_tolerances_and_status() -> None:
    assert Tolerance(abs=0.07).contains(0.70, 0.75)
    assert not Tolerance(abs=0.07).contains(0.67, 0.75)
    assert Tolerance(rel=0.15).contains(1.30, 1.50) and not Tolerance(rel=0.1).contains(1.3, 1.5)
    assert Tolerance(min=14, max=30).contains(21, 0) and not Tolerance(min=14).contains(13, 0)
    assert Tolerance(max=1.3).contains(1.3, 1.0) and not Tolerance(max=1.3).contains(1.31, 1.0)
    assert not Tolerance(abs=1).contains(math.nan, 0)
    assert Tolerance(abs=0.01).describe() == "±0.01"
    assert Tolerance(rel=0.25).describe() == "±25%"
    assert Tolerance(min=14, max=30).describe() == "[14, 30]"
    assert status_of(1.0, 1.0, Tolerance(abs=0), None) == PASS
    assert status_of(2.0, 1.0, Tolerance(abs=0), None) == MISS
    assert status_of(2.0, 1.0, Tolerance(abs=0), "known") == EXPECTED_MISS
    assert status_of(1.0, 1.0, Tolerance(abs=0), "known") == PASS  # status = tolerance only
    # a check that holds by construction is never a PASS; a broken identity is a MISS
    assert status_of(1.0, 1.0, Tolerance(abs=0), None, "by construction") == IDENTITY
    assert status_of(2.0, 1.0, Tolerance(abs=0), None, "by construction") == MISS


def test_identity_row_is_never_a_pass(sdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """layerwise against itself reduces traffic by 0 by construction: IDENTITY, exit 0, and
    the reason says why (issue #12: a check that holds by construction is not a PASS)."""
    write(sdir, "same", schedule_yaml("same", identity="the strategy is its own baseline"))
    (out,) = reproduce(select_scenarios(["same"], sdir))
    assert out.status == IDENTITY and not out.fails
    assert "by construction: the strategy is its own baseline" in out.reason
    code, text, _ = run_cli(capsys, "--dir", str(sdir), "same")
    assert code == 0 and "IDENTITY" in text and "1 IDENTITY" in text
    write(sdir, "both", schedule_yaml("both", identity="x", expected_miss="y"))
    with pytest.raises(Exception, match="identity"):
        select_scenarios(["both"], sdir)


def test_averaged_rows_show_both_means_and_per_network(sdir: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """Issue #12: every averaged row reports the per-network values and the geometric mean
    beside the arithmetic one; the tolerance stays on the scenario's own average."""
    (sdir / "data" / "h2.yaml").write_text(HW.replace("10 GB/s", "1 GB/s"))
    (sdir / "data" / "wide.yaml").write_text(NET.replace("out: 8", "out: 64"))
    both = ["data/tiny.yaml", "data/wide.yaml"]
    write(sdir, "speed", schedule_yaml("speed", metric="ratio", quantity="latency_s",
                                       published=1.0, tolerance={"min": 0}, networks=both,
                                       baseline_hw="data/h2.yaml", baseline_buffer="64 KiB"))
    (out,) = reproduce(select_scenarios(["speed"], sdir))
    per = list(out.per_network.values())
    assert out.means["arithmetic"] == pytest.approx(sum(per) / 2) == pytest.approx(out.modeled)
    assert out.means["geometric"] == pytest.approx(math.sqrt(per[0] * per[1]))
    assert out.means["geometric"] < out.means["arithmetic"]  # the networks differ
    code, text, _ = run_cli(capsys, "--dir", str(sdir), "--format", "json", "speed")
    row = json.loads(text)[0]
    assert row["mean_geometric"] == pytest.approx(out.means["geometric"])
    assert "data/wide.yaml" in row["per_network"]
    md = markdown([out])
    assert "geometric mean" in md and f"{out.means['geometric']:.4g}" in md
    # a single-network row is not averaged: no means
    write(sdir, "one", schedule_yaml("one"))
    (single,) = reproduce(select_scenarios(["one"], sdir))
    assert single.means == {}


# ------------------------------------------------------------------------------ runner


def test_layerwise_vs_layerwise_passes_and_caches(sdir: Path) -> None:
    write(sdir, "red", schedule_yaml("red", published=0.0))
    write(sdir, "rat", schedule_yaml("rat", metric="ratio", published=1.0,
                                     tolerance={"rel": 0.001}))
    write(sdir, "val", schedule_yaml("val", metric="value", baseline=None, published=1.0,
                                     scale=1e-6, tolerance={"min": 0}))
    scenarios = select_scenarios(["all"], sdir)
    assert [s.name for s in scenarios] == ["rat", "red", "val"]
    cache = RunCache()
    outs = reproduce(scenarios, cache=cache)
    assert [o.status for o in outs] == [PASS, PASS, PASS]
    assert outs[0].modeled == pytest.approx(1.0) and outs[1].modeled == pytest.approx(0.0)
    assert len(cache) == 1  # one (strategy, network, hw, ...) run shared by all five uses
    assert cache.hits == 4


def test_cache_key_separates_runs_that_differ(sdir: Path) -> None:
    write(sdir, "a", schedule_yaml("a", buffer="32 KiB"))
    write(sdir, "b", schedule_yaml("b", strategy="mbs-greedy", baseline="mbs-greedy",
                                   baseline_options={"weight_tile": "channel"},
                                   baseline_batch=2))
    cache = RunCache()
    outs = reproduce(select_scenarios(["all"], sdir), cache=cache)
    assert len(cache) == 3  # (32 KiB, batch 4) shared by a's two sides; b: default / batch 2
    assert outs[0].modeled == pytest.approx(0.0) and outs[1].status == MISS


def test_value_scale_and_per_network(sdir: Path) -> None:
    (sdir / "data" / "tiny2.yaml").write_text(NET.replace("out: 8", "out: 16"))
    nets = ["data/tiny.yaml", "data/tiny2.yaml"]
    write(sdir, "v", schedule_yaml("v", metric="value", networks=nets, scale=1 / 2**20,
                                   published=0.0, unit="MiB", tolerance={"min": 0}))
    (out,) = reproduce(select_scenarios(["v"], sdir))
    assert set(out.per_network) == {"data/tiny.yaml", "data/tiny2.yaml"}
    assert out.modeled == pytest.approx(sum(out.per_network.values()) / 2)
    assert out.per_network["data/tiny2.yaml"] > out.per_network["data/tiny.yaml"] > 0


def test_miss_expected_miss_and_exit_status(sdir: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    write(sdir, "miss", schedule_yaml("miss", published=0.75, tolerance={"abs": 0.07}))
    code, out, _ = run_cli(capsys, "--dir", str(sdir), "miss")
    assert code == 1 and "MISS" in out and "-0.75" in out
    write(sdir, "miss", schedule_yaml("miss", published=0.75, tolerance={"abs": 0.07},
                                      expected_miss="the synthetic model has no MBS"))
    code, out, _ = run_cli(capsys, "--dir", str(sdir), "miss")
    assert code == 0 and "EXPECTED-MISS" in out and "the synthetic model has no MBS" in out


def test_unregistered_strategy_is_an_error_row(sdir: Path, capsys: pytest.CaptureFixture[str]
                                               ) -> None:
    write(sdir, "ok", schedule_yaml("ok"))
    write(sdir, "later", schedule_yaml("later", strategy="not-written-yet"))
    outs = reproduce(select_scenarios(["all"], sdir))
    later = next(o for o in outs if o.scenario.name == "later")
    assert later.status == ERROR and "unknown strategy 'not-written-yet'" in later.reason
    assert "\n" not in later.reason and later.fails
    code, out, _ = run_cli(capsys, "--dir", str(sdir), "all")
    assert code == 1 and "ERROR" in out and "PASS" in out
    write(sdir, "later", schedule_yaml("later", strategy="not-written-yet",
                                       expected_miss="strategy lands in issue 3"))
    code, out, _ = run_cli(capsys, "--dir", str(sdir), "--detail", "all")
    assert code == 0 and "ERROR" in out and "strategy lands in issue 3" in out


def test_target_checks_around_another_scenario(sdir: Path) -> None:
    write(sdir, "speed", schedule_yaml("speed", metric="ratio", quantity="latency_s",
                                       published=1.0, tolerance={"rel": 0.01}))
    write(sdir, "energy", schedule_yaml(
        "energy", quantity="latency_s", published=0.357, tolerance={"abs": 0.005},
        target={"scenario": "speed", "transform": "one_minus_inverse"}))
    outs = {o.scenario.name: o for o in reproduce(select_scenarios(["energy"], sdir))}
    energy = outs["energy"]  # target scenario loaded from the same directory
    assert energy.target == pytest.approx(0.0) and energy.status == PASS
    assert energy.gap == pytest.approx(-0.357)
    # a target scenario that is an EXPECTED-MISS still gives its value, and the reason says so
    write(sdir, "speed", schedule_yaml("speed", metric="ratio", quantity="latency_s",
                                       published=2.0, tolerance={"rel": 0.01},
                                       expected_miss="synthetic"))
    outs = {o.scenario.name: o for o in reproduce(select_scenarios(["energy", "speed"], sdir))}
    assert outs["speed"].status == EXPECTED_MISS and outs["energy"].status == PASS
    assert "speed itself is EXPECTED-MISS" in outs["energy"].reason


def test_target_per_network_identity(sdir: Path) -> None:
    """energy = 1 - 1/speedup per network survives averaging only with per_network."""
    (sdir / "data" / "h2.yaml").write_text(HW.replace("10 GB/s", "1 GB/s"))
    (sdir / "data" / "wide.yaml").write_text(NET.replace("out: 8", "out: 64"))
    both = ["data/tiny.yaml", "data/wide.yaml"]
    common = dict(networks=both, baseline_hw="data/h2.yaml", baseline_buffer="64 KiB")
    write(sdir, "speed", schedule_yaml("speed", metric="ratio", quantity="latency_s",
                                       published=1.0, tolerance={"min": 0}, **common))
    write(sdir, "time", schedule_yaml(
        "time", quantity="latency_s", published=0.0, tolerance={"abs": 1e-9},
        target={"scenario": "speed", "transform": "one_minus_inverse", "per_network": True},
        **common))
    outs = {o.scenario.name: o for o in reproduce(select_scenarios(["all"], sdir))}
    speed, time = outs["speed"], outs["time"]
    per = list(speed.per_network.values())
    assert per[0] != pytest.approx(per[1])  # the two networks differ, so averaging matters
    assert time.status == PASS and time.target == pytest.approx(time.modeled)
    assert time.modeled != pytest.approx(1 - 1 / speed.modeled, abs=1e-9)


def test_bound_kind(sdir: Path) -> None:
    text = textwrap.dedent("""\
        name: b
        kind: bound
        figure: synthetic bound
        source: test
        published: 1.0
        metric: max
        networks: [data/tiny.yaml]
        buffer: 8 KiB
        layers: conv
        tolerance: {min: 1.0}
        """)
    write(sdir, "b", text)
    (out,) = reproduce(select_scenarios(["b"], sdir))
    assert out.status == PASS and out.modeled >= 1.0
    write(sdir, "b", text.replace("layers: conv", "layers: [c2]").replace("max", "value"))
    (one,) = reproduce(select_scenarios(["b"], sdir))
    assert one.status == PASS and one.modeled <= out.modeled
    write(sdir, "b", text.replace("layers: conv", "layers: [nope]"))
    (bad,) = reproduce(select_scenarios(["b"], sdir))
    assert bad.status == ERROR and "nope" in bad.reason


def test_markdown_and_json(sdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(sdir, "red", schedule_yaml("red", figure="Synthetic | figure"))
    md = sdir / "out.md"
    code, out, _ = run_cli(capsys, "--dir", str(sdir), "--format", "json", "--markdown", str(md),
                           "red")
    assert code == 0
    rows = json.loads(out)
    assert rows[0]["name"] == "red" and rows[0]["status"] == PASS and rows[0]["gap"] == 0
    text = md.read_text()
    assert text.startswith("## Reproduced figures") and "reconstruction" in text
    assert "Synthetic \\| figure (`red`)" in text and "**PASS**" in text
    assert markdown(reproduce(select_scenarios(["red"], sdir))) == text


# ------------------------------------------------------------------------------ bad files

BAD = {
    # name: (file content, line the error must name, substrings of the message)
    "missing_field": (schedule_yaml("x", quantity=None), 1, ("missing required field",
                                                           "quantity")),
    "unknown_field": (schedule_yaml("x") + "colour: red\n", 14, ("unknown field", "colour")),
    "name_not_stem": (schedule_yaml("y"), 1, ("file name stem", "'name'")),
    "bad_metric": (schedule_yaml("x", metric="speedup"), 5, ("'metric'", "reduction")),
    "bad_tolerance": (schedule_yaml("x", tolerance={"abs": 0.1, "rel": 0.1}), 13,
                      ("'tolerance'",)),
    "negative_tolerance": (schedule_yaml("x", tolerance={"abs": -1}), 13, ("negative",)),
    "min_above_max": (schedule_yaml("x", tolerance={"min": 3, "max": 1}), 13, ("above max",)),
    "batch_not_int": (schedule_yaml("x", batch="lots"), 12, ("'batch'", "whole number")),
    "bad_buffer": (schedule_yaml("x", buffer="12 parsecs"), 14, ("'buffer'", "unknown unit")),
    "published_text": (schedule_yaml("x", published="75%"), 4, ("'published'", "number")),
    "ratio_no_baseline": (schedule_yaml("x", metric="ratio", baseline=None), 1,
                          ("'baseline'",)),
    "networks_empty": (schedule_yaml("x", networks=[]), 9, ("'networks'",)),
    "bad_mode": (schedule_yaml("x", mode="testing"), 11, ("'mode'",)),
    "bad_average": (schedule_yaml("x", average="median"), 14, ("'average'",)),
    "bad_kind": (schedule_yaml("x", kind="figure"), 14, ("'kind'",)),
    "bad_target": (schedule_yaml("x", target={"scenario": "x"}), 14, ("itself",)),
    "options_not_mapping": (schedule_yaml("x", strategy_options=[1]), 14,
                            ("'strategy_options'",)),
    "not_a_mapping": ("- 1\n- 2\n", 1, ("mapping",)),
    "yaml_syntax": ("name: x\nfigure: [unclosed\n", 3, ("YAML syntax error",)),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenario_file_exits_2(case: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    content, line, expect = BAD[case]
    path = write(tmp_path, "x", content)
    code, out, err = run_cli(capsys, str(path))
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: {path}:{line}: "), err
    for s in expect:
        assert s in err, err


def test_unknown_scenario_name_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "no-such-figure")
    assert code == 2 and "unknown scenario 'no-such-figure'" in err


def test_every_shipped_scenario_is_valid() -> None:
    for p in sorted(SCENARIO_DIR.glob("*.yaml")):
        load_scenario(p)


# ------------------------------------------------------------------------------ CI: all figures


@pytest.mark.reproduce
def test_reproduce_all_through_the_cli(tmp_path: Path) -> None:
    """What CI runs: every published figure reproduced (or a recorded expected miss), and the
    committed tables (docs/reproduced.md and README's copy) are what the model gives now."""
    md = tmp_path / "reproduced.md"
    res = subprocess.run([sys.executable, "-m", "cnnmem.cli", "reproduce", "all", "--quiet",
                          "--markdown", str(md)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    for p in sorted(SCENARIO_DIR.glob("*.yaml")):
        assert p.stem in res.stdout, f"{p.stem} missing from:\n{res.stdout}"
    root = SCENARIO_DIR.parent
    fresh = md.read_text(encoding="utf-8")
    assert (root / "docs" / "reproduced.md").read_text(encoding="utf-8") == fresh, (
        "docs/reproduced.md is stale: run `cnnmem reproduce all --markdown docs/reproduced.md`"
        " and `python scripts/update_readme.py`")
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- reproduced:begin -->\n", 1)[1].split("<!-- reproduced:end -->")[0]
    first, _, rest = fresh.partition("\n")
    assert first.startswith("## ")
    assert block == rest.lstrip("\n"), "README's table is stale: python scripts/update_readme.py"


def test_also_strategy_reported_beside_the_row() -> None:
    """The MBS rows report both groupings (issue #12): ``also_strategy`` runs the same figure
    with a second strategy, shown in the ``also`` column and never judged."""
    from cnnmem.reproduce import also_text, outcome_table, reproduce

    s = load_scenario(SCENARIO_DIR / "mbs-traffic.yaml")
    assert s.also is not None and s.also.strategy == "mbs-optimal"
    one = replace(s, networks=("resnet50",))
    out = reproduce([one])[0]
    assert out.also is not None
    name, value, per = out.also
    assert name == "mbs-optimal" and set(per) == {"resnet50"} and value == per["resnet50"]
    assert value > out.modeled  # the optimal grouping moves less DRAM traffic than greedy
    assert outcome_table([out])["also"][0] == also_text(out)
    assert also_text(out).startswith("mbs-optimal ")


def test_ratio_curve_matches_the_row_at_the_preset_ratio() -> None:
    """The --detail curve of occam-perf-fusion (issue #12): at the preset's own ratio (1,024 MAC
    x 1 GHz / 25.6 GB/s = 40 MACs per DRAM byte) it gives the row's per-network value; on a
    compute-rich chip (memory-bound, 640) OCCAM gains on GoogLeNet, while at 40 the compute-bound
    chip leaves Layer Fusion unbeaten on VGG-16."""
    from cnnmem.reproduce import ratio_curve, reproduce, where_published_falls

    s = replace(load_scenario(SCENARIO_DIR / "occam-perf-fusion.yaml"),
                networks=("vgg16", "googlenet"), curve_macs_per_byte=(40.0, 640.0))
    curve = ratio_curve(s)
    row = reproduce([s])[0]
    at = curve.set_index(["macs_per_dram_byte", "network"])["value"]
    for n in s.networks:
        assert at[(40.0, n)] == pytest.approx(row.per_network[n], rel=1e-12)
    assert at[(40.0, "vgg16")] < 1.0 and at[(640.0, "googlenet")] > 2.0
    assert where_published_falls(s, curve).startswith("occam-perf-fusion: the published 1.36")
