"""`--format table|json` from the same frozen row structs (`pycore.structs`).

A row field declared with `column("HEADER")` is a table column; every field goes to JSON, under
its `json` name (CamelCase by default, as Docker's `--format json` keys are). JSON listings are
one object per line, as `docker images --format json` prints them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import IO, Any, Literal

from pycore import structs
from pycore.ui.table import render_table

Format = Literal["table", "json"]
FORMATS: tuple[Format, ...] = ("table", "json")


def column(header: str | None = None, *, json_name: str | None = None) -> Any:
    """A struct field: a table column under `header` (JSON only when None)."""
    return structs.field(metadata={"header": header, "json": json_name})


def _json_name(f: structs.Field) -> str:
    name = f.metadata.get("json") if f.metadata else None
    return name or "".join(p[:1].upper() + p[1:] for p in f.name.split("_"))


def row_to_json(row: Any) -> dict[str, Any]:
    """The JSON object of one row struct."""
    return {_json_name(f): _plain(getattr(row, f.name)) for f in structs.fields(row)}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def table_of(row_type: type[Any], rows: Sequence[Any], hide: Collection[str] = ()) -> str:
    """The table of `rows` (instances of the struct `row_type`), columns in field order,
    leaving out the fields named in `hide`."""
    cols = [f for f in structs.fields(row_type) if f.metadata.get("header") and f.name not in hide]
    headers = [str(f.metadata["header"]) for f in cols]
    names = [f.name for f in cols]
    cells = [[v if isinstance(v := getattr(r, n), str) else _cell(v) for n in names] for r in rows]
    return render_table(headers, cells)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(value)


def emit_rows(
    row_type: type[Any],
    rows: Sequence[Any],
    fmt: Format,
    out: IO[str],
    *,
    hide: Collection[str] = (),
) -> None:
    """Write `rows` as a table (without the `hide` columns) or as JSON lines to `out`."""
    if fmt == "json":
        # The keys once, not per row (row_to_json's work): `ps` may render a thousand rows.
        names = [(f.name, _json_name(f)) for f in structs.fields(row_type)]
        for r in rows:
            out.write(json.dumps({k: _plain(getattr(r, n)) for n, k in names}) + "\n")
    else:
        out.write(table_of(row_type, rows, hide))


def emit_json(value: Any, out: IO[str]) -> None:
    """Write one JSON document, indented like `docker inspect`."""
    out.write(json.dumps(value, indent=4) + "\n")


def human_size(n: float) -> str:
    """Docker's sizes: decimal units, three significant digits (`5.58MB`, `742kB`, `0B`)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    text = f"{n:.3g}"
    if "e" in text and i < len(units) - 1:  # 999.7 rounds up to the next unit
        text, i = "1", i + 1
    return f"{text}{units[i]}"


def human_duration(seconds: float) -> str:
    """Docker's `HumanDuration` (go-units): `Less than a second`, `About an hour`, `3 days`."""
    s = int(seconds)
    minutes, hours = s // 60, round(seconds / 3600)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"
