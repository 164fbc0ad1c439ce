"""Imports every module that registers strategies (see :mod:`cnnmem.model.schedule`)."""

import importlib

for _module in ("layerwise", "mbs", "fusion", "tnpu"):
    try:
        importlib.import_module(f"cnnmem.model.{_module}")
    except ModuleNotFoundError as exc:  # a method not written yet
        if exc.name != f"cnnmem.model.{_module}":
            raise
