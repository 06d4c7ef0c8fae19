"""Reading JSON request bodies with the documented 415/413/400 answers."""

from __future__ import annotations

import json
from typing import Any

from flask import g, request

from core.errors import InvalidField, UnsupportedMediaType
from core.json_input import check_depth, check_text, may_hold_bad_text


def json_body(*, allow_empty: bool = False) -> Any:
    """The parsed JSON body. 415 when not JSON, 413 when too large (Flask's limit), 400 when malformed,
    nested deeper than 32 levels, or holding U+0000 / lone surrogates. Only a body that passed every check is
    kept on `g.json_body` for the API log; anything else is logged as size and hash."""
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if not raw.strip():
        if allow_empty:
            return {}
        raise InvalidField("the request body is empty: send a JSON object")
    if not request.is_json:
        raise UnsupportedMediaType("send the body as JSON with the header Content-Type: application/json")
    check_depth(raw)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        # The decoder's message quotes no input, only the position.
        raise InvalidField(f"the body is not valid JSON: {str(exc)[:120]}") from exc
    if may_hold_bad_text(raw):
        check_text(body)
    g.json_body = body
    return body
