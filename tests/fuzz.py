"""Fuzz campaign: hostile mutations of the built-in files, each run as a cnnmem command.

``generate(seed, n)`` yields :class:`Case` values (fixed seed -> the same cases); ``run_case``
runs one in a forked child (the parent has cnnmem imported already, so a case costs only its
own work) under a memory limit and a time limit, and ``check`` returns what is wrong with the
outcome (empty: the case passed). A case passes when it exits 0 or 2, writes no traceback, on
exit 2 writes exactly one stderr line of fewer than 300 characters, finishes within the time
and memory limits, and leaves no file behind after an error.

The memory limit is on resident memory (RSS), the memory a case really uses: the parent polls
the child's RSS while it runs and kills it past the limit, and the kernel's peak RSS of the
child (``wait4``'s ``ru_maxrss``) is checked when it ends; either way the check reports
``memory``. Address space (``RLIMIT_AS``) is not a measure of use: pyarrow's allocator
(mimalloc, used by pandas 3's string columns) reserves a 1 GiB arena of address space when one
fits, glibc reserves 64 MiB per thread arena and OpenBLAS a buffer per thread, so the same
``bound`` command peaked at 0.5 GiB or 1.5 GiB of address space (120 MiB resident) depending on
whether that reservation fitted under the limit, and a limit of "1 GiB of address space over
the parent" sat within 1 MiB of that threshold. ``RLIMIT_AS`` stays only as a wide backstop
(``ADDRESS_SPACE_BACKSTOP_BYTES`` over the parent) so a runaway fails fast even if the polling
parent is starved of CPU.

Classes (``Case.cls``): ``value`` (a scalar replaced by a hostile value), ``drop`` (a key
removed), ``extra`` (an unknown key), ``text`` (control characters, truncation, nesting, an
alias bomb, a huge file), ``repeat`` (hostile repeat counts), ``cli`` (hostile command-line
values and output places) and ``scale`` (networks of thousands of layers through MBS, Layer
Fusion and OCCAM). ``scale`` is generated only with ``scale=True``: issue #16's "Scale" item
(memory linear in layers), run under ``pytest -m slow``: Layer Fusion and OCCAM on banded group
tables (cnnmem/model/fusion_tables.py), MBS on tables of the groups of at most MAX_GROUP_LAYERS
layers (a 10,000-layer network through mbs-optimal, mbs-recompute, mbs-greedy, mbs-fs in well
under the 1 GiB limit); the cases cycle through those four strategies where the draw picks MBS.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ("lenet5", "alexnet", "resnet50", "mobilenet_v2")
HARDWARE = ("edge", "tnpu", "occam_chip")
SWEEPS = ("quickstart", "occam-vgg16", "tnpu")

HOSTILE_VALUES: tuple[Any, ...] = (
    10**9, 1e9, 1e20, -1, 0, 2**63, -(2**63) - 1, 2**64, float("inf"), float("-inf"),
    float("nan"), "", None, "2024", True, {"a": 1}, [1, 2], [], "x" * 5000, "../../escaped",
    "${(((9**64)**64)**64)}", "${'x' * 10**9}", "${9**9**9}", "false", 1e300, "1e400 B",
    "10 parsecs", "\u202e\u0000", 7, 3.5, "${1/0}", {"random": 10**9}, {"from": 1, "to": 1e12},
    {"from": 1, "to": 10, "steps": 10**9},
)
BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n")


@dataclass(frozen=True)
class Case:
    """One command run: ``files`` (name -> text) are written to a fresh folder first."""

    name: str
    cls: str
    argv: tuple[str, ...]
    files: tuple[tuple[str, str], ...] = ()
    slow_ok: bool = False  # may take longer than the fast limit (a real sweep)


#: the child's address-space limit over the parent's, a backstop only (see the module text)
ADDRESS_SPACE_BACKSTOP_BYTES = 8 << 30
#: how often the parent reads the child's resident memory and checks the time limit
POLL_S = 0.01


@dataclass
class Outcome:
    exit_code: int | None  # None: killed (time or memory limit) or died of a signal
    stderr: str
    seconds: float
    signal: int | None = None
    leftovers: list[str] = field(default_factory=list)
    peak_rss_bytes: int = 0  # the child's peak resident memory (the kernel's ru_maxrss)
    over_memory: bool = False  # its resident memory went past the limit


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a parsed YAML value (containers and scalars)."""
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, prefix + (i,))
    return out


def _get_parent(data: Any, path: tuple) -> Any:
    for k in path[:-1]:
        data = data[k]
    return data


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _mutate_data(rng: random.Random, data: Any) -> tuple[str, Any]:
    paths = _paths(data)
    path = rng.choice(paths)
    parent = _get_parent(data, path)
    roll = rng.random()
    if roll < 0.6:
        parent[path[-1]] = rng.choice(HOSTILE_VALUES)
        return "value", data
    if roll < 0.8 and isinstance(parent, dict):
        del parent[path[-1]]
        return "drop", data
    if isinstance(parent, dict):
        parent[rng.choice(("bogus", "repeat", "when", "inputs", "2024"))] = rng.choice(
            HOSTILE_VALUES)
        return "extra", data
    parent[path[-1]] = rng.choice(HOSTILE_VALUES)
    return "value", data


def _mutate_text(rng: random.Random, text: str) -> str:
    roll = rng.randrange(6)
    if roll == 0:  # a control character somewhere
        i = rng.randrange(len(text))
        return text[:i] + rng.choice("\x00\x01\x07\x1b\x7f\ufeff") + text[i:]
    if roll == 1:  # truncated
        return text[: rng.randrange(len(text))]
    if roll == 2:  # deep nesting
        depth = rng.choice((150, 1000, 5000))
        return text + "\nbogus: " + "[" * depth + "]" * depth + "\n"
    if roll == 3:  # an alias bomb used as a value
        return BOMB + text.replace("\nname:", "\nname: *g\nxname:", 1) + "\nbomb: *g\n"
    if roll == 4:  # a line duplicated
        lines = text.splitlines()
        i = rng.randrange(len(lines))
        return "\n".join(lines[: i + 1] + lines[i:]) + "\n"
    return text + "\n" + "# " + "x" * rng.choice((10, 10**6)) + "\n"


def _repeat_network(rng: random.Random) -> str:
    count = rng.choice((0, -3, 2.5, "many", 10**4 + 1, 10**6, 10**9, 10**20, 2**70))
    return _dump({"name": "rep", "input": [3, 16, 16],
                  "blocks": {"b": {"layers": [{"type": "relu"}]}},
                  "layers": [{"block": "b", "repeat": count}]})


def _network_commands(rng: random.Random, file: str) -> tuple[str, ...]:
    return rng.choice((
        ("validate", file), ("show", file, "--format", "csv"),
        ("schedule", file, "--hw", "edge", "--strategy", "layerwise", "--totals"),
        ("schedule", file, "--hw", "edge", "--strategy", "mbs-greedy", "--batch", "4",
         "--totals"),
        ("bound", file, "--buffer", "64KiB"),
    ))


def _cli_case(rng: random.Random, i: int) -> Case:
    argv = rng.choice((
        ("schedule", "alexnet", "--hw", "tnpu", "--strategy", "tnpu", "--batch", "100000"),
        ("schedule", "vgg16", "--hw", "occam_chip", "--strategy", "occam", "--chips",
         "1000000"),
        ("schedule", "resnet50", "--hw", "wavecore", "--strategy", "mbs-optimal", "--batch",
         "1000000000"),
        ("schedule", "lenet5", "--hw", "edge", "--strategy", "mbs", "--sub-batch", "10" * 40),
        ("schedule", "lenet5", "--hw", "edge", "--strategy", "layerwise", "--buffer", "1e400 B"),
        ("schedule", "lenet5", "--hw", "edge", "--strategy", "x" * 10**4),
        ("schedule", "alexnet", "--hw", "tnpu", "--strategy", "tnpu", "--batch", "2",
         "--timeline", rng.choice(("missing/t.png", "/proc/t.png", "ro/t.png", "in.yaml/t.png"))),
        ("reproduce", "tnpu-fig10", "--markdown",
         rng.choice(("missing/r.md", "/proc/r.md", "ro/r.md"))),
        ("sweep", "in.yaml", "-o", rng.choice(("in.yaml", "in.yaml/sub", "/proc/out", "ro/out"))),
        ("validate", rng.choice(("/dev/zero", "loop.yaml", "unreadable.yaml", "n" * 300 + ".yaml",
                                 "ro"))),
        ("report", rng.choice(("ro", "missing", "in.yaml"))),
    ))
    base = (ROOT / "sweeps" / "quickstart.yaml").read_text(encoding="utf-8")
    return Case(f"cli-{i}", "cli", argv, (("in.yaml", base.replace("resnet50", "lenet5")),))


def scale_case(name: str, layers: int, strategy: str) -> Case:
    """A ``scale`` case: ``schedule`` of a chain of ``layers`` layers (conv 3x3 + relu blocks,
    8 x 8 x 8 maps, built with ``repeat:``) on occam_chip with ``strategy``."""
    text = _dump({"name": "deep", "input": [8, 8, 8],
                  "blocks": {"b": {"layers": [{"type": "conv", "out": 8, "kernel": 3,
                                               "padding": 1}, {"type": "relu"}]}},
                  "layers": [{"block": "b", "repeat": layers // 2}]})
    return Case(name, "scale", ("schedule", "in.yaml", "--hw", "occam_chip", "--strategy",
                                strategy, "--totals"), (("in.yaml", text),), slow_ok=True)


#: the MBS strategies the ``scale`` class runs, one after the other
MBS_SCALE = ("mbs-optimal", "mbs-recompute", "mbs-greedy", "mbs-fs")


def generate(seed: int, n: int, *, scale: bool = False) -> Iterator[Case]:
    """``n`` cases from ``seed`` (the same cases every time)."""
    rng = random.Random(seed)
    texts = {("network", k): (ROOT / "networks" / f"{k}.yaml").read_text(encoding="utf-8")
             for k in NETWORKS}
    texts |= {("hardware", k): (ROOT / "hw" / f"{k}.yaml").read_text(encoding="utf-8")
              for k in HARDWARE}
    texts |= {("sweep", k): (ROOT / "sweeps" / f"{k}.yaml").read_text(encoding="utf-8")
              for k in SWEEPS}
    keys = sorted(texts)
    mbs_cases = 0
    for i in range(n):
        roll = rng.random()
        if roll < 0.08:
            yield _cli_case(rng, i)
            continue
        if roll < 0.13:
            yield Case(f"repeat-{i}", "repeat", _network_commands(rng, "in.yaml"),
                       (("in.yaml", _repeat_network(rng)),))
            continue
        if scale and roll < 0.16:
            layers = rng.choice((2000, 5000, 10000))
            strategy = rng.choice(("mbs-optimal", "occam", "fusion"))
            if strategy == "mbs-optimal":  # the MBS family in turn (the draws stay the same)
                strategy = MBS_SCALE[mbs_cases % len(MBS_SCALE)]
                mbs_cases += 1
            yield scale_case(f"scale-{i}", layers, strategy)
            continue
        kind, base = rng.choice(keys)
        text = texts[(kind, base)]
        if rng.random() < 0.25:
            cls, out = "text", _mutate_text(rng, text)
        else:
            cls, data = _mutate_data(rng, yaml.safe_load(text))
            out = _dump(data)
        if kind == "sweep":
            out = out.replace("resnet50", "lenet5").replace("vgg16", "lenet5")
            argv: tuple[str, ...] = rng.choice((("validate", "in.yaml"),
                                                ("sweep", "in.yaml", "-o", "out", "--quiet")))
        elif kind == "hardware":
            argv = rng.choice((("validate", "in.yaml"),
                               ("schedule", "lenet5", "--hw", "in.yaml", "--strategy",
                                rng.choice(("layerwise", "mbs-greedy", "occam")), "--totals")))
        else:
            argv = _network_commands(rng, "in.yaml")
        yield Case(f"{cls}-{kind}-{base}-{i}", cls, argv, (("in.yaml", out),),
                   slow_ok=argv[0] == "sweep")


def _prepare(case: Case, folder: Path) -> None:
    for name, text in case.files:
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "ro").mkdir(exist_ok=True)
    if not (folder / "loop.yaml").is_symlink():
        (folder / "loop.yaml").symlink_to("loop.yaml")
    unreadable = folder / "unreadable.yaml"
    unreadable.write_text("name: x\n", encoding="utf-8")
    unreadable.chmod(0)
    (folder / "ro").chmod(0o555)


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` now (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def run_case(case: Case, folder: Path, *, timeout_s: float, memory_bytes: int) -> Outcome:
    """Run ``case`` in a forked child inside ``folder`` (created fresh by the caller), killed
    after ``timeout_s`` or when its resident memory passes ``memory_bytes`` (the child's RSS
    counts the pages it shares with this process, so take ``memory_bytes`` from
    :func:`memory_limit`)."""
    _prepare(case, folder)
    backstop = _vm_size_bytes() + ADDRESS_SPACE_BACKSTOP_BYTES
    before = _listing(folder)
    err_path = folder.parent / f"{folder.name}.stderr"
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 70
        try:
            os.chdir(folder)
            fd_out = os.open(os.devnull, os.O_WRONLY)
            fd_err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd_out, 1)
            os.dup2(fd_err, 2)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            resource.setrlimit(resource.RLIMIT_AS, (backstop, backstop))
            from cnnmem.cli import main

            try:
                main(list(case.argv))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # a traceback is what the check looks for
            traceback.print_exc()
            code = 70
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    deadline = t0 + timeout_s
    status = None
    over_memory = False
    while True:
        done, wait_status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            status = wait_status
            break
        over_memory = _rss_bytes(pid) > memory_bytes
        if over_memory or time.perf_counter() >= deadline:
            os.kill(pid, signal.SIGKILL)
            _, _, usage = os.wait4(pid, 0)
            break
        time.sleep(POLL_S)
    seconds = time.perf_counter() - t0
    peak_rss_bytes = usage.ru_maxrss * 1024  # KiB on Linux
    over_memory = over_memory or peak_rss_bytes > memory_bytes
    stderr = err_path.read_text(encoding="utf-8", errors="replace") if err_path.exists() else ""
    err_path.unlink(missing_ok=True)
    (folder / "ro").chmod(0o755)
    if status is None:
        return Outcome(None, stderr, seconds, peak_rss_bytes=peak_rss_bytes,
                       over_memory=over_memory)
    code = os.waitstatus_to_exitcode(status)
    after = _listing(folder)
    leftovers = sorted(set(after) - set(before)) if code != 0 else []
    return Outcome(code if code >= 0 else None, stderr, seconds,
                   signal=-code if code < 0 else None, leftovers=leftovers,
                   peak_rss_bytes=peak_rss_bytes, over_memory=over_memory)


def check(outcome: Outcome) -> list[str]:
    """What is wrong with an outcome, as failure classes (empty: it passed)."""
    problems = []
    if outcome.over_memory:
        problems.append("memory")
    elif outcome.exit_code is None:
        problems.append("killed" if outcome.signal else "timeout")
    elif outcome.exit_code not in (0, 2):
        problems.append(f"exit-{outcome.exit_code}")
    if "Traceback" in outcome.stderr:
        problems.append("traceback")
    if outcome.exit_code == 2:
        lines = outcome.stderr.splitlines()
        if len(lines) != 1:
            problems.append("not-one-line")
        elif len(lines[0]) >= 300:
            problems.append("long-line")
    if outcome.leftovers:
        problems.append("file-left-behind")
    return problems


def _status_bytes(key: str) -> int:
    """A size from /proc/self/status (``VmSize``, ``VmRSS``) in bytes."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _vm_size_bytes() -> int:
    return _status_bytes("VmSize")


def memory_limit(extra_bytes: int = 1 << 30) -> int:
    """The resident-memory limit of a child: this process's resident memory now (which a
    forked child starts with, shared) plus ``extra_bytes``."""
    return _status_bytes("VmRSS") + extra_bytes
