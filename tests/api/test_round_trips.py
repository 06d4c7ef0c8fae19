"""The request's database budget (DESIGN §2): resolve (R1), begin (R2), finish (R3), counted as statements
on the real engine — not timed. A SERVICE request runs exactly three pipeline statements plus one
SET LOCAL statement_timeout per committing step; an answer straight from SQL skips R3."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.factories import echo_setup


@pytest.fixture
def statements(app):
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split())[:80])

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_service_request_budget(app, client, echo_service, statements):
    merchant, service = echo_setup(app, echo_service.url)
    body = merchant.fields(service["name"], "pay", f004="10")
    statements.clear()
    assert client.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 200
    pipeline = [s for s in statements if "set_config('statement_timeout'" not in s]
    assert len(pipeline) == 3, statements
    assert pipeline[0].startswith("SELECT c.id AS client_id")  # R1: the registry resolve
    assert pipeline[1].startswith("SELECT gateway.begin_payment(")
    assert pipeline[2].startswith("SELECT gateway.finish_payment(")
    assert len(statements) == 5


def test_answer_from_sql_needs_no_third_statement(app, client, echo_service, statements):
    merchant, service = echo_setup(app, echo_service.url)
    fn = f"{merchant.app_id}_{service['name']}_pay"
    from core import db

    with app.app_context(), db.transaction() as conn:
        conn.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION clientfn.{fn}(unique_id text, data_input json) RETURNS TABLE(results json) "
            "LANGUAGE sql SET search_path = pg_catalog AS $$ SELECT json_build_object('status','200',"
            "'action','OUTPUT','message','from SQL') $$"
        )
    statements.clear()
    body = merchant.fields(service["name"], "pay")
    assert client.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 200
    assert len([s for s in statements if "set_config('statement_timeout'" not in s]) == 2, statements
