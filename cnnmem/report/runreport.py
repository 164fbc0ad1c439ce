"""`cnnmem report RUN_DIR`: figures and a report.md for a sweep run.

Reads ``run.json`` (the sweep file's text), ``results.parquet`` (or ``results.csv`` when that
is what the run wrote; in batches, so any size works) and ``pareto.csv``; writes
``figures/*.png|svg`` and ``report.md`` into RUN_DIR, atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnnmem.errors import InputError
from cnnmem.model.cost import compulsory_bytes, layer_pass_costs
from cnnmem.model.precision import Precision
from cnnmem.model.schedule import TRAINING
from cnnmem.model.training_bound import network_training_bound_bytes
from cnnmem.report import plots
from cnnmem.sweep.output import AtomicOutputs
from cnnmem.sweep.rerun import request_of_row
from cnnmem.sweep.spec import SweepSpec, apply_hardware, parse_sweep
from cnnmem.yamlio import load_yaml_text, read_text_file

#: columns read as text even when every value looks like a number (a network named "2024")
TEXT_COLUMNS = {"cuts": str, "grouping": str, "network": str, "hardware": str, "strategy": str}
BOUND_POINTS = 48  # capacities at which the lower bound is evaluated


def _load(run_dir: Path) -> tuple[dict[str, Any], SweepSpec]:
    info_path = run_dir / "run.json"
    if not info_path.exists():
        raise InputError("not a sweep run directory (no run.json; run `cnnmem sweep` first)",
                         file=str(run_dir))
    try:
        info = json.loads(read_text_file(info_path))
    except json.JSONDecodeError as exc:
        raise InputError(f"run.json is not valid JSON: {exc.msg}", file=str(info_path),
                         line=exc.lineno) from None
    if not isinstance(info, dict) or not isinstance(info.get("sweep_text", ""), str):
        raise InputError("run.json is not a sweep run's record", file=str(info_path))
    text = info.get("sweep_text", "")
    file = str(info.get("sweep_file", "sweep"))
    spec = parse_sweep(load_yaml_text(text, file=file), file=_sweep_path(info, file), text=text)
    return info, replace(spec, file=file)


def _sweep_path(info: dict[str, Any], file: str) -> str:
    """Where the sweep file was, so relative paths in it resolve from any directory."""
    folder = info.get("sweep_dir")
    return str(Path(folder) / Path(file).name) if isinstance(folder, str) else file


def panel_columns(spec: SweepSpec) -> list[str]:
    """The columns that tell one network-and-hardware configuration from another: network,
    hardware and every swept hardware field (a figure panel each)."""
    return ["network", "hardware", *(a.column for a in spec.hw_axes)]


def results_file(run_dir: Path) -> Path:
    """The run's results: ``results.parquet``, else ``results.csv``."""
    for name in ("results.parquet", "results.csv"):
        if (run_dir / name).exists():
            return run_dir / name
    raise InputError("no results.parquet or results.csv in the run directory", file=str(run_dir))


def read_results(results: Path, batch_rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
    """The rows of a results file as DataFrames of at most ``batch_rows`` rows."""
    if results.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(results)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise InputError(f"cannot read Parquet: {exc}", file=str(results)) from None
        for batch in pf.iter_batches(batch_size=batch_rows):
            yield batch.to_pandas()
        return
    yield from pd.read_csv(results, chunksize=batch_rows, keep_default_na=False,
                           na_values=[""], dtype=TEXT_COLUMNS)


def _scan(results: Path, keys: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Min DRAM traffic per (configuration ``keys``, strategy, capacity) and the min-energy row
    per (configuration, strategy)."""
    best, energy, _ = scan_results(results, keys)
    return best, energy


def scan_results(results: Path, keys: list[str] | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Min DRAM traffic (with the area) per (configuration ``keys``, strategy, capacity), the
    min-energy row per (configuration, strategy) and the min-energy row per (configuration,
    strategy, capacity); one pass over the results file."""
    keys = keys or ["network", "hardware"]
    best_parts, energy_parts, by_cap_parts = [], [], []
    for df in read_results(results):
        df = df[np.isfinite(df["dram_bytes"].to_numpy(dtype=float))]
        cap_keys = [*keys, "strategy", "capacity_bytes"]
        area = ["area_mm2"] if "area_mm2" in df else []
        best_parts.append(df.groupby(cap_keys, sort=False, as_index=False)
                          [["dram_bytes", *area]].min())
        energy_parts.append(df.loc[df.groupby([*keys, "strategy"], sort=False)
                                   ["energy_pj"].idxmin()])
        by_cap_parts.append(df.loc[df.groupby(cap_keys, sort=False)["energy_pj"].idxmin()])
    if not best_parts:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    cap_keys = [*keys, "strategy", "capacity_bytes"]
    merged = pd.concat(best_parts)
    best = merged.groupby(cap_keys, as_index=False, sort=True)[
        [c for c in ("dram_bytes", "area_mm2") if c in merged]].min()
    en = pd.concat(energy_parts, ignore_index=True)
    en = en.loc[en.groupby([*keys, "strategy"], sort=True)["energy_pj"].idxmin()]
    by_cap = pd.concat(by_cap_parts, ignore_index=True)
    by_cap = by_cap.loc[by_cap.groupby(cap_keys, sort=True)["energy_pj"].idxmin()]
    return best, en.reset_index(drop=True), by_cap.reset_index(drop=True)


def collapse_same_traffic(best: pd.DataFrame, keys: list[str]
                          ) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Drop the swept hardware fields along which no strategy's traffic changes (DRAM
    bandwidth, energies, ...): one traffic panel then stands for all their values (the rows of
    the smallest value are kept). Returns (best, panel keys, dropped columns)."""
    kept, dropped = list(keys), []
    for col in keys[2:]:
        others = [k for k in kept if k != col]
        order = [*others, "strategy", "capacity_bytes"]
        frames = [g.drop(columns=[col]).sort_values(order, kind="mergesort")
                  for _, g in best.groupby(col, sort=True)]
        first = frames[0]
        if all(len(f) == len(first)
               and (f[order].to_numpy() == first[order].to_numpy()).all()
               and np.array_equal(f["dram_bytes"].to_numpy(float),
                                  first["dram_bytes"].to_numpy(float))
               for f in frames[1:]):
            best = best[best[col] == best[col].min()].drop(columns=[col])
            kept.remove(col)
            dropped.append(col)
    return best, kept, dropped


def _bounds(spec: SweepSpec, best: pd.DataFrame, keys: list[str]) -> dict[tuple, pd.DataFrame]:
    """Per configuration (a panel key of ``keys``): the per-layer lower bound over the swept
    capacities and the compulsory traffic, with and without the one-time weight load."""
    out = {}
    nets, hws = dict(spec.networks), dict(spec.hardware)
    training = spec.mode == TRAINING
    for key, sub in best.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        values = dict(zip(keys, key, strict=True))
        net = nets[values["network"]]
        # a field dropped from the keys (same traffic at every value): its smallest value
        hw = apply_hardware(hws[values["hardware"]], spec.hw_axes,
                            tuple(float(values.get(a.column, min(a.values)))
                                  for a in spec.hw_axes))
        caps = np.unique(sub["capacity_bytes"].to_numpy(float))
        if caps.size > BOUND_POINTS:
            caps = np.geomspace(caps[0], caps[-1], BOUND_POINTS)
        c = layer_pass_costs(net, hw, [spec.batch], caps, training=training)
        floor = float(compulsory_bytes(net, hw, spec.batch, training=training))
        stream = float(compulsory_bytes(net, hw, spec.batch, training=training,
                                        include_weights=False))
        frame = pd.DataFrame({"capacity_bytes": caps,
                              "lower_bound_bytes": c.lower_bound_bytes.sum(axis=0)[0],
                              "compulsory_bytes": np.full(caps.size, floor),
                              "compulsory_no_weights_bytes": np.full(caps.size, stream)})
        if training:  # the whole-network bound 1 (no recomputation; issue 18)
            frame["training_bound_bytes"] = network_training_bound_bytes(
                net, Precision.of(hw), spec.batch, caps)[0]
        out[key] = frame
    return out


def layerwise_baselines(spec: SweepSpec, energy: pd.DataFrame, keys: list[str]
                        ) -> dict[tuple, tuple[float, float]]:
    """Per configuration without a swept ``layerwise`` row: the layer-by-layer baseline's
    lowest energy over the sweep's capacities (energy_pj, capacity_bytes), computed with the
    same per-layer cost core the ``layerwise`` strategy sums, so that every energy panel is
    normalised to it."""
    out: dict[tuple, tuple[float, float]] = {}
    nets, hws = dict(spec.networks), dict(spec.hardware)
    for key, sub in energy.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        if plots.BASELINE in set(sub["strategy"]):
            continue
        values = dict(zip(keys, key, strict=True))
        hw = apply_hardware(hws[values["hardware"]], spec.hw_axes,
                            tuple(float(values[a.column]) for a in spec.hw_axes))
        caps = (np.asarray(spec.capacity_bytes, float) if spec.capacity_bytes is not None
                else np.array([hw.buffer_bytes]))
        c = layer_pass_costs(nets[values["network"]], hw, [spec.batch], caps,
                             training=spec.mode == TRAINING)
        total = c.energy_pj.sum(axis=0)[0]
        if np.isfinite(total).any():
            i = int(np.nanargmin(np.where(np.isfinite(total), total, np.nan)))
            out[key] = (float(total[i]), float(caps[i]))
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
    title = (f"{row['network']} on {row['hardware']}: DRAM traffic per group, "
             f"{row['strategy']} with {plots.format_bytes(float(row['capacity_bytes']))} "
             "of buffer" + (f", sub-batch {rr.sub_batch}" if rr.sub_batch else ""))
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


CUTS_WIDTH = 40  # characters of `cuts` shown in report.md (whole entries only)


def shorten_cuts(cuts: str, width: int = CUTS_WIDTH) -> str:
    """``cuts`` cut at an entry boundary (never inside a number or a run ``a..b``), with the
    count of entries left out: '0..3;10..16;22..26 ... (+12)'."""
    if len(cuts) <= width:
        return cuts
    entries = cuts.split(";")
    kept: list[str] = []
    for e in entries:
        if len(";".join([*kept, e])) > width and kept:
            break
        kept.append(e)
    return ";".join(kept) + f" ... (+{len(entries) - len(kept)})"


def front_table(pareto: pd.DataFrame, limit: int = 25,
                hw_columns: list[str] | None = None) -> pd.DataFrame:
    """The front's points in reader units (units in the headers, or in the cell where the unit
    scales with the value), with every swept hardware field as a column."""
    hw_columns = [c for c in (hw_columns or []) if c in pareto]
    df = pareto.sort_values(["network", "dram_bytes", "capacity_bytes"], kind="mergesort")
    df = df.groupby("network", sort=False).head(limit)
    return pd.DataFrame({
        "network": df["network"], "hardware": df["hardware"],
        **{c: df[c] for c in hw_columns},
        "strategy": df["strategy"], "grouping": df["grouping"],
        "capacity": [plots.format_bytes(float(v)) for v in df["capacity_bytes"]],
        "sub_batch": df["sub_batch"], "dram_gib": df["dram_bytes"] / plots.GIB,
        "energy_mj": df["energy_pj"] / 1e9, "latency_ms": df["latency_s"] * 1e3,
        **({"dram_over_bound": df["dram_over_bound"]} if "dram_over_bound" in df
           and df["dram_over_bound"].notna().any() else {}),
        "cuts": [shorten_cuts(str(v)) for v in df["cuts"].fillna("").astype(str)],
    })


def energy_optima_table(by_capacity: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per configuration and strategy: the energy-optimal capacity, its energy and parts, and
    the energy at the largest capacity swept (whether a bigger buffer stops paying)."""
    rows = []
    for key, g in by_capacity.groupby([*keys, "strategy"], sort=True):
        best = plots.energy_optimum(g)
        last = g.sort_values("capacity_bytes", kind="mergesort").iloc[-1]
        row = dict(zip([*keys, "strategy"], key, strict=True))
        row |= {"optimum": plots.format_bytes(float(best["capacity_bytes"])),
                "energy_j": float(best["energy_pj"]) * 1e-12,
                **{f"{label}_j": float(best[col]) * 1e-12
                   for col, label, _ in plots.ENERGY_PARTS},
                "largest": plots.format_bytes(float(last["capacity_bytes"])),
                "energy_at_largest_j": float(last["energy_pj"]) * 1e-12}
        rows.append(row)
    return pd.DataFrame(rows)


def energy_capacity_section(by_capacity: pd.DataFrame, best: pd.DataFrame, keys: list[str],
                            fig_dir: Path) -> list[str]:
    """The report's energy-vs-capacity figure and table, and the traffic-vs-area front (when
    some hardware models area); nothing when the sweep has one capacity."""
    if by_capacity["capacity_bytes"].nunique() < 2:
        return []
    plots.energy_vs_capacity(by_capacity, fig_dir / "energy_vs_capacity", keys)
    md = ["## Energy vs buffer capacity", "",
          "Each strategy's lowest energy per batch at every capacity, split into DRAM, buffer, "
          "compute and static energy (buffer leakage x latency included); the dashed line marks "
          "the energy-optimal capacity. With a constant buffer cost a bigger buffer is free and "
          "the optimum is usually the largest one; with a capacity-dependent cost "
          "(`buffer_cost` in the hardware file) the buffer and static terms turn up.", "",
          "![energy vs buffer capacity](figures/energy_vs_capacity.png)", "",
          _md_table(energy_optima_table(by_capacity, keys)), ""]
    if "area_mm2" in best and float(best["area_mm2"].max()) > 0:
        plots.traffic_vs_area(best, fig_dir / "traffic_vs_area", keys)
        md += ["## DRAM traffic vs chip area", "",
               "Least DRAM traffic per batch each strategy reaches with at most that much chip "
               "area (buffer from the hardware's buffer cost model + MAC array).", "",
               "![DRAM traffic vs chip area](figures/traffic_vs_area.png)", ""]
    return md


def write_report(run_dir: Path) -> Path:
    """Write figures and report.md into ``run_dir``; returns the report's path."""
    info, spec = _load(run_dir)
    keys = panel_columns(spec)
    best, energy, by_capacity = scan_results(results_file(run_dir), keys)
    pareto = pd.read_csv(run_dir / "pareto.csv", keep_default_na=False, na_values=[""],
                         dtype=TEXT_COLUMNS)
    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    md = [f"# Sweep `{spec.name}`", ""]
    if spec.description:
        md += [spec.description, ""]
    md += [f"- mode: {spec.mode}, batch {spec.batch}; networks: "
           f"{', '.join(n for n, _ in spec.networks)}; hardware: "
           f"{', '.join(h for h, _ in spec.hardware)}",
           f"- strategies: {', '.join(spec.strategies)}",
           f"- {info.get('points', 0):,} design points evaluated"
           + (f", {info['points_feasible']:,} feasible, {info['points_written']:,} in the "
              f"results file (`--keep {info.get('keep', '')}`)"
              if "points_feasible" in info else "")
           + f"; {len(pareto):,} on the Pareto front "
           f"(objectives, all minimized: {', '.join(spec.objectives)})",
           f"- sweep file `{spec.file}` (sha256 `{info.get('sweep_sha256', '')[:16]}`), "
           f"cnnmem {info.get('cnnmem_version', '')}", ""]
    if best.empty:
        md += ["No feasible design point: every point needs more buffer than it has.", ""]
    else:
        traffic, traffic_keys, same = collapse_same_traffic(best, keys)
        plots.traffic_vs_capacity(traffic, _bounds(spec, traffic, traffic_keys),
                                  fig_dir / "traffic_vs_capacity", traffic_keys,
                                  training=spec.mode == TRAINING)
        md += ["## DRAM traffic vs buffer capacity", "",
               "Lowest DRAM traffic each strategy reaches with at most that much buffer, and "
               "the sum of the per-layer communication lower bounds (Chen et al.; it bounds "
               "layer-by-layer schedules, while schedules that keep data on chip across layers "
               "can go below it), and the compulsory traffic (network input and weights read "
               "once, outputs or weight gradients written once). OCCAM's rows count the "
               "per-image stream of a pipeline whose filters stay on chip (their one-time load "
               "is left out), so where OCCAM is drawn the compulsory traffic without weights, "
               "the floor of that accounting, is drawn too. One panel per network and hardware "
               "configuration"
               + (f" ({', '.join(same)} do{'es' if len(same) == 1 else ''} not change any "
                  "strategy's traffic: one panel stands for all values)" if same else "")
               + ".", "",
               "![DRAM traffic vs buffer capacity](figures/traffic_vs_capacity.png)", ""]
        plots.energy_breakdown(energy, fig_dir / "energy_breakdown", keys,
                               layerwise_baselines(spec, energy, keys))
        md += ["## Energy breakdown", "",
               "Each strategy's lowest-energy point, split into DRAM, buffer, compute and "
               "static energy (parts that are zero everywhere are left out), relative to the "
               "layer-by-layer baseline's lowest-energy point (computed with the per-layer cost "
               "model where the sweep has no layerwise row).", "",
               "![energy breakdown](figures/energy_breakdown.png)", ""]
        md += energy_capacity_section(by_capacity, best, keys, fig_dir)
        top = energy.sort_values("energy_pj", kind="mergesort").iloc[0]
        sched = best_schedule(spec, top)
        if sched is not None:
            plots.per_group_traffic(sched[0], sched[1], fig_dir / "best_schedule_groups")
            md += ["## Per-group DRAM traffic of the best schedule", "",
                   f"The lowest-energy point ({top['strategy']} on {top['network']}/"
                   f"{top['hardware']}, {plots.format_bytes(float(top['capacity_bytes']))}), "
                   "re-run with the strategy's per-group model:", "", "```sh",
                   request_of_row(spec, top).command(), "```", "",
                   "![per-group DRAM traffic](figures/best_schedule_groups.png)", ""]
        else:
            md += ["## Per-group DRAM traffic of the best schedule", "",
                   f"(strategy {top['strategy']} cannot re-run this point per group)", ""]
    md += ["## Pareto front", "", "Up to 25 points per network, by DRAM traffic; all points "
           "are in `pareto.csv` (`cuts`: a group ends after each listed layer index"
           + ("; `dram_over_bound`: DRAM bytes / the whole-network training bound 1, or bound 2 "
              "for a strategy that recomputes (mbs-recompute; the TNPU family with "
              "elementwise=fused); docs/training_bound.md"
              if spec.mode == TRAINING else "") + ").", "",
           _md_table(front_table(pareto, hw_columns=keys[2:])) if len(pareto) else "(empty)", ""]
    out = AtomicOutputs(run_dir)
    try:
        out.write("report.md", "\n".join(md).encode("utf-8"))
        out.commit()
    except BaseException:
        out.abort()
        raise
    return run_dir / "report.md"
