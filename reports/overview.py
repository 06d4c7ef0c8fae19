"""What the portal's client and service pages show beyond the service layer's rows: the active credential's
public part, assigned services grouped with their functions, and which clients use a service."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from admin import clients, services
from models import Assignment, Client, ClientCredential, Service


def active_credential(conn: Connection, client_id: int) -> dict | None:
    """api_username, the last 4 characters of the secret (to tell keys apart) and when it was issued."""
    row = (
        conn.execute(
            select(ClientCredential.api_username, ClientCredential.secret_hint, ClientCredential.created_at).where(
                ClientCredential.client_id == client_id, ClientCredential.active
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def assigned_services(conn: Connection, app_id: str) -> list[dict]:
    """One entry per assigned service, with its routes' functions (from the registry)."""
    grouped: dict[str, dict] = {}
    for row in services.client_functions(conn, app_id):
        entry = grouped.setdefault(
            row["service"],
            {"service": row["service"], "active": row["active"], "kind": row["template_kind"], "functions": []},
        )
        entry["functions"].append(row)
    return list(grouped.values())


def client_page(conn: Connection, app_id: str) -> dict:
    """Everything the client page needs in one call. Raises NotFound for an unknown app_id."""
    client = clients.get_client(conn, app_id)
    assigned = assigned_services(conn, app_id)
    taken = {a["service"] for a in assigned}
    names = conn.execute(select(Service.name, Service.display_name).where(Service.active).order_by(Service.name)).all()
    return {
        "client": client,
        "credential": active_credential(conn, client["id"]),
        "providers": clients.provider_summaries(conn, client["id"]),
        "assigned": assigned,
        "assignable": [{"name": n, "display_name": d} for n, d in names if n not in taken],
    }


def service_clients(conn: Connection, service_id: int) -> list[dict]:
    """Clients a service is assigned to, with the assignment's state."""
    rows = (
        conn.execute(
            select(Client.app_id, Client.company_name, Client.status, Assignment.active, Assignment.created_at)
            .join(Client, Client.id == Assignment.client_id)
            .where(Assignment.service_id == service_id)
            .order_by(Client.app_id)
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


def client_choices(conn: Connection, limit: int = 500) -> list[str]:
    """app_ids for a picker's suggestions (typing any other app_id still works)."""
    return list(conn.execute(select(Client.app_id).order_by(Client.app_id).limit(limit)).scalars())


def service_choices(conn: Connection) -> list[str]:
    return list(conn.execute(select(Service.name).order_by(Service.name)).scalars())
