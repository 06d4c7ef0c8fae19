"""(client, service, route) → assignment and function registry row: round trip R1 of a request.

The only place the processor learns which function to call; names come from registry rows, never from input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

_RESOLVE = text(
    """
    SELECT c.id AS client_id, c.app_id, c.status, c.credential_version,
           cr.secret_hash,
           s.id AS service_id, s.name AS service_name, s.kind, s.base_url, s.timeout_s::float AS timeout_s,
           s.active AS service_active, s.settings,
           sr.id AS route_id,
           a.id AS assignment_id, a.active AS assignment_active,
           fr.id AS registry_id,
           (SELECT coalesce(json_agg(json_build_object('field', f.field, 'required', f.required,
                                                       'pattern', f.pattern, 'max_length', f.max_length)), '[]')
              FROM gateway.service_fields f WHERE f.service_id = s.id) AS fields,
           (SELECT json_object_agg(pc.provider, pc.data_enc)
              FROM gateway.provider_credentials pc WHERE pc.client_id = c.id) AS provider_credentials
      FROM gateway.clients c
      LEFT JOIN gateway.client_credentials cr
             ON cr.client_id = c.id AND cr.active AND cr.api_username = :username
      LEFT JOIN gateway.services s ON s.name = :service
      LEFT JOIN gateway.service_routes sr ON sr.service_id = s.id AND sr.route = :route
      LEFT JOIN gateway.assignments a ON a.client_id = c.id AND a.service_id = s.id
      LEFT JOIN gateway.function_registry fr ON fr.assignment_id = a.id AND fr.route_id = sr.id
     WHERE c.app_id = :app_id
    """
)


@dataclass(frozen=True)
class Resolution:
    """Everything one request needs about its client and route, from one indexed query."""

    client_id: int
    app_id: str
    status: str
    credential_version: int
    secret_hash: str | None
    service_id: int | None
    service_name: str | None
    kind: str | None
    base_url: str | None
    timeout_s: float | None
    service_active: bool | None
    settings: dict[str, Any]
    route_id: int | None
    assignment_id: int | None
    assignment_active: bool | None
    registry_id: int | None
    fields: list[dict]
    provider_credentials: dict[str, str]


def resolve(conn: Connection, app_id: str, username: str | None, service: str, route: str) -> Resolution | None:
    """The client (with the credential row for `username`, if given) and its route; None for an unknown App ID."""
    row = (
        conn.execute(_RESOLVE, {"app_id": app_id, "username": username, "service": service, "route": route})
        .mappings()
        .first()
    )
    if row is None:
        return None
    data = dict(row)
    data["settings"] = data["settings"] or {}
    data["provider_credentials"] = data["provider_credentials"] or {}
    return Resolution(**data)
