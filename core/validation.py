"""Checks for admin JSON bodies and forms: each failure names the field and the expected form."""

from __future__ import annotations

import re
from typing import Any

from core.errors import InvalidField
from core.names import NAME_HELP, is_name

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URL_RE = re.compile(r"^https?://[^\s/?#]+(/[^\s]*)?$")


def body_object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise InvalidField("the body must be a JSON object")
    return body


def text_field(data: dict, key: str, *, required: bool = True, max_length: int = 200) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise InvalidField(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise InvalidField(f"{key} must be a string")
    value = value.strip()
    if len(value) > max_length:
        raise InvalidField(f"{key} must be at most {max_length} characters")
    return value


def name_field(data: dict, key: str) -> str:
    value = text_field(data, key) or ""
    if not is_name(value):
        raise InvalidField(f"{key} must be {NAME_HELP}")
    return value


def email_field(data: dict, key: str, *, required: bool = True) -> str | None:
    value = text_field(data, key, required=required)
    if value is not None and not EMAIL_RE.match(value):
        raise InvalidField(f"{key} must be an email address such as ops@example.com")
    return value


def url_field(data: dict, key: str, *, required: bool = True) -> str | None:
    value = text_field(data, key, required=required, max_length=500)
    if value is not None and not URL_RE.match(value):
        raise InvalidField(f"{key} must be an http(s) URL such as https://example.com/hook")
    return value


def number_field(data: dict, key: str, *, default: float, low: float, high: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidField(f"{key} must be a number")
    if not low < value <= high:
        raise InvalidField(f"{key} must be greater than {low:g} and at most {high:g}")
    return float(value)
