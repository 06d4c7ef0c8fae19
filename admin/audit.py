"""The audit log of admin actions: who, what, when, before → after, secrets masked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from core import db
from core.masking import mask_json


def record(
    conn: Connection, actor: dict | None, action: str, target: str, before: Any = None, after: Any = None
) -> None:
    conn.execute(
        text(
            "INSERT INTO gateway.audit_log (user_id, username, action, target, before, after) "
            "VALUES (:uid, :uname, :action, :target, CAST(:before AS jsonb), CAST(:after AS jsonb))"
        ),
        {
            "uid": (actor or {}).get("id"),
            "uname": (actor or {}).get("username", "system"),
            "action": action,
            "target": target,
            "before": None if before is None else db.as_json(mask_json(before)),
            "after": None if after is None else db.as_json(mask_json(after)),
        },
    )
