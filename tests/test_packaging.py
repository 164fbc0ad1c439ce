"""Packaging: the built-in library is found in a checkout, under CNNMEM_HOME and in an installed
wheel; an empty library is an error; run.json records input hashes and versions.

``test_wheel_in_fresh_venv`` (marker ``wheel``, deselected by default; ``.ci/run`` runs it with
``pytest -m wheel``) builds the sdist and the wheel without build isolation (no download of
build tools), installs the wheel into a fresh venv (its dependencies from the package index,
as a user's ``pip install`` would) and runs the installed ``cnnmem`` from outside the checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from cnnmem import paths
from cnnmem.sweep.engine import run_sweep
from cnnmem.sweep.spec import builtin_sweeps, load_sweep, sweep_path

REPO = Path(__file__).resolve().parents[1]
LIBRARY = ("networks", "hw", "sweeps", "scenarios")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CNNMEM_HOME", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["MPLBACKEND"] = "Agg"
    env.update(extra)
    return env


def test_every_package_is_listed_in_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    conf = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts)
               for p in (REPO / "cnnmem").rglob("__init__.py")}
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    for folder in LIBRARY:
        assert conf["package-dir"][f"cnnmem._data.{folder}"] == folder
        assert f"cnnmem._data.{folder}" in listed


def test_library_root_checkout_home_and_installed(tmp_path):
    assert paths.library_root({}) == REPO  # this checkout
    assert paths.library_root({"CNNMEM_HOME": str(tmp_path)}) == tmp_path
    installed = tmp_path / "site-packages" / "cnnmem"
    (installed / "_data" / "networks").mkdir(parents=True)
    # no pyproject.toml beside the package: the installed copy under cnnmem/_data
    assert paths.library_root({}, package_dir=installed) == installed / "_data"


def test_empty_library_is_an_error_not_silence(tmp_path):
    r = subprocess.run([sys.executable, "-c", "from cnnmem.cli import main; main()", "networks"],
                       capture_output=True, text=True, env=_clean_env(CNNMEM_HOME=str(tmp_path)),
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "no built-in networks YAML files found" in r.stderr
    assert "Traceback" not in r.stderr


def test_sweeps_by_name():
    assert "quickstart" in builtin_sweeps()
    assert sweep_path("quickstart") == REPO / "sweeps" / "quickstart.yaml"
    assert load_sweep("quickstart").name == "quickstart"


def test_run_json_records_input_hashes_and_versions(tmp_path):
    import numpy
    import pandas

    spec = load_sweep(str(REPO / "sweeps" / "quickstart.yaml"))
    text = spec.text.replace("steps: 16", "steps: 2").replace("[1, 2, 4, 8, 16, 32]", "[32]")
    small = tmp_path / "small.yaml"
    small.write_text(text)
    run_sweep(load_sweep(str(small)), tmp_path / "out", quiet=True, version="9.9")
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    files = {(f["kind"], f["name"]): f for f in info["input_files"]}
    assert set(files) == {("network", "resnet50"), ("hardware", "edge")}
    for (kind, name), f in files.items():
        folder = "networks" if kind == "network" else "hw"
        data = (REPO / folder / f"{name}.yaml").read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest()
    assert info["sweep_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    v = info["versions"]
    assert v["cnnmem"] == "9.9" and v["numpy"] == numpy.__version__
    assert v["pandas"] == pandas.__version__
    assert v["python"] == ".".join(map(str, sys.version_info[:3]))


@pytest.mark.wheel
def test_wheel_in_fresh_venv(tmp_path):
    """python -m build (sdist, then the wheel from the sdist) -> fresh venv -> the installed
    cnnmem, run outside the checkout, finds its built-in library."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for folder in ("cnnmem", *LIBRARY):
        shutil.copytree(REPO / folder, src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist),
                    str(src)], check=True, capture_output=True, env=_clean_env(), timeout=300)
    (wheel,) = dist.glob("cnnmem-*.whl")
    (sdist,) = dist.glob("cnnmem-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in LIBRARY:
        for f in (REPO / folder).glob("*.yaml"):
            assert f"cnnmem/_data/{folder}/{f.name}" in names
    for f in (REPO / "cnnmem").rglob("*.py"):
        assert "/".join(f.relative_to(REPO).parts) in names
    with tarfile.open(sdist) as tar:
        assert any(n.endswith("/networks/resnet50.yaml") for n in tar.getnames())

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    env = _clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                   check=True, capture_output=True, env=env, timeout=600)
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*args: str) -> str:
        r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=work,
                           timeout=300)
        assert r.returncode == 0, r.stderr
        return r.stdout

    where = run(str(bin_dir / "python"), "-c",
                "import cnnmem, cnnmem.paths; print(cnnmem.__file__); print(cnnmem.paths.ROOT)")
    module, root = where.split()
    assert Path(module).is_relative_to(env_dir) and Path(root).is_relative_to(env_dir)
    listed = run(str(bin_dir / "cnnmem"), "networks", "--format", "csv")
    assert sorted(line.split(",")[0] for line in listed.splitlines()[1:]) == sorted(
        p.stem for p in (REPO / "networks").glob("*.yaml"))
    run(str(bin_dir / "cnnmem"), "sweep", "quickstart", "-o", "q", "--quiet")
    run(str(bin_dir / "cnnmem"), "report", "q", "--quiet")
    assert (work / "q" / "figures" / "traffic_vs_capacity.png").stat().st_size > 1000
    info = json.loads((work / "q" / "run.json").read_text())
    assert all(Path(f["file"]).is_relative_to(env_dir) for f in info["input_files"])
    run(str(bin_dir / "cnnmem"), "reproduce", "chen-bound-conv3_1", "--format", "csv")

    # the acceptance one-liner, and the tutorial's code run as a script by the
    # wheel's python (a notebook kernel is not installed there): same numbers as the checkout
    one_liner = run(str(bin_dir / "python"), "-c",
                    "import cnnmem; print(cnnmem.schedule('resnet50', 'wavecore', "
                    "'mbs-optimal', batch=32).totals['dram_bytes'])")
    import cnnmem

    assert float(one_liner) == float(cnnmem.schedule("resnet50", "wavecore", "mbs-optimal",
                                                     batch=32).totals["dram_bytes"])
    cells = json.loads((REPO / "docs" / "tutorial.ipynb").read_text())["cells"]
    script = work / "tutorial.py"
    script.write_text("\n\n".join("".join(c["source"]) for c in cells
                                    if c["cell_type"] == "code") + "\n")
    tutorial = run(str(bin_dir / "python"), str(script))
    assert "resnet50: 175 layers" in tutorial and "on the front" in tutorial
    assert "InputError: field 'batch'" in tutorial
