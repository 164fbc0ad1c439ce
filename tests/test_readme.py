"""README stays true: its YAML examples load and its reference numbers hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnnmem.hardware.spec import parse_hardware
from cnnmem.workload import load_network_text
from cnnmem.yamlio import load_yaml_text

README = Path(__file__).resolve().parents[1] / "README.md"


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_network_example_matches_its_reference() -> None:
    block = next(b for b in _yaml_blocks() if "layers:" in b)
    net = load_network_text(block, file="README.md")
    ref = load_yaml_text(block, file="README.md")["reference"]
    assert net.total_params == ref["params"]
    assert net.total_macs / 1e9 == pytest.approx(ref["gmacs"], rel=1e-3)
    # a block-local name ('relu') that shadows a top-level one must not capture the block input
    assert net.layer("stage1.0.conv1").inputs == ("relu",)
    assert net.layer("stage2.0.add").inputs == ("stage2.0.bn2", "stage2.0.proj")
    assert net.layer("stage1.1.add").inputs == ("stage1.1.bn2", "stage1.0.relu")


def test_readme_hardware_example_parses() -> None:
    block = next(b for b in _yaml_blocks() if "dram_bandwidth:" in b)
    hw = parse_hardware(load_yaml_text(block, file="README.md"), file="README.md")
    assert hw.buffer_bytes == 2 * 2**20
    assert hw.dram_energy_pj_per_byte == pytest.approx(160.0)


def test_readme_gives_exactly_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    setup = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", setup, re.S)
    assert len(commands) == 2
    assert commands[0].strip().startswith("pip install -e . && cnnmem sweep sweeps/quickstart.yaml")
    assert commands[1].strip() == "pip install -e '.[test]' && pytest"
