"""A client's generated PostgreSQL functions, read-only: what each route calls, its current source
(pg_get_functiondef) and its stored versions; each function links to its page in the workshop editor
(routes/portal/function_editor.py)."""

from __future__ import annotations

from flask import render_template

from admin import clients, services
from core import db
from gateway import function_builder
from routes.portal import access

bp = access.portal_blueprint("portal_functions", __name__, "/portal/clients")


@bp.get("/<app_id>/functions")
@access.requires("read")
def list_functions(app_id: str) -> str:
    """Every registry row of the client with the source of its request, response and callback functions."""
    with db.transaction() as conn:
        client = clients.get_client(conn, app_id)
        rows = services.client_functions(conn, app_id)
        for row in rows:
            row["sources"] = []
            for abi in ("request_fn", "response_fn", "callback_fn"):
                name = row.get(abi)
                if name:
                    row["sources"].append(
                        {
                            "abi": abi.removesuffix("_fn"),
                            "name": f"{row['fn_schema']}.{name}",
                            "fn": name,
                            "source": function_builder.current_source(conn, name),
                        }
                    )
            row["versions"] = function_builder.versions(conn, row["id"])
    return render_template("portal/functions/list.html", client=client, rows=rows)
