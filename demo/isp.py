"""`make run` ISP demo: the `isp` (subscription) and `router` services, and demo plans and subscribers."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlalchemy.engine import Connection

from admin import services
from billing import catalogue
from core.actor import system_actor
from models import Service

SYSTEM = system_actor("seed")
USERNAME_PATTERN = r"[A-Za-z0-9._@-]{1,64}"

DEMO_PLANS = (
    {
        "code": "HOUR5",
        "name": "1 hour, 5 Mbps",
        "price": "5",
        "duration": "1 hour",
        "profile": "10M",
        "service_type": "pppoe",
    },
    {
        "code": "DAY20",
        "name": "1 day, 20 Mbps",
        "price": "50",
        "duration": "1 day",
        "profile": "20M",
        "service_type": "pppoe",
    },
    {
        "code": "HS2MIN",
        "name": "2-minute hotspot trial",
        "price": "1",
        "duration": "2 minutes",
        "profile": "10M",
        "service_type": "hotspot",
    },
)
DEMO_SUBSCRIBERS = (
    {"username": "alice", "password": "alice-pppoe", "phone": "254708374149", "service_type": "pppoe"},
    {"username": "bob", "password": "bob-hotspot", "phone": "254708374149", "service_type": "hotspot"},
)


def isp_services() -> list[dict]:
    """The two services an ISP client needs: plan payments (via the M-Pesa adapter) and router provisioning."""
    cfg = current_app.config
    return [
        {
            "name": "isp",
            "display_name": "ISP plans (M-Pesa + MikroTik)",
            "kind": "subscription",
            "base_url": cfg["MPESA_SERVICE_URL"],
            "routes": ["pay", "status"],
            "timeout_s": 35,
            "fields": [{"field": "f006", "required": True, "pattern": USERNAME_PATTERN}],
        },
        {
            "name": "router",
            "display_name": "MikroTik router (RouterOS API)",
            "kind": "router",
            "base_url": cfg["ROUTER_SERVICE_URL"],
            "routes": ["activate", "suspend", "kick"],
            "timeout_s": 15,
            "fields": [{"field": "f006", "required": True}],
        },
    ]


def ensure_isp_services(conn: Connection) -> list[str]:
    """Register `isp` and `router` when they do not exist yet. Returns the names created."""
    created = []
    for spec in isp_services():
        if not conn.execute(select(Service.id).where(Service.name == spec["name"])).first():
            services.create_service(conn, spec, SYSTEM)
            created.append(spec["name"])
    return created


def ensure_demo_isp(conn: Connection, app_id: str) -> list[str]:
    """Give `app_id` the demo plans and subscribers it lacks (call after assigning isp and router to it).
    Returns what was created, e.g. ["plan HOUR5", "subscriber alice"]."""
    created = []
    plans = {p["code"] for p in catalogue.list_plans(conn, app_id)}
    for plan in DEMO_PLANS:
        if plan["code"] not in plans:
            catalogue.create_plan(conn, app_id, plan, SYSTEM)
            created.append(f"plan {plan['code']}")
    subscribers = {s["username"] for s in catalogue.list_subscribers(conn, app_id)}
    for subscriber in DEMO_SUBSCRIBERS:
        if subscriber["username"] not in subscribers:
            catalogue.create_subscriber(conn, app_id, subscriber, SYSTEM)
            created.append(f"subscriber {subscriber['username']}")
    return created
