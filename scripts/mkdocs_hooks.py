"""mkdocs hook: ``<!-- notebook: NAME.ipynb -->`` in a page becomes the notebook's cells
(Markdown cells as they are, code cells as Python blocks), read from the docs directory. The
notebook is stored without outputs; tests/test_tutorial.py executes it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

MARKER = re.compile(r"<!-- notebook: (\S+\.ipynb) -->")


def notebook_markdown(path: Path) -> str:
    """The cells of the notebook at ``path`` as Markdown."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    parts = []
    for cell in cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            parts.append(source)
        elif cell["cell_type"] == "code":
            parts.append(f"```python\n{source}\n```")
    return "\n\n".join(parts) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    docs = Path(config["docs_dir"])
    return MARKER.sub(lambda m: notebook_markdown(docs / m.group(1)), markdown)
