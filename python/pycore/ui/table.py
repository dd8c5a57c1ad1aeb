"""Docker-like column tables: upper-case headers, left-aligned cells, three spaces between
columns (Docker's tabwriter padding), no trailing blanks."""

from __future__ import annotations

from collections.abc import Sequence

PADDING = 3


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The table as text ending with a newline; the header line is printed even with no rows."""
    widths = [len(h) for h in headers]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, the table {len(headers)} columns")
    for i, column in enumerate(zip(*rows, strict=True)):  # column-wise: `ps` of 1,000 rows
        widths[i] = max(widths[i], *map(len, column))
    lines = [_line(headers, widths)]
    lines.extend(_line(row, widths) for row in rows)
    return "\n".join(lines) + "\n"


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    parts = [cell.ljust(w + PADDING) for cell, w in zip(cells[:-1], widths, strict=False)]
    return ("".join(parts) + (cells[-1] if cells else "")).rstrip()
