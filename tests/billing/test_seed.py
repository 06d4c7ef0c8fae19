"""`make run` seeding: the isp and router services, and the demo plans and subscribers, each created once."""

from __future__ import annotations

from admin import services
from core import db
from demo import isp as seed_isp
from demo import seed as demo_seed
from tests.factories import assign, make_client


def test_isp_services_are_registered_once(app):
    with app.app_context(), db.transaction() as conn:
        # Created once; later runs (another test's make run, on other ports) only move the base URL to this run's.
        demo_seed.ensure_services(conn)
        assert demo_seed.ensure_services(conn) == []
        assert seed_isp.ensure_isp_services(conn) == []
        isp, router = services.get_service(conn, "isp"), services.get_service(conn, "router")
    assert (isp["kind"], isp["routes"], isp["base_url"]) == (
        "subscription",
        ["pay", "status"],
        app.config["MPESA_SERVICE_URL"],
    )
    assert (router["kind"], router["routes"], router["base_url"]) == (
        "router",
        ["activate", "suspend", "kick"],
        app.config["ROUTER_SERVICE_URL"],
    )


def test_demo_plans_and_subscribers_are_added_once(app):
    merchant = make_client(app)
    with app.app_context(), db.transaction() as conn:
        seed_isp.ensure_isp_services(conn)
    assign(app, merchant.app_id, "isp")
    with app.app_context(), db.transaction() as conn:
        created = seed_isp.ensure_demo_isp(conn, merchant.app_id)
        assert created == ["plan HOUR5", "plan DAY20", "plan HS2MIN", "subscriber alice", "subscriber bob"]
        assert seed_isp.ensure_demo_isp(conn, merchant.app_id) == []
