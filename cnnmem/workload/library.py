"""The built-in network library (networks/*.yaml) and name-or-path lookup."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cnnmem.errors import InputError
from cnnmem.workload.loader import load_network_file
from cnnmem.workload.network import Network

#: Repository root: built-in networks/, hw/, sweeps/ and scenarios/ live beside the package.
ROOT = Path(os.environ.get("CNNMEM_HOME", Path(__file__).resolve().parents[2]))
NETWORKS_DIR = ROOT / "networks"


def builtin_networks() -> list[str]:
    """Names of the built-in networks, sorted."""
    return sorted(p.stem for p in NETWORKS_DIR.glob("*.yaml"))


def network_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A built-in name ('resnet50') or a path to a YAML file -> the file's path."""
    text = str(name_or_path)
    p = Path(text)
    if p.suffix in (".yaml", ".yml") or os.sep in text or p.exists():
        if not p.exists():
            raise InputError("file not found", file=text)
        return p
    builtin = NETWORKS_DIR / f"{text}.yaml"
    if builtin.exists():
        return builtin
    known = ", ".join(builtin_networks())
    raise InputError(f"unknown network '{text}' (built-in: {known}; or give a .yaml path)")


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime: float) -> Network:
    return load_network_file(path)


def load_network(name_or_path: str | os.PathLike[str]) -> Network:
    """Load a built-in network by name or any network YAML by path (cached per file version)."""
    p = network_path(name_or_path)
    return _load_cached(str(p), p.stat().st_mtime)
