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

# A JSON string (with its escapes) or a bracket outside strings. In a valid
# document every string is matched whole, so the brackets matched are exactly
# the structural ones; in an invalid one the count is right up to the first
# error, which is as far as the json module would recurse before failing.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENING = frozenset("[{")


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether the JSON text nests arrays and objects more than `limit` deep,
    found without parsing it (so without recursion)."""
    depth = 0
    for match in _TOKEN.finditer(text):
        piece = match.group()
        if piece in _OPENING:
            depth += 1
            if depth > limit:
                return True
        elif piece in "]}":
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
        if contains_nul(data):
            raise ValidationFailed(
                _("Text in the request may not contain the NUL character."),
                code="null_character",
            )
        return data
