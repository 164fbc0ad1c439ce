"""Distributed sweep evaluation on Dask (the optional extra ``cnnmem[dask]``):
``cnnmem sweep --scheduler tcp://HOST:PORT``.

The sweep runs on an existing cluster (``dask scheduler`` / ``dask worker``, or dask-jobqueue
on SLURM; README). It is cut into blocks (network, hardware point, strategy, grouping, capacity
block; :func:`capacity_blocks`), each a few of the serial run's chunks. A worker evaluates a
block exactly as the serial run evaluates those capacities and returns its kept rows as an
Arrow table, its Pareto front and its counts (:class:`~cnnmem.sweep.engine.BlockResult`); no
shared file system is needed. The client takes the results in block order and writes them
through the same ResultWriter and front merge as the serial run, so results.parquet,
results.csv and pareto.csv are byte-identical for any cluster. At most a few blocks per worker
are in flight, so the client's memory stays bounded. While the client connects, this process
evaluates the first blocks itself. The progress bar counts the points of every block as it
finishes. (``--jobs N`` on one machine uses :mod:`cnnmem.sweep.pool`, not Dask.)

On an error, Ctrl-C or SIGTERM the pending blocks are cancelled and the client closed, and the
output files are never renamed into place (the engine's AtomicOutputs).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from cnnmem.errors import InputError
from cnnmem.sweep.engine import (
    Block,
    BlockResult,
    Task,
    capacity_blocks,
    evaluate_block,
)
from cnnmem.sweep.spec import SweepSpec

#: serial chunks per block: a block is one worker call (its rows travel back at once; each
#: block costs Dask's messaging a few ms of CPU time, measured: 4 -> 8 saves a tenth of the
#: CPU time of a 10 M-point two-process sweep)
CHUNKS_PER_BLOCK = 8
#: blocks in flight per worker (queued on the cluster or finished and waiting for their turn)
BLOCKS_IN_FLIGHT_PER_WORKER = 3
#: at most this share of the blocks is evaluated by the client process itself while the
#: client connects (the rest always go to the cluster)
LOCAL_BLOCKS_SHARE = 0.5
DASK_MISSING = ("--scheduler needs Dask: pip install 'cnnmem[dask]' (or dask[distributed])")


def require_dask() -> None:
    """Raise a one-line InputError (exit status 2) when dask.distributed is not installed
    (found, not imported: the import is made while the first blocks are evaluated)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise InputError(DASK_MISSING, field="--jobs") from None


@contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Dask's own log records off in this process while the sweep runs: a worker's error
    reaches the user as the block's exception, and the cancellations of an interrupted run are
    not errors (the user sees one line, never a logged traceback). After an error or an
    interruption they stay off: the cluster's event loop can still report the comms of its
    killed workers closing once the run has unwound (seen: a logged CommClosedError after
    Ctrl-C)."""
    log = logging.getLogger("distributed")
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    yield
    log.setLevel(level)


def _client(stack: ExitStack, scheduler: str) -> Any:
    """A Dask client of the cluster at ``scheduler`` (closed with ``stack``; not entered as a
    context manager: its ``with`` sets a context variable that only the thread which made it
    could reset)."""
    from distributed import Client

    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler {scheduler}: {exc}",
                         field="--scheduler") from None
    stack.callback(client.close)
    return client


class _ClientStart:
    """The Dask client made in a background thread (``distributed``'s import and the
    connection take about half a second) while the calling thread evaluates the first
    blocks itself."""

    def __init__(self, stack: ExitStack, scheduler: str) -> None:
        self._client: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cnnmem-dask-start", daemon=True,
                                        args=(stack, scheduler))
        self._thread.start()

    def _run(self, stack: ExitStack, scheduler: str) -> None:
        try:
            try:
                import distributed  # noqa: F401
            except ImportError:
                raise InputError(DASK_MISSING, field="--scheduler") from None
            self._client = _client(stack, scheduler)
        except BaseException as exc:  # raised in the calling thread by client()
            self._error = exc

    def started(self) -> bool:
        return not self._thread.is_alive()

    def abandon(self) -> None:
        """An interrupted run: a connection under way finishes (the stack then closes it)."""
        self._thread.join()

    def client(self) -> Any:
        """The client, once connected (raises the start's error)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._client


def evaluate_blocks(spec: SweepSpec, tasks: list[Task], chunk_points: int, keep: str,
                    write_results: bool, *, scheduler: str,
                    progress: Callable[[int, int], None]) -> Iterator[BlockResult]:
    """Evaluate every block on the Dask cluster at ``scheduler``; yield the results in block
    (task) order. While the client connects, this process evaluates the first blocks itself (at
    most :data:`LOCAL_BLOCKS_SHARE` of them), exactly as a worker would.
    ``progress(evaluated, planned)`` is called as each block finishes."""
    blocks = capacity_blocks(tasks, chunk_points, CHUNKS_PER_BLOCK)
    local_limit = int(len(blocks) * LOCAL_BLOCKS_SHARE)
    with ExitStack() as stack:
        stack.enter_context(_quiet_dask_logs())
        start = _ClientStart(stack, scheduler)
        futures: dict[int, Any] = {}
        taken = 0
        try:
            while taken < local_limit and not start.started():
                b = blocks[taken]
                res = evaluate_block(spec, tasks[b.task_index], b, chunk_points, keep,
                                     write_results)
                progress(res.points, b.planned_points)
                yield res
                taken += 1
            client = start.client()
            yield from _cluster_blocks(client, spec, tasks, blocks, taken, chunk_points, keep,
                                       write_results, progress, futures)
        except BaseException:
            start.abandon()
            for fut in futures.values():
                fut.cancel()
            raise


def _cluster_blocks(client: Any, spec: SweepSpec, tasks: list[Task], blocks: list[Block],
                    first: int, chunk_points: int, keep: str, write_results: bool,
                    progress: Callable[[int, int], None], futures: dict[int, Any]
                    ) -> Iterator[BlockResult]:
    """Blocks ``first``.. on the cluster, results in block order (``futures``: those in
    flight, for the caller to cancel)."""
    from distributed import as_completed

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    window = max(2, BLOCKS_IN_FLIGHT_PER_WORKER * workers)
    spec_f = client.scatter(spec, broadcast=True)
    task_f = {}  # a task is sent once, its blocks refer to it
    run_id = uuid.uuid4().hex  # keys unique on a shared cluster
    index_of: dict[str, int] = {}
    done: dict[int, BlockResult] = {}
    pending = as_completed()
    submitted = taken = first
    while taken < len(blocks):
        # submit while fewer than `window` blocks are on the cluster or waiting to be yielded
        while submitted < len(blocks) and submitted - taken < window:
            b = blocks[submitted]
            if b.task_index not in task_f:
                task_f[b.task_index] = client.scatter(tasks[b.task_index])
            fut = client.submit(evaluate_block, spec_f, task_f[b.task_index], b,
                                chunk_points, keep, write_results,
                                key=f"cnnmem-block-{run_id}-{submitted}")
            futures[submitted] = fut
            index_of[fut.key] = submitted
            pending.add(fut)
            submitted += 1
        while taken not in done:
            fut = next(pending)
            index = index_of.pop(fut.key)
            res = fut.result()  # raises the worker's error here
            progress(res.points, blocks[index].planned_points)
            done[index] = res
            del futures[index]
        yield done.pop(taken)
        taken += 1
