"""The audit log of admin actions: who, what, when, before → after, secrets masked, and the client the action
concerns (a client's own users read their client's log)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from core.actor import Actor
from core.masking import mask_json
from models import AuditLog, Client


def record(
    conn: Connection,
    actor: Actor | None,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    *,
    client_id: int | None = None,
    app_id: str | None = None,
) -> None:
    """Append one audit row; before/after are masked (secrets never reach the log). The row belongs to the
    client named by `client_id` or `app_id`, else to the acting user's client (a tenant user's every action)."""
    owner: Any = client_id
    if owner is None and app_id is not None:
        owner = select(Client.id).where(Client.app_id == app_id).scalar_subquery()
    if owner is None:
        owner = (actor or {}).get("client_id")
    conn.execute(
        insert(AuditLog).values(
            user_id=(actor or {}).get("id"),
            username=(actor or {}).get("username", "system"),
            action=action,
            target=target,
            before=None if before is None else mask_json(before),
            after=None if after is None else mask_json(after),
            client_id=owner,
        )
    )
