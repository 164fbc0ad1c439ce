"""cnnmem.units.parse_quantity: every dimension, the brief's examples, and bad units."""

from __future__ import annotations

import pytest

from cnnmem.errors import InputError
from cnnmem.units import DIMENSIONS, format_bytes, parse_quantity

# (text, dimension, SI value)
CASES = [
    # bytes: decimal and binary prefixes, bits
    ("10 MiB", "bytes", 10 * 2**20),
    ("362 KB", "bytes", 362_000),
    ("108 KiB", "bytes", 108 * 1024),
    ("1 kB", "bytes", 1000),
    ("2 GB", "bytes", 2e9),
    ("1 TiB", "bytes", 2**40),
    ("512 B", "bytes", 512),
    ("3 bytes", "bytes", 3),
    ("8 bit", "bytes", 1),
    ("16 bits", "bytes", 2),
    ("1 Kbit", "bytes", 125),
    ("1 Mbit", "bytes", 125_000),
    ("1 Gb", "bytes", 125_000_000),
    ("10MiB", "bytes", 10 * 2**20),  # no space
    (".5 KiB", "bytes", 512),
    ("1e3 B", "bytes", 1000),
    ("1,000 B", "bytes", 1000),
    ("1,048,576 B", "bytes", 2**20),
    ("1_000 B", "bytes", 1000),
    # bandwidth
    ("300 GB/s", "bandwidth", 300e9),
    ("25.6 GB/s", "bandwidth", 25.6e9),
    ("17.1 GB/s", "bandwidth", 17.1e9),
    ("1 GiB/s", "bandwidth", 2**30),
    ("8 Gbit/s", "bandwidth", 1e9),
    ("8 Gb/s", "bandwidth", 1e9),
    ("8 Gbps", "bandwidth", 1e9),
    ("1 TB/s", "bandwidth", 1e12),
    ("720 MB/s", "bandwidth", 720e6),
    # frequency
    ("0.7 GHz", "frequency", 0.7e9),
    ("400 MHz", "frequency", 400e6),
    ("32 kHz", "frequency", 32e3),
    ("1 Hz", "frequency", 1),
    # energy per byte (SI result: pJ per byte)
    ("3.9 pJ/bit", "energy_per_byte", 31.2),
    ("1.2 pJ/B", "energy_per_byte", 1.2),
    ("2 pJ/byte", "energy_per_byte", 2),
    ("1 nJ/B", "energy_per_byte", 1000),
    ("125 fJ/bit", "energy_per_byte", 1.0),
    # energy (pJ)
    ("0.5 pJ", "energy", 0.5),
    ("2 nJ", "energy", 2000),
    ("500 fJ", "energy", 0.5),
    ("1 uJ", "energy", 1e6),
    ("1 J", "energy", 1e12),
    # power (W)
    ("0.3 W", "power", 0.3),
    ("250 mW", "power", 0.25),
    ("1 kW", "power", 1000),
    # rate (ops per second; one MAC is two ops)
    ("45 TFLOPS", "rate", 45e12),
    ("2 TOPS", "rate", 2e12),
    ("100 GFLOPS", "rate", 100e9),
    ("1 TMACS", "rate", 2e12),
    ("3 GMACS", "rate", 6e9),
    # count
    ("1024", "count", 1024),
    ("2k", "count", 2000),
    ("3M", "count", 3e6),
]


@pytest.mark.parametrize(("text", "dimension", "expected"), CASES)
def test_parse_quantity(text: str, dimension: str, expected: float) -> None:
    assert parse_quantity(text, dimension) == pytest.approx(expected, rel=1e-12)


def test_every_dimension_is_covered() -> None:
    assert {d for _, d, _ in CASES} == set(DIMENSIONS)


def test_brief_examples_exact() -> None:
    assert parse_quantity("10 MiB", "bytes") == 10_485_760
    assert parse_quantity("362 KB", "bytes") == 362_000
    assert parse_quantity("300 GB/s", "bandwidth") == 3e11
    assert parse_quantity("0.7 GHz", "frequency") == pytest.approx(7e8)
    assert parse_quantity("3.9 pJ/bit", "energy_per_byte") == pytest.approx(31.2)
    assert parse_quantity("45 TFLOPS", "rate") == pytest.approx(4.5e13)


@pytest.mark.parametrize("dimension", sorted(DIMENSIONS))
def test_bare_numbers_are_si(dimension: str) -> None:
    assert parse_quantity(42, dimension) == 42.0
    assert parse_quantity(2.5, dimension) == 2.5
    # YAML keeps "1e6" as a string (no dot): still a bare SI number
    assert parse_quantity("1e6", dimension) == 1e6


def test_decimal_and_binary_prefixes_differ() -> None:
    assert parse_quantity("1 MB", "bytes") == 1e6
    assert parse_quantity("1 MiB", "bytes") == 2**20
    assert parse_quantity("1 GB/s", "bandwidth") < parse_quantity("1 GiB/s", "bandwidth")


def test_bit_and_byte_energy_agree() -> None:
    per_bit = parse_quantity("1 pJ/bit", "energy_per_byte")
    per_byte = parse_quantity("8 pJ/B", "energy_per_byte")
    assert per_bit == per_byte == 8


@pytest.mark.parametrize(
    ("text", "dimension"),
    [
        ("10 parsec", "bytes"),
        ("10 MHz", "bytes"),          # a unit of another dimension
        ("300 GB", "bandwidth"),      # bytes where bandwidth is meant
        ("300 GB/s", "bytes"),
        ("3.9 pJ", "energy_per_byte"),
        ("3.9 pJ/bit", "energy"),
        ("1 GHz", "rate"),
        ("1 b", "bytes"),             # a bare 'b' is ambiguous
        ("1 mb/s", "bandwidth"),      # lower-case m is milli, not mega
        ("45 TFLOP", "rate"),
        ("2 X", "count"),
    ],
)
def test_unknown_unit_is_input_error(text: str, dimension: str) -> None:
    with pytest.raises(InputError, match="unknown unit") as info:
        parse_quantity(text, dimension, field="f")
    assert info.value.field == "f"
    assert dimension in info.value.message


@pytest.mark.parametrize(
    "value", ["", "abc", "MiB", "1,5 GHz", "12,34 B", "nan B", None, True, [1], {"a": 1}]
)
def test_malformed_values_are_input_errors(value: object) -> None:
    with pytest.raises(InputError):
        parse_quantity(value, "frequency" if value == "1,5 GHz" else "bytes")


def test_error_names_the_field() -> None:
    with pytest.raises(InputError) as info:
        parse_quantity("3 furlongs", "bytes", field="buffer")
    assert "field 'buffer'" in str(info.value)
    assert "furlongs" in str(info.value)


def test_format_bytes() -> None:
    assert format_bytes(131072) == "128 KiB"
    assert format_bytes(10 * 2**20) == "10 MiB"
    assert format_bytes(1.5 * 2**30) == "1.5 GiB"
    assert format_bytes(100) == "100 B"
