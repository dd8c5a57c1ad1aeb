"""Unit tests of pycore.ui: tables, JSON rows, human sizes and durations, progress."""

from __future__ import annotations

import io
import json

import pytest

from pycore.structs import struct
from pycore.ui.output import (
    column,
    emit_json,
    emit_rows,
    human_duration,
    human_size,
    row_to_json,
    table_of,
)
from pycore.ui.progress import Progress
from pycore.ui.table import render_table


def test_table_aligns_columns_with_three_spaces() -> None:
    text = render_table(["REPOSITORY", "TAG"], [["ubuntu", "22.04"], ["a-much-longer-name", "x"]])
    assert text == (
        "REPOSITORY           TAG\nubuntu               22.04\na-much-longer-name   x\n"
    )


def test_table_header_only_and_no_trailing_blanks() -> None:
    assert render_table(["A", "B"], []) == "A   B\n"
    text = render_table(["A", "B"], [["x", ""]])
    assert all(line == line.rstrip() for line in text.splitlines())


def test_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match="cells"):
        render_table(["A", "B"], [["only one"]])


@struct(frozen=True, slots=True)
class Row:
    repository: str = column("REPOSITORY")
    image_id: str = column("IMAGE ID", json_name="ID")
    size_bytes: int = column()
    tags: tuple[str, ...] = column("TAGS")


ROWS = [Row("ubuntu", "abc", 10, ("a", "b")), Row("x", "def", 0, ())]


def test_table_of_uses_headers_and_hides() -> None:
    assert table_of(Row, ROWS).splitlines()[0] == "REPOSITORY   IMAGE ID   TAGS"
    assert table_of(Row, ROWS).splitlines()[1] == "ubuntu       abc        a, b"
    assert table_of(Row, ROWS, hide=("image_id",)).splitlines()[0] == "REPOSITORY   TAGS"


def test_json_rows_are_json_lines_with_camel_case_keys() -> None:
    out = io.StringIO()
    emit_rows(Row, ROWS, "json", out)
    lines = out.getvalue().splitlines()
    assert [json.loads(x) for x in lines] == [
        {"Repository": "ubuntu", "ID": "abc", "SizeBytes": 10, "Tags": ["a", "b"]},
        {"Repository": "x", "ID": "def", "SizeBytes": 0, "Tags": []},
    ]
    assert row_to_json(ROWS[0])["ID"] == "abc"


def test_emit_table_and_json_document() -> None:
    out = io.StringIO()
    emit_rows(Row, [], "table", out)
    assert out.getvalue() == "REPOSITORY   IMAGE ID   TAGS\n"
    out = io.StringIO()
    emit_json([{"Id": "x"}], out)
    assert json.loads(out.getvalue()) == [{"Id": "x"}]


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (1234, "1.23kB"),
        (5_580_000, "5.58MB"),
        (999_700, "1MB"),
        (72_800_000, "72.8MB"),
        (3 * 10**12, "3TB"),
    ],
)
def test_human_size(n: int, text: str) -> None:
    assert human_size(n) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "About a minute"),
        (150, "2 minutes"),
        (3600, "About an hour"),
        (2 * 3600, "2 hours"),
        (47 * 3600, "47 hours"),
        (3 * 86400, "3 days"),
        (20 * 86400, "2 weeks"),
        (90 * 86400, "3 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_when_not_a_tty() -> None:
    out = io.StringIO()
    progress = Progress.for_stream(out)
    task = progress.task("layer 1", total=100)
    task.update(50)
    task.advance(10)
    task.done("Pull complete")
    assert out.getvalue() == ""
    assert not progress.enabled
    assert task.current == 60


def test_progress_draws_on_a_tty() -> None:
    out = FakeTTY()
    progress = Progress.for_stream(out)
    a = progress.task("layer a", total=1000)
    b = progress.task("layer b")
    a.update(500)
    b.advance(2000)
    a.done("Extracted")
    b.done()
    text = out.getvalue()
    assert "layer a: Extracted" in text
    assert "layer b: Done" in text
    assert "\x1b[2A" in text  # redrawn in place: two lines up
    assert "[" in a.line() or "Extracted" in a.line()


def test_task_line_shows_bar_and_sizes() -> None:
    task = Progress.disabled().task("x", total=2000)
    task.update(1000)
    assert task.line() == "x: [" + "=" * 15 + ">" + " " * 14 + "] 1kB/2kB"
    task.update(2000)
    assert task.line().startswith("x: [" + "=" * 30 + "]")
