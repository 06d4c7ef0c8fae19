"""Admin actions on the outbox: send a webhook (or follow-up call) again."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from admin import audit
from core.errors import NotFound

_COLUMNS = "id, kind, status, attempts, max_attempts, next_attempt_at, url"


def redeliver(conn: Connection, outbox_id: int, actor: dict | None) -> dict:
    """Queue an outbox row again: pending now, attempt count kept (the history stays true), and at least
    three more tries allowed. Returns the row with the transaction's public id. Raises NotFound."""
    before = (
        conn.execute(
            text(f"SELECT {_COLUMNS} FROM gateway.outbox WHERE id = :i FOR UPDATE"),
            {"i": outbox_id},  # noqa: S608
        )
        .mappings()
        .first()
    )
    if before is None:
        raise NotFound(f"no outbox entry {outbox_id}")
    after = (
        conn.execute(
            text(
                "UPDATE gateway.outbox o SET status = 'pending', next_attempt_at = now(), "
                "max_attempts = greatest(o.max_attempts, o.attempts + 3) WHERE o.id = :i "
                f"RETURNING {', '.join('o.' + c.strip() for c in _COLUMNS.split(','))}, "  # noqa: S608
                "(SELECT t.public_id::text FROM gateway.transactions t WHERE t.id = o.transaction_id) AS transaction_id"
            ),
            {"i": outbox_id},
        )
        .mappings()
        .one()
    )
    audit.record(
        conn,
        actor,
        "outbox.redeliver",
        f"outbox/{outbox_id}",
        before={k: before[k] for k in ("status", "attempts", "max_attempts")},
        after={k: after[k] for k in ("status", "attempts", "max_attempts")},
    )
    return dict(after)
