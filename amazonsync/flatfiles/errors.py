"""The one error of flat-file reading: what is wrong, and where (file, line, column)."""

from __future__ import annotations

__all__ = ["ReportFormatError"]


class ReportFormatError(ValueError):
    """A report file that cannot be read. The message names the line and column."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
        source: str | None = None,
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.source:
            where.append(str(self.source))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def with_source(self, source: str | None) -> ReportFormatError:
        if source and not self.source:
            self.source = source
            self.args = (self._render(),)
        return self
