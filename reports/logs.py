"""Reads of the API log and the audit log for the portal: filtered, newest first, paged without counting
(a count over millions of log rows would cost more than the page itself). A client's scope reads only its own
rows: API calls it made (api_logs.client_id) and audit rows about it (audit_log.client_id)."""

from __future__ import annotations

from sqlalchemy import Text, cast, select
from sqlalchemy.engine import Connection

from admin.scope import GATEWAY, Scope
from core import paging
from core.filters import Filters
from models import ApiLog, AuditLog, Transaction

API_LOG_COLUMNS = (
    ApiLog.id,
    ApiLog.app_id,
    ApiLog.method,
    ApiLog.path,
    ApiLog.http_status,
    ApiLog.latency_ms,
    ApiLog.remote_addr,
    ApiLog.transaction_id,
    ApiLog.request_body,
    ApiLog.response_body,
    ApiLog.created_at,
)
AUDIT_COLUMNS = (
    AuditLog.id,
    AuditLog.username,
    AuditLog.action,
    AuditLog.target,
    AuditLog.before,
    AuditLog.after,
    AuditLog.created_at,
)


def search_api_logs(conn: Connection, filters: dict, page: int = 1, per_page: int = 50, scope: Scope = GATEWAY) -> dict:
    """Filters: app_id, path (substring), status (code or class), date_from, date_to (YYYY-MM-DD)."""
    where = (
        Filters(filters)
        .equal("app_id", ApiLog.app_id)
        .contains("path", ApiLog.path)
        .http_status("status", ApiLog.http_status)
        .date_range(ApiLog.created_at)
        .conditions
    )
    where.extend(scope.where(ApiLog.client_id))
    public_id = (
        select(cast(Transaction.public_id, Text))
        .where(Transaction.id == ApiLog.transaction_id)
        .scalar_subquery()
        .label("public_id")
    )
    query = select(*API_LOG_COLUMNS, public_id).where(*where).order_by(ApiLog.created_at.desc(), ApiLog.id.desc())
    return paging.fetch(conn, query, page, per_page).as_dict()


def search_audit(conn: Connection, filters: dict, page: int = 1, per_page: int = 50, scope: Scope = GATEWAY) -> dict:
    """Filters: username, action (prefix, e.g. "client." for every client action), target (substring)."""
    where = (
        Filters(filters)
        .equal("username", AuditLog.username)
        .prefix("action", AuditLog.action)
        .contains("target", AuditLog.target)
        .date_range(AuditLog.created_at)
        .conditions
    )
    where.extend(scope.where(AuditLog.client_id))
    query = select(*AUDIT_COLUMNS).where(*where).order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
    return paging.fetch(conn, query, page, per_page).as_dict()


def audit_actions(conn: Connection, scope: Scope = GATEWAY) -> list[str]:
    """The distinct action names seen so far, for the filter's suggestions."""
    query = select(AuditLog.action).where(*scope.where(AuditLog.client_id)).distinct().order_by(AuditLog.action)
    query = query.limit(200)
    return list(conn.execute(query).scalars())
