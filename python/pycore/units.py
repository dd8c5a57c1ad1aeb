"""Sizes as Docker writes them (`64m`, `1.5g`, `512 KiB`), parsed without `re` (whose import,
with `enum`, would cost every `pycore run` that is given a size)."""

from __future__ import annotations


def split_size(text: str, units: str) -> tuple[float, str] | None:
    """`NUMBER [spaces] [UNIT][i][b]`, case-insensitive, UNIT one of `units` (lower case):
    the number and the unit ("" for none), or None when `text` is not of that shape. NUMBER
    is decimal digits with an optional fraction (`1`, `1.5`; not `.5`, `1.`)."""
    s = text.strip().lower()
    i = 0
    while i < len(s) and s[i].isdecimal():
        i += 1
    if i == 0:
        return None
    if i < len(s) and s[i] == "." and i + 1 < len(s) and s[i + 1].isdecimal():
        i += 1
        while i < len(s) and s[i].isdecimal():
            i += 1
    number = float(s[:i])
    rest = s[i:].lstrip()
    unit = rest[0] if rest and rest[0] in units else ""
    rest = rest[len(unit) :]
    rest = rest.removeprefix("i").removeprefix("b")
    return None if rest else (number, unit)
