"""The audit log of admin actions: who, what, when, before → after, secrets masked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from core.actor import Actor
from core.masking import mask_json
from models import AuditLog


def record(
    conn: Connection, actor: Actor | None, action: str, target: str, before: Any = None, after: Any = None
) -> None:
    """Append one audit row; before/after are masked (secrets never reach the log)."""
    conn.execute(
        insert(AuditLog).values(
            user_id=(actor or {}).get("id"),
            username=(actor or {}).get("username", "system"),
            action=action,
            target=target,
            before=None if before is None else mask_json(before),
            after=None if after is None else mask_json(after),
        )
    )
