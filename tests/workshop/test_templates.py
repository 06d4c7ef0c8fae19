"""The project's own templates go through the workshop's gates like a DBA's edit: every generated function of
every template kind lints clean, and the http template passes attached-style cases (sandbox + expectations)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core import db
from demo import seed as demo_seed
from gateway import function_builder
from workshop import cases, catalog, lint, sandbox

HTTP_CASES = [
    {
        "name": "asks the service",
        "payload": {"f004": "250", "f010": "h1"},
        "service_reply": None,
        "expect": {
            "action": "SERVICE",
            "serviceurl": "/pay",
            "servicemethod": "POST",
            "servicepayload.data.f004": "250",
        },
    },
    {
        "name": "2xx is OUTPUT",
        "payload": {"f010": "h2"},
        "service_reply": {"code": 201, "data": {"message": "made"}},
        "expect": {"action": "OUTPUT", "message": "made", "http_status": 200},
    },
    {
        "name": "PENDING reply waits",
        "payload": {"f010": "h3"},
        "service_reply": {"code": 200, "data": {"action": "PENDING", "reference": "r-1"}},
        "expect": {"action": "PENDING", "reference": "r-1", "http_status": 202},
    },
    {
        "name": "timeout is 504",
        "payload": {"f010": "h4"},
        "service_reply": {"code": 504, "data": {}},
        "expect": {"action": "ERROR", "http_status": 504},
    },
    {
        "name": "4xx passed on",
        "payload": {"f010": "h5"},
        "service_reply": {"code": 422, "data": {"message": "no"}},
        "expect": {"action": "ERROR", "status": "422", "message": "no"},
    },
    {
        "name": "5xx is 502",
        "payload": {"f010": "h6"},
        "service_reply": {"code": 500, "data": {}},
        "expect": {"action": "ERROR", "http_status": 502},
    },
]


@pytest.fixture(scope="module")
def demo_functions(app):
    with app.app_context(), db.transaction() as conn:
        demo_seed.ensure_services(conn)
        demo_seed.ensure_demo_client(conn)
        return [f for f in catalog.list_functions(conn, demo_seed.DEMO_APP_ID) if not f["edited"]]


def test_every_template_kind_lints_clean(app, demo_functions):
    kinds = set()
    with app.app_context(), db.transaction() as conn:
        for item in demo_functions:
            ref = catalog.resolve(conn, item["name"])
            kinds.add(
                conn.execute(
                    text("SELECT template_kind FROM gateway.function_registry WHERE id = :r"), {"r": ref.registry_id}
                ).scalar()
            )
            assert lint.check(conn, ref, function_builder.current_source(conn, item["name"])) == [], item["name"]
    assert kinds == {"http", "mpesa_stk", "router", "subscription"}


@pytest.mark.parametrize("case", HTTP_CASES, ids=[c["name"] for c in HTTP_CASES])
def test_http_template_cases(app, demo_functions, case):
    with app.app_context(), sandbox.rolled_back() as conn:
        ref = catalog.resolve(conn, "demo_echo_pay")
        run = sandbox.run_route(conn, ref, {"f000": "echo", "f002": "pay", **case["payload"]}, case["service_reply"])
    ok, message = cases.check_case(case, run)
    assert ok, message
