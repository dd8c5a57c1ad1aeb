"""JSON for the start path: CPython's C codec (`_json`) driven directly.

`import json` costs a `pycore run` milliseconds: its decoder compiles regular expressions, so it
loads `re` and with it `enum`, `functools` and `collections`. The records a run reads and
writes (image index, container state, network endpoints, config.json) need only what the C
scanner and encoder do on their own, so this module calls them without that package: the same
results as `json.loads` and `json.dumps(..., separators=(",", ":"))`. Errors are the json
package's own `JSONDecodeError` (a `ValueError`): the json package is loaded only when there is
one to raise.
(`_json` is part of CPython, the only Python pycore's native module is built for.)
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Context:
    """What the C scanner reads from its decoder: json's defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


# typeshed types these as classes of their own; they are called here as json.decoder does.
_make_scanner: Any = _json.make_scanner
_make_encoder: Any = _json.make_encoder


def _error(msg: str, doc: str, pos: int) -> ValueError:
    from json import JSONDecodeError

    return JSONDecodeError(msg, doc, pos)


def loads(data: str | bytes | bytearray) -> Any:
    """`json.loads` for UTF-8 bytes or text."""
    doc = data if isinstance(data, str) else bytes(data).decode("utf-8")
    start = len(doc) - len(doc.lstrip(_WHITESPACE))
    try:
        value, end = _make_scanner(_Context)(doc, start)
    except StopIteration as stop:
        raise _error("Expecting value", doc, stop.value) from None
    except SystemError:
        # An error inside the document: the scanner raises json.decoder's JSONDecodeError,
        # and (CPython 3.11) only once that module is loaded; json says what is wrong.
        import json

        return json.loads(doc)
    rest = doc[end:].lstrip(_WHITESPACE)
    if rest:
        raise _error("Extra data", doc, len(doc) - len(rest))
    return value


def _unserializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: object, *, ensure_ascii: bool = True, sort_keys: bool = False) -> str:
    """`json.dumps(value, separators=(",", ":"))`: compact, one line."""
    quote = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    encode = _make_encoder({}, _unserializable, quote, None, ":", ",", sort_keys, False, True)
    return "".join(encode(value, 0))
