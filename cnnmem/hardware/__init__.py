"""Hardware descriptions."""

from cnnmem.hardware.spec import (
    FIELD_ALIASES,
    FIELD_DIMENSIONS,
    Hardware,
    builtin_hardware,
    default_hardware,
    hardware_path,
    load_hardware,
    parse_hardware,
)

__all__ = [
    "FIELD_ALIASES", "FIELD_DIMENSIONS", "Hardware", "builtin_hardware", "default_hardware",
    "hardware_path", "load_hardware", "parse_hardware",
]
