"""Transaction reads for merchants and admins: status views, filtered lists, the detail timeline."""

from __future__ import annotations

import uuid

from sqlalchemy import Text, cast, select
from sqlalchemy.engine import Connection

from admin.scope import GATEWAY, Scope
from core import paging
from core.errors import NotFound
from core.filters import Filters
from models import CallAttempt, Callback, Client, Outbox, Transaction, TransactionEvent

STATES = ("received", "dispatched", "pending", "completed", "failed", "timed_out")

# What lists and status answers show of a transaction (ids and amounts as text, as the API writes them).
VIEW = (
    Transaction.id,
    cast(Transaction.public_id, Text).label("transaction_id"),
    Client.app_id,
    Transaction.service,
    Transaction.route,
    Transaction.f010,
    Transaction.state.label("status"),
    cast(Transaction.amount, Text).label("amount"),
    Transaction.msisdn,
    Transaction.account_ref,
    Transaction.receipt,
    Transaction.provider_ref,
    Transaction.reason,
    Transaction.http_status,
    Transaction.result,
    Transaction.flags,
    Transaction.created_at,
    Transaction.updated_at,
    Transaction.completed_at,
)


def _view():
    return select(*VIEW).join(Client, Client.id == Transaction.client_id)


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
    """The client's transaction with this f010. Raises NotFound."""
    query = _view().where(Transaction.client_id == client_id, Transaction.f010 == f010)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no transaction with f010 {f010!r} for this client")
    return dict(row)


def search(conn: Connection, filters: dict, page: int = 1, per_page: int = 50, scope: Scope = GATEWAY) -> dict:
    """Filtered, newest-first page. Filters: app_id, service, status, f010, msisdn, date_from, date_to. A
    client's scope keeps to its own client, whatever app_id says."""
    where = (
        Filters(filters)
        .equal("service", Transaction.service)
        .equal("status", Transaction.state, STATES)
        .equal("f010", Transaction.f010)
        .equal("msisdn", Transaction.msisdn)
        .date_range(Transaction.created_at)
        .conditions
    )
    if scope.is_tenant:
        where.extend(scope.where(Transaction.client_id))
    elif filters.get("app_id"):
        # Resolve the client first: filtering through the join makes the planner walk everyone's rows by date.
        client_id = conn.execute(select(Client.id).where(Client.app_id == filters["app_id"])).scalar()
        if client_id is None:
            return paging.empty(page, per_page).as_dict()
        where.append(Transaction.client_id == client_id)
    query = _view().where(*where).order_by(Transaction.created_at.desc(), Transaction.id.desc())
    return paging.fetch(conn, query, page, per_page).as_dict()


def detail(conn: Connection, public_id: str, scope: Scope = GATEWAY) -> dict:
    """One transaction with its events, outside calls, callbacks and webhooks. Another client's transaction
    is NotFound for a client's scope, as one that does not exist."""
    try:
        uuid.UUID(public_id)
    except ValueError as exc:
        raise NotFound(f"no transaction {public_id[:64]!r}: transaction ids are UUIDs") from exc
    query = _view().add_columns(Transaction.request).where(Transaction.public_id == uuid.UUID(public_id))
    query = query.where(*scope.where(Transaction.client_id))
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no transaction {public_id!r}")
    out = dict(row)
    txn = out["id"]

    def rows(*columns, table) -> list[dict]:
        query = select(*columns).where(table.transaction_id == txn).order_by(table.id)
        return [dict(r) for r in conn.execute(query).mappings()]

    e, a, c, o = TransactionEvent, CallAttempt, Callback, Outbox
    out["events"] = rows(e.from_state, e.to_state, e.detail, e.created_at, table=e)
    out["attempts"] = rows(
        a.step, a.method, a.url, a.status_code, a.latency_ms, a.request_body, a.response_body, a.error, a.created_at,
        table=a,
    )  # fmt: skip
    if scope.is_tenant:
        # The gateway's own service addresses are its infrastructure, not the client's data.
        for attempt in out["attempts"]:
            attempt["url"] = f"({out['service']} service)"
    out["callbacks"] = rows(c.source_ip, c.provider_ref, c.body, c.outcome, c.detail, c.created_at, table=c)
    out["outbox"] = rows(
        o.id, o.kind, o.url, o.status, o.attempts, o.max_attempts, o.next_attempt_at, o.last_status, o.last_error,
        o.payload, o.created_at, o.delivered_at,
        table=o,
    )  # fmt: skip
    return out
