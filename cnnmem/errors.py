"""One error type for every bad input, formatted as a single line.

The CLI catches :class:`InputError`, prints ``error: <message>`` and exits with status 2.
"""

from __future__ import annotations


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
        return f"{where}{prefix}{self.message}"

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
