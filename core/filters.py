"""One filter builder for the lists: each filter the request names becomes a SQLAlchemy condition, and each
malformed value an InvalidField that says the expected form. Values are always bound, never pasted."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_

from core.errors import InvalidField

STATUS_CLASSES = {"2xx": (200, 299), "3xx": (300, 399), "4xx": (400, 499), "5xx": (500, 599)}


class Filters:
    """Collects conditions from a dict of request arguments: `Filters(args).equal("f010", T.f010).conditions`."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.args = args
        self.conditions: list[ColumnElement[bool]] = []

    def _value(self, key: str) -> str | None:
        value = self.args.get(key)
        return str(value) if value not in (None, "") else None

    def equal(self, key: str, column: Any, choices: tuple[str, ...] | None = None) -> Filters:
        value = self._value(key)
        if value is not None:
            if choices is not None and value not in choices:
                raise InvalidField(f"{key} must be one of {', '.join(choices)}")
            self.conditions.append(column == value)
        return self

    def contains(self, key: str, column: Any) -> Filters:
        value = self._value(key)
        if value is not None:
            self.conditions.append(column.ilike(f"%{_escape_like(value)}%", escape="\\"))
        return self

    def search(self, key: str, *columns: Any) -> Filters:
        """A free-text search: the value as a substring of any of the columns."""
        value = self._value(key)
        if value is not None:
            pattern = f"%{_escape_like(value)}%"
            self.conditions.append(or_(*(column.ilike(pattern, escape="\\") for column in columns)))
        return self

    def prefix(self, key: str, column: Any) -> Filters:
        value = self._value(key)
        if value is not None:
            self.conditions.append(column.like(f"{_escape_like(value)}%", escape="\\"))
        return self

    def date_range(self, column: Any, start: str = "date_from", end: str = "date_to") -> Filters:
        """Rows from the first day through the whole of the last (YYYY-MM-DD, both inclusive)."""
        first, last = date_range(self.args, start, end)
        if first is not None:
            self.conditions.append(column >= first)
        if last is not None:
            self.conditions.append(column < last + timedelta(days=1))
        return self

    def http_status(self, key: str, column: Any) -> Filters:
        """A status such as 401, or a class: 2xx, 3xx, 4xx, 5xx."""
        value = self._value(key)
        if value is None:
            return self
        if value in STATUS_CLASSES:
            low, high = STATUS_CLASSES[value]
        elif value.isdigit() and 100 <= int(value) <= 599:
            low = high = int(value)
        else:
            raise InvalidField(f"{key} must be an HTTP status such as 401, or a class: 2xx, 3xx, 4xx, 5xx")
        self.conditions.append(column.between(low, high))
        return self


def date_range(args: dict[str, Any], start: str = "date_from", end: str = "date_to") -> tuple[date | None, date | None]:
    """The (first, last) days a request names, each optional. Raises InvalidField for a malformed or swapped pair."""
    first, last = _date(start, args.get(start) or None), _date(end, args.get(end) or None)
    if first is not None and last is not None and first > last:
        raise InvalidField(f"{start} is after {end}: swap them")
    return first, last


def _date(key: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField(f"{key} must be a date such as 2026-11-23 (YYYY-MM-DD)") from exc


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
