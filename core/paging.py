"""One page type for every list the admin API and the portal show, and one way to fetch it.

Lists over big tables (transactions, logs) never count: they fetch one row more than the page to tell whether
a next page exists. Small tables (clients, users) may also count, for "page 3 of 7".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Page:
    """A page of rows: `total` only when the list was counted."""

    items: list[dict[str, Any]]
    page: int
    per_page: int
    has_next: bool
    total: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.total is None:
            del out["total"]
        return out


def clamp(page: int | None, per_page: int | None, default_per_page: int = 50) -> tuple[int, int]:
    """(page ≥ 1, 1 ≤ per_page ≤ MAX_PER_PAGE) from whatever the request said."""
    return max(page or 1, 1), min(max(per_page or default_per_page, 1), MAX_PER_PAGE)


def fetch(conn: Connection, query: Select, page: int, per_page: int, *, count: bool = False) -> Page:
    """Run an ordered query for one page. With count=True, also count every matching row."""
    page, per_page = max(page, 1), max(per_page, 1)  # callers clamp what a request asked for
    rows = [dict(r) for r in conn.execute(query.limit(per_page + 1).offset((page - 1) * per_page)).mappings()]
    total = None
    if count:
        total = conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    return Page(rows[:per_page], page, per_page, len(rows) > per_page, total)


def empty(page: int, per_page: int) -> Page:
    return Page([], max(page, 1), max(per_page, 1), has_next=False)
