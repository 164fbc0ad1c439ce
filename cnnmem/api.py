"""The Python API: the functions ``cnnmem`` exports, over the same internals the CLI uses.

Every function takes names (``"resnet50"``, ``"wavecore"``, ``"quickstart"``), paths or
already-loaded objects, returns pandas objects whose column names carry their unit
(``dram_bytes``, ``energy_pj``, ``latency_s``, ...), and raises `InputError` on bad
input, with the one-line message the command line prints. Nothing is written to disk unless an
output directory is given.

This module imports numpy, pandas and the model lazily (inside the functions), so that
``import cnnmem`` and ``cnnmem --help`` stay fast.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnmem.errors import InputError

if TYPE_CHECKING:  # imported for annotations only (heavy modules stay unloaded)
    import pandas as pd

    from cnnmem.hardware.spec import Hardware
    from cnnmem.model.schedule import ScheduleRequest, TimelineData
    from cnnmem.sweep.spec import SweepSpec
    from cnnmem.workload.network import Network

__all__ = [
    "InputError", "Schedule", "SweepResult", "bound", "load_hardware", "load_network",
    "load_sweep", "reproduce", "schedule", "strategies", "sweep",
]

# ------------------------------------------------------------------------------------------
# loading


def load_network(network: str | os.PathLike[str] | Network) -> Network:
    """Load a network.

    Args:
        network: a built-in name (``"resnet50"``, see ``cnnmem networks``), a path to a
            network YAML file, or a path to an ONNX model (``model.onnx``; needs the ``onnx``
            extra). A `Network` is returned unchanged.

    Returns:
        The immutable network DAG (layers in topological order, shapes inferred).

    Raises:
        InputError: unknown name, missing file, or invalid network description.
    """
    from cnnmem.workload.network import Network

    if isinstance(network, Network):
        return network
    from cnnmem.workload.library import load_network as load

    return load(_path_text(network, "network"))


def load_hardware(hardware: str | os.PathLike[str] | Mapping[str, Any] | Hardware
                  ) -> Hardware:
    """Load a hardware description.

    Args:
        hardware: a built-in preset name (``"wavecore"``, ``"tnpu"``, ``"edge"``, ...), a path
            to a hardware YAML file, or a mapping with the fields of such a file (for example
            ``{"name": "chip", "buffer": "2MiB", "mac_units": 1024, "clock": "1GHz",
            "dram_bandwidth": "100GB/s"}``). A `Hardware` is
            returned unchanged.

    Returns:
        The immutable hardware description, in SI units.

    Raises:
        InputError: unknown name, missing file, unknown field or bad value.
    """
    from cnnmem.hardware.spec import Hardware, parse_hardware
    from cnnmem.hardware.spec import load_hardware as load

    if isinstance(hardware, Hardware):
        return hardware
    if isinstance(hardware, Mapping):
        return parse_hardware(dict(hardware), file="<mapping>", default_name="hardware")
    return load(_path_text(hardware, "hardware"))


def load_sweep(sweep: str | os.PathLike[str] | Mapping[str, Any] | SweepSpec) -> SweepSpec:
    """Load and validate a sweep description.

    Args:
        sweep: a built-in sweep name (``"quickstart"``, ``"resnet50-mbs"``), a path to a sweep
            YAML file, or a mapping with the fields of such a file (relative network and
            hardware paths in it are taken from the current directory). A
            `SweepSpec` is returned unchanged.

    Returns:
        The validated sweep (networks and hardware loaded).

    Raises:
        InputError: a bad sweep file or mapping, named by file, line and field.
    """
    from cnnmem.sweep.spec import SweepSpec, parse_sweep
    from cnnmem.sweep.spec import load_sweep as load

    if isinstance(sweep, SweepSpec):
        return sweep
    if isinstance(sweep, Mapping):
        import yaml

        data = dict(sweep)
        return parse_sweep(data, file="<mapping>",
                           text=yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return load(_path_text(sweep, "sweep"))


def _path_text(value: object, what: str) -> str | os.PathLike[str]:
    if isinstance(value, str | os.PathLike):
        return value
    raise InputError(f"expected a {what} name or path, got {type(value).__name__}",
                     field=what)


# ------------------------------------------------------------------------------------------
# checks shared with the command line


def _count(value: object, name: str, maximum: int) -> int:
    """A whole number in 1..maximum (the CLI's IntRange), else InputError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InputError(f"expected a whole number, got {value!r}", field=name)
    if not 1 <= int(value) <= maximum:
        raise InputError(f"{int(value)} is not in the range 1<=x<={maximum}", field=name)
    return int(value)


def _size_bytes(value: str | float | int, name: str) -> float:
    from cnnmem.units import parse_quantity

    return parse_quantity(value, "bytes", field=name)


# ------------------------------------------------------------------------------------------
# one schedule


@dataclass(frozen=True)
class Schedule:
    """One strategy's schedule of a network on a piece of hardware.

    Attributes:
        strategy: the strategy's name.
        groups: the per-group table (one row per layer group, or per layer/phase/stage as the
            strategy reports it); column names carry units.
        totals: whole-network totals as a Series indexed by unit-named quantity
            (``dram_bytes``, ``energy_pj``, ``latency_s``, ``throughput_per_s``, ...); its
            dtype is object so that each value keeps its type (``groups`` an integer, ``cuts``
            text): ``float(s.totals["dram_bytes"])`` for a number.
        notes: the modelling choices the command line prints under its table.
        timeline: the strategy's timeline as data (``tnpu``'s busy intervals), or None.
        request: the normalized request that was run (network, hardware with any buffer
            override, mode, batch, chips, sub-batch, typed options, grouping).
    """

    strategy: str
    groups: pd.DataFrame
    totals: pd.Series
    notes: tuple[str, ...]
    timeline: TimelineData | None
    request: ScheduleRequest

    def plot_timeline(self, path: str | os.PathLike[str]) -> Path:
        """Draw the timeline (Gantt chart) to ``path`` (PNG or SVG) and return the path.

        Raises:
            InputError: the strategy has no timeline.
        """
        if self.timeline is None:
            raise InputError(f"strategy '{self.strategy}' has no timeline", field="timeline")
        from cnnmem.report.timeline import plot_timeline

        tl = self.timeline
        out = Path(path)
        plot_timeline(tl.intervals, out, title=tl.title, samples=tl.samples,
                      total_pes=tl.total_pes, shared_pu=tl.shared_pu)
        return out


def schedule(network: str | os.PathLike[str] | Network,
             hardware: str | os.PathLike[str] | Mapping[str, Any] | Hardware,
             strategy: str, *, batch: int | None = None,
             buffer: str | float | int | None = None, mode: str | None = None,
             chips: int | None = None, sub_batch: int | None = None,
             grouping: str | tuple[int, ...] | None = None,
             **options: Any) -> Schedule:
    """Schedule ``network`` on ``hardware`` with one strategy (``cnnmem schedule``).

    Args:
        network: a network name, path or `Network` (see `load_network`).
        hardware: a hardware name, path, mapping or `Hardware`
            (see `load_hardware`).
        strategy: a strategy name (see `strategies`), e.g. ``"layerwise"``,
            ``"mbs-optimal"``, ``"fusion"``, ``"occam"``, ``"tnpu"``.
        batch: mini-batch size (training) or images in flight (inference); default 32 for
            training and 1 for inference.
        buffer: on-chip buffer override, in bytes or with a unit (``"10MiB"``).
        mode: ``"training"`` or ``"inference"``; default: the strategy's first mode.
        chips: number of chips (multi-chip strategies); default: the hardware's.
        sub_batch: force one sub-batch size (MBS strategies).
        grouping: a grouping policy name or layer cuts, for strategies that take a grouping.
        **options: the strategy's own options (``cnnmem strategies --options``), e.g.
            ``window="k"``.

    Returns:
        The `Schedule`: per-group table, totals, notes and timeline.

    Raises:
        InputError: an unknown name, a bad value, or a request the strategy does not take.

    Example:
        >>> import cnnmem
        >>> s = cnnmem.schedule("resnet50", "wavecore", "mbs-optimal", batch=32)
        >>> s.totals["dram_bytes"] > 0
        True
    """
    return schedule_with(network, hardware, strategy, batch=batch, buffer=buffer, mode=mode,
                         chips=chips, sub_batch=sub_batch, grouping=grouping, options=options)


def schedule_with(network: str | os.PathLike[str] | Network,
                  hardware: str | os.PathLike[str] | Mapping[str, Any] | Hardware,
                  strategy: str, *, batch: int | None = None,
                  buffer: str | float | int | None = None, mode: str | None = None,
                  chips: int | None = None, sub_batch: int | None = None,
                  grouping: str | tuple[int, ...] | None = None,
                  options: Mapping[str, Any] | None = None) -> Schedule:
    """`schedule` with the strategy options as one mapping (any key, even one named like
    an argument of `schedule`, reaches the strategy's option check)."""
    import pandas as pd

    from cnnmem.limits import MAX_BATCH, MAX_CHIPS
    from cnnmem.model.schedule import run_strategy

    batch = None if batch is None else _count(batch, "batch", MAX_BATCH)
    chips = None if chips is None else _count(chips, "chips", MAX_CHIPS)
    sub_batch = None if sub_batch is None else _count(sub_batch, "sub_batch", MAX_BATCH)
    buffer_bytes = None if buffer is None else _size_bytes(buffer, "buffer")
    request, result = run_strategy(strategy, load_network(network), load_hardware(hardware),
                                   mode=mode, batch=batch, buffer_bytes=buffer_bytes,
                                   chips=chips, sub_batch=sub_batch, options=dict(options or {}),
                                   grouping=grouping)
    # object dtype keeps each total's own type (counts stay integers, ``cuts`` text)
    totals = pd.Series(result.totals, name=result.strategy, dtype=object)
    return Schedule(strategy=result.strategy, groups=result.groups,
                    totals=totals, notes=tuple(result.notes),
                    timeline=result.timeline, request=request)


def strategies(*, options: bool = False) -> pd.DataFrame:
    """The scheduling strategies and what each takes (``cnnmem strategies``).

    Args:
        options: one row per strategy option (choices, default, help) instead of one row per
            strategy.

    Returns:
        One row per strategy: ``strategy``, ``modes``, ``grouping``, ``sub_batch``, ``chips``,
        ``options``, ``latency``, ``description``; with ``options=True``: ``strategy``,
        ``option``, ``values``, ``default``, ``help``.
    """
    import pandas as pd

    from cnnmem.model.schedule import strategy_specs

    specs = strategy_specs().values()
    if options:
        rows = [{"strategy": s.name, "option": o.name,
                 "values": "|".join(o.choices) if o.choices else f"whole number >= {o.minimum}",
                 "default": str(o.default), "help": o.help} for s in specs for o in s.options]
        return pd.DataFrame(rows, columns=["strategy", "option", "values", "default", "help"])

    def option_text(o: Any) -> str:
        values = "|".join(o.choices) if o.choices else f"N>={o.minimum} ({o.default})"
        return f"{o.name}={values}"

    rows = [{"strategy": s.name, "modes": ",".join(s.modes),
             "grouping": s.grouping.describe(), "sub_batch": s.sub_batch,
             "chips": "yes" if s.chips else "no",
             "options": " ".join(option_text(o) for o in s.options) or "-",
             "latency": s.latency, "description": s.description} for s in specs]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# the lower bound


def bound(network: str | os.PathLike[str] | Network, buffer: str | float | int, *,
          batch: int = 1,
          hardware: str | os.PathLike[str] | Mapping[str, Any] | Hardware | None = None,
          passes: str | Iterable[str] = "forward", total: bool = False) -> pd.DataFrame:
    """Per-layer communication lower bound vs the bound-attaining dataflow (``cnnmem bound``).

    Args:
        network: a network name, path or `Network`.
        buffer: the on-chip buffer, in bytes or with a unit (``"128KiB"``).
        batch: the batch size.
        hardware: hardware for the bytes per activation/weight/gradient (default: 2 bytes for
            every tensor).
        passes: ``"forward"``, ``"dgrad"``, ``"wgrad"``, ``"all"`` or several of them.
        total: append the ``TOTAL`` row the command line prints.

    Returns:
        One row per conv/FC layer-pass: ``layer``, ``type``, ``pass``, ``macs``,
        ``lower_bound_bytes``, ``dataflow_bytes``, ``dataflow_over_bound``, ``tile``,
        ``buffer_used_bytes``, ``min_buffer_bytes``, ``feasible``.

    Raises:
        InputError: an unknown name, a bad size or an unknown pass.
    """
    from cnnmem.hardware.spec import default_hardware
    from cnnmem.limits import MAX_BATCH
    from cnnmem.model.gconv import PASSES
    from cnnmem.report.bound import bound_table, with_total

    net = load_network(network)
    hw = default_hardware() if hardware is None else load_hardware(hardware)
    buffer_bytes = _size_bytes(buffer, "buffer")
    batch = _count(batch, "batch", MAX_BATCH)
    chosen = (passes,) if isinstance(passes, str) else tuple(passes)
    if chosen == ("all",):
        chosen = tuple(PASSES)
    for p in chosen:
        if p not in PASSES:
            raise InputError(f"unknown pass '{p}' (known: {', '.join(PASSES)}, all)",
                             field="pass")
    df = bound_table(net, hw, buffer_bytes, batch, chosen)
    return with_total(df) if total else df


# ------------------------------------------------------------------------------------------
# sweeps


@dataclass(frozen=True)
class SweepResult:
    """The outcome of a sweep.

    Attributes:
        spec: the validated sweep that ran.
        results: the kept design points (see ``keep``), one row per point, with the columns of
            ``results.parquet``: ``network``, ``hardware``, ``strategy``, ``grouping``, ``cuts``,
            any swept hardware field, ``capacity_bytes``, ``sub_batch``, ``feasible`` and the
            metrics (``dram_bytes``, ``buffer_need_bytes``, ``energy_pj`` and its parts,
            ``latency_s``, ``compute_s``, ``memory_s``).
        front: the Pareto front per network over the sweep's objectives (``pareto.csv``).
        points: design points evaluated.
        feasible_points: of those, the feasible ones (every metric finite).
        out: the directory the files were written to, or None when nothing was written.
        files: the files written.
    """

    spec: SweepSpec
    results: pd.DataFrame
    front: pd.DataFrame
    points: int
    feasible_points: int
    out: Path | None = None
    files: tuple[Path, ...] = field(default_factory=tuple)


def sweep(spec: str | os.PathLike[str] | Mapping[str, Any] | SweepSpec, *, jobs: int = 1,
          out: str | os.PathLike[str] | None = None, keep: str = "feasible",
          csv: bool = False, progress: bool = True,
          chunk_points: int | None = None) -> SweepResult:
    """Evaluate every design point of a sweep (``cnnmem sweep``).

    Args:
        spec: a built-in sweep name (``"quickstart"``), a sweep YAML path, a mapping with the
            fields of a sweep file, or a loaded `SweepSpec` (see `load_sweep`).
        jobs: processes on this machine (``jobs - 1`` worker processes, forked from this one
            on Linux, and this one; the results are identical for any number). With
            ``out=None`` and ``jobs > 1`` the files go to a temporary directory, removed
            before this returns.
        out: write ``results.parquet`` (and ``results.csv`` with ``csv``), ``pareto.csv`` and
            ``run.json`` to this directory, as ``cnnmem sweep -o`` does. None (the default)
            writes nothing: the results are kept in memory.
        keep: the points ``results`` holds: ``"all"``, ``"feasible"`` or ``"pareto"``. With
            ``out=None`` and ``keep="all"`` every evaluated point is held in memory.
        csv: also write ``results.csv`` (only with ``out``).
        progress: show a progress bar while it runs (only when stderr is a terminal, as the
            command line does; never in a notebook or a pipe).
        chunk_points: design points per evaluator call (bounds memory); default as the CLI.

    Returns:
        The `SweepResult` with ``results`` and ``front`` as DataFrames.

    Raises:
        InputError: a bad sweep, or ``jobs`` the engine cannot honour.
    """
    from cnnmem.sweep.engine import DEFAULT_CHUNK_POINTS, KEEP_CHOICES, run_sweep

    if keep not in KEEP_CHOICES:
        raise InputError(f"expected one of {', '.join(KEEP_CHOICES)}, got {keep!r}",
                         field="keep")
    jobs = _count(jobs, "jobs", 1 << 12)
    chunk = DEFAULT_CHUNK_POINTS if chunk_points is None else _count(
        chunk_points, "chunk_points", 1 << 62)
    engine_jobs = "jobs" in inspect.signature(run_sweep).parameters
    if jobs != 1 and not engine_jobs:
        raise InputError(f"jobs={jobs}: this sweep engine runs in one process (jobs=1)",
                         field="jobs")
    if csv and out is None:
        raise InputError("csv=True writes results.csv: give out=DIR", field="csv")
    loaded = load_sweep(spec)
    if out is None and jobs == 1:
        return _sweep_in_memory(loaded, keep=keep, chunk_points=chunk, quiet=not progress)
    if out is None:  # a parallel engine writes files: use a directory removed afterwards
        import tempfile

        with tempfile.TemporaryDirectory(prefix="cnnmem-sweep-") as tmp:
            done = _sweep_to_files(loaded, Path(tmp) / "run", jobs=jobs, keep=keep, csv=False,
                                   chunk_points=chunk, quiet=not progress)
        return SweepResult(done.spec, done.results, done.front, done.points,
                           done.feasible_points)
    return _sweep_to_files(loaded, Path(out), jobs=jobs if engine_jobs else None, keep=keep,
                           csv=csv, chunk_points=chunk, quiet=not progress)


def _sweep_to_files(spec: SweepSpec, out: Path, *, jobs: int | None, keep: str, csv: bool,
                    chunk_points: int, quiet: bool) -> SweepResult:
    """``cnnmem sweep -o out``, then the written results and front read back."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cnnmem import __version__
    from cnnmem.sweep.engine import KEY_COLUMNS, result_schema, run_sweep
    from cnnmem.sweep.output import terminate_as_interrupt

    extra: dict[str, Any] = {} if jobs is None else {"jobs": jobs}
    with terminate_as_interrupt():  # SIGTERM unwinds like Ctrl-C: no partial files
        summary = run_sweep(spec, out, quiet=quiet, chunk_points=chunk_points,
                            version=__version__, keep=keep, csv=csv, **extra)
    results = pq.read_table(out / "results.parquet").to_pandas()
    front = pd.read_csv(out / "pareto.csv", keep_default_na=False, na_values=[""],
                        dtype={c: str for c in KEY_COLUMNS})
    front = pa.Table.from_pandas(front, schema=result_schema(spec),
                                 preserve_index=False).to_pandas()
    return SweepResult(spec, results, front, summary.points, summary.feasible_points,
                       out, tuple(summary.files))


def _sweep_in_memory(spec: SweepSpec, *, keep: str, chunk_points: int,
                     quiet: bool) -> SweepResult:
    """The engine's serial evaluation with the kept rows collected as pyarrow tables of the
    results schema (so ``results`` equals what ``results.parquet`` would hold) and nothing
    written."""
    import pyarrow as pa

    from cnnmem.sweep import engine

    tasks = engine.plan(spec)
    front = engine._Front(spec.objectives)
    tables = []
    points = feasible = 0
    with engine._progress(sum(t.n_points for t in tasks), quiet) as bar:
        for res in engine.serial_blocks(spec, tasks, chunk_points, keep, True,
                                        engine._block_progress(bar)):
            if res.table is not None:
                tables.append(res.table)
            for network, rows in res.fronts.items():
                front.merge(network, rows)
            points += res.points
            feasible += res.feasible
    front_table = engine._frame_table(spec, front.frame(spec))
    if keep == "pareto":
        tables = [front_table]
    schema = engine.result_schema(spec)
    results = pa.concat_tables(tables) if tables else schema.empty_table()
    return SweepResult(spec, results.to_pandas(), front_table.to_pandas(), points, feasible)


# ------------------------------------------------------------------------------------------
# published figures


def reproduce(names: str | Iterable[str] = "all", *,
              directory: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Re-compute published figures and compare them with the papers (``cnnmem reproduce``).

    Args:
        names: ``"all"``, a scenario name (``"mbs-traffic"``), a scenario YAML path, or several.
        directory: the scenario directory (default: the built-in scenarios).

    Returns:
        One row per figure: ``name``, ``published``, ``modeled``, ``gap``, ``tolerance``,
        ``unit``, ``status`` (PASS, IDENTITY, MISS, EXPECTED-MISS, ERROR), the arithmetic and
        geometric means, ``per_network`` values, ``reason``, ``figure``, ``source``,
        ``provenance``, ``metric``, ``target`` and ``file``.

    Raises:
        InputError: an unknown scenario or a bad scenario file.
    """
    from cnnmem.reproduce import SCENARIO_DIR, outcome_table, select_scenarios
    from cnnmem.reproduce import reproduce as run

    chosen = [names] if isinstance(names, str) else list(names)
    if "all" in chosen and len(chosen) > 1:
        raise InputError("give 'all' alone or scenario names", field="names")
    scenarios = select_scenarios(chosen, Path(directory) if directory else SCENARIO_DIR)
    return outcome_table(run(scenarios), detail=True)
