"""Regression tests of issue #16: one per class of hostile or huge input (hangs, memory
blow-ups, file-system errors, crashes on accepted input, wrong-but-silent results, atomic
report files). Each runs the real entry point in-process and checks exit 2 with one short line
naming the file, line and field (or exit 0 and the right result)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cnnmem import limits
from cnnmem.cli import main

ROOT = Path(__file__).resolve().parents[1]
NET = "name: t\ninput: [3, 8, 8]\nlayers:\n"
HW = "name: h\nbuffer: 2 MiB\nmac_units: 1024\nclock: 1 GHz\ndram_bandwidth: 25.6 GB/s\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def fails(capsys: pytest.CaptureFixture[str], *argv: str, expect: tuple[str, ...] = ()) -> str:
    code, _, err = run(capsys, *argv)
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) < 300, err
    for part in expect:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


# --- hangs and memory blow-ups: refused before the work, naming value and limit

@pytest.mark.parametrize("count", [10**6, 10**9, 10**20])
def test_unbounded_repeat(tmp_path, capsys, count):
    f = write(tmp_path, "n.yaml", "name: t\ninput: [3, 8, 8]\nblocks:\n  b:\n    layers:\n"
              f"      - {{type: relu}}\nlayers:\n  - {{block: b, repeat: {count}}}\n")
    fails(capsys, "validate", f, expect=(":8:", "limit") if count > 2**63 else (
        ":8:", "field 'repeat'", f"{limits.MAX_REPEAT:,}"))


def test_layers_after_expansion_limit(tmp_path, capsys):
    f = write(tmp_path, "n.yaml", "name: t\ninput: [3, 8, 8]\nblocks:\n  b:\n    layers:\n"
              "      - {type: relu}\n      - {type: relu}\n      - {type: relu}\nlayers:\n"
              "  - {block: b, repeat: 8000}\n")
    fails(capsys, "validate", f, expect=(f"{limits.MAX_LAYERS:,} layers",))


@pytest.mark.parametrize("field", ["name", "description"])
def test_alias_bomb(tmp_path, capsys, field):
    bomb = "".join(f"{c}: &{c} [{', '.join([f'*{p}' if p else 'lol'] * 9)}]\n"
                   for p, c in zip([None, *"abcdef"], "abcdefg", strict=True))
    f = write(tmp_path, "n.yaml", bomb + f"{field}: *g\n" + NET[8:] + "  - {type: relu}\n")
    fails(capsys, "validate", f, expect=("expands to more than",))


@pytest.mark.parametrize("expr", ["(((9**64)**64)**64)", "9**9**9", "'x' * 10**9",
                                  "2**62 * 4", "1" * 2000])
def test_expression_magnitude(tmp_path, capsys, expr):
    f = write(tmp_path, "n.yaml", "name: t\ninput: [3, 8, 8]\nblocks:\n  b:\n    layers:\n"
              f"      - {{type: conv, out: \"${{{expr}}}\", kernel: 1}}\nlayers:\n"
              "  - {block: b}\n")
    fails(capsys, "validate", f, expect=("limit",))


def test_file_size_limit(capsys):
    fails(capsys, "validate", "/dev/zero", expect=("/dev/zero", f"{limits.MAX_FILE_BYTES:,}"))


@pytest.mark.parametrize("argv", [
    ("schedule", "alexnet", "--hw", "tnpu", "--strategy", "tnpu", "--batch", "100000"),
    ("schedule", "vgg16", "--hw", "occam_chip", "--strategy", "occam", "--chips", "1000000"),
    ("schedule", "resnet50", "--hw", "wavecore", "--strategy", "mbs-optimal", "--batch",
     "1000000000"),
    ("tnpu-bandwidth", "alexnet", "--batch", "100000"),
])
def test_command_line_counts(capsys, argv):
    fails(capsys, *argv, expect=("range",))


@pytest.mark.parametrize("axes,expect", [
    ("capacity: {from: 1 MiB, to: 2 MiB, steps: 1000000000}", "axes.capacity"),
    ("sub_batch: {from: 1, to: 1000000000000}", "axes.sub_batch"),
    ("grouping: [{random: 1000000000}]", "axes.grouping.random"),
    ("capacity: {from: 1 MiB, to: 2 MiB, steps: 1000000}\n  dram_bandwidth: "
     "{from: 1 GB/s, to: 2 GB/s, steps: 1000}", "design points"),
])
def test_sweep_sizes(tmp_path, capsys, axes, expect):
    f = write(tmp_path, "s.yaml", "sweep: s\nnetworks: [lenet5]\nhardware: [edge]\n"
              f"batch: 8\nstrategies: [mbs]\naxes:\n  {axes}\n")
    fails(capsys, "validate", f, expect=(expect, "limit"))
    fails(capsys, "sweep", f, "-o", str(tmp_path / "out"), "--quiet", expect=(expect,))
    assert not (tmp_path / "out").exists()


def test_sweep_batch_and_chips(tmp_path, capsys):
    for key in ("batch: 1000000000", "chips: 1000000"):
        f = write(tmp_path, "s.yaml", f"sweep: s\nnetworks: [lenet5]\nhardware: [edge]\n{key}\n")
        fails(capsys, "validate", f, expect=(":4:", f"field '{key.split(':')[0]}'", "limit"))


def test_integer_beyond_int64(tmp_path, capsys):
    f = write(tmp_path, "h.yaml", HW + "mac_units: 9223372036854775808\n".replace(
        "mac_units", "chip_bandwidth"))
    fails(capsys, "validate", f, expect=(":6:", "64-bit"))


def test_infinite_hardware_values(tmp_path, capsys):
    f = write(tmp_path, "h.yaml", HW.replace("1024", ".inf").replace("25.6 GB/s", ".inf"))
    fails(capsys, "validate", f, expect=("finite",))


# --- file-system errors: one line naming the path and the reason

def test_symlink_loop_and_long_name(tmp_path, capsys):
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    fails(capsys, "validate", str(loop), expect=("loop.yaml", "symbolic links"))
    fails(capsys, "show", str(tmp_path / ("n" * 300 + ".yaml")), expect=("too long",))


def test_output_places(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x", encoding="utf-8")
    quick = str(ROOT / "sweeps" / "quickstart.yaml")
    fails(capsys, "sweep", quick, "-o", str(f), "--quiet", expect=("afile", "exists"))
    fails(capsys, "sweep", quick, "-o", str(f / "sub"), "--quiet", expect=("Not a directory",))
    fails(capsys, "sweep", quick, "-o", "/proc/cnnmem-out", "--quiet", expect=("/proc",))
    fails(capsys, "schedule", "alexnet", "--hw", "tnpu", "--strategy", "tnpu", "--batch", "2",
          "--timeline", str(tmp_path / "missing" / "t.png"), expect=("missing/t.png",))
    fails(capsys, "reproduce", "tnpu-fig10", "--markdown", str(tmp_path / "missing" / "r.md"),
          expect=("r.md",))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes anything")
def test_unreadable_and_read_only(tmp_path, capsys):
    f = tmp_path / "u.yaml"
    f.write_text(HW, encoding="utf-8")
    f.chmod(0)
    fails(capsys, "validate", str(f), expect=("u.yaml", "Permission denied"))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    fails(capsys, "schedule", "alexnet", "--hw", "tnpu", "--strategy", "tnpu", "--batch", "2",
          "--timeline", str(ro / "t.png"), expect=("Permission denied",))


# --- crashes on inputs validate accepted

@pytest.mark.parametrize("field", ["description", "source"])
def test_description_as_mapping(tmp_path, capsys, field):
    f = write(tmp_path, "n.yaml", f"{field}: {{a: 1}}\n" + NET + "  - {type: relu}\n")
    fails(capsys, "validate", f, expect=(":1:", f"field '{field}'"))


def test_numeric_looking_names_report(tmp_path, capsys):
    net = write(tmp_path, "7.yaml", (ROOT / "networks" / "lenet5.yaml").read_text(
        encoding="utf-8").replace("name: lenet5", "name: \"2024\""))
    hw = write(tmp_path, "h.yaml", HW.replace("name: h", "name: \"2025\""))
    sweep = write(tmp_path, "s.yaml", f"sweep: s\nnetworks: [{net}]\nhardware: [{hw}]\n"
                  "strategies: [layerwise]\naxes:\n  capacity: [1 MiB, 2 MiB]\n")
    out = tmp_path / "out"
    assert run(capsys, "sweep", sweep, "-o", str(out), "--quiet")[0] == 0
    assert run(capsys, "report", str(out), "--quiet")[0] == 0
    assert (out / "report.md").exists()


# --- wrong but silent

def test_quoted_false_when_drops_layer(tmp_path, capsys):
    f = write(tmp_path, "n.yaml", NET + "  - {type: relu}\n  - {type: relu, when: \"false\"}\n")
    code, out, _ = run(capsys, "show", f, "--format", "csv")
    assert code == 0 and len(out.splitlines()) == 3  # header, one relu, TOTAL
    bad = write(tmp_path, "m.yaml", NET + "  - {type: relu, when: maybe}\n")
    fails(capsys, "validate", bad, expect=(":4:", "field 'when'"))


def test_sweep_name_cannot_escape(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = write(tmp_path, "s.yaml", "sweep: ../../escaped\nnetworks: [lenet5]\nhardware: [edge]\n"
              "strategies: [layerwise]\naxes:\n  capacity: [1 MiB]\n")
    assert run(capsys, "sweep", f, "--quiet")[0] == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["_.._escaped"]
    assert not (tmp_path.parent / "escaped").exists()


def test_report_from_another_directory(tmp_path, capsys, monkeypatch):
    sub = tmp_path / "sub"
    sub.mkdir()
    write(sub, "net.yaml", (ROOT / "networks" / "lenet5.yaml").read_text(encoding="utf-8"))
    write(sub, "s.yaml", "sweep: s\nnetworks: [net.yaml]\nhardware: [edge]\n"
          "strategies: [layerwise]\naxes:\n  capacity: [1 MiB, 4 MiB]\n")
    monkeypatch.chdir(sub)
    assert run(capsys, "sweep", "s.yaml", "-o", "run", "--quiet")[0] == 0
    assert json.loads((sub / "run" / "run.json").read_text())["sweep_dir"] == str(sub)
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "report", "sub/run", "--quiet")[0] == 0


def test_too_many_inputs_message(tmp_path, capsys):
    names = ", ".join(f"r{i}" for i in range(65))
    f = write(tmp_path, "n.yaml", NET + "".join(f"  - {{name: r{i}, type: relu, input: input}}\n"
                                                for i in range(65))
              + f"  - {{type: add, inputs: [{names}]}}\n")
    fails(capsys, "validate", f, expect=("at most 64 input(s), got 65",))


def test_error_line_does_not_repeat_huge_value(tmp_path, capsys):
    f = write(tmp_path, "n.yaml", NET + f"  - {{type: relu, when: {'x' * 100_000}}}\n")
    line = fails(capsys, "validate", f)
    assert len(line) < 300


def test_control_character_names_line(tmp_path, capsys):
    f = write(tmp_path, "n.yaml", NET + "  - {type: relu}\n  - {name: a\x01b, type: relu}\n")
    fails(capsys, "validate", f, expect=(":5:", "#x0001"))


def test_figures_and_report_written_atomically(tmp_path, monkeypatch):
    from cnnmem.report import plots

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    import matplotlib.pyplot as plt

    fig = plt.figure()
    monkeypatch.setattr(fig, "savefig", lambda buf, **kw: (buf.write(b"partial"),
                                                           interrupted()))
    with pytest.raises(KeyboardInterrupt):
        plots.save_figure(fig, tmp_path / "f.png")
    plt.close(fig)
    assert list(tmp_path.iterdir()) == []


def test_limits_are_documented():
    for name in dir(limits):
        if name.startswith("MAX_") and name != "MAX_LINE_CHARS":  # imported from errors
            assert f"{name} =" in Path(limits.__file__).read_text(encoding="utf-8")


def test_readme_limits_table_matches_limits_module():
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(MAX_\w+)` \| ([^|]+) \|", text, re.M))
    documented = {n for n in dir(limits) if n.startswith("MAX_")} - {
        "MAX_LINE_CHARS", "MAX_ERROR_CHARS", "MAX_QUOTED_CHARS"}
    assert set(rows) == documented
    for name, shown in rows.items():
        shown = shown.strip().replace(",", "").replace(" MiB", " * 1024 * 1024")
        assert eval(shown) == getattr(limits, name), name  # noqa: S307 - our own README
