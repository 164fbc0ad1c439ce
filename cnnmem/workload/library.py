"""The built-in network library (networks/*.yaml) and name-or-path lookup."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cnnmem.errors import InputError
from cnnmem.paths import ROOT, builtin_names, resolve_yaml
from cnnmem.workload.loader import load_network_file
from cnnmem.workload.network import Network

NETWORKS_DIR = ROOT / "networks"


def builtin_networks() -> list[str]:
    """Names of the built-in networks, sorted."""
    return builtin_names(NETWORKS_DIR)


def network_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A built-in name ('resnet50') or a path to a YAML file -> the file's path."""
    return resolve_yaml(name_or_path, NETWORKS_DIR, "network")


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime: float) -> Network:
    return load_network_file(path)


@lru_cache(maxsize=16)
def _load_onnx_cached(path: str, mtime: float) -> Network:
    from cnnmem.workload.onnx_import import load_onnx_network  # noqa: PLC0415 (optional extra)

    return load_onnx_network(path)


def load_network(name_or_path: str | os.PathLike[str]) -> Network:
    """Load a built-in network by name, any network YAML by path or an ONNX model (a .onnx
    path, imported with :mod:`cnnmem.workload.onnx_import`); cached per file version."""
    if str(name_or_path).lower().endswith(".onnx"):
        p = Path(name_or_path)
        if not p.exists():
            raise InputError("file not found", file=str(p))
        return _load_onnx_cached(str(p), p.stat().st_mtime)
    p = network_path(name_or_path)
    return _load_cached(str(p), p.stat().st_mtime)
