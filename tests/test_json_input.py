"""core.json_input's cheap prechecks: they may only skip a scan that could not have refused the body."""

from __future__ import annotations

import json

import pytest

from core.errors import InvalidField
from core.json_input import MAX_DEPTH, check_depth, check_text, may_hold_bad_text


@pytest.mark.parametrize(
    "value",
    ["a\x00b", "\ud800", "x\udfffy", {"k\x00": 1}, [["\ud834"]]],
)
def test_every_refused_value_is_flagged_whatever_its_encoding(value):
    with pytest.raises(InvalidField):
        check_text(value)
    escaped = json.dumps(value).encode()  # \\u escapes
    raw_utf8 = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    utf16 = json.dumps(value).encode("utf-16")
    for raw in (escaped, raw_utf8, utf16):
        assert may_hold_bad_text(raw), raw
        assert json.loads(raw) == value  # what json_body would parse from these bytes


def test_plain_bodies_skip_the_walk():
    assert not may_hold_bad_text(json.dumps({"f000": "pay", "f006": "Ünïcode ✓ 日本"}, ensure_ascii=False).encode())


def test_the_depth_precheck_counts_openings():
    check_depth(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)  # exactly the bound: no scan needed, and none refuses
    with pytest.raises(InvalidField):
        check_depth(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    check_depth(b'{"a": "' + b"[" * 100 + b'"}')  # many openings, all inside a string: scanned, accepted
