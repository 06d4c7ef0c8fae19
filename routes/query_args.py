"""Integer query arguments (page, per_page, limit) checked at the edge: a clear 400, never an overflow deeper down."""

from __future__ import annotations

from flask import request

from core.errors import InvalidField

MAX_PAGE = 1_000_000


def int_arg(name: str, default: int, low: int = 1, high: int = MAX_PAGE) -> int:
    """The query argument `name` as an int in [low, high]; `default` when absent. Raises InvalidField."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidField(f"{name} must be a whole number from {low} to {high}") from exc
    if not low <= value <= high:
        raise InvalidField(f"{name} must be a whole number from {low} to {high}")
    return value
