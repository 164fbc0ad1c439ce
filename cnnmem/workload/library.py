"""The built-in network library (networks/*.yaml) and name-or-path lookup."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

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


def load_network(name_or_path: str | os.PathLike[str]) -> Network:
    """Load a built-in network by name or any network YAML by path (cached per file version)."""
    p = network_path(name_or_path)
    return _load_cached(str(p), p.stat().st_mtime)
