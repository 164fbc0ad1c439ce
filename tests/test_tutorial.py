"""The tutorial notebook (docs/tutorial.ipynb) runs top to bottom in a fresh kernel, writes no
file, and shows what its prose says (strategies compared, a sweep, a figure, an InputError)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbclient
import nbformat

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "docs" / "tutorial.ipynb"


def code_cells(path: Path = NOTEBOOK) -> list[str]:
    """The notebook's code, cell by cell (also run as a script by the wheel smoke test)."""
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_tutorial_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(not c.outputs and c.execution_count is None
               for c in nb.cells if c.cell_type == "code")


def test_tutorial_executes(tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # .ci/run's Agg would hide the figure
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy2(NOTEBOOK, tmp_path / NOTEBOOK.name)
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for o in outputs)
    assert "resnet50: 175 layers" in text
    assert "mbs-optimal" in text and "dram_vs_layerwise" in text
    assert "design points" in text and "on the front" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the front is plotted
    assert "InputError: field 'batch'" in text
    assert list(work.iterdir()) == []  # the tutorial writes no file
