"""Every class of bad input, run through the real CLI entry point in a subprocess.

Each case must end with exit status 2 and exactly one line on stderr, ``error: FILE[:LINE]: ...``,
naming the layer and field where there is one, and never a Python traceback.

The subprocesses are started together (one module-scoped fixture) so the suite stays fast.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnnmem.cli import main


@dataclass(frozen=True)
class Case:
    content: str | None  # None: the file is not created (missing file)
    line: int | None  # the line the message must name (None: no line to name)
    expect: tuple[str, ...] = ()  # further substrings of the message
    layer: str | None = None
    field: str | None = None
    kind: str = "file"  # "file" or "dir" (a directory where a file is expected)


NET = "name: t\ninput: [3, 8, 8]\nlayers:\n"
HW = "name: h\nbuffer: 2 MiB\nmac_units: 1024\nclock: 1 GHz\ndram_bandwidth: 25.6 GB/s\n"

CASES: dict[str, Case] = {
    # --- YAML itself
    "yaml_syntax_unclosed_flow": Case(
        NET + "  - {name: a, type: conv, out: 4, kernel: 3\n  - {name: b, type: relu}\n",
        line=5, expect=("YAML syntax error",)),
    "yaml_syntax_mapping_value": Case(
        NET + "  - name: a\n    type: conv: 3\n", line=5, expect=("YAML syntax error",)),
    "yaml_syntax_bad_indent": Case(
        "name: t\ninput: [3, 8, 8]\n layers: []\n", line=3, expect=("YAML syntax error",)),
    "yaml_duplicate_key": Case(
        NET + "  - {name: a, type: relu, name: b}\n", line=4, field="name",
        expect=("duplicate key",)),
    "empty_file": Case("", line=None, expect=("mapping",)),
    "top_level_list": Case("- 1\n- 2\n", line=None, expect=("mapping",)),
    # --- network structure
    "unknown_layer_type": Case(
        NET + "  - {name: a, type: conv, out: 4, kernel: 3}\n  - {name: b, type: frobnicate}\n",
        line=5, layer="b", field="type", expect=("unknown layer type 'frobnicate'",)),
    "unknown_layer_field": Case(
        NET + "  - {name: a, type: conv, out: 4, kernel: 3, strid: 2}\n",
        line=4, layer="a", field="strid", expect=("unknown field",)),
    "unknown_top_level_field": Case(
        NET + "  - {name: a, type: relu}\noutput: a\n", line=5, field="output",
        expect=("unknown top-level field",)),
    "missing_layers": Case("name: t\ninput: [3, 8, 8]\n", line=1, field="layers",
                           expect=("missing",)),
    "missing_input_reference": Case(
        NET + "  - {name: a, type: conv, out: 4, kernel: 3}\n"
              "  - {name: b, type: relu, input: nosuch}\n",
        line=5, layer="b", field="inputs", expect=("unknown layer 'nosuch'",)),
    "cycle": Case(
        NET + "  - {name: a, type: conv, out: 4, kernel: 3}\n"
              "  - {name: b, type: add, inputs: [a, c]}\n"
              "  - {name: c, type: relu, input: b}\n",
        line=5, layer="b", field="inputs", expect=("cycle",)),
    "self_reference": Case(
        NET + "  - {name: a, type: relu, input: a}\n", line=4, layer="a", field="inputs",
        expect=("own output",)),
    "duplicate_layer_name": Case(
        NET + "  - {name: a, type: relu}\n  - {name: a, type: relu}\n", line=5, layer="a",
        field="name", expect=("duplicate layer name",)),
    "channel_mismatch_at_add": Case(
        NET + "  - {name: a, type: conv, out: 4, kernel: 3, padding: 1}\n"
              "  - {name: b, type: conv, out: 8, kernel: 3, padding: 1, input: input}\n"
              "  - {name: s, type: add, inputs: [a, b]}\n",
        line=6, layer="s", field="inputs", expect=("[4, 8, 8]", "[8, 8, 8]")),
    "spatial_mismatch_at_concat": Case(
        NET + "  - {name: a, type: conv, out: 4, kernel: 3, padding: 1}\n"
              "  - {name: b, type: conv, out: 4, kernel: 3, input: input}\n"
              "  - {name: s, type: concat, inputs: [a, b]}\n",
        line=6, layer="s", field="inputs", expect=("8x8", "6x6")),
    "add_with_one_input": Case(
        NET + "  - {name: s, type: add}\n", line=4, layer="s", field="inputs",
        expect=("at least 2",)),
    "groups_do_not_divide": Case(
        NET + "  - {name: g, type: conv, out: 4, kernel: 3, groups: 2}\n", line=4, layer="g",
        field="groups", expect=("groups=2",)),
    "same_padding_with_stride": Case(
        NET + "  - {name: c, type: conv, out: 4, kernel: 3, padding: same, stride: 2}\n",
        line=4, layer="c", field="padding"),
    # --- sizes
    "negative_input_size": Case(
        "name: t\ninput: [3, -8, 8]\nlayers:\n  - {name: a, type: relu}\n", line=2,
        field="input", expect=("[3, -8, 8]",)),
    "zero_input_size": Case(
        "name: t\ninput: [0, 8, 8]\nlayers:\n  - {name: a, type: relu}\n", line=2,
        field="input"),
    "malformed_input_shape": Case(
        "name: t\ninput: [3, 8]\nlayers:\n  - {name: a, type: relu}\n", line=2, field="input"),
    "zero_conv_out": Case(
        NET + "  - {name: a, type: conv, out: 0, kernel: 3}\n", line=4, layer="a", field="out",
        expect=("got 0",)),
    "negative_conv_out": Case(
        NET + "  - {name: a, type: conv, out: -4, kernel: 3}\n", line=4, layer="a",
        field="out", expect=("got -4",)),
    "zero_kernel": Case(
        NET + "  - {name: a, type: conv, out: 4, kernel: 0}\n", line=4, layer="a",
        field="kernel", expect=("got 0",)),
    "negative_kernel": Case(
        NET + "  - {name: a, type: conv, out: 4, kernel: [3, -1]}\n", line=4, layer="a",
        field="kernel", expect=("got [3, -1]",)),
    "kernel_larger_than_input": Case(
        NET + "  - {name: a, type: conv, out: 4, kernel: 9}\n", line=4, layer="a",
        field="kernel", expect=("does not fit",)),
    "zero_stride": Case(
        NET + "  - {name: a, type: conv, out: 4, kernel: 3, stride: 0}\n", line=4, layer="a",
        field="stride"),
    "float_channels": Case(
        NET + "  - {name: a, type: conv, out: 4.5, kernel: 3}\n", line=4, layer="a",
        field="out", expect=("integer",)),
    "huge_layer": Case(
        NET + "  - {name: a, type: conv, out: 9999999999999999, kernel: 3}\n", line=4,
        layer="a", expect=("too large",)),
    # --- blocks
    "unknown_block": Case(
        NET + "  - {name: x, block: nosuch}\n", line=4, field="block",
        expect=("block instance 'x'", "unknown block 'nosuch'")),
    "block_name_not_a_string": Case(
        NET + "  - {name: x, block: [a]}\n", line=4, field="block", expect=("unknown block",)),
    "unknown_block_parameter": Case(
        "name: t\ninput: [3, 8, 8]\nblocks:\n  b:\n    params: {c: 4}\n"
        "    layers: [{name: conv, type: conv, out: $c, kernel: 1}]\n"
        "layers:\n  - {name: x, block: b, args: {d: 2}}\n",
        line=8, field="args", expect=("no parameter 'd'",)),
    "block_expression_division_by_zero": Case(
        "name: t\ninput: [3, 8, 8]\nblocks:\n  b:\n    params: {c: 4}\n"
        "    layers: [{name: conv, type: conv, out: \"${c // 0}\", kernel: 1}]\n"
        "layers:\n  - {name: x, block: b}\n",
        line=8, expect=("block instance 'x'", "c // 0")),
    "block_layer_bad_field": Case(
        "name: t\ninput: [3, 8, 8]\nblocks:\n  b:\n    layers:\n"
        "      - {name: conv, type: conv, out: 4, kernel: 1, colour: red}\n"
        "layers:\n  - {name: x, block: b, repeat: 2}\n",
        line=6, layer="x.0.conv", field="colour"),
    # --- hardware
    "hw_bad_unit": Case(HW.replace("25.6 GB/s", "25.6 GB/parsec"), line=5,
                        field="dram_bandwidth", expect=("unknown unit 'GB/parsec'",)),
    "hw_wrong_dimension_unit": Case(HW.replace("1 GHz", "1 GB"), line=4, field="clock",
                                    expect=("unknown unit 'GB'",)),
    "hw_unknown_field": Case(HW + "bufer_energy: 1 pJ/B\n", line=6, field="bufer_energy",
                             expect=("unknown field",)),
    "hw_negative_buffer": Case(HW.replace("2 MiB", "-2 MiB"), line=2, field="buffer",
                               expect=("positive",)),
    "hw_missing_required": Case(HW.replace("mac_units: 1024\n", ""), line=1,
                                field="mac_units", expect=("missing",)),
    "hw_peak_with_clock_and_units": Case(HW + "peak: 2 TOPS\n", line=6, field="peak"),
    "hw_utilization_out_of_range": Case(HW + "utilization: 1.5\n", line=6,
                                        field="utilization"),
    "hw_bad_precision": Case(HW + "precision: {activation: 2, weight: two}\n", line=6,
                             field="precision.weight"),
    "hw_fractional_chips": Case(HW + "chips: 2.5\n", line=6, field="chips"),
    # --- files
    "missing_file": Case(None, line=None, expect=("not found",)),
    "directory": Case(None, line=None, kind="dir", expect=("directory",)),
}


#: The classes of bad input the project brief names; these run as real subprocesses. Every case
#: (these and the rest) also runs in-process through the same ``cnnmem.cli.main`` entry point.
SUBPROCESS_CASES = (
    "yaml_syntax_unclosed_flow", "unknown_layer_type", "unknown_layer_field",
    "missing_input_reference", "cycle", "channel_mismatch_at_add",
    "spatial_mismatch_at_concat", "negative_input_size", "zero_input_size", "zero_conv_out",
    "negative_kernel", "zero_kernel", "hw_bad_unit", "hw_unknown_field", "missing_file",
)


@dataclass(frozen=True)
class Result:
    path: str
    returncode: int
    stdout: str
    stderr: str


def _command() -> list[str]:
    return [sys.executable, "-m", "cnnmem.cli", "validate"]


def _write(root: Path, name: str) -> Path:
    case = CASES[name]
    path = root / f"{name}.yaml"
    if case.kind == "dir":
        path.mkdir()
    elif case.content is not None:
        path.write_text(case.content, encoding="utf-8")
    return path


def _check(name: str, res: Result) -> None:
    case = CASES[name]
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    msg = lines[0]
    location = f"{res.path}:{case.line}: " if case.line is not None else f"{res.path}: "
    assert msg.startswith("error: " + location), (location, msg)
    if case.layer is not None:
        assert f"layer '{case.layer}'" in msg, msg
    if case.field is not None:
        assert f"field '{case.field}'" in msg, msg
    for text in case.expect:
        assert text in msg, (text, msg)
    assert res.stdout == ""


@pytest.fixture(scope="module")
def subprocess_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Start every subprocess case at once, then collect them (the CLI takes ~1 s to start)."""
    root = tmp_path_factory.mktemp("bad_inputs")
    procs = {}
    for name in SUBPROCESS_CASES:
        path = _write(root, name)
        procs[name] = (str(path), subprocess.Popen(
            [*_command(), str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=root))
    out = {}
    for name, (path, proc) in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        out[name] = Result(path, proc.returncode, stdout, stderr)
    return out


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_bad_input_subprocess(name: str, subprocess_results: dict[str, Result]) -> None:
    _check(name, subprocess_results[name])


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_in_process(name: str, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, name)
    with pytest.raises(SystemExit) as info:
        main(["validate", str(path)])  # an uncaught exception here fails the test
    out, err = capsys.readouterr()
    _check(name, Result(str(path), int(info.value.code), out, err))


def test_subprocess_cases_exist() -> None:
    assert set(SUBPROCESS_CASES) <= set(CASES)


def test_console_script_gives_the_same_error(tmp_path: Path) -> None:
    """The installed ``cnnmem`` script (beside this Python) behaves like ``python -m``."""
    script = Path(sys.executable).parent / "cnnmem"
    if not script.exists():
        pytest.skip("cnnmem console script not installed beside this interpreter")
    bad = tmp_path / "bad.yaml"
    bad.write_text(CASES["cycle"].content or "", encoding="utf-8")
    proc = subprocess.run([str(script), "validate", str(bad)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {bad}:5: layer 'b', field 'inputs': ")
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


def test_first_bad_file_stops_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(NET + "  - {name: a, type: conv, out: 4, kernel: 3}\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(HW + "bufer_energy: 1 pJ/B\n", encoding="utf-8")
    proc = subprocess.run([*_command(), str(good), str(bad)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stdout.startswith(f"{good}: ok: network 't', 1 layers")
    assert proc.stderr.startswith(f"error: {bad}:6: field 'bufer_energy'")


def test_good_hardware_validates(tmp_path: Path) -> None:
    good = tmp_path / "hw.yaml"
    good.write_text(textwrap.dedent(HW), encoding="utf-8")
    proc = subprocess.run([*_command(), str(good)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{good}: ok: hardware 'h', buffer 2,097,152 B"
    assert proc.stderr == ""


def test_missing_onnx_extra_is_one_line_with_install_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Runs with or without the extra installed: import onnx is made to fail."""
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not read: the missing package is reported first")
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    for argv in (["show", str(model)], ["import", str(model)]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "pip install 'cnnmem[onnx]'" in err
