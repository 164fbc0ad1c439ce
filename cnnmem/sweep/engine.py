"""Expand a sweep into evaluator calls and evaluate them in bounded chunks.

The design space is networks x hardware (x swept hardware fields) x strategies x groupings
(Python loops: each is one precomputed structure) times capacities x sub-batch sizes (arrays:
each evaluator call covers a block of capacities and every sub-batch size at once). Capacities
are split into chunks of at most ``chunk_points`` design points, so memory stays bounded for any
sweep size. Whole chunks make blocks (:func:`evaluate_block`): one per block in a serial run
(:func:`serial_blocks`), a few per block on ``--jobs`` or Dask workers; every run takes the
blocks' results in order through the same loop of :func:`run_sweep`. Rows stream to
``results.parquet`` (and ``results.csv`` on request) as they are produced, all of them or only
the feasible ones; the Pareto front per network is kept incrementally (front of the union =
front of (old front + new block)).

Hardware-field axes (bandwidth, energies, precision ...) are evaluated exactly: the strategy is
re-run on each modified hardware, never rescaled at whole-network level.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnnmem.errors import InputError
from cnnmem.hardware import Hardware
from cnnmem.model.grouping import format_cuts, structural_cuts
from cnnmem.model.mbs.capacity import CapacityDomain, capacity_domain
from cnnmem.model.rollup import CHIP_COLUMNS, chip_columns, total_energy
from cnnmem.model.schedule import (
    POINT_FIELDS,
    STRUCTURAL_POLICIES,
    TRAINING,
    StrategySpec,
    SweepRequest,
    strategy_specs,
    sweep_evaluators,
)
from cnnmem.sweep.memory import keep_freed_memory
from cnnmem.sweep.output import AtomicOutputs, ResultWriter
from cnnmem.sweep.pareto import pareto_mask
from cnnmem.sweep.spec import (
    EXHAUSTIVE_MAX_LAYERS,
    GroupingSpec,
    SweepSpec,
    apply_hardware,
)
from cnnmem.workload.network import Network

METRICS = ("dram_bytes", "buffer_need_bytes", "energy_pj", "energy_dram_pj", "energy_buffer_pj",
           "energy_compute_pj", "energy_static_pj", "latency_s", "compute_s", "memory_s",
           *CHIP_COLUMNS, "dram_over_bound")
#: metrics that do not decide feasibility: ``dram_over_bound`` is NaN in inference sweeps
RATIO_METRICS = ("dram_over_bound",)
KEY_COLUMNS = ("network", "hardware", "strategy", "grouping", "cuts")
DEFAULT_CHUNK_POINTS = 1 << 16
#: which evaluated points the results file keeps: every one, the feasible ones (every metric
#: finite), or only the Pareto front
KEEP_CHOICES = ("all", "feasible", "pareto")
DEFAULT_KEEP = "feasible"


# ------------------------------------------------------------------------------------------
# groupings


def structure_cuts(net: Network, policy: str) -> tuple[int, ...]:
    """Cuts for "layer" (every layer alone), "block", "stage" or "all" (one group)."""
    return structural_cuts([layer.name for layer in net.layers], policy)


def _limit_depth(cutmat: np.ndarray, max_depth: int | None) -> np.ndarray:
    """Rows of a (g, n-1) cut matrix whose groups are all at most ``max_depth`` layers."""
    if max_depth is None or cutmat.shape[0] == 0:
        return cutmat
    run = np.ones(cutmat.shape[0], np.int64)
    ok = np.ones(cutmat.shape[0], bool)
    for j in range(cutmat.shape[1]):  # a loop over layer positions
        run = np.where(cutmat[:, j], 1, run + 1)
        ok &= run <= max_depth
    return cutmat[ok]


Grouping = str | tuple[int, ...] | None


def expand_grouping(net: Network, g: GroupingSpec) -> list[tuple[str, Grouping]]:
    """(label, grouping for the SweepRequest) pairs of one grouping-axis entry."""
    n = len(net)
    if g.kind == "default":
        return [("default", None)]
    if g.kind == "policy":
        if g.value not in STRUCTURAL_POLICIES:  # computed by the strategy: passed by name
            return [(g.value, g.value)]
        return [(g.value, structure_cuts(net, g.value))]
    if g.kind == "depth":
        return [(g.label, tuple(range(g.value - 1, n - 1, g.value)))]
    if g.kind == "exhaustive":
        if n > EXHAUSTIVE_MAX_LAYERS:
            raise InputError(f"exhaustive groupings need a network of at most "
                             f"{EXHAUSTIVE_MAX_LAYERS} layers; {net.name} has {n} (use "
                             "{random: N, seed: S} instead)", line=g.line, field="axes.grouping")
        codes = np.arange(1 << (n - 1), dtype=np.int64)
        cutmat = ((codes[:, None] >> np.arange(n - 1)) & 1).astype(bool)
    else:
        rng = np.random.default_rng(g.seed)
        p = rng.uniform(0.05, 0.5, size=(g.value, 1))
        cutmat = rng.random((g.value, max(n - 1, 0))) < p
        if g.max_depth is not None:  # force a cut where a group would grow too deep
            run = np.zeros(g.value, np.int64)
            for j in range(n - 1):
                run = run + 1
                cutmat[:, j] |= run >= g.max_depth
                run = np.where(cutmat[:, j], 0, run)
        cutmat = np.unique(cutmat, axis=0)[::-1]
    cutmat = _limit_depth(cutmat, g.max_depth)
    return [(f"{g.label}#{i}", tuple(int(x) for x in np.flatnonzero(row)))
            for i, row in enumerate(cutmat)]


# ------------------------------------------------------------------------------------------
# planning


@dataclass(frozen=True)
class Task:
    """One evaluator setup: everything but capacities and sub-batch sizes fixed."""

    network: str
    net: Network
    hardware: str
    hw: Hardware
    hw_values: tuple[float, ...]
    strategy: str
    grouping_label: str
    grouping: str | tuple[int, ...] | None
    capacity_bytes: np.ndarray
    sub_batch: np.ndarray | None  # None: the strategy takes no sub-batch axis
    whole_batch: bool  # rows record sub_batch = batch (else empty when sub_batch is None)
    options: dict[str, Any]  # the sweep's options this strategy takes
    chips: int

    @property
    def n_points(self) -> int:
        ns = 1 if self.sub_batch is None else self.sub_batch.size
        return self.capacity_bytes.size * ns

    @cached_property
    def capacity_domain(self) -> CapacityDomain:
        """The task's capacity domain (its distinct capacities, hashed), made once per Task
        object: a worker evaluates many blocks of the task it was sent."""
        return CapacityDomain.of(self.capacity_bytes)


def strategy_options(spec: StrategySpec, options: dict[str, Any]) -> dict[str, Any]:
    """The sweep's options that ``spec`` takes (its declared options; grouping/cuts when it
    takes a grouping). The sweep file's validation has checked every option is taken by some
    listed strategy."""
    taken = set(spec.option_names) | ({"grouping", "cuts"} if spec.grouping.takes else set())
    return {k: v for k, v in options.items() if k in taken}


def plan(spec: SweepSpec) -> list[Task]:
    """Every evaluator setup of the sweep, in a fixed order (validates all hardware values)."""
    specs = strategy_specs()
    tasks = []
    for net_name, net in spec.networks:
        groupings_all = [pair for g in spec.groupings for pair in expand_grouping(net, g)]
        for hw_name, base_hw in spec.hardware:
            for values in itertools.product(*(a.values for a in spec.hw_axes)):
                try:
                    hw = apply_hardware(base_hw, spec.hw_axes, values)
                except InputError as exc:
                    raise InputError(f"{hw_name}: {exc.message}", file=spec.file,
                                     field=exc.field) from None
                caps = (np.array([hw.buffer_bytes]) if spec.capacity_bytes is None
                        else spec.capacity_bytes)
                for strat in spec.strategies:
                    sspec = specs[strat]
                    groupings = (groupings_all if sspec.grouping.takes
                                 else [("default", None)])
                    sub = spec.sub_batch if sspec.sub_batch == "fixed" else None
                    opts = strategy_options(sspec, spec.options)
                    chips = spec.chips if sspec.chips else 1
                    for label, grouping in groupings:
                        tasks.append(Task(net_name, net, hw_name, hw, tuple(values), strat,
                                          label, grouping, caps, sub,
                                          sspec.sub_batch == "whole", opts, chips))
    return tasks


# ------------------------------------------------------------------------------------------
# evaluation


def round_significant(x: np.ndarray, digits: int = 15) -> np.ndarray:
    """``x`` rounded to ``digits`` significant decimal digits (non-finite values unchanged).

    Per finite non-zero value: ``e = floor(log10(|x|))``, ``scale = 10 ** (digits - 1 - e)``,
    ``rint(x * scale) / scale`` (kept only if finite). Only those values are computed (an
    infeasible point's metrics are ``inf``), and the powers of ten come from a table made by
    the same ``10.0 ** exponent`` (bitwise equal to the direct formula: tests/test_hot_paths)."""
    x = np.asarray(x, dtype=float)
    finite = np.isfinite(x) & (x != 0)
    every = bool(finite.all())
    v = x if every else x[finite]
    powers, lowest = _powers_of_ten(digits)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        e = np.floor(np.log10(np.abs(v)))
        scale = powers[(digits - 1 - lowest - e).astype(np.intp)]
        r = np.rint(v * scale) / scale
    r = np.where(np.isfinite(r), r, v)
    if every:
        return r
    out = x.copy()
    out[finite] = r
    return out


@lru_cache(maxsize=4)
def _powers_of_ten(digits: int) -> tuple[np.ndarray, int]:
    """``10.0 ** k`` (float64 exponents, as the rounding formula computes them) for every
    ``k = digits - 1 - e`` a finite non-zero float64 can need (e = -324 .. 308), and the
    lowest k."""
    lowest = digits - 1 - 308
    with np.errstate(over="ignore"):
        return 10.0 ** np.arange(lowest, digits - 1 + 325, dtype=float), lowest


@dataclass
class Chunk:
    """Rows of one evaluator call, as arrays (one value per design point)."""

    task: Task
    capacity_bytes: np.ndarray
    sub_batch: np.ndarray
    metrics: dict[str, np.ndarray]
    cut_codes: np.ndarray  # index into cut_labels
    cut_labels: list[str]

    def __len__(self) -> int:
        return self.capacity_bytes.size


def _cuts_column(cuts: Any, n_cap: int, ncol: int, n_layers: int
                 ) -> tuple[np.ndarray, list[str]]:
    """Per-point cut strings as codes (n_cap * ncol,) + labels (one per distinct grouping).

    ``cuts`` is one cut tuple for every point, or a boolean cut mask per point
    (:func:`cnnmem.model.grouping.cut_mask`): its distinct rows are found with one
    ``np.unique``, so only distinct groupings are formatted."""
    if isinstance(cuts, np.ndarray) and cuts.dtype == bool:
        rows = cuts.reshape(-1, cuts.shape[-1])
        distinct, codes = np.unique(rows, axis=0, return_inverse=True)
        codes = codes.reshape(-1)
        labels = [format_cuts(np.flatnonzero(r), n_layers) for r in distinct]
        if codes.size == n_cap * ncol:
            return codes, labels
        return np.repeat(codes[:n_cap], ncol), labels
    return np.zeros(n_cap * ncol, np.int64), [format_cuts(tuple(cuts), n_layers)]


def capacities_per_chunk(task: Task, chunk_points: int) -> int:
    """Capacities of one evaluator call: every sub-batch size of a capacity in the same call."""
    n_sub = 1 if task.sub_batch is None else task.sub_batch.size
    return max(1, chunk_points // n_sub)


def _training_bound(spec: SweepSpec, task: Task, caps: np.ndarray) -> np.ndarray:
    """The training lower bound per capacity (bound 1; bound 2 for a strategy that recomputes;
    :mod:`cnnmem.model.training_bound`), NaN in inference: ``dram_over_bound``'s denominator."""
    if spec.mode != TRAINING:
        return np.full(caps.size, np.nan)
    from cnnmem.model.precision import Precision
    from cnnmem.model.training_bound import network_training_bound_bytes

    return network_training_bound_bytes(
        task.net, Precision.of(task.hw), spec.batch, caps,
        recompute=strategy_specs()[task.strategy].recomputes_with(task.options))[0]


def evaluate_task(spec: SweepSpec, task: Task, evaluator: Callable[[SweepRequest], Any],
                  chunk_points: int, block: tuple[int, int] | None = None) -> Iterator[Chunk]:
    """Evaluate one task over its capacities in chunks of at most ``chunk_points`` points
    (only capacities ``block`` = (first, end) when given; chunks start where the whole task's
    would, so a block's rows are those of the serial run)."""
    sub = task.sub_batch
    n_sub = 1 if sub is None else sub.size
    per = capacities_per_chunk(task, chunk_points)
    caps_all = task.capacity_bytes
    first, end = (0, caps_all.size) if block is None else block
    for lo in range(first, end, per):  # a loop over chunks of capacities
        caps = caps_all[lo:min(lo + per, end)]
        req = SweepRequest(network=task.net, hardware=task.hw, mode=spec.mode, batch=spec.batch,
                           capacity_bytes=caps, sub_batch=sub, grouping=task.grouping,
                           chips=task.chips, options=dict(task.options))
        try:
            with capacity_domain(task.capacity_domain):  # per-layer model built once for all chunks
                pc = evaluator(req)
        except InputError as exc:
            raise InputError(f"{task.strategy} on {task.network}/{task.hardware}: {exc.message}",
                             file=spec.file, field=exc.field) from None
        arrays = {f: np.asarray(getattr(pc, f), dtype=float) for f in POINT_FIELDS}
        shape = arrays["dram_bytes"].shape
        if len(shape) != 2 or shape[0] != caps.size:
            raise RuntimeError(f"strategy {task.strategy} returned shape {shape} for "
                               f"{caps.size} capacities")
        ncol = shape[1]
        if task.whole_batch:
            sb = np.full(ncol, float(spec.batch))
        elif sub is not None and ncol == n_sub:
            sb = sub.astype(float)
        else:
            sb = np.full(ncol, np.nan)  # the strategy chose sub-batch sizes itself
        # 15 significant digits, as written: the front and the files then agree, and the last
        # bits that vary with the evaluator's array sizes (chunking) cannot change the front
        metrics = {f: round_significant(np.broadcast_to(arrays[f], shape).ravel())
                   for f in POINT_FIELDS}
        metrics["energy_pj"] = round_significant(total_energy(metrics))
        # area and leakage depend on the capacity only: one value per capacity, per point
        for key, value in chip_columns(task.hw, caps).items():
            metrics[key] = round_significant(np.repeat(np.asarray(value, float), ncol))
        metrics["dram_over_bound"] = round_significant(
            metrics["dram_bytes"] / np.repeat(_training_bound(spec, task, caps), ncol))
        codes, labels = _cuts_column(pc.cuts, caps.size, ncol, len(task.net))
        yield Chunk(task, np.repeat(caps, ncol), np.tile(sb, caps.size),
                    {m: metrics[m] for m in METRICS}, codes, labels)


def result_columns(spec: SweepSpec) -> list[str]:
    return (list(KEY_COLUMNS) + [a.column for a in spec.hw_axes]
            + ["capacity_bytes", "sub_batch", "feasible"] + list(METRICS))


# ------------------------------------------------------------------------------------------
# writing results (kept apart from the evaluation above)


def result_schema(spec: SweepSpec) -> Any:
    """The fixed pyarrow schema of result files: text keys, float64 numbers (``sub_batch``
    null where the strategy chose it), a boolean ``feasible``."""
    import pyarrow as pa

    fields = [pa.field(c, pa.string()) for c in KEY_COLUMNS]
    fields += [pa.field(a.column, pa.float64()) for a in spec.hw_axes]
    fields += [pa.field("capacity_bytes", pa.float64()), pa.field("sub_batch", pa.float64()),
               pa.field("feasible", pa.bool_())]
    fields += [pa.field(m, pa.float64()) for m in METRICS]
    return pa.schema(fields)


def feasible_points(ch: Chunk) -> np.ndarray:
    """Points whose every metric is finite (an infeasible schedule reports ``inf``)."""
    ok = np.ones(len(ch), bool)
    for m in METRICS:  # a loop over metrics
        if m not in RATIO_METRICS:
            ok &= np.isfinite(ch.metrics[m])
    return ok


def chunk_table(spec: SweepSpec, ch: Chunk, rows: np.ndarray, feasible: np.ndarray) -> Any:
    """The ``rows`` of a chunk as a pyarrow Table of :func:`result_schema` (no Python loop per
    row: texts are taken from the chunk's few distinct labels)."""
    import pyarrow as pa

    t = ch.task
    n = rows.size

    def text(value: str) -> Any:
        return pa.array([value], pa.string()).take(pa.array(np.zeros(n, np.int32)))

    sub = ch.sub_batch[rows]
    cols = [text(t.network), text(t.hardware), text(t.strategy), text(t.grouping_label),
            pa.array(ch.cut_labels, pa.string()).take(pa.array(ch.cut_codes[rows]))]
    cols += [pa.array(np.full(n, v, dtype=float)) for v in t.hw_values]
    cols += [pa.array(ch.capacity_bytes[rows]), pa.array(sub, mask=np.isnan(sub)),
             pa.array(feasible[rows])]
    cols += [pa.array(ch.metrics[m][rows]) for m in METRICS]
    return pa.Table.from_arrays(cols, schema=result_schema(spec))


def _frame_table(spec: SweepSpec, frame: pd.DataFrame) -> Any:
    """A DataFrame of result columns as a Table of :func:`result_schema`."""
    import pyarrow as pa

    return pa.Table.from_pandas(frame, schema=result_schema(spec), preserve_index=False)


def _chunk_columns(spec: SweepSpec, ch: Chunk, rows: np.ndarray,
                   feasible: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The ``rows`` of a chunk as result columns (texts as object arrays)."""
    t = ch.task
    n = rows.size
    cols: dict[str, np.ndarray] = {
        "network": np.full(n, t.network, dtype=object),
        "hardware": np.full(n, t.hardware, dtype=object),
        "strategy": np.full(n, t.strategy, dtype=object),
        "grouping": np.full(n, t.grouping_label, dtype=object),
        "cuts": np.asarray(ch.cut_labels, dtype=object)[ch.cut_codes[rows]],
    }
    for a, v in zip(spec.hw_axes, t.hw_values, strict=True):
        cols[a.column] = np.full(n, v, dtype=float)
    cols["capacity_bytes"] = ch.capacity_bytes[rows]
    cols["sub_batch"] = ch.sub_batch[rows]
    cols["feasible"] = (feasible_points(ch) if feasible is None else feasible)[rows]
    for m in METRICS:
        cols[m] = ch.metrics[m][rows]
    return cols


@dataclass
class RunSummary:
    points: int  # evaluated
    pareto_points: int
    wall_s: float
    model_s: float  # evaluating the blocks (their rows and fronts included; summed over
    write_s: float  # the processes of a parallel run) / writing the files
    files: list[Path]
    feasible_points: int = 0
    written_points: int = 0
    keep: str = DEFAULT_KEEP

    @property
    def points_per_s(self) -> float:
        return self.points / self.wall_s if self.wall_s > 0 else float("inf")


#: rows of a front: result columns as arrays of equal length
FrontRows = dict[str, np.ndarray]


def _take(cols: FrontRows, keep: np.ndarray) -> FrontRows:
    return {c: v[keep] for c, v in cols.items()}


class _Front:
    """Incremental Pareto front per network, its rows kept as column arrays (a DataFrame is
    made once, by :meth:`frame`: pandas per chunk cost ~1 ms a merge)."""

    def __init__(self, objectives: tuple[str, ...]) -> None:
        self.objectives = list(objectives)
        self.fronts: dict[str, FrontRows] = {}
        self._values: dict[str, np.ndarray] = {}  # each front's objective values (n, k)

    def add(self, spec: SweepSpec, ch: Chunk, feasible: np.ndarray | None = None) -> None:
        """Merge a chunk's points (``feasible``: :func:`feasible_points` of the chunk, when
        the caller has it)."""
        vals = np.column_stack([ch.capacity_bytes if o == "capacity_bytes" else ch.metrics[o]
                                for o in self.objectives])
        rows = np.flatnonzero(pareto_mask(vals))
        if rows.size == 0:
            return
        self._merge(ch.task.network, vals[rows],
                    lambda keep: _chunk_columns(spec, ch, rows[keep], feasible))

    def merge(self, network: str, new: FrontRows) -> None:
        """Front of (this front + ``new`` rows), rows in arrival order (a set function of the
        points, so fronts of blocks merged in task order equal the serial front)."""
        values = np.column_stack([np.asarray(new[o], dtype=float) for o in self.objectives])
        if len(values) == 0:
            return
        self._merge(network, values, lambda keep: _take(new, keep))

    def _merge(self, network: str, new_values: np.ndarray,
               new_rows: Callable[[np.ndarray], FrontRows]) -> None:
        """The front of (old rows + new rows) is ``pareto_mask`` of their values, the kept
        old rows first; only the kept new rows are taken (``new_rows(keep)``), and nothing
        is taken when no new row is kept and no old row dropped."""
        old = self.fronts.get(network)
        if old is None:
            keep = pareto_mask(new_values)
            self.fronts[network] = new_rows(keep)
            self._values[network] = new_values[keep]
            return
        old_values = self._values[network]
        both = np.concatenate([old_values, new_values])
        keep = pareto_mask(both)
        keep_old, keep_new = keep[:len(old_values)], keep[len(old_values):]
        if keep_old.all() and not keep_new.any():
            return
        kept = _take(old, keep_old)
        if keep_new.any():
            new = new_rows(keep_new)
            kept = {c: np.concatenate([v, new[c]]) for c, v in kept.items()}
        self.fronts[network] = kept
        self._values[network] = both[keep]

    def frame(self, spec: SweepSpec) -> pd.DataFrame:
        """The fronts of all networks in one frame: networks in sweep order, each sorted by
        the objectives (then strategy, grouping, sub-batch; ties in arrival order)."""
        nets = [n for n, _ in spec.networks if n in self.fronts]
        columns = result_columns(spec)
        if not nets:
            return pd.DataFrame(columns=columns)
        df = pd.DataFrame({c: np.concatenate([self.fronts[n][c] for n in nets])
                           for c in columns})
        order = {n: i for i, n in enumerate(nets)}
        df["_net"] = df["network"].map(order)
        df = df.sort_values(["_net"] + self.objectives + ["strategy", "grouping", "sub_batch"],
                            kind="mergesort").drop(columns="_net")
        return df.reset_index(drop=True)


# ------------------------------------------------------------------------------------------
# blocks: the unit of evaluation (serial_blocks here; cnnmem.sweep.pool and .parallel)


@dataclass(frozen=True)
class Block:
    """A task's capacities [first, end), aligned on its serial chunks."""

    task_index: int
    first: int
    end: int
    planned_points: int


class BlockCutter:
    """Cuts the sweep's tasks into blocks of whole serial chunks, in order, each as long as
    asked (within one task; a ``--jobs`` pool cuts smaller blocks as the sweep ends)."""

    def __init__(self, tasks: list[Task], chunk_points: int) -> None:
        self._tasks = tasks
        self._per = [capacities_per_chunk(t, chunk_points) for t in tasks]
        self._task = 0
        self._first = 0
        self.chunks_left = sum(-(-t.capacity_bytes.size // per)
                               for t, per in zip(tasks, self._per, strict=True))

    def cut(self, chunks: int) -> Block | None:
        """The next block of at most ``chunks`` chunks (None: the sweep is cut)."""
        while self._task < len(self._tasks):
            task, per = self._tasks[self._task], self._per[self._task]
            size = task.capacity_bytes.size
            if self._first < size:
                first, end = self._first, min(size, self._first + per * max(1, chunks))
                self._first = end
                self.chunks_left -= -(-(end - first) // per)
                n_sub = 1 if task.sub_batch is None else task.sub_batch.size
                return Block(self._task, first, end, (end - first) * n_sub)
            self._task, self._first = self._task + 1, 0
        return None


def capacity_blocks(tasks: list[Task], chunk_points: int, chunks_per_block: int
                    ) -> list[Block]:
    """Every task cut into blocks of ``chunks_per_block`` serial chunks, in task order."""
    cutter = BlockCutter(tasks, chunk_points)
    return list(iter(lambda: cutter.cut(chunks_per_block), None))


@dataclass
class BlockResult:
    """What a worker returns for a block: the kept rows (None with keep=pareto, when results
    are not written or no row is kept), the block's Pareto front per network and its counts."""

    table: Any
    fronts: dict[str, FrontRows]
    points: int
    feasible: int
    model_s: float


def evaluate_block(spec: SweepSpec, task: Task, block: Block, chunk_points: int, keep: str,
                   write_results: bool) -> BlockResult:
    """Evaluate one block as the serial run evaluates these capacities (same chunks, same
    rows, the front kept the same way)."""
    import pyarrow as pa

    evaluator = sweep_evaluators()[task.strategy]
    front = _Front(spec.objectives)
    tables = []
    points = feasible = 0
    t0 = time.perf_counter()
    for ch in evaluate_task(spec, task, evaluator, chunk_points, (block.first, block.end)):
        ok = feasible_points(ch)
        if write_results and keep != "pareto":
            rows = np.arange(len(ch)) if keep == "all" else np.flatnonzero(ok)
            if rows.size:  # an empty table costs ~0.6 ms to send and receive
                tables.append(chunk_table(spec, ch, rows, ok))
        front.add(spec, ch, ok)
        points += len(ch)
        feasible += int(ok.sum())
    table = pa.concat_tables(tables) if tables else None
    return BlockResult(table, front.fronts, points, feasible, time.perf_counter() - t0)


def serial_blocks(spec: SweepSpec, tasks: list[Task], chunk_points: int, keep: str,
                  write_results: bool, progress: Callable[[int, int], None]
                  ) -> Iterator[BlockResult]:
    """The sweep evaluated in this process, one serial chunk per block (each evaluated as a
    ``--jobs`` or Dask worker evaluates one), results in order; ``progress(evaluated,
    planned)`` after each."""
    cutter = BlockCutter(tasks, chunk_points)
    while (b := cutter.cut(1)) is not None:
        res = evaluate_block(spec, tasks[b.task_index], b, chunk_points, keep, write_results)
        progress(res.points, b.planned_points)
        yield res


class _NoBar:
    """The progress bar of a run that shows none (--quiet, or stderr not a terminal): counts
    like one, without importing tqdm (18 ms of a sweep's start)."""

    def __init__(self, total: int) -> None:
        self.total, self.n = total, 0

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, k: int) -> None:
        self.n += k

    def refresh(self) -> None:
        pass


def _progress(total: int, quiet: bool) -> Any:
    if quiet or not sys.stderr.isatty():
        return _NoBar(total)
    from tqdm import tqdm

    return tqdm(total=total, unit="pt", unit_scale=True, desc="sweep", leave=False,
                file=sys.stderr)


def run_sweep(spec: SweepSpec, out_dir: str | Path, *, quiet: bool = False,
              chunk_points: int = DEFAULT_CHUNK_POINTS, write_results: bool = True,
              version: str = "", keep: str = DEFAULT_KEEP, csv: bool = False,
              jobs: int = 1, scheduler: str | None = None) -> RunSummary:
    """Evaluate the sweep; write results.parquet (results.csv with ``csv``), pareto.csv and
    run.json. ``keep``: which points the results files hold (:data:`KEEP_CHOICES`).

    ``jobs`` > 1 evaluates blocks on that many processes of this machine
    (:mod:`cnnmem.sweep.pool`), ``scheduler`` (tcp://host:port) on an existing Dask cluster
    (:mod:`cnnmem.sweep.parallel`); the files are byte-identical to the serial run's."""
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {KEEP_CHOICES}, not {keep!r}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, not {jobs}")
    if scheduler is not None:
        from cnnmem.sweep.parallel import require_dask

        require_dask()  # one clear line before any work when the extra is missing
    t0 = time.perf_counter()
    keep_freed_memory()
    tasks = plan(spec)
    front = _Front(spec.objectives)
    out = AtomicOutputs(out_dir)
    model_s = write_s = 0.0
    points = feasible = 0
    info: dict[str, Any] | None = None  # run.json
    try:
        with ExitStack() as stack:  # a --jobs pool, left after the files are written
            writer = (ResultWriter(out, result_schema(spec), csv=csv) if write_results
                      else None)
            bar = stack.enter_context(_progress(sum(t.n_points for t in tasks), quiet))
            progress = _block_progress(bar)
            if scheduler is not None:
                from cnnmem.sweep.parallel import evaluate_blocks

                results = evaluate_blocks(spec, tasks, chunk_points, keep, write_results,
                                          scheduler=scheduler, progress=progress)
            elif jobs > 1:
                from cnnmem.sweep.pool import local_blocks

                results = stack.enter_context(local_blocks(
                    spec, tasks, chunk_points, keep, write_results, jobs=jobs,
                    progress=progress))
            else:
                results = serial_blocks(spec, tasks, chunk_points, keep, write_results,
                                        progress)
            for res in results:
                if info is None:  # with --jobs, while the workers evaluate: ~15 ms of a core
                    info = run_info(spec, version)
                tw = time.perf_counter()
                if writer is not None and res.table is not None:
                    writer.write(res.table)
                write_s += time.perf_counter() - tw
                for network, rows in res.fronts.items():
                    front.merge(network, rows)
                points += res.points
                feasible += res.feasible
                model_s += res.model_s
            tw = time.perf_counter()
            pareto = front.frame(spec)
            pareto_table = _frame_table(spec, pareto)
            if writer is not None:
                if keep == "pareto":
                    writer.write(pareto_table)
                writer.close()
            written = writer.rows if writer is not None else 0
            pareto_writer = ResultWriter(out, pareto_table.schema, csv=True, parquet=False,
                                         name="pareto")
            pareto_writer.write(pareto_table)
            pareto_writer.close()
            write_s += time.perf_counter() - tw  # the last row group is encoded at close
            wall = time.perf_counter() - t0
            if info is None:  # nothing was evaluated
                info = run_info(spec, version)
            info.update(points=points, pareto_points=len(pareto), points_evaluated=points,
                        points_feasible=feasible, points_written=written, keep=keep, csv=csv,
                        jobs=jobs, scheduler=scheduler)
            info["timings"] = {"wall_s": round(wall, 3), "model_s": round(model_s, 3),
                               "write_s": round(write_s, 3),
                               "points_per_s": round(points / wall) if wall > 0 else None}
            out.write("run.json", (json.dumps(info, indent=2) + "\n").encode("utf-8"))
            files = out.commit()
    except BaseException:
        out.abort()
        raise
    wall = time.perf_counter() - t0
    return RunSummary(points, len(pareto), wall, model_s, write_s, files, feasible, written,
                      keep)


def _block_progress(bar: Any) -> Callable[[int, int], None]:
    """``progress(evaluated, planned)`` of a finished block: advance ``bar`` and make its
    total count the points actually evaluated (strategies that choose their sub-batch
    themselves return one point per capacity, not one per planned sub-batch)."""

    def progress(evaluated: int, planned: int) -> None:
        bar.update(evaluated)
        if evaluated != planned and bar.total is not None:
            bar.total += evaluated - planned
            bar.refresh()

    return progress


def run_info(spec: SweepSpec, version: str) -> dict[str, Any]:
    """run.json contents: everything needed to re-run and read the results (``points`` and
    ``pareto_points`` 0 here: the caller sets them, the other counts and the timings)."""
    return {
        "cnnmem_version": version,
        "sweep": spec.name,
        "sweep_file": spec.file,
        "sweep_dir": str(Path(spec.file).resolve().parent),  # resolves its relative paths
        "sweep_sha256": spec.sha256,
        "sweep_text": spec.text,
        "mode": spec.mode,
        "batch": spec.batch,
        "chips": spec.chips,
        "networks": [n for n, _ in spec.networks],
        "hardware": [h for h, _ in spec.hardware],
        "strategies": list(spec.strategies),
        "objectives": list(spec.objectives),
        "hardware_axes": {a.column: list(a.values) for a in spec.hw_axes},
        "columns": result_columns(spec),
        "points": 0,
        "pareto_points": 0,
        "deterministic_files": ["results.parquet", "results.csv", "pareto.csv"],
        "input_files": input_file_hashes(spec),
        "versions": package_versions(version),
    }


def input_file_hashes(spec: SweepSpec) -> list[dict[str, str]]:
    """The network and hardware files the sweep read, with the sha256 of their bytes (the
    sweep file's own text and hash are recorded beside them)."""
    out = []
    for kind, name, path in spec.input_files:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        out.append({"kind": kind, "name": name, "file": path, "sha256": digest})
    return out


#: packages whose versions run.json records (those the evaluation and its outputs depend on)
RECORDED_PACKAGES = ("numpy", "pandas", "pyyaml", "click", "pyarrow")


def package_versions(cnnmem_version: str = "") -> dict[str, str]:
    """Python, cnnmem and dependency versions; a package that is not installed is left out."""
    versions = {"python": platform.python_version(),
                "cnnmem": cnnmem_version or _installed_version("cnnmem") or ""}
    for name in RECORDED_PACKAGES:
        v = _installed_version(name)
        if v is not None:
            versions[name] = v
    return versions


def _installed_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
