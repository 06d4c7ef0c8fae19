"""`make run` demo data: the built-in services and a demo merchant wired to the simulators."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlalchemy.engine import Connection

from admin import clients, services
from core.actor import system_actor
from demo import isp as seed_isp
from models import Client, Service
from simulators.daraja import SANDBOX_PASSKEY, SANDBOX_SHORTCODE

SYSTEM = system_actor("seed")
DEMO_APP_ID = "demo"


def builtin_services() -> list[dict]:
    cfg = current_app.config
    return [
        {
            "name": "echo",
            "display_name": "Echo (demo microservice)",
            "kind": "http",
            "base_url": cfg["ECHO_SERVICE_URL"],
            "routes": ["pay", "refund"],
            "timeout_s": 10,
        },
        {
            "name": "mpesa",
            "display_name": "M-Pesa STK push",
            "kind": "mpesa_stk",
            "base_url": cfg["MPESA_SERVICE_URL"],
            "routes": ["stkpush", "query"],
            "timeout_s": 35,
            "fields": [{"field": "f004", "required": False}, {"field": "f005", "required": False}],
        },
    ]


def ensure_services(conn: Connection) -> list[str]:
    """Register the built-in services that do not exist yet. Returns the names created."""
    created = []
    for spec in builtin_services():
        if not conn.execute(select(Service.id).where(Service.name == spec["name"])).first():
            services.create_service(conn, spec, SYSTEM)
            created.append(spec["name"])
    created += seed_isp.ensure_isp_services(conn) or []
    return created


def ensure_demo_client(conn: Connection) -> str:
    """Create the demo merchant once (printing its secrets that one time) and assign every service."""
    cfg = current_app.config
    note = ""
    if not conn.execute(select(Client.id).where(Client.app_id == DEMO_APP_ID)).first():
        made = clients.create_client(
            conn, {"app_id": DEMO_APP_ID, "company_name": "Demo Merchant", "email": "demo@example.com"}, SYSTEM
        )
        note = (
            f"  demo merchant   App-ID demo  api_username {made['api_username']}  api_secret {made['api_secret']}\n"
            f"                  webhook_secret {made['webhook_secret']}  (shown once; rotate in the portal)"
        )
        clients.set_mpesa_credentials(
            conn,
            DEMO_APP_ID,
            {
                "consumer_key": "sim-consumer-key",
                "consumer_secret": "sim-consumer-secret",
                "shortcode": SANDBOX_SHORTCODE,
                "passkey": SANDBOX_PASSKEY,
                "transaction_type": "CustomerPayBillOnline",
                "environment": "custom",
                "base_url": cfg["DARAJA_BASE_URL"],
            },
            SYSTEM,
        )
        clients.set_router_settings(
            conn,
            DEMO_APP_ID,
            {
                "host": "127.0.0.1",
                "port": cfg["ROUTEROS_SIM_PORT"],
                "username": "admin",
                "password": "sim-router-pass",
                "tls": False,
            },
            SYSTEM,
        )
    else:
        note = "  demo merchant   App-ID demo (exists; rotate its credentials in the portal to see a new secret)"
    for name in conn.execute(select(Service.name).order_by(Service.id)).scalars().all():
        services.assign(conn, DEMO_APP_ID, name, SYSTEM)
    from demo import isp as seed_isp

    seed_isp.ensure_demo_isp(conn, DEMO_APP_ID)
    return note
