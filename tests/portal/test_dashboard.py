"""The dashboard's figures come from a trigger-maintained hourly pre-aggregate: it must always agree with
the transactions themselves, through inserts, state changes and deletes."""

from __future__ import annotations

from sqlalchemy import text

from core import db
from demo import data as demo_data
from reports import dashboard
from reports import health as service_health
from tests.factories import echo_setup

MISMATCH = """
SELECT count(*) FROM (
    SELECT date_trunc('hour', created_at, 'UTC') AS hour, client_id, service, state, count(*) AS n,
           sum(amount) AS amount
      FROM gateway.transactions GROUP BY 1, 2, 3, 4) t
FULL JOIN (SELECT hour, client_id, service, state, sum(txn_count) AS txn_count, sum(amount_sum) AS amount_sum
             FROM gateway.transaction_stats_live GROUP BY 1, 2, 3, 4 HAVING sum(txn_count) <> 0) s
       ON s.hour = t.hour AND s.client_id = t.client_id AND s.service = t.service AND s.state = t.state
WHERE s.txn_count IS DISTINCT FROM t.n OR coalesce(s.amount_sum, 0) <> coalesce(t.amount, 0)
"""


def _mismatches(app) -> int:
    with app.app_context(), db.transaction() as conn:
        return conn.execute(text(MISMATCH)).scalar_one()


def test_stats_follow_inserts_state_changes_and_deletes(app, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    api = app.test_client()
    for amount in ("100", "250.50"):
        body = merchant.fields(service["name"], "pay", f004=amount, f005="0712345678")
        assert api.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 200
    assert _mismatches(app) == 0
    with app.app_context(), db.transaction() as conn:
        conn.execute(
            text("UPDATE gateway.transactions SET state = 'failed' WHERE client_id = :c AND amount = 100"),
            {"c": merchant.id},
        )
        conn.execute(text("UPDATE gateway.transactions SET reason = 'x' WHERE client_id = :c"), {"c": merchant.id})
    assert _mismatches(app) == 0
    with app.app_context(), db.transaction() as conn:
        conn.execute(text("DELETE FROM gateway.transactions WHERE client_id = :c AND amount = 100"), {"c": merchant.id})
    assert _mismatches(app) == 0


def test_demo_data_bulk_insert_is_counted(app):
    with app.app_context(), db.transaction() as conn:
        result = demo_data.generate(conn, 3000, days=30)
        by_state = dict(
            conn.execute(
                text("SELECT state, count(*) FROM gateway.transactions WHERE f010 LIKE :p GROUP BY state"),
                {"p": result["tag"] + "-%"},
            ).all()
        )
        spread = conn.execute(
            text(
                "SELECT max(created_at) - min(created_at) > interval '25 days' "
                "FROM gateway.transactions WHERE f010 LIKE :p"
            ),
            {"p": result["tag"] + "-%"},
        ).scalar()
    assert result["transactions"] == 3000 and result["api_logs"] > 0
    assert set(by_state) >= {"completed", "failed", "timed_out"}
    assert by_state["completed"] > by_state["failed"]
    assert spread
    assert _mismatches(app) == 0


def test_demo_data_command(app):
    result = app.test_cli_runner().invoke(args=["demo-data", "--transactions", "200", "--days", "2"])
    assert result.exit_code == 0, result.output
    assert "demo-data: 200 transactions" in result.output


def test_dashboard_figures(app, super_client, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    api = app.test_client()
    body = merchant.fields(service["name"], "pay", f004="1234", f005="0712345678")
    api.post("/api/v1/payment/process", json=body, headers=merchant.headers())
    with app.app_context(), db.transaction() as conn:
        data = dashboard.overview(conn)
        direct = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE created_at >= date_trunc('day', now())), "
                "count(*) FILTER (WHERE state = 'completed' "
                "AND created_at >= date_trunc('day', now()) - interval '6 days')"
                " FROM gateway.transactions"
            )
        ).one()
    assert data["totals"]["today"]["count"] == direct[0]
    assert data["totals"]["week"]["completed"] == direct[1]
    assert len(data["hours"]) == 24
    assert any(r["app_id"] == merchant.app_id for r in data["revenue"]) or len(data["revenue"]) == 10
    page = super_client.get("/portal/").get_data(as_text=True)
    assert 'id="hourlyChart"' in page and 'id="chart-data"' in page
    assert f"{direct[0]:,}" in page


def test_health_is_up_or_down_never_an_error(app, super_client, echo_service):
    checks = service_health.check_all({"echo": echo_service.url, "nothing": "http://127.0.0.1:9"})
    assert checks[0]["up"] is True and checks[1]["up"] is False
    assert "refused" in checks[1]["detail"]
    body = super_client.get("/portal/health").get_json()
    assert {s["name"] for s in body["services"]} == {"M-Pesa service", "Router service"}
    assert all(isinstance(s["up"], bool) for s in body["services"])
