"""Hardware presets (hw/*.yaml) and the hardware spec: derivations, precision, replace()."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from cnnmem.errors import InputError
from cnnmem.hardware import (
    FIELD_ALIASES,
    Hardware,
    builtin_hardware,
    default_hardware,
    hardware_path,
    load_hardware,
    parse_hardware,
)
from cnnmem.hardware.spec import HW_DIR
from cnnmem.yamlio import load_yaml_text

PRESETS = sorted(HW_DIR.glob("*.yaml"))
EXPECTED = {"wavecore", "tnpu", "dadiannao_like", "dnpu_like", "chen65nm", "occam_chip", "edge",
            "datacenter"}
MiB = 2**20


def hw(text: str, file: str = "x.yaml") -> Hardware:
    return parse_hardware(load_yaml_text(text, file=file), file=file)


BASE = "buffer: 1 MiB\ndram_bandwidth: 10 GB/s\n"


# --------------------------------------------------------------------------------------------
# presets


def test_expected_presets_exist() -> None:
    assert EXPECTED <= set(builtin_hardware())


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_loads(path: Path) -> None:
    h = load_hardware(path.stem)
    assert h == load_hardware(path)  # by name and by path
    assert h.name == path.stem
    assert h.buffer_bytes > 0 and h.mac_units > 0 and h.clock_hz > 0
    assert h.dram_bandwidth_bytes_per_s > 0
    assert h.description, "every preset says what it is"
    if h.conv_mac_units is not None or h.fc_mac_units is not None:
        assert h.conv_mac_units + h.fc_mac_units == h.mac_units


_NUMBER = re.compile(r"\d")


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_number_in_a_preset_is_commented(path: Path) -> None:
    """Each field line with a number carries a '#' comment (its source or 'reconstruction')."""
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, _, value = stripped.partition(":")
        if key in ("name", "description", "source"):
            continue
        if _NUMBER.search(value.split("#")[0]):
            assert "#" in value, f"{path.name}:{lineno}: number without a source comment"
            comment = value.split("#", 1)[1].strip()
            assert len(comment) > 5, f"{path.name}:{lineno}: comment too short"


def test_wavecore() -> None:
    h = load_hardware("wavecore")
    assert h.buffer_bytes == 10 * MiB
    assert h.mac_units == 2 * 128 * 128
    assert h.peak_macs_per_s * 2 == pytest.approx(45e12)  # 45 TFLOPS
    assert h.clock_hz == pytest.approx(45e12 / 2 / 32768)  # derived: 686.6 MHz
    assert h.dram_bandwidth_bytes_per_s == 300e9
    assert h.dram_energy_pj_per_byte == pytest.approx(3.9 * 8)
    assert (h.bytes_per_activation, h.bytes_per_weight) == (2, 2)


def test_tnpu_and_iso_resource_baselines() -> None:
    t = load_hardware("tnpu")
    assert (t.conv_mac_units, t.fc_mac_units, t.mac_units) == (256, 16, 272)
    assert t.clock_hz == 400e6
    assert t.dram_bandwidth_bytes_per_s == pytest.approx(17.1e9)
    assert t.bytes_per_activation == t.bytes_per_weight == t.bytes_per_gradient == 4
    # sourced per-event energies (the paper's zero memory energy is -O memory_energy=off)
    assert t.dram_energy_pj_per_byte == pytest.approx(70 * 8)  # DDR3 70 pJ/bit
    assert t.mac_energy_pj == pytest.approx(11.06, rel=1e-3)  # fp32 MAC at 65 nm
    for name in ("dadiannao_like", "dnpu_like"):
        b = load_hardware(name)
        same = ("mac_units", "clock_hz", "dram_bandwidth_bytes_per_s", "bytes_per_activation",
                "bytes_per_weight", "bytes_per_gradient", "buffer_bytes", "static_power_w",
                "mac_energy_pj", "dram_energy_pj_per_byte", "utilization", "buffer_cost",
                "mac_area_um2", "register_energy_pj_per_byte")
        for f in same:
            assert getattr(b, f) == getattr(t, f), (name, f)
    assert load_hardware("dadiannao_like").conv_mac_units is None  # all PEs time-multiplexed
    d = load_hardware("dnpu_like")
    assert (d.conv_mac_units, d.fc_mac_units) == (256, 16)


def test_chen65nm_relative_energies() -> None:
    h = load_hardware("chen65nm")
    assert h.mac_units == 168 and h.clock_hz == 200e6
    assert h.buffer_bytes == 108 * 1024
    assert h.register_bytes == 168 * 512
    word = h.bytes_per_activation  # Eyeriss costs are per 16-bit access
    assert word == 2
    assert h.dram_energy_pj_per_byte * word / h.mac_energy_pj == pytest.approx(200)
    assert h.buffer_energy_pj_per_byte * word / h.mac_energy_pj == pytest.approx(6)
    assert h.register_energy_pj_per_byte * word / h.mac_energy_pj == pytest.approx(1)


def test_occam_edge_datacenter() -> None:
    o = load_hardware("occam_chip")
    assert o.buffer_bytes == 8 * MiB and o.bytes_per_weight == 2
    assert o.chips > 1 and o.chip_bandwidth_bytes_per_s > 0
    e = load_hardware("edge")
    assert e.mac_units == 1024 and e.clock_hz == 1e9 and e.dram_bandwidth_bytes_per_s == 25.6e9
    assert e.buffer_bytes == 2 * MiB
    d = load_hardware("datacenter")
    assert d.peak_macs_per_s * 2 == pytest.approx(128e12)
    assert d.dram_bandwidth_bytes_per_s == 900e9 and d.buffer_bytes == 32 * MiB


# --------------------------------------------------------------------------------------------
# derivations


def test_mac_units_and_clock() -> None:
    h = hw(BASE + "mac_units: 1024\nclock: 1 GHz\n")
    assert h.peak_macs_per_s == 1024e9
    assert h.effective_macs_per_s == 1024e9  # utilization defaults to 1


def test_peak_with_clock_derives_mac_units() -> None:
    h = hw(BASE + "peak: 2 TOPS\nclock: 1 GHz\n")
    assert h.mac_units == pytest.approx(1000)  # 2e12 ops / 2 ops per MAC / 1e9 Hz
    assert h.peak_macs_per_s == pytest.approx(1e12)


def test_peak_with_mac_units_derives_clock() -> None:
    h = hw(BASE + "peak: 45 TFLOPS\nmac_units: 32768\n")
    assert h.clock_hz == pytest.approx(45e12 / 2 / 32768)
    assert hw(BASE + "peak: 1 TMACS\nmac_units: 1000\n").clock_hz == pytest.approx(1e9)


def test_peak_needs_exactly_one_partner() -> None:
    with pytest.raises(InputError, match="not all three") as info:
        hw(BASE + "peak: 2 TOPS\nclock: 1 GHz\nmac_units: 1024\n")
    assert info.value.field == "peak" and info.value.line == 3
    with pytest.raises(InputError, match="needs clock or mac_units") as info:
        hw(BASE + "peak: 2 TOPS\n")
    assert info.value.field == "peak"


def test_utilization_derates() -> None:
    h = hw(BASE + "mac_units: 100\nclock: 1 GHz\nutilization: 0.5\n")
    assert h.effective_macs_per_s == pytest.approx(0.5 * h.peak_macs_per_s)


def test_units_are_si() -> None:
    h = hw(BASE + "mac_units: 2k\nclock: 700 MHz\nregisters: 64 KiB\n"
           "dram_energy: 20 pJ/bit\nbuffer_energy: 1.2 pJ/B\nregister_energy: 0.1 pJ/B\n"
           "mac_energy: 0.5 pJ\nstatic_power: 300 mW\nchips: 4\nchip_bandwidth: 50 GB/s\n"
           "conv_mac_units: 1900\nfc_mac_units: 100\n")
    assert h.buffer_bytes == MiB and h.dram_bandwidth_bytes_per_s == 10e9
    assert h.mac_units == 2000 and h.clock_hz == 700e6 and h.register_bytes == 65536
    assert h.dram_energy_pj_per_byte == 160 and h.buffer_energy_pj_per_byte == 1.2
    assert h.register_energy_pj_per_byte == 0.1 and h.mac_energy_pj == 0.5
    assert h.static_power_w == pytest.approx(0.3)
    assert h.chips == 4 and isinstance(h.chips, int)
    assert h.chip_bandwidth_bytes_per_s == 50e9
    assert (h.conv_mac_units, h.fc_mac_units) == (1900, 100)


def test_name_defaults_to_file_stem() -> None:
    assert hw(BASE + "mac_units: 1\nclock: 1 Hz\n", file="dir/my_chip.yaml").name == "my_chip"
    assert hw("name: other\n" + BASE + "mac_units: 1\nclock: 1 Hz\n").name == "other"


# --------------------------------------------------------------------------------------------
# precision


def test_default_precision_is_two_bytes() -> None:
    h = hw(BASE + "mac_units: 1\nclock: 1 Hz\n")
    assert (h.bytes_per_activation, h.bytes_per_weight, h.bytes_per_gradient) == (2, 2, 2)


def test_bytes_per_element_sets_all() -> None:
    h = hw(BASE + "mac_units: 1\nclock: 1 Hz\nbytes_per_element: 4\n")
    assert (h.bytes_per_activation, h.bytes_per_weight, h.bytes_per_gradient) == (4, 4, 4)


def test_precision_block() -> None:
    h = hw(BASE + "mac_units: 1\nclock: 1 Hz\nprecision: {activation: 1, weight: 2, gradient: 4}\n")
    assert (h.bytes_per_activation, h.bytes_per_weight, h.bytes_per_gradient) == (1, 2, 4)


def test_partial_precision_keeps_the_rest() -> None:
    h = hw(BASE + "mac_units: 1\nclock: 1 Hz\nbytes_per_element: 4\nprecision: {weight: 1}\n")
    assert (h.bytes_per_activation, h.bytes_per_weight, h.bytes_per_gradient) == (4, 1, 4)
    h = hw(BASE + "mac_units: 1\nclock: 1 Hz\nprecision: {gradient: 4}\n")
    assert (h.bytes_per_activation, h.bytes_per_weight, h.bytes_per_gradient) == (2, 2, 4)


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ("precision: {activation: 2, bias: 4}", "precision"),
        ("precision: 2", "precision"),
        ("precision: {weight: two}", "precision.weight"),
        ("precision: {weight: 0}", "precision.weight"),
        ("bytes_per_element: 0", "bytes_per_element"),
        ("bytes_per_element: 2 B", "bytes_per_element"),
    ],
)
def test_bad_precision(block: str, field: str) -> None:
    with pytest.raises(InputError) as info:
        hw(BASE + f"mac_units: 1\nclock: 1 Hz\n{block}\n")
    assert info.value.field == field
    assert info.value.line == 5


# --------------------------------------------------------------------------------------------
# validation of values


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("utilization: 0", "utilization"),
        ("utilization: 1.01", "utilization"),
        ("utilization: .nan", "utilization"),
        ("chips: 0", "chips"),
        ("chips: 1.5", "chips"),
        ("static_power: -1 W", "static_power"),
        ("dram_energy: -1 pJ/B", "dram_energy"),
        ("dram_energy: .nan", "dram_energy"),
        ("conv_mac_units: 0", "conv_mac_units"),
        ("fc_mac_units: -16", "fc_mac_units"),
        ("clock: 1 GHz", "clock"),  # duplicate key
    ],
)
def test_bad_values_name_the_yaml_key(extra: str, field: str) -> None:
    with pytest.raises(InputError) as info:
        hw(BASE + "mac_units: 8\nclock: 1 GHz\n" + extra + "\n")
    assert info.value.field == field
    assert info.value.line == 5
    assert info.value.file == "x.yaml"


def test_missing_required_fields() -> None:
    for key, text in [("buffer", "dram_bandwidth: 1 GB/s\nmac_units: 1\nclock: 1 Hz\n"),
                      ("dram_bandwidth", "buffer: 1 MiB\nmac_units: 1\nclock: 1 Hz\n"),
                      ("clock", BASE + "mac_units: 1\n"),
                      ("mac_units", BASE + "clock: 1 Hz\n")]:
        with pytest.raises(InputError, match="missing required field") as info:
            hw(text)
        assert info.value.field == key


def test_not_a_mapping() -> None:
    with pytest.raises(InputError, match="mapping"):
        hw("- 1\n- 2\n")


# --------------------------------------------------------------------------------------------
# replace(), lookups, defaults


def test_replace_returns_a_validated_copy() -> None:
    h = load_hardware("edge")
    bigger = h.replace(buffer_bytes=8 * MiB, utilization=0.5)
    assert bigger.buffer_bytes == 8 * MiB and bigger.utilization == 0.5
    assert h.buffer_bytes == 2 * MiB and h.utilization == 1.0  # the original is unchanged
    assert bigger.mac_units == h.mac_units and bigger.name == h.name
    assert bigger != h
    assert h.replace() == h
    with pytest.raises(InputError) as info:
        h.replace(utilization=2.0)
    assert info.value.field == "utilization"
    with pytest.raises(InputError):
        h.replace(buffer_bytes=0)
    with pytest.raises(TypeError):
        h.replace(no_such_field=1)


def test_hardware_is_frozen() -> None:
    h = default_hardware()
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.buffer_bytes = 1  # type: ignore[misc]


def test_field_aliases_point_at_fields() -> None:
    names = {f.name for f in dataclasses.fields(Hardware)}
    for alias, target in FIELD_ALIASES.items():
        assert target in names or target == "bytes_per_element", alias
    assert FIELD_ALIASES["buffer"] == "buffer_bytes"
    assert FIELD_ALIASES["precision.weight"] == "bytes_per_weight"


def test_default_hardware() -> None:
    h = default_hardware(bytes_per_element=4, buffer_bytes=MiB)
    assert h.name == "default"
    assert h.bytes_per_activation == h.bytes_per_weight == h.bytes_per_gradient == 4
    assert h.buffer_bytes == MiB


def test_hardware_lookup_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown hardware 'nosuch'") as info:
        hardware_path("nosuch")
    assert "edge" in str(info.value)  # lists the built-ins
    with pytest.raises(InputError, match="file not found"):
        hardware_path(tmp_path / "missing.yaml")
    f = tmp_path / "mine.yaml"
    f.write_text(BASE + "mac_units: 4\nclock: 1 MHz\n", encoding="utf-8")
    assert hardware_path(str(f)) == f
    assert load_hardware(f).name == "mine"
