"""Where the built-in library lives, and name-or-path lookup shared by every kind of file.

Built-in networks/, hw/, sweeps/ and scenarios/ live beside the package in the repository
(install editable); ``CNNMEM_HOME`` points elsewhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cnnmem.errors import InputError

ROOT = Path(os.environ.get("CNNMEM_HOME", Path(__file__).resolve().parents[1]))


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_file_name(name: str, limit: int = 100) -> str:
    """``name`` as one path component: no separators, no leading dot (so never ``..``), only
    letters, digits and ``._+-``, at most ``limit`` characters; never empty."""
    safe = _UNSAFE.sub("_", name).lstrip(".")[:limit]
    return safe or "_"


def builtin_names(directory: Path) -> list[str]:
    """Stems of the YAML files in a built-in directory, sorted."""
    return sorted(p.stem for p in directory.glob("*.yaml"))


def resolve_yaml(name_or_path: str | os.PathLike[str], directory: Path, what: str) -> Path:
    """A built-in name (a file stem in ``directory``) or a path to a YAML file -> its path.

    ``what`` names the kind of file in the error ("network", "hardware").
    """
    text = str(name_or_path)
    p = Path(text)
    if p.suffix in (".yaml", ".yml") or os.sep in text:
        if not p.exists():
            raise InputError("file not found", file=text)
        return p
    builtin = directory / f"{text}.yaml"
    if builtin.exists():
        return builtin
    if p.exists():  # a YAML file without the suffix
        return p
    known = ", ".join(builtin_names(directory))
    raise InputError(f"unknown {what} '{text}' (built-in: {known}; or give a .yaml path)")
