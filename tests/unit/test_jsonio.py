"""pycore.jsonio against the json package: same values, same errors, and no `re` loaded."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from pycore import jsonio
from tests.helpers.imports import heavy_loaded

DOCUMENTS = [
    {},
    [],
    {"a": 1, "b": [1, 2.5, -3e-7, True, False, None], "c": {"d": 'é\u2603\n"\\'}},
    "just a string",
    12345678901234567890,
    [{"nested": [[[]]]}, {"x": ""}],
    {"ociVersion": "1.0.2", "process": {"args": ["/bin/true"], "env": ["A=1"]}},
]


@pytest.mark.parametrize("value", DOCUMENTS)
def test_round_trip_matches_json(value: object) -> None:
    text = jsonio.dumps(value)
    assert text == json.dumps(value, separators=(",", ":"))
    assert jsonio.loads(text) == value
    assert jsonio.loads(text.encode()) == value
    assert jsonio.dumps(value, ensure_ascii=False) == json.dumps(
        value, separators=(",", ":"), ensure_ascii=False
    )


def test_reads_what_json_writes_indented_and_padded() -> None:
    value = {"z": [1, {"y": None}], "a": "b"}
    assert jsonio.loads("  \n" + json.dumps(value, indent=4) + "\n\t ") == value
    assert jsonio.dumps(value, sort_keys=True) == '{"a":"b","z":[1,{"y":null}]}'


def test_constants_as_json_reads_them() -> None:
    value = jsonio.loads("[NaN, Infinity, -Infinity]")
    assert math.isnan(value[0]) and value[1:] == [math.inf, -math.inf]


@pytest.mark.parametrize(
    "bad", ["", "   ", "{", '{"a" 1}', "[1,]", '"unterminated', "[1] [2]", "nul", b"\xff"]
)
def test_bad_documents_raise_what_json_raises(bad: str | bytes) -> None:
    with pytest.raises(ValueError) as ours:
        jsonio.loads(bad)
    if isinstance(bad, str):
        with pytest.raises(json.JSONDecodeError) as theirs:
            json.loads(bad)
        assert isinstance(ours.value, json.JSONDecodeError)
        assert (ours.value.msg, ours.value.pos) == (theirs.value.msg, theirs.value.pos)


def test_unserializable_value_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        jsonio.dumps({"s": {1}})


def test_loads_no_regular_expressions() -> None:
    assert heavy_loaded("from pycore import jsonio\njsonio.loads(jsonio.dumps({'a': [1.5]}))") == []


def test_bad_documents_in_a_fresh_interpreter() -> None:
    """Where nothing has loaded the json package (as in a `pycore` command), a document that
    is bad inside still raises json's JSONDecodeError, with json's words and position."""
    code = (
        "import sys\n"
        "from pycore import jsonio\n"
        "for doc in ('{', '[1,]', '{\"a\" 1}', '\"unterminated', '', '[1] [2]', '{\"a\":}'):\n"
        "    try:\n"
        "        jsonio.loads(doc)\n"
        "    except ValueError as e:\n"
        "        print(type(e).__name__, e.msg, e.pos)\n"
    )
    env = {"PYTHONPATH": ":".join(p for p in sys.path if p)}
    ours = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    theirs = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            code.replace("from pycore import jsonio", "import json as jsonio"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert ours == theirs and ours.count("JSONDecodeError") == 7, ours
