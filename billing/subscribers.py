"""What an ISP operator does to one subscriber: find, read, edit phone and password, suspend and resume by hand
with a reason, remove. SQL (sql/billing/60_operations.sql) decides and queues the router jobs; this module checks
input, encrypts passwords and writes the audit row."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from admin import audit
from billing.catalogue import encrypt_password, password_field, phone_field
from core import db
from core import validation as v
from core.errors import InvalidField, NotFound

EDITABLE = ("phone", "password")
MAX_PER_PAGE = 200


def search(conn: Connection, app_id: str, q: str | None, page: int = 1, per_page: int = 25) -> dict:
    """A page of subscribers whose username (any case) or phone number (07…, 2547…) starts with q, by username."""
    q = (q or "").strip()[:64]
    page, per_page = max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)
    result = db.call_json(
        conn,
        "SELECT billing.search_subscribers(:app, :q, :limit, :offset)",
        {"app": app_id, "q": q, "limit": per_page, "offset": (page - 1) * per_page},
    )
    pages = max((result["total"] + per_page - 1) // per_page, 1)
    return {**result, "q": q, "page": page, "per_page": per_page, "pages": pages}


def get(conn: Connection, app_id: str, username: str) -> dict:
    """The subscriber with what they have now, every period, payments and router jobs. :raise NotFound:."""
    detail = db.call_json(conn, "SELECT billing.subscriber_detail(:app, :u)", {"app": app_id, "u": username})
    if detail is None:
        raise NotFound(f"no subscriber {username!r} for {app_id}")
    return detail


def update(conn: Connection, app_id: str, username: str, data: Any, actor: dict | None) -> dict:
    """Change phone and/or password (write-only; a new password reaches the router at once if a period runs)."""
    data = v.body_object(data)
    unknown = sorted(set(data) - set(EDITABLE))
    if unknown or not data:
        raise InvalidField("send phone and/or password" + (f"; {', '.join(unknown)} cannot be changed" * bool(unknown)))
    changes: dict[str, Any] = {}
    if "phone" in data:
        changes["phone"] = phone_field(data)
    if "password" in data:
        changes["password_enc"] = encrypt_password(password_field(data))
    sql = "SELECT billing.update_subscriber(:app, :u, CAST(:c AS jsonb))"
    return _apply(conn, app_id, username, actor, "update", sql, {"c": db.as_json(changes)})


def suspend(conn: Connection, app_id: str, username: str, data: Any, actor: dict | None) -> dict:
    """Suspend by hand: {"reason"} is required and shown to the operator and the subscriber."""
    reason = v.text_field(v.body_object(data), "reason", max_length=500)
    return _apply(
        conn, app_id, username, actor, "suspend", "SELECT billing.hold_subscriber(:app, :u, :r)", {"r": reason}
    )


def resume(conn: Connection, app_id: str, username: str, actor: dict | None) -> dict:
    """Lift a manual suspension; the account is switched on again when a paid period runs."""
    return _apply(conn, app_id, username, actor, "resume", "SELECT billing.resume_subscriber(:app, :u)", {})


def remove(conn: Connection, app_id: str, username: str, actor: dict | None) -> dict:
    """Deactivate: history is kept, the router account is deleted by a job."""
    return _apply(conn, app_id, username, actor, "remove", "SELECT billing.remove_subscriber(:app, :u)", {})


def _apply(conn: Connection, app_id: str, username: str, actor: dict | None, action: str, sql: str,
           params: dict) -> dict:  # fmt: skip
    result = db.call_json(conn, sql, {"app": app_id, "u": username, **params})
    audit.record(conn, actor, f"billing.subscriber.{action}", f"{app_id}/{username}",
                 before=result["before"], after=result["after"], app_id=app_id)  # fmt: skip
    return {**result["after"], "router_job": result["outbox_id"]}


def merchant_view(conn: Connection, app_id: str, username: str, payments: int = 5) -> dict:
    """What an ISP merchant's own app may show: status, plan, period end, last payments. :raise NotFound:."""
    detail = get(conn, app_id, username)
    now = detail["now"]
    return {
        "username": detail["username"],
        "service_type": detail["service_type"],
        "status": now["state"],
        "summary": now["summary"],
        "plan": now["plan"],
        "profile": now["profile"],
        "period_end": now["ends_at"],
        "seconds_left": now["seconds_left"],
        "renewal": now["renewal"],
        "last_payments": [
            {k: p[k] for k in ("f010", "plan", "amount", "state", "reason", "receipt", "created_at")}
            for p in detail["payments"][:payments]
        ],
    }
