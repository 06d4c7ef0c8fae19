"""Transaction reads for merchants and admins: status views, filtered lists, the detail timeline."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.errors import InvalidField, NotFound

STATES = ("received", "dispatched", "pending", "completed", "failed", "timed_out")

_VIEW = (
    "t.id, t.public_id AS transaction_id, c.app_id, t.service, t.route, t.f010, t.state AS status, "
    "t.amount::text AS amount, t.msisdn, t.account_ref, t.receipt, t.provider_ref, t.reason, t.http_status, "
    "t.result, t.flags, t.created_at, t.updated_at, t.completed_at"
)


def merchant_view(row: dict) -> dict:
    """What a merchant may see of its transaction."""
    keys = (
        "transaction_id",
        "f010",
        "status",
        "service",
        "route",
        "amount",
        "msisdn",
        "receipt",
        "reason",
        "result",
        "created_at",
        "updated_at",
        "completed_at",
    )
    return {k: row[k] for k in keys if row.get(k) is not None}


def by_f010(conn: Connection, client_id: int, f010: str) -> dict:
    row = (
        conn.execute(
            text(
                f"SELECT {_VIEW} FROM gateway.transactions t JOIN gateway.clients c ON c.id = t.client_id "  # noqa: S608
                "WHERE t.client_id = :c AND t.f010 = :f"
            ),
            {"c": client_id, "f": f010},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no transaction with f010 {f010!r} for this client")
    return dict(row)


def search(conn: Connection, filters: dict, page: int = 1, per_page: int = 50) -> dict:
    """Filtered, newest-first page. Filters: app_id, service, status, f010, msisdn, date_from, date_to."""
    status = filters.get("status") or None
    if status and status not in STATES:
        raise InvalidField(f"status must be one of {', '.join(STATES)}")
    client_id = None
    if filters.get("app_id"):
        # Resolve the client first: filtering through the join makes the planner walk everyone's rows by date.
        client_id = conn.execute(
            text("SELECT id FROM gateway.clients WHERE app_id = :a"), {"a": filters["app_id"]}
        ).scalar()
        if client_id is None:
            return {"items": [], "page": page, "per_page": per_page}
    params = {
        "client_id": client_id,
        "service": filters.get("service") or None,
        "status": status,
        "f010": filters.get("f010") or None,
        "msisdn": filters.get("msisdn") or None,
        "date_from": filters.get("date_from") or None,
        "date_to": filters.get("date_to") or None,
        "limit": per_page,
        "offset": (max(1, page) - 1) * per_page,
    }
    where = (
        "WHERE (CAST(:client_id AS bigint) IS NULL OR t.client_id = :client_id) "
        "AND (CAST(:service AS text) IS NULL OR t.service = :service) "
        "AND (CAST(:status AS text) IS NULL OR t.state = :status) "
        "AND (CAST(:f010 AS text) IS NULL OR t.f010 = :f010) "
        "AND (CAST(:msisdn AS text) IS NULL OR t.msisdn = :msisdn) "
        "AND (CAST(:date_from AS date) IS NULL OR t.created_at >= CAST(:date_from AS date)) "
        "AND (CAST(:date_to AS date) IS NULL OR t.created_at < CAST(:date_to AS date) + 1) "
    )
    rows = (
        conn.execute(
            text(
                f"SELECT {_VIEW} FROM gateway.transactions t JOIN gateway.clients c ON c.id = t.client_id "  # noqa: S608
                f"{where} ORDER BY t.created_at DESC, t.id DESC LIMIT :limit OFFSET :offset"
            ),
            params,
        )
        .mappings()
        .all()
    )
    return {"items": [dict(r) for r in rows], "page": page, "per_page": per_page}


def detail(conn: Connection, public_id: str) -> dict:
    """One transaction with its events, outside calls, callbacks and webhooks."""
    try:
        uuid.UUID(public_id)
    except ValueError as exc:
        raise NotFound(f"no transaction {public_id[:64]!r}: transaction ids are UUIDs") from exc
    row = (
        conn.execute(
            text(
                f"SELECT {_VIEW}, t.request FROM gateway.transactions t "  # noqa: S608
                "JOIN gateway.clients c ON c.id = t.client_id WHERE t.public_id = CAST(:p AS uuid)"
            ),
            {"p": public_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no transaction {public_id!r}")
    out = dict(row)
    txn = out["id"]

    def rows(sql: str) -> list[dict]:
        return [dict(r) for r in conn.execute(text(sql), {"t": txn}).mappings().all()]

    out["events"] = rows(
        "SELECT from_state, to_state, detail, created_at FROM gateway.transaction_events "
        "WHERE transaction_id = :t ORDER BY id"
    )
    out["attempts"] = rows(
        "SELECT step, method, url, status_code, latency_ms, request_body, response_body, error, "
        "created_at FROM gateway.call_attempts WHERE transaction_id = :t ORDER BY id"
    )
    out["callbacks"] = rows(
        "SELECT source_ip, provider_ref, body, outcome, detail, created_at FROM gateway.callbacks "
        "WHERE transaction_id = :t ORDER BY id"
    )
    out["outbox"] = rows(
        "SELECT id, kind, url, status, attempts, max_attempts, next_attempt_at, last_status, "
        "last_error, payload, created_at, delivered_at FROM gateway.outbox "
        "WHERE transaction_id = :t ORDER BY id"
    )
    return out
