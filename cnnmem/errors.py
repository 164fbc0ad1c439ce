"""One error type for every bad input, formatted as a single line.

The CLI catches :class:`InputError`, prints ``error: <message>`` and exits with status 2.
"""

from __future__ import annotations

import re

#: Characters of one error line (cnnmem.limits.MAX_ERROR_CHARS; kept here to avoid a cycle).
MAX_LINE_CHARS = 290
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """``text`` as one printable line of at most ``limit`` characters: control characters
    escaped, a too-long middle replaced by ``...`` (a huge bad value is never repeated)."""
    text = _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], text)
    if len(text) > limit:
        keep = limit - 5
        text = text[: keep * 2 // 3] + " ... " + text[-(keep - keep * 2 // 3):]
    return text


class InputError(Exception):
    """Bad user input: names the file, the line (when known), the item, field and problem."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        item: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.item = item
        self.field = field
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.file:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        what = []
        if self.item:
            what.append(self.item)
        if self.field:
            what.append(f"field '{self.field}'")
        prefix = (", ".join(what) + ": ") if what else ""
        return one_line(f"{where}{prefix}{self.message}")

    def located(
        self, *, file: str | None = None, line: int | None = None, item: str | None = None
    ) -> InputError:
        """Return a copy with missing location parts filled in."""
        return InputError(
            self.message,
            file=self.file or file,
            line=self.line if self.line is not None else line,
            item=self.item or item,
            field=self.field,
        )


class WorkerLost(Exception):
    """A worker process of ``cnnmem sweep --jobs`` ended without a result (killed, e.g. by
    the out-of-memory killer). The CLI prints one line and exits with status 1."""
