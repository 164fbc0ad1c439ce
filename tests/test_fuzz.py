"""The fuzz campaign of issue #16 (see tests/fuzz.py): a fast subset by default, >= 1,000
cases with ``pytest -m slow``. Each case runs in a forked child under a memory and a time
limit; a failing case is reported with its class, command and stderr."""

from __future__ import annotations

import collections
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fuzz  # noqa: E402

import cnnmem.cli  # noqa: E402, F401 - imported once here, shared by every forked case

SEED = 16
FAST_CASES = 12
SLOW_CASES = 1_200
TIME_LIMIT_S = 30.0
SWEEP_TIME_LIMIT_S = 120.0


def _campaign(n: int, tmp_path: Path) -> tuple[collections.Counter, list[str]]:
    memory = fuzz.memory_limit()
    codes: collections.Counter = collections.Counter()
    failures = []
    for i, case in enumerate(fuzz.generate(SEED, n)):
        folder = tmp_path / f"case{i}"
        folder.mkdir()
        out = fuzz.run_case(case, folder, memory_bytes=memory,
                            timeout_s=SWEEP_TIME_LIMIT_S if case.slow_ok else TIME_LIMIT_S)
        codes[out.exit_code] += 1
        codes[f"{case.cls}:{out.exit_code}"] += 1
        problems = fuzz.check(out)
        if problems:
            failures.append(f"{case.name} {list(case.argv)}: {problems}: {out.stderr[-400:]}")
        shutil.rmtree(folder, ignore_errors=True)
    return codes, failures


def test_fuzz_generator_is_deterministic() -> None:
    assert list(fuzz.generate(SEED, 30)) == list(fuzz.generate(SEED, 30))


def test_fuzz_fast_subset(tmp_path: Path) -> None:
    codes, failures = _campaign(FAST_CASES, tmp_path)
    assert not failures, "\n".join(failures)
    assert codes[2] > 0  # the mutations do reach the error paths


def test_fuzz_check_flags_bad_outcomes() -> None:
    assert fuzz.check(fuzz.Outcome(2, "error: x\n", 0.1)) == []
    assert fuzz.check(fuzz.Outcome(2, "Traceback\nerror: x\n", 0.1)) == ["traceback",
                                                                        "not-one-line"]
    assert fuzz.check(fuzz.Outcome(1, "", 0.1)) == ["exit-1"]
    assert fuzz.check(fuzz.Outcome(None, "", 9.0)) == ["timeout"]
    assert fuzz.check(fuzz.Outcome(2, "e" * 300, 0.1)) == ["long-line"]
    assert fuzz.check(fuzz.Outcome(2, "error: x", 0.1, leftovers=["out"])) == [
        "file-left-behind"]


def test_fuzz_flags_a_memory_blowup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory limit catches a real blow-up: a sweep of 10**8 capacities (issue #16's
    'sweep steps' reproducer, tests/test_hostile_inputs.py::test_sweep_sizes) with the sweep
    size limits lifted in this process before the fork, so the child really builds the sweep;
    it passes the resident-memory limit and is killed (about 1 s)."""
    from cnnmem.sweep import spec

    monkeypatch.setattr(spec, "MAX_AXIS_VALUES", 10**12)
    monkeypatch.setattr(spec, "MAX_SWEEP_POINTS", 10**15)
    text = ("sweep: s\nnetworks: [lenet5]\nhardware: [edge]\nbatch: 8\nstrategies: [mbs]\n"
            "axes:\n  capacity: {from: 1 MiB, to: 2 MiB, steps: 100000000}\n")
    case = fuzz.Case("blowup", "cli", ("sweep", "in.yaml", "-o", "out", "--quiet"),
                     (("in.yaml", text),))
    memory = fuzz.memory_limit()
    (tmp_path / "case").mkdir()
    out = fuzz.run_case(case, tmp_path / "case", memory_bytes=memory, timeout_s=TIME_LIMIT_S)
    assert fuzz.check(out) == ["memory"], (out, memory)
    assert out.peak_rss_bytes > memory


def test_fuzz_memory_limit_is_resident_memory(tmp_path: Path) -> None:
    """A case's resident memory (not its address space) is measured: a fast case stays far
    below the limit although pandas/pyarrow reserve gigabytes of address space."""
    case = fuzz.Case("small", "cli", ("bound", "mobilenet_v2", "--buffer", "64KiB"))
    memory = fuzz.memory_limit()
    (tmp_path / "case").mkdir()
    out = fuzz.run_case(case, tmp_path / "case", memory_bytes=memory, timeout_s=TIME_LIMIT_S)
    assert fuzz.check(out) == [] and 0 < out.peak_rss_bytes < memory - (512 << 20), out


def _scale_failures(cases: list[fuzz.Case], tmp_path: Path) -> list[str]:
    memory = fuzz.memory_limit()
    failures = []
    for i, case in enumerate(cases):
        folder = tmp_path / f"scale{i}"
        folder.mkdir()
        out = fuzz.run_case(case, folder, memory_bytes=memory, timeout_s=300.0)
        if fuzz.check(out):
            failures.append(f"{case.name} {list(case.argv)}: {fuzz.check(out)}")
    return failures


FUSION_SCALE = ("occam", "fusion")


@pytest.mark.slow
def test_fuzz_scale_fusion_occam(tmp_path: Path) -> None:
    """Issue #16 'Scale', Layer Fusion and OCCAM: the campaign's scale cases of those two
    strategies and a 10,000-layer network through each, within the campaign's memory limit
    (1 GiB over the parent) and 300 s."""
    cases = [c for c in fuzz.generate(SEED, 400, scale=True)
             if c.cls == "scale" and c.argv[5] in FUSION_SCALE]
    cases += [fuzz.scale_case(f"scale-10000-{s}", 10_000, s) for s in FUSION_SCALE]
    failures = _scale_failures(cases, tmp_path)
    assert len(cases) > 2 and not failures, "\n".join(failures)


@pytest.mark.slow
def test_fuzz_scale_mbs(tmp_path: Path) -> None:
    """Issue #16 'Scale', MBS: the campaign's MBS scale cases (they cycle through
    fuzz.MBS_SCALE) and a 10,000-layer network through each of those strategies, within the
    campaign's memory limit (1 GiB over the parent) and 300 s (MBS tables of the groups of at
    most MAX_GROUP_LAYERS layers: about 400 MB and 10 s each)."""
    cases = [c for c in fuzz.generate(SEED, 400, scale=True)
             if c.cls == "scale" and c.argv[5] in fuzz.MBS_SCALE]
    cases += [fuzz.scale_case(f"scale-10000-{s}", 10_000, s) for s in fuzz.MBS_SCALE]
    failures = _scale_failures(cases, tmp_path)
    assert len(cases) > 4 and not failures, "\n".join(failures)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("CNNMEM_FUZZ_SCALE"),
                    reason="the whole scale class, 8 networks of 2,000-10,000 layers (MBS: "
                           "test_fuzz_scale_mbs; fusion and occam: "
                           "test_fuzz_scale_fusion_occam); set CNNMEM_FUZZ_SCALE=1 to run it")
def test_fuzz_scale_campaign(tmp_path: Path) -> None:
    cases = [c for c in fuzz.generate(SEED, 400, scale=True) if c.cls == "scale"]
    failures = _scale_failures(cases, tmp_path)
    assert cases and not failures, "\n".join(failures)


@pytest.mark.slow
def test_fuzz_campaign(tmp_path: Path) -> None:
    codes, failures = _campaign(SLOW_CASES, tmp_path)
    print(f"\nfuzz campaign: {SLOW_CASES} cases, exit codes (total and class:code) "
          f"{dict(sorted(codes.items(), key=str))}, {len(failures)} failures")
    for failure in failures:
        print("FAIL", failure[:300])
    assert not failures, "\n".join(failures[:50])
