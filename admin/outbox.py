"""Admin actions on the outbox: send a webhook (or follow-up call) again."""

from __future__ import annotations

from sqlalchemy import Text, cast, func, select, update
from sqlalchemy.engine import Connection

from admin import audit
from admin.scope import GATEWAY, Scope
from core.actor import Actor
from core.errors import NotFound
from models import Outbox, Transaction

_COLUMNS = (
    Outbox.id,
    Outbox.client_id,
    Outbox.kind,
    Outbox.status,
    Outbox.attempts,
    Outbox.max_attempts,
    Outbox.next_attempt_at,
    Outbox.url,
)


def redeliver(conn: Connection, outbox_id: int, actor: Actor | None, scope: Scope = GATEWAY) -> dict:
    """Queue an outbox row again: pending now, attempt count kept (the history stays true), and at least
    three more tries allowed. Returns the row with the transaction's public id. Raises NotFound (also for
    another client's row when `scope` is a client's)."""
    before = conn.execute(select(*_COLUMNS).where(Outbox.id == outbox_id).with_for_update()).mappings().first()
    if before is None or not scope.owns(before["client_id"]):
        raise NotFound(f"no outbox entry {outbox_id}")
    public_id = select(cast(Transaction.public_id, Text)).where(Transaction.id == Outbox.transaction_id)
    after = (
        conn.execute(
            update(Outbox)
            .where(Outbox.id == outbox_id)
            .values(
                status="pending",
                next_attempt_at=func.now(),
                max_attempts=func.greatest(Outbox.max_attempts, Outbox.attempts + 3),
            )
            .returning(*_COLUMNS, public_id.scalar_subquery().label("transaction_id"))
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
        client_id=before["client_id"],
    )
    return dict(after)
