"""Where the built-in library lives, and name-or-path lookup shared by every kind of file.

The built-in networks/, hw/, sweeps/ and scenarios/ are edited at the top level of the
repository. They are found, first match wins:

1. ``CNNMEM_HOME``: a directory holding those four folders (a user's own library);
2. a source checkout: the folders beside the ``cnnmem`` package (an editable install, or running
   from the repository), so that an edited YAML file takes effect at once;
3. an installed wheel or a non-editable ``pip install .``: ``cnnmem/_data/<folder>``, where the
   build copies the top-level folders (``[tool.setuptools] package-dir`` in pyproject.toml
   maps the packages ``cnnmem._data.networks`` etc. onto the top-level folders, and
   ``package-data`` ships their YAML files; no symlinks, no build hook).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from cnnmem.errors import InputError

#: the library's folders, as they are named at the top of the repository
LIBRARY_DIRS = ("networks", "hw", "sweeps", "scenarios")
PACKAGE_DIR = Path(__file__).resolve().parent


def _is_library(root: Path) -> bool:
    return (root / "networks").is_dir() and (root / "hw").is_dir()


def library_root(env: Mapping[str, str] | None = None, package_dir: Path = PACKAGE_DIR) -> Path:
    """The directory holding networks/, hw/, sweeps/ and scenarios/ (see the module docstring).

    Returns the candidate even when it holds nothing, so that the caller reports an empty
    library (see :func:`builtin_names`) rather than silently listing nothing.
    """
    env = os.environ if env is None else env
    home = env.get("CNNMEM_HOME")
    if home:
        return Path(home)
    checkout = package_dir.parent
    if (checkout / "pyproject.toml").is_file() and _is_library(checkout):
        return checkout
    return package_dir / "_data"


ROOT = library_root()


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_file_name(name: str, limit: int = 100) -> str:
    """``name`` as one path component: no separators, no leading dot (so never ``..``), only
    letters, digits and ``._+-``, at most ``limit`` characters; never empty."""
    safe = _UNSAFE.sub("_", name).lstrip(".")[:limit]
    return safe or "_"


def builtin_names(directory: Path) -> list[str]:
    """Stems of the YAML files in a built-in directory, sorted; an error when there are none
    (a library that is not where it should be must not look like an empty one)."""
    names = sorted(p.stem for p in directory.glob("*.yaml"))
    if not names:
        hint = (" (CNNMEM_HOME is set: it must hold networks/, hw/, sweeps/, scenarios/)"
                if os.environ.get("CNNMEM_HOME") else
                " (the installed package lacks its data: reinstall cnnmem, or set CNNMEM_HOME "
                "to a checkout of the repository)")
        raise InputError(f"no built-in {directory.name} YAML files found{hint}",
                         file=str(directory))
    return names


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
