"""Regenerate README's "Reproduced figures" table from `cnnmem reproduce all`.

    python scripts/update_readme.py

Runs `cnnmem reproduce all --markdown docs/reproduced.md` and copies that file between the
`<!-- reproduced:begin -->` and `<!-- reproduced:end -->` markers of README.md. A test checks
that both are current.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- reproduced:begin -->\n", "<!-- reproduced:end -->"


def readme_block(markdown: str) -> str:
    """The generated markdown without its own top heading (README has the section heading)."""
    lines = markdown.splitlines(keepends=True)
    if lines and lines[0].startswith("## "):
        lines = lines[1:]
        while lines and not lines[0].strip():
            lines = lines[1:]
    return "".join(lines)


def main() -> int:
    md = ROOT / "docs" / "reproduced.md"
    res = subprocess.run([sys.executable, "-m", "cnnmem.cli", "reproduce", "all", "--quiet",
                          "--markdown", str(md)], cwd=ROOT)
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + BEGIN + readme_block(md.read_text(encoding="utf-8")) + END + tail,
                      encoding="utf-8")
    print(f"updated {readme.relative_to(ROOT)} from {md.relative_to(ROOT)}")
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
