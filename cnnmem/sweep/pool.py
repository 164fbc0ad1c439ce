"""Parallel sweeps on this machine: ``cnnmem sweep --jobs N``.

N - 1 worker processes (forked from this one on Linux, so they start in milliseconds with
cnnmem, numpy and pyarrow imported; spawned elsewhere) and this process evaluate the sweep in
blocks of whole serial chunks (:class:`~cnnmem.sweep.engine.BlockCutter`). Each worker has a
pipe of its own: the client sends it blocks (:data:`CHUNKS_PER_BLOCK` chunks, fewer as the
sweep ends), at most :data:`QUEUED_PER_WORKER` ahead, and evaluates the next block itself
whenever no worker result is ready. A block is evaluated exactly as the serial run evaluates
those capacities (:func:`~cnnmem.sweep.engine.evaluate_block`); the client takes the results in
block order and writes them through the serial run's writer and front merge, so the files are
byte-identical for any N.

Before the blocks, the processes build the per-layer table the MBS strategies share (the
fallback table of a capacity domain, :mod:`cnnmem.model.mbs.capacity`) together: each process
computes its share of the layers' capacity steps, the client joins them, then each computes
its share of the table's rows and writes it into memory shared by all processes (mapped
before the fork), where every process reads the whole table. One core would otherwise build
it while the others wait (a fifth of a 10 M-point ResNet-50 sweep on one core).

Why not Dask here: an embedded Dask cluster (scheduler, nanny, worker, TCP messages) cost
about 0.5 s of one core per run and a few ms of messaging per block; the 10 M-point sweep of
``benchmarks/bench_sweep.py`` ran only 1.25-1.39x faster on two cores with it. Dask stays the
way to other machines (``--scheduler``, :mod:`cnnmem.sweep.parallel`).

On an error, Ctrl-C or SIGTERM the workers are killed at once (they ignore SIGINT, which a
terminal sends to the whole process group, so only this process reports it) and the output
files are never renamed into place (the engine's AtomicOutputs). A worker that dies is
reported as an error, never waited for.
"""

from __future__ import annotations

import mmap
import multiprocessing
import pickle
import queue
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection, wait
from typing import Any, NoReturn

import numpy as np

from cnnmem.errors import WorkerLost
from cnnmem.model.mbs import capacity as cap_tables
from cnnmem.model.mbs.fallback import FALLBACK_FIELDS, LayerFallback
from cnnmem.model.mbs.tables import CELLS
from cnnmem.model.schedule import strategy_specs
from cnnmem.sweep.engine import (
    Block,
    BlockCutter,
    BlockResult,
    Task,
    evaluate_block,
)
from cnnmem.sweep.memory import keep_freed_memory
from cnnmem.sweep.spec import TRAINING, SweepSpec

#: serial chunks per block: small blocks balance the end of a sweep (a block's messages cost
#: a fraction of a millisecond here)
CHUNKS_PER_BLOCK = 4
#: blocks sent to a worker and not yet returned: two, so a worker never waits for the client
#: (busy with a block of its own) to send its next one
QUEUED_PER_WORKER = 2
#: shared memory the processes write the fallback tables into, reserved before the workers
#: are forked (virtual: only the pages written take memory); a table that does not fit is
#: built by each process itself (ResNet-50's table of a 10 M-point sweep: 37 MB)
SHARED_TABLE_BYTES = 1 << 30
#: blocks (of CHUNKS_PER_BLOCK chunks) finished or in flight and not yet written, per process:
#: bounds the results the client holds
AHEAD_PER_PROCESS = 4


def start_method() -> str:
    """fork on Linux (a worker inherits the imported modules and starts at once), spawn
    elsewhere (fork is unsafe on macOS)."""
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


# ------------------------------------------------------------------------------------------
# the worker side

_STATE: dict[str, Any] = {}


def _worker_main(conn: Connection, arena: mmap.mmap | None, spec: SweepSpec,
                 tasks: list[Task], chunk_points: int, keep: str, write_results: bool) -> None:
    """A worker's loop: run each (function, args) received, send back ("ok", value) or
    ("error", exception); stop at None or when the client's end of the pipe closes.

    Replies go out from a thread of their own: a block's rows can exceed the pipe's buffer,
    and the client reads them only between blocks of its own, so a send in this loop would
    hold the worker until then (measured: the worker idled ~10% of the time, though the
    next block was queued)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client handles Ctrl-C and kills us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    keep_freed_memory()  # spawned workers (forked ones inherit the client's setting)
    _STATE.update(arena=arena, spec=spec, tasks=tasks, chunk_points=chunk_points, keep=keep,
                  write_results=write_results)
    replies: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
    sender = threading.Thread(target=_send_replies, args=(conn, replies), daemon=True)
    sender.start()
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                return
            if msg is None:
                return
            fn, args = msg
            try:
                replies.put(("ok", fn(*args)))
            except Exception as exc:  # reported by the client, which stops the sweep
                replies.put(("error", exc))
    finally:
        replies.put(None)
        sender.join()


def _send_replies(conn: Connection, replies: queue.SimpleQueue[tuple[str, Any] | None]
                  ) -> None:
    """Send each reply in order until None (or until the client is gone)."""
    while (reply := replies.get()) is not None:
        try:
            try:
                conn.send(reply)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:  # an exception
                conn.send(("error", RuntimeError(f"{type(reply[1]).__name__}: {exc}")))
        except OSError:  # the client is gone
            return


def _block(block: Block) -> BlockResult:
    s = _STATE
    return evaluate_block(s["spec"], s["tasks"][block.task_index], block, s["chunk_points"],
                          s["keep"], s["write_results"])


def _steps_part(task_index: int, part: int, parts: int) -> np.ndarray:
    return cap_tables.capacity_steps_part(_table_key(_STATE["spec"],
                                                     _STATE["tasks"][task_index]), part, parts)


def _table_part(task_index: int, steps: np.ndarray | None, base: int, part: int, parts: int
                ) -> None:
    _write_table_part(_STATE["arena"], base, _table_key(_STATE["spec"],
                                                        _STATE["tasks"][task_index]),
                      steps, part, parts)


def table_bytes(n_layers: int, n_columns: int) -> int:
    """Bytes of a fallback table of ``n_layers`` x ``n_columns`` (float64 arrays)."""
    return (len(CELLS) + len(FALLBACK_FIELDS)) * n_layers * n_columns * 8


def shared_table(arena: mmap.mmap, base: int, n_layers: int, n_columns: int) -> LayerFallback:
    """The table's arrays as views of ``arena`` from byte ``base`` (cells, then fields)."""
    size = n_layers * n_columns * 8
    views = [np.frombuffer(arena, dtype=np.float64, count=n_layers * n_columns,
                           offset=base + k * size).reshape(n_layers, n_columns)
             for k in range(len(CELLS) + len(FALLBACK_FIELDS))]
    return LayerFallback(dict(zip(CELLS, views[:len(CELLS)], strict=True)),
                         dict(zip(FALLBACK_FIELDS, views[len(CELLS):], strict=True)))


def _write_table_part(arena: mmap.mmap, base: int, key: cap_tables.TableKey,
                      steps: np.ndarray | None, part: int, parts: int) -> None:
    """Compute share ``part`` of the table's rows, write it into the shared table at ``base``
    and install that table (complete once every process has written its share: no block is
    evaluated before)."""
    mine = cap_tables.table_part(key, steps, part, parts)
    rows = np.array(cap_tables.layer_share(key.net, part, parts), dtype=np.int64)
    n_columns = cap_tables.representatives(key.domain, steps)[0].size
    table = shared_table(arena, base, len(key.net), n_columns)
    for cell, v in mine.cells.items():
        table.cells[cell][rows] = v
    for field, v in mine.fields.items():
        table.fields[field][rows] = v
    cap_tables.install_table(key, steps, table)


# ------------------------------------------------------------------------------------------
# the client side


def _table_key(spec: SweepSpec, task: Task) -> cap_tables.TableKey:
    """The key of a task's fallback table."""
    return cap_tables.TableKey(task.net, task.hw, int(spec.batch), spec.mode == TRAINING,
                               task.capacity_domain)


class _Worker:
    def __init__(self, ctx: Any, args: tuple[Any, ...]) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, *args), daemon=True,
                                   name="cnnmem-sweep-worker")
        self.process.start()
        child.close()
        self.queued: deque[int] = deque()  # block numbers sent, in order

    def send(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            self.conn.send((fn, args))
        except OSError:  # a broken pipe: the worker is gone (not a file-system error)
            self._lost()

    def _lost(self) -> NoReturn:
        self.process.join(1)
        raise WorkerLost(f"a --jobs worker process ended without its result (exit code "
                         f"{self.process.exitcode}; killed for lack of memory?)") from None

    def receive(self) -> Any:
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            self._lost()
        if status == "error":
            raise value
        return value


class LocalPool:
    """``workers`` worker processes, each evaluating what it is sent (a context manager: on
    leaving, the workers are told to stop, or killed at once after an error)."""

    def __init__(self, workers: int, spec: SweepSpec, tasks: list[Task], chunk_points: int,
                 keep: str, write_results: bool) -> None:
        method = start_method()
        ctx = multiprocessing.get_context(method)
        #: the shared tables (fork only: a spawned worker cannot inherit the mapping; None
        #: also when the address space is limited: each process then builds its own)
        self.arena: mmap.mmap | None = None
        if method == "fork":
            with suppress(OSError, ValueError, OverflowError):
                self.arena = mmap.mmap(-1, SHARED_TABLE_BYTES)
        self.arena_used = 0
        self.stopped = False  # the workers were told to end
        self.workers: list[_Worker] = []
        try:
            for _ in range(workers):
                self.workers.append(_Worker(ctx, (self.arena, spec, tasks, chunk_points, keep,
                                                  write_results)))
        except BaseException:
            self.kill()
            raise

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None:
            self.kill()
            return
        self.stop()
        for w in self.workers:
            w.process.join(5)
        self.kill()  # any that did not stop

    def stop(self) -> None:
        """Tell the workers to end, once (they exit on their own; :meth:`__exit__` joins
        them)."""
        if self.stopped:
            return
        self.stopped = True
        for w in self.workers:
            with suppress(OSError):
                w.conn.send(None)

    def kill(self) -> None:
        for w in self.workers:
            if w.process.is_alive():
                w.process.kill()
        for w in self.workers:
            w.process.join()
            w.conn.close()


def build_shared_tables(pool: LocalPool, spec: SweepSpec, tasks: list[Task]) -> None:
    """Build the fallback tables of the first tasks whose strategy reads one (at most as many
    as a process keeps) in parts, one per process, and install them in every process."""
    if pool.arena is None:
        return  # spawned workers: each builds the tables it needs
    done: set[cap_tables.TableKey] = set()
    specs = strategy_specs()
    for index, task in enumerate(tasks):  # a loop over tasks (a handful)
        if len(done) >= cap_tables.TABLES_KEPT:
            break
        key = _table_key(spec, task)
        if not specs[task.strategy].capacity_table or key in done:
            continue
        done.add(key)
        if not cap_tables.table_cached(key):
            _build_table(pool, index, key)


def _build_table(pool: LocalPool, index: int, key: cap_tables.TableKey) -> None:
    assert pool.arena is not None
    workers = pool.workers
    parts = len(workers) + 1  # this process builds share 0
    steps = None
    if cap_tables.needs_steps(key.domain):
        for k, w in enumerate(workers, 1):
            w.send(_steps_part, index, k, parts)
        mine = cap_tables.capacity_steps_part(key, 0, parts)
        steps = cap_tables.join_steps([mine, *(w.receive() for w in workers)])
    n_columns = cap_tables.representatives(key.domain, steps)[0].size
    size = table_bytes(len(key.net), n_columns)
    if pool.arena_used + size > SHARED_TABLE_BYTES:
        return  # too large to share: each process builds the table it needs itself
    base = pool.arena_used
    pool.arena_used += size
    for k, w in enumerate(workers, 1):
        w.send(_table_part, index, steps, base, k, parts)
    _write_table_part(pool.arena, base, key, steps, 0, parts)
    for w in workers:
        w.receive()


@contextmanager
def local_blocks(spec: SweepSpec, tasks: list[Task], chunk_points: int, keep: str,
                 write_results: bool, *, jobs: int, progress: Callable[[int, int], None]
                 ) -> Iterator[Iterator[BlockResult]]:
    """Evaluate the sweep on ``jobs`` processes (``jobs - 1`` workers and this one): the
    context gives an iterator of the blocks' results in order. ``progress(evaluated,
    planned)`` is called as each block finishes.

    The workers are told to end as the last result is taken and joined when the context is
    left (on an error: killed), so they end while this process writes the result files."""
    if not any(t.n_points for t in tasks):
        yield iter(())
        return
    with LocalPool(jobs - 1, spec, tasks, chunk_points, keep, write_results) as pool:
        yield _blocks_then_stop(pool, spec, tasks, chunk_points, keep, write_results, progress)


def _blocks_then_stop(pool: LocalPool, spec: SweepSpec, tasks: list[Task], chunk_points: int,
                      keep: str, write_results: bool, progress: Callable[[int, int], None]
                      ) -> Iterator[BlockResult]:
    build_shared_tables(pool, spec, tasks)
    yield from _in_order(pool, spec, tasks, BlockCutter(tasks, chunk_points), chunk_points,
                         keep, write_results, progress)
    pool.stop()


def _in_order(pool: LocalPool, spec: SweepSpec, tasks: list[Task], cutter: BlockCutter,
              chunk_points: int, keep: str, write_results: bool,
              progress: Callable[[int, int], None]) -> Iterator[BlockResult]:
    workers = pool.workers
    by_conn = {w.conn: w for w in workers}
    processes = len(workers) + 1
    # results held (finished or in flight, not yet yielded): at most this many points, so
    # that small blocks at the sweep's end do not stop the workers' queues
    ahead_points = AHEAD_PER_PROCESS * processes * CHUNKS_PER_BLOCK * chunk_points
    held = 0  # points of the blocks cut and not yet yielded
    blocks: list[Block] = []  # cut so far, in order
    done: dict[int, BlockResult] = {}
    taken = 0  # blocks yielded

    def finished(index: int, res: BlockResult) -> None:
        progress(res.points, blocks[index].planned_points)
        done[index] = res

    def cut(chunks: int) -> int | None:
        nonlocal held
        b = cutter.cut(chunks)
        if b is None:
            return None
        blocks.append(b)
        held += b.planned_points
        return len(blocks) - 1

    def room() -> bool:
        return held < ahead_points

    def piece() -> int:
        """Chunks of the next block: CHUNKS_PER_BLOCK, fewer as the sweep ends (so that
        every process finishes at about the same time)."""
        return max(1, min(CHUNKS_PER_BLOCK, cutter.chunks_left // (2 * processes)))

    while True:
        # keep QUEUED_PER_WORKER blocks at each worker
        for w in workers:
            while len(w.queued) < QUEUED_PER_WORKER and room():
                index = cut(piece())
                if index is None:
                    break
                w.send(_block, blocks[index])
                w.queued.append(index)
        if taken in done:
            held -= blocks[taken].planned_points
            yield done.pop(taken)
            taken += 1
            continue
        if taken == len(blocks) and cutter.chunks_left == 0:
            return
        ready = wait(list(by_conn), timeout=0)
        if not ready and room():
            index = cut(piece())  # no result ready: this process evaluates the next block
            if index is not None:
                b = blocks[index]
                finished(index, evaluate_block(spec, tasks[b.task_index], b, chunk_points,
                                               keep, write_results))
                continue
        for conn in ready or wait(list(by_conn)):
            w = by_conn[conn]  # type: ignore[index]
            finished(w.queued.popleft(), w.receive())
