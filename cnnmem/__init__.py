"""cnnmem: design-space exploration of CNN memory traffic, energy and speed on accelerators."""

__version__ = "0.1.0"
