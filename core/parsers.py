"""The API's JSON parser: DRF's, with two limits the standard library lacks.

Python's json module recurses once per level of nesting, so a body of 50,000
opening brackets ends in RecursionError (a 500) instead of a parse error; and
it accepts "\\u0000", which no PostgreSQL text or jsonb column can store.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding  # type: ignore[attr-defined]
from rest_framework.utils import json

from core.errors import ValidationFailed

# Deeper than any body this API accepts (an order is four levels deep), far
# below the interpreter's recursion limit.
MAX_JSON_DEPTH = 64

# A JSON string (with its escapes), or a run of anything but brackets and
# quotes: deleted (re.sub, in C), they leave the structural brackets. In a
# valid document every string is matched whole, so the brackets left are
# exactly the structural ones; in an invalid one the count is right up to the
# first error, which is as far as the json module would recurse before failing.
_NOT_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[^\[\]{}"]+', re.DOTALL)


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether the JSON text nests arrays and objects more than `limit` deep,
    found without parsing it (so without recursion). Only the brackets are
    walked in Python: walking every token cost a courier's batch of 1,000
    scans 7 ms, a tenth of its request (bench/scans.py); this costs 2 ms."""
    depth = 0
    for char in _NOT_STRUCTURE.sub("", text):
        if char == "[" or char == "{":
            depth += 1
            if depth > limit:
                return True
        elif char == "]" or char == "}":
            depth -= 1
    return False


def contains_nul(data: Any) -> bool:
    """Whether any string in the parsed JSON (a key or a value) holds U+0000.
    A loop over a stack, not recursion: the depth is already bounded, but
    nothing here needs to rely on it."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class BoundedJSONParser(JSONParser):
    """JSONParser refusing bodies nested deeper than MAX_JSON_DEPTH and strings
    holding the NUL character, each with a 400 in the error shape."""

    max_depth = MAX_JSON_DEPTH

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            if json_depth_exceeds(text, self.max_depth):
                raise ValidationFailed(
                    _("The JSON body is nested too deeply (at most %(limit)d levels).")
                    % {"limit": self.max_depth},
                    code="json_too_deep",
                )
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError too
            raise ParseError(f"JSON parse error - {exc}") from exc
        # JSON cannot hold a raw NUL (a control character): only the escape
        # makes one, so a text without it needs no walk over the data.
        if "\\u0000" in text and contains_nul(data):
            raise ValidationFailed(
                _("Text in the request may not contain the NUL character."),
                code="null_character",
            )
        return data
