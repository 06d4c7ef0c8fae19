"""Checks on untrusted JSON before it is parsed or stored: nesting depth, NUL characters, lone surrogates.

Python's json module recurses per nesting level (``"[" * 60000`` raises RecursionError), and PostgreSQL
refuses ``\\u0000`` in jsonb/text and lone UTF-16 surrogates in any text, so each would surface as a 500.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from core.errors import InvalidField

MAX_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")


def check_depth(raw: bytes, limit: int = MAX_DEPTH) -> None:
    """Raise InvalidField when arrays/objects nest deeper than `limit` (brackets inside strings do not count)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return  # cannot nest deeper than it has openings: the common body needs no scan
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        if depth > limit:
            raise InvalidField(
                f"the JSON body is nested deeper than {limit} levels: send a flatter object "
                '(the payment API needs only {"f000": "...", ...})'
            )


def may_hold_bad_text(raw: bytes) -> bool:
    """False when the JSON text `raw` cannot decode to a NUL or a lone surrogate, so check_text may be skipped.
    Both need an escape (\\u0000, \\ud800) or, since json.loads decodes bytes with surrogatepass, the raw
    bytes: a NUL (also in every UTF-16/32 body) or 0xED, the UTF-8 lead byte of the surrogate range."""
    return b"\\u" in raw or b"\x00" in raw or b"\xed" in raw


def _where(path: list[str]) -> str:
    return "".join(path) or "the body"


def check_text(value: Any) -> None:
    """Raise InvalidField when any key or string holds U+0000 or a lone surrogate (no storage accepts them)."""
    stack: list[tuple[Any, list[str]]] = [(value, [])]
    while stack:  # iterative: the depth is already bounded, but recursion is not needed
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                _check_string(key, path)
                stack.append((child, [*path, f".{key}" if path else str(key)]))
        elif isinstance(item, list):
            stack.extend((child, [*path, f"[{i}]"]) for i, child in enumerate(item))
        elif isinstance(item, str):
            _check_string(item, path)


def _check_string(text: str, path: list[str]) -> None:
    bad = _BAD_CHAR.search(text)
    if not bad:
        return
    where = _where(path)[:80]
    if bad.group() == "\x00":
        raise InvalidField(f"{where} contains a NUL character (\\u0000): remove it; text may not contain U+0000")
    raise InvalidField(
        f"{where} contains a lone UTF-16 surrogate (\\u{ord(bad.group()):04x}): send valid Unicode, "
        "with surrogates only as high+low pairs"
    )


def fingerprint(raw: bytes) -> dict:
    """What the API log keeps of a body it could not parse safely: its size and SHA-256, never the text."""
    return {"unparsed_body": {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}}
