"""The operator's view of an ISP's router: which clients run billing, the router job queue (retry what gave up),
periods about to end, and a live connection test through the router adapter."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection

from admin import audit
from billing import jobs
from core import db
from core.errors import InvalidField
from models import Client, Plan, Subscriber

JOB_STATES = ("pending", "delivered", "dead")


def isp_clients(conn: Connection) -> list[dict]:
    """Clients with a subscription service or plans, with counts of plans, subscribers and active periods."""
    return db.call_json(conn, "SELECT billing.isp_clients()")


def sells_plans(conn: Connection, client_id: int) -> bool:
    """Whether a client runs ISP billing (a subscription service or plans): the same test as isp_clients, for
    one client (its own users see the ISP screens only then)."""
    has_plans = select(Plan.id).where(Plan.client_id == client_id).exists()
    return bool(
        conn.execute(select(func.billing.subscription_service_for(client_id).is_not(None) | has_plans)).scalar()
    )


def router_jobs(conn: Connection, app_id: str, state: str | None = None, limit: int = 100) -> list[dict]:
    """The client's router jobs, newest first; state: pending | delivered | dead."""
    if state is not None and state not in JOB_STATES:
        raise InvalidField(f"state must be one of {', '.join(JOB_STATES)}")
    return db.call_json(conn, "SELECT billing.router_jobs_of(:a, :s, :n)",
                        {"a": app_id, "s": state, "n": min(max(limit, 1), 500)})  # fmt: skip


def retry_job(conn: Connection, app_id: str, outbox_id: int, actor: dict | None) -> dict:
    """Queue a router job that gave up once more, now. :raise NotFound, Conflict:."""
    result = db.call_json(conn, "SELECT billing.retry_router_job(:a, :i)", {"a": app_id, "i": outbox_id})
    audit.record(conn, actor, "billing.router_job.retry", f"{app_id}/{outbox_id}", after=result, app_id=app_id)
    return result


def expiring(conn: Connection, app_id: str, within: str = "24 hours", limit: int = 100) -> list[dict]:
    """Periods running now that end within `within` with nothing queued after them, soonest first."""
    return db.call_json(conn, "SELECT billing.expiring_of(:a, CAST(:w AS interval), :n)",
                        {"a": app_id, "w": within, "n": limit})  # fmt: skip


def _router_of() -> Select:
    """A client's id and the router service billing uses for it (billing.router_service_for decides)."""
    return select(Client.id, func.billing.router_service_for(Client.id).label("svc"))


def test_connection(app_id: str) -> dict:
    """Log in to the client's router through the adapter and count its accounts per service type.
    {"ok", "message", "counts"}; never raises for a router that does not answer."""
    with db.transaction() as conn:  # released before any router traffic
        row = conn.execute(_router_of().where(Client.app_id == app_id)).mappings().first()
    if row is None or row["svc"] is None:
        return {"ok": False, "message": "no router service is assigned to this client", "counts": {}}
    counts: dict[str, int] = {}
    for service_type in ("pppoe", "hotspot"):
        accounts, error = jobs.list_router_accounts(row["id"], row["svc"], service_type)
        if error:
            return {"ok": False, "message": error, "counts": counts}
        counts[service_type] = len(accounts or [])
    return {"ok": True, "message": "connected: {pppoe} PPPoE and {hotspot} hotspot accounts".format(**counts),
            "counts": counts}  # fmt: skip


def router_account(app_id: str, username: str) -> dict:
    """How the router holds this subscriber now, asked live through the adapter:
    {"ok", "message", "account": {name, profile, disabled} | None}; never raises for a router that does not answer."""
    with db.transaction() as conn:  # released before any router traffic
        query = (
            _router_of()
            .add_columns(Subscriber.service_type)
            .join(Subscriber, Subscriber.client_id == Client.id)
            .where(Client.app_id == app_id, Subscriber.username == username)
        )
        row = conn.execute(query).mappings().first()
    if row is None or row["svc"] is None:
        return {"ok": False, "message": "no router service is assigned to this client", "account": None}
    accounts, error = jobs.list_router_accounts(row["id"], row["svc"], row["service_type"])
    if error:
        return {"ok": False, "message": error, "account": None}
    found = next((a for a in accounts or [] if a.get("name") == username), None)
    if found is None:
        return {
            "ok": True,
            "message": f"no {row['service_type']} account named {username} on the router",
            "account": None,
        }
    state = "disabled" if found.get("disabled") else "enabled"
    return {"ok": True, "message": f"{state}, profile {found.get('profile')}", "account": found}
