"""cnnmem: design-space exploration of CNN memory traffic, energy and speed on accelerators.

The Python API (the command line is a layer over the same functions)::

    import cnnmem

    net = cnnmem.load_network("resnet50")            # a name, a YAML path or model.onnx
    s = cnnmem.schedule(net, "wavecore", "mbs-optimal", batch=32)
    s.totals["dram_bytes"], s.groups                 # pandas Series / DataFrame
    cnnmem.strategies()                              # what each strategy takes
    cnnmem.bound("vgg16", "128KiB")                  # per-layer lower bound table
    run = cnnmem.sweep("quickstart")                 # results and front as DataFrames
    cnnmem.reproduce("mbs-traffic")                  # published figures vs the model

Bad input raises `InputError` with the one-line message the command line prints.
Importing cnnmem is light: numpy, pandas and the model load on the first call.
"""

import sys
import types

from cnnmem.api import (
    Schedule,
    SweepResult,
    bound,
    load_hardware,
    load_network,
    load_sweep,
    reproduce,
    schedule,
    strategies,
    sweep,
)
from cnnmem.errors import InputError

__version__ = "0.1.0"

#: API functions named like a subpackage or module (cnnmem/sweep/, cnnmem/reproduce.py)
_SHADOWED = frozenset({"sweep", "reproduce"})


class _Package(types.ModuleType):
    """The ``cnnmem`` module: importing ``cnnmem.sweep.engine`` or ``cnnmem.reproduce`` would
    rebind ``cnnmem.sweep`` / ``cnnmem.reproduce`` to the submodule (the import system sets the
    parent's attribute); this keeps the API functions there. The submodules stay importable
    (``from cnnmem.sweep import engine``; ``sys.modules``), but not reachable as attributes."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "InputError", "Schedule", "SweepResult", "__version__", "bound", "load_hardware",
    "load_network", "load_sweep", "reproduce", "schedule", "strategies", "sweep",
]
