"""Reads of the API log and the audit log for the portal: filtered, newest first, paged without counting
(a count over millions of log rows would cost more than the page itself)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.errors import InvalidField

STATUS_CLASSES = {"2xx": (200, 299), "3xx": (300, 399), "4xx": (400, 499), "5xx": (500, 599)}


def _status_range(value: str | None) -> tuple[int | None, int | None]:
    if not value:
        return None, None
    if value in STATUS_CLASSES:
        return STATUS_CLASSES[value]
    if value.isdigit() and 100 <= int(value) <= 599:
        return int(value), int(value)
    raise InvalidField("status must be an HTTP status such as 401, or a class: 2xx, 3xx, 4xx, 5xx")


def _paging(page: int, per_page: int) -> dict:
    # One row more than the page tells whether a next page exists.
    return {"limit": per_page + 1, "offset": (max(page, 1) - 1) * per_page}


def _page(rows: list, page: int, per_page: int) -> dict:
    items = [dict(r) for r in rows]
    return {"items": items[:per_page], "page": max(page, 1), "per_page": per_page, "has_next": len(items) > per_page}


def search_api_logs(conn: Connection, filters: dict, page: int = 1, per_page: int = 50) -> dict:
    """Filters: app_id, path (substring), status (code or class), date_from, date_to (YYYY-MM-DD)."""
    low, high = _status_range(filters.get("status"))
    params = {
        "app_id": filters.get("app_id") or None,
        "path": f"%{filters['path']}%" if filters.get("path") else None,
        "low": low,
        "high": high,
        "date_from": filters.get("date_from") or None,
        "date_to": filters.get("date_to") or None,
        **_paging(page, per_page),
    }
    rows = (
        conn.execute(
            text(
                "SELECT id, app_id, method, path, http_status, latency_ms, remote_addr, transaction_id, request_body, "
                "response_body, created_at, "
                "(SELECT t.public_id::text FROM gateway.transactions t WHERE t.id = l.transaction_id) AS public_id "
                "FROM gateway.api_logs l "
                "WHERE (CAST(:app_id AS text) IS NULL OR l.app_id = :app_id) "
                "AND (CAST(:path AS text) IS NULL OR l.path ILIKE :path) "
                "AND (CAST(:low AS int) IS NULL OR l.http_status BETWEEN :low AND :high) "
                "AND (CAST(:date_from AS date) IS NULL OR l.created_at >= CAST(:date_from AS date)) "
                "AND (CAST(:date_to AS date) IS NULL OR l.created_at < CAST(:date_to AS date) + 1) "
                "ORDER BY l.created_at DESC, l.id DESC LIMIT :limit OFFSET :offset"
            ),
            params,
        )
        .mappings()
        .all()
    )
    return _page(rows, page, per_page)


def search_audit(conn: Connection, filters: dict, page: int = 1, per_page: int = 50) -> dict:
    """Filters: username, action (prefix, e.g. "client." for every client action), target (substring)."""
    params = {
        "username": filters.get("username") or None,
        "action": f"{filters['action']}%" if filters.get("action") else None,
        "target": f"%{filters['target']}%" if filters.get("target") else None,
        "date_from": filters.get("date_from") or None,
        "date_to": filters.get("date_to") or None,
        **_paging(page, per_page),
    }
    rows = (
        conn.execute(
            text(
                "SELECT id, username, action, target, before, after, created_at FROM gateway.audit_log "
                "WHERE (CAST(:username AS text) IS NULL OR username = :username) "
                "AND (CAST(:action AS text) IS NULL OR action LIKE :action) "
                "AND (CAST(:target AS text) IS NULL OR target ILIKE :target) "
                "AND (CAST(:date_from AS date) IS NULL OR created_at >= CAST(:date_from AS date)) "
                "AND (CAST(:date_to AS date) IS NULL OR created_at < CAST(:date_to AS date) + 1) "
                "ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset"
            ),
            params,
        )
        .mappings()
        .all()
    )
    return _page(rows, page, per_page)


def audit_actions(conn: Connection) -> list[str]:
    """The distinct action names seen so far, for the filter's suggestions."""
    return list(conn.execute(text("SELECT DISTINCT action FROM gateway.audit_log ORDER BY 1 LIMIT 200")).scalars())
