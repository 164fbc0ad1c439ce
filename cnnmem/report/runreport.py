"""`cnnmem report RUN_DIR`: figures and a report.md for a sweep run.

Reads ``run.json`` (the sweep file's text), ``results.csv`` (in chunks, so any size works) and
``pareto.csv``; writes ``figures/*.png|svg`` and ``report.md`` into RUN_DIR, atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnnmem.errors import InputError
from cnnmem.model.cost import compulsory_bytes, layer_pass_costs
from cnnmem.model.schedule import TRAINING
from cnnmem.report import plots
from cnnmem.sweep.output import AtomicOutputs
from cnnmem.sweep.rerun import request_of_row
from cnnmem.sweep.spec import SweepSpec, parse_sweep
from cnnmem.yamlio import load_yaml_text

BOUND_POINTS = 48  # capacities at which the lower bound is evaluated


def _load(run_dir: Path) -> tuple[dict[str, Any], SweepSpec]:
    info_path = run_dir / "run.json"
    if not info_path.exists():
        raise InputError("not a sweep run directory (no run.json; run `cnnmem sweep` first)",
                         file=str(run_dir))
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"run.json is not valid JSON: {exc.msg}", file=str(info_path),
                         line=exc.lineno) from None
    text = info.get("sweep_text", "")
    file = info.get("sweep_file", "sweep")
    spec = parse_sweep(load_yaml_text(text, file=file), file=file, text=text)
    return info, spec


def _scan(results: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Min DRAM traffic per (network, strategy, capacity) and min-energy row per strategy."""
    best_parts, energy_parts = [], []
    for df in pd.read_csv(results, chunksize=1_000_000, keep_default_na=False,
                          na_values=[""], dtype={"cuts": str, "grouping": str}):
        df = df[np.isfinite(df["dram_bytes"].to_numpy(dtype=float))]
        best_parts.append(df.groupby(["network", "strategy", "capacity_bytes"], sort=False,
                                     as_index=False)["dram_bytes"].min())
        energy_parts.append(df.loc[df.groupby(["network", "strategy"], sort=False)
                                   ["energy_pj"].idxmin()])
    if not best_parts:
        return pd.DataFrame(), pd.DataFrame()
    best = (pd.concat(best_parts).groupby(["network", "strategy", "capacity_bytes"],
                                          as_index=False, sort=True)["dram_bytes"].min())
    en = pd.concat(energy_parts, ignore_index=True)
    en = en.loc[en.groupby(["network", "strategy"], sort=True)["energy_pj"].idxmin()]
    return best, en.reset_index(drop=True)


def _bounds(spec: SweepSpec, best: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {}
    hw = spec.hardware[0][1]
    for name, net in spec.networks:
        caps = np.unique(best.loc[best["network"] == name, "capacity_bytes"].to_numpy(float))
        if caps.size == 0:
            continue
        if caps.size > BOUND_POINTS:
            caps = np.geomspace(caps[0], caps[-1], BOUND_POINTS)
        training = spec.mode == TRAINING
        c = layer_pass_costs(net, hw, [spec.batch], caps, training=training)
        floor = float(compulsory_bytes(net, hw, spec.batch, training=training))
        out[name] = pd.DataFrame({"capacity_bytes": caps,
                                  "lower_bound_bytes": c.lower_bound_bytes.sum(axis=0)[0],
                                  "compulsory_bytes": np.full(caps.size, floor)})
    return out


def best_schedule(spec: SweepSpec, row: pd.Series
                  ) -> tuple[pd.DataFrame, str, dict[str, Any]] | None:
    """Re-run one result row exactly (its grouping, cuts, sub-batch, capacity and swept hardware
    values: :func:`cnnmem.sweep.rerun.request_of_row`): per-group table, title and totals; None
    if the strategy has no per-group DRAM traffic."""
    rr = request_of_row(spec, row)
    _, res = rr.run()
    if "dram_bytes" not in res.groups:
        return None
    title = (f"{row['network']}: DRAM traffic per group, {row['strategy']} at "
             f"{row['capacity_bytes'] / plots.MIB:.3g} MiB"
             + (f", sub-batch {rr.sub_batch}" if rr.sub_batch else ""))
    return res.groups, title, res.totals


def _md_table(df: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                return "-" if np.isnan(v) else "inf"
            return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(df.columns) + " |",
             "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else "---"
                            for c in df.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in df.itertuples(index=False, name=None)]
    return "\n".join(lines)


def front_table(pareto: pd.DataFrame, limit: int = 25) -> pd.DataFrame:
    """The front's points in reader units (units in the headers)."""
    df = pareto.sort_values(["network", "dram_bytes", "capacity_bytes"], kind="mergesort")
    df = df.groupby("network", sort=False).head(limit)
    return pd.DataFrame({
        "network": df["network"], "hardware": df["hardware"], "strategy": df["strategy"],
        "grouping": df["grouping"], "capacity_mib": df["capacity_bytes"] / plots.MIB,
        "sub_batch": df["sub_batch"], "dram_gib": df["dram_bytes"] / plots.GIB,
        "energy_mj": df["energy_pj"] / 1e9, "latency_ms": df["latency_s"] * 1e3,
        "cuts": df["cuts"].fillna("").astype(str).str.slice(0, 30),
    })


def write_report(run_dir: Path) -> Path:
    """Write figures and report.md into ``run_dir``; returns the report's path."""
    info, spec = _load(run_dir)
    results = run_dir / "results.csv"
    if not results.exists():
        raise InputError("no results.csv in the run directory", file=str(run_dir))
    best, energy = _scan(results)
    pareto = pd.read_csv(run_dir / "pareto.csv", keep_default_na=False, na_values=[""],
                         dtype={"cuts": str, "grouping": str})
    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    md = [f"# Sweep `{spec.name}`", ""]
    if spec.description:
        md += [spec.description, ""]
    md += [f"- mode: {spec.mode}, batch {spec.batch}; networks: "
           f"{', '.join(n for n, _ in spec.networks)}; hardware: "
           f"{', '.join(h for h, _ in spec.hardware)}",
           f"- strategies: {', '.join(spec.strategies)}",
           f"- {info.get('points', 0):,} design points, {len(pareto):,} on the Pareto front "
           f"(objectives, all minimized: {', '.join(spec.objectives)})",
           f"- sweep file `{spec.file}` (sha256 `{info.get('sweep_sha256', '')[:16]}`), "
           f"cnnmem {info.get('cnnmem_version', '')}", ""]
    if best.empty:
        md += ["No feasible design point: every point needs more buffer than it has.", ""]
    else:
        plots.traffic_vs_capacity(best, _bounds(spec, best), fig_dir / "traffic_vs_capacity")
        md += ["## DRAM traffic vs buffer capacity", "",
               "Lowest DRAM traffic each strategy reaches with at most that much buffer, and "
               "the sum of the per-layer communication lower bounds (Chen et al.; it bounds "
               "layer-by-layer schedules, while schedules that keep data on chip across layers "
               "can go below it), and the compulsory traffic no schedule can avoid (network "
               "input and weights read once, outputs or weight gradients written once).", "",
               "![DRAM traffic vs buffer capacity](figures/traffic_vs_capacity.png)", ""]
        plots.energy_breakdown(energy, fig_dir / "energy_breakdown")
        md += ["## Energy breakdown", "",
               "Each strategy's lowest-energy point, split into DRAM, buffer, compute and "
               "static energy.", "", "![energy breakdown](figures/energy_breakdown.png)", ""]
        top = energy.sort_values("energy_pj", kind="mergesort").iloc[0]
        sched = best_schedule(spec, top)
        if sched is not None:
            plots.per_group_traffic(sched[0], sched[1], fig_dir / "best_schedule_groups")
            md += ["## Per-group DRAM traffic of the best schedule", "",
                   f"The lowest-energy point ({top['strategy']} on {top['network']}/"
                   f"{top['hardware']}, {top['capacity_bytes'] / plots.MIB:.3g} MiB), re-run "
                   "with the strategy's per-group model:", "", "```sh",
                   request_of_row(spec, top).command(), "```", "",
                   "![per-group DRAM traffic](figures/best_schedule_groups.png)", ""]
        else:
            md += ["## Per-group DRAM traffic of the best schedule", "",
                   f"(strategy {top['strategy']} cannot re-run this point per group)", ""]
    md += ["## Pareto front", "", "Up to 25 points per network, by DRAM traffic; all points "
           "are in `pareto.csv` (`cuts`: a group ends after each listed layer index).", "",
           _md_table(front_table(pareto)) if len(pareto) else "(empty)", ""]
    out = AtomicOutputs(run_dir)
    try:
        out.write("report.md", "\n".join(md).encode("utf-8"))
        out.commit()
    except BaseException:
        out.abort()
        raise
    return run_dir / "report.md"
