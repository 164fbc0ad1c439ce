"""Parallel and distributed sweep evaluation on Dask (the optional extra ``cnnmem[dask]``).

``cnnmem sweep --jobs N`` starts an embedded local cluster of N-1 worker processes (one thread
each, at least one) bound to 127.0.0.1, and evaluates blocks in this process too, whenever it
would otherwise wait for a worker's result; ``--scheduler tcp://HOST:PORT`` uses an existing
cluster (``dask scheduler`` / ``dask worker``, or dask-jobqueue on SLURM; README). The sweep is
cut into blocks (network, hardware point, strategy, grouping, capacity block;
:func:`capacity_blocks`), each a few of the serial run's chunks. A worker evaluates a block
exactly as the serial run evaluates those capacities and returns its kept rows as an Arrow
table, its Pareto front and its counts (:class:`~cnnmem.sweep.engine.BlockResult`); no shared
file system is needed. The client takes the results in block order and writes them through the
same ResultWriter and front merge as the serial run, so results.parquet, results.csv and
pareto.csv are byte-identical for any number of workers and any cluster. At most a few blocks
per worker are in flight, so the client's memory stays bounded. The progress bar counts the
points of every block as it finishes.

On an error, Ctrl-C or SIGTERM the pending blocks are cancelled and the client closed; an
embedded cluster shuts its worker processes down (the ``with`` blocks below), and the output
files are never renamed into place (the engine's AtomicOutputs).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from typing import Any

from cnnmem.errors import InputError
from cnnmem.sweep.engine import (
    Block,
    BlockResult,
    Task,
    capacities_per_chunk,
    capacity_blocks,
    evaluate_block,
)
from cnnmem.sweep.spec import SweepSpec

#: serial chunks per block: a block is one worker call (its rows travel back at once; each
#: block costs Dask's messaging a few ms of CPU time, measured: 4 -> 8 saves a tenth of the
#: CPU time of a 10 M-point --jobs 2 sweep)
CHUNKS_PER_BLOCK = 8
#: blocks in flight per worker (queued on the cluster or finished and waiting for their turn;
#: with --jobs, a worker's queue must last while the client evaluates a block of its own:
#: measured on the 10 M-point sweep, 3 ran ~0.15 s faster than 2 and than 4)
BLOCKS_IN_FLIGHT_PER_WORKER = 3
#: at most this share of the blocks is evaluated by the client process itself while the
#: client starts (with --scheduler the rest always go to the cluster)
LOCAL_BLOCKS_SHARE = 0.5
#: with an embedded cluster, this process evaluates blocks up to this many past the cluster's
#: window of blocks not yet yielded (bounds the finished results it holds)
LOCAL_BLOCKS_AHEAD = 3
#: Dask settings of the embedded cluster (its scheduler, nannies and workers): no statistical
#: profiler (a thread that samples the running block's stack every 10 ms, for a dashboard the
#: embedded cluster does not serve; measured: a third more CPU time per block); the event-loop
#: health check (a log warning when a loop was blocked; the logs are off) and the system monitor
#: (dashboard figures) every second instead of every 20 ms and 500 ms (measured: an idle
#: one-worker cluster used 0.03-0.04 s of CPU per second in the client and 0.013-0.02 s in the
#: worker, 0.01 s in each after)
WORKER_CONFIG: dict[str, Any] = {"distributed.worker.profile.enabled": False,
                                 "distributed.admin.tick.interval": "1s",
                                 "distributed.admin.system-monitor.interval": "1s"}
DASK_MISSING = ("--jobs N > 1 and --scheduler need Dask: pip install 'cnnmem[dask]' "
                "(or dask[distributed])")


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


def worker_environ() -> dict[str, Any]:
    """Environment of the embedded cluster's worker processes: Dask's defaults (one BLAS/OpenMP
    thread per worker) without its ``MALLOC_TRIM_THRESHOLD_=65536``, which makes glibc hand
    freed memory back to the OS at once: the model's large temporary arrays are then mapped and
    page-faulted anew on every call (measured: twice the time of a block)."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


def worker_start_method() -> str:
    """How the embedded cluster starts its worker processes: forked from this process on
    Linux (a worker then starts in a fraction of a second, with cnnmem and its dependencies
    already imported; spawned workers take seconds to import them, as long as a whole sweep of
    ten million points), Dask's configured method elsewhere (fork is unsafe on macOS)."""
    import multiprocessing

    import dask

    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return str(dask.config.get("distributed.worker.multiprocessing-method"))


_RESET_SIGNALS_IN_FORKS = False


def _reset_signals_in_child() -> None:
    if _RESET_SIGNALS_IN_FORKS:  # a forked worker: SIGTERM terminates it, as a spawned one
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def _default_signals_in_forks() -> Iterator[None]:
    """Processes forked within the block (the embedded cluster's workers) start with the
    default SIGTERM action, not this process's handler (the CLI's SIGTERM-as-Ctrl-C)."""
    global _RESET_SIGNALS_IN_FORKS
    if not _AT_FORK_REGISTERED:
        _register_at_fork()
    _RESET_SIGNALS_IN_FORKS = True
    try:
        yield
    finally:
        _RESET_SIGNALS_IN_FORKS = False


_AT_FORK_REGISTERED = False


def _register_at_fork() -> None:
    global _AT_FORK_REGISTERED
    os.register_at_fork(after_in_child=_reset_signals_in_child)
    _AT_FORK_REGISTERED = True


def _client(stack: ExitStack, jobs: int, scheduler: str | None, children_before: set[int]
            ) -> Any:
    """A Dask client: of the cluster at ``scheduler``, or of an embedded local cluster of
    ``jobs`` single-threaded worker processes on 127.0.0.1 (closed with ``stack``)."""
    import dask
    from distributed import Client, LocalCluster
    from distributed.deploy.spec import SpecCluster

    if scheduler is not None:
        try:
            return _closed_with(stack, Client(scheduler, timeout="20s"))
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler {scheduler}: {exc}",
                             field="--scheduler") from None
    before = set(SpecCluster._instances)
    try:
        with dask.config.set({**WORKER_CONFIG,
                              "distributed.nanny.pre-spawn-environ": worker_environ(),
                              "distributed.worker.multiprocessing-method":
                                  worker_start_method()}), _default_signals_in_forks():
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None,
                                   # no dashboard; the scheduler's HTTP server (health
                                   # routes) on a free loopback port, not on 8787, which
                                   # a second sweep running at the same time would find
                                   # taken (a "Port 8787 is already in use" warning)
                                   scheduler_kwargs={"dashboard": False,
                                                     "dashboard_address": "127.0.0.1:0"},
                                   silence_logs=logging.ERROR)
    except BaseException:
        _kill_new_children(children_before)
        _close_started_clusters(before)
        raise
    stack.enter_context(cluster)
    return _closed_with(stack, Client(cluster))


def _closed_with(stack: ExitStack, client: Any) -> Any:
    """``client``, closed with ``stack`` (not entered as a context manager: its ``with`` sets a
    context variable that only the thread which made it could reset)."""
    stack.callback(client.close)
    return client


def _close_started_clusters(before: set[Any]) -> None:
    """Close a local cluster whose start was interrupted (Ctrl-C, SIGTERM, a worker that failed
    to start): its constructor never returned, so no ``with`` closes it. distributed registers
    every cluster in ``SpecCluster._instances`` (its own atexit hook closes them the same way);
    closing it here (its worker processes are killed before) and dropping it from that set leaves
    the atexit hook nothing to wait for."""
    from distributed.deploy.spec import SpecCluster

    # the interrupted start leaves asyncio tasks whose failure nobody reads: asyncio would log
    # them with a traceback as the process exits
    logging.getLogger("asyncio").setLevel(logging.CRITICAL + 1)
    for cluster in set(SpecCluster._instances) - before:
        with suppress(Exception):
            cluster.close(timeout=10)
        # closed as far as it can be: distributed's atexit hook would wait on it again
        SpecCluster._instances.discard(cluster)


class _ClientStart:
    """The Dask client made in a background thread (``distributed``'s import and, for
    ``--jobs``, the embedded cluster's start take about half a second) while the calling thread
    evaluates the first blocks itself. The embedded cluster is started (its workers forked)
    only once :meth:`allow_cluster` is called: after the client's first block, so the forked
    workers inherit the model caches it built (one fallback table per task, ~0.5 s) instead of
    each building its own."""

    def __init__(self, stack: ExitStack, jobs: int, scheduler: str | None,
                 children_before: set[int]) -> None:
        self._client: Any = None
        self._error: BaseException | None = None
        self._may_start = threading.Event()
        self._imported = threading.Event()
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="cnnmem-dask-start", daemon=True,
                                        args=(stack, jobs, scheduler, children_before))
        self._thread.start()

    def _run(self, stack: ExitStack, jobs: int, scheduler: str | None,
             children_before: set[int]) -> None:
        try:
            try:
                import distributed  # noqa: F401
            except ImportError:
                raise InputError(DASK_MISSING, field="--jobs") from None
            finally:
                self._imported.set()
            if scheduler is None:
                self._may_start.wait()
                if self._abandoned:
                    return
            self._client = _client(stack, jobs, scheduler, children_before)
        except BaseException as exc:  # raised in the calling thread by client()
            self._error = exc

    def wait_imported(self) -> None:
        """Wait until ``distributed`` is imported (or failed to import)."""
        while not self._imported.wait(0.05):  # a timeout: Ctrl-C is seen at once
            pass

    def allow_cluster(self) -> None:
        """Let the embedded cluster start (fork its workers) now."""
        self._may_start.set()

    def started(self) -> bool:
        return not self._thread.is_alive()

    def abandon(self) -> None:
        """An interrupted run: a cluster not yet started is not started; a start under way
        finishes (the stack then closes what it made)."""
        self._abandoned = True
        self._may_start.set()
        self._thread.join()

    def client(self) -> Any:
        """The client, once started (raises the start's error)."""
        self._may_start.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._client


def worker_processes(jobs: int) -> int:
    """Worker processes of the embedded cluster for ``--jobs N``: N - 1, this process being the
    N-th (it evaluates blocks whenever it would otherwise wait for one), at least one."""
    return max(1, jobs - 1)


def evaluate_blocks(spec: SweepSpec, tasks: list[Task], chunk_points: int, keep: str,
                    write_results: bool, *, jobs: int, scheduler: str | None,
                    progress: Callable[[int, int], None]) -> Iterator[BlockResult]:
    """Evaluate every block on Dask; yield the results in block (task) order.

    While the client starts, this process evaluates the first blocks itself (at most
    :data:`LOCAL_BLOCKS_SHARE` of them), exactly as a worker would; the rest go to the cluster.
    With an embedded cluster (``--jobs``) this process also evaluates the next block whenever
    it would otherwise wait for a worker's result. ``progress(evaluated, planned)`` is called
    as each block finishes."""
    blocks = _first_chunk_apart(capacity_blocks(tasks, chunk_points, CHUNKS_PER_BLOCK), tasks,
                                chunk_points)
    children_before = _child_pids()
    local_limit = int(len(blocks) * LOCAL_BLOCKS_SHARE)
    with ExitStack() as stack:
        stack.enter_context(_quiet_dask_logs())
        start = _ClientStart(stack, worker_processes(jobs), scheduler, children_before)
        futures: dict[int, Any] = {}
        taken = 0
        try:
            while taken < local_limit and not start.started():
                b = blocks[taken]
                res = evaluate_block(spec, tasks[b.task_index], b, chunk_points, keep,
                                     write_results)
                start.allow_cluster()  # the first block built this process's caches
                # the import is Python code that holds the GIL: a warm block evaluated meanwhile
                # takes five times as long and slows the import down (measured: the worker then
                # started 0.6 s into the sweep, 0.4 s when this thread waits; a cold first
                # block overlaps with the import better, its numpy code releases the GIL)
                start.wait_imported()
                progress(res.points, b.planned_points)
                yield res
                taken += 1
            client = start.client()
            yield from _cluster_blocks(client, spec, tasks, blocks, taken, chunk_points, keep,
                                       write_results, worker_processes(jobs), progress, futures,
                                       local=scheduler is None)
        except BaseException:
            start.abandon()
            for fut in futures.values():
                fut.cancel()
            if scheduler is None:
                _kill_new_children(children_before)
            raise


def _first_chunk_apart(blocks: list[Block], tasks: list[Task], chunk_points: int
                       ) -> list[Block]:
    """``blocks`` with the first chunk of the first block as a block of its own: the client
    evaluates it first, building the caches the forked workers inherit, and the embedded
    cluster can start (fork) as soon as it is done, not a whole block later."""
    if not blocks:
        return blocks
    b = blocks[0]
    task = tasks[b.task_index]
    split = b.first + capacities_per_chunk(task, chunk_points)
    if split >= b.end:
        return blocks
    n_sub = 1 if task.sub_batch is None else task.sub_batch.size
    return [Block(b.task_index, b.first, split, (split - b.first) * n_sub),
            Block(b.task_index, split, b.end, (b.end - split) * n_sub), *blocks[1:]]


def _cluster_blocks(client: Any, spec: SweepSpec, tasks: list[Task], blocks: list[Block],
                    first: int, chunk_points: int, keep: str, write_results: bool, jobs: int,
                    progress: Callable[[int, int], None], futures: dict[int, Any],
                    local: bool = False) -> Iterator[BlockResult]:
    """Blocks ``first``.. on the cluster, results in block order (``futures``: those in
    flight, for the caller to cancel). With ``local`` this process evaluates the next block
    itself whenever the block it must yield next is not finished and none is ready."""
    from distributed import as_completed

    workers = max(1, len(client.scheduler_info().get("workers", {})) or jobs)
    window = max(2, BLOCKS_IN_FLIGHT_PER_WORKER * workers)
    ahead = window + LOCAL_BLOCKS_AHEAD  # blocks submitted or evaluated but not yet yielded
    spec_f = client.scatter(spec, broadcast=True)
    task_f = {}  # a task is sent once, its blocks refer to it
    run_id = uuid.uuid4().hex  # keys unique on a shared cluster
    index_of: dict[str, int] = {}
    done: dict[int, BlockResult] = {}
    pending = as_completed()
    submitted = taken = first
    while taken < len(blocks):
        # submit while fewer than `window` blocks are on the cluster
        while submitted < len(blocks) and len(futures) < window and submitted - taken < ahead:
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
            if local and not pending.has_ready():
                if submitted < len(blocks) and submitted - taken < ahead:
                    done[submitted] = _local_block(spec, tasks, blocks[submitted],
                                                   chunk_points, keep, write_results, progress)
                    submitted += 1
                    break  # submit more to the cluster first
                if submitted == len(blocks) and len(futures) > workers:
                    # the sweep's end: rather than wait for the blocks queued behind the running
                    # ones, take the last one back (should a worker have begun it, it finishes
                    # it in vain; its result is dropped)
                    index = max(futures)
                    fut = futures.pop(index)
                    del index_of[fut.key]
                    fut.cancel()
                    done[index] = _local_block(spec, tasks, blocks[index], chunk_points, keep,
                                               write_results, progress)
                    continue
            fut = next(pending)
            if fut.key not in index_of:  # a block taken back
                continue
            index = index_of.pop(fut.key)
            res = fut.result()  # raises the worker's error here
            progress(res.points, blocks[index].planned_points)
            done[index] = res
            del futures[index]
        if taken in done:
            yield done.pop(taken)
            taken += 1


def _local_block(spec: SweepSpec, tasks: list[Task], b: Block, chunk_points: int, keep: str,
                 write_results: bool, progress: Callable[[int, int], None]) -> BlockResult:
    """Block ``b`` evaluated in this process."""
    res = evaluate_block(spec, tasks[b.task_index], b, chunk_points, keep, write_results)
    progress(res.points, b.planned_points)
    return res


def _child_pids() -> set[int]:
    import psutil  # a dependency of distributed

    return {p.pid for p in psutil.Process().children(recursive=True)}


def _kill_new_children(before: set[int]) -> None:
    """Kill the processes this process started since ``before`` was taken (the embedded
    cluster's workers, started or starting) at once on an interrupted run: a worker busy with a
    block, or still importing, would otherwise hold the shutdown for seconds (and
    multiprocessing joins its children at exit)."""
    import psutil

    me = psutil.Process()
    own = me.cmdline()
    for child in me.children(recursive=True):
        with suppress(psutil.Error):
            # worker processes only (spawned, or forked: this process's command line);
            # multiprocessing's resource tracker cleans up after them
            cmdline = child.cmdline()
            if child.pid not in before and ("spawn_main" in " ".join(cmdline)
                                            or cmdline == own):
                child.kill()
