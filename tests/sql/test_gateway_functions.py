"""The PL/pgSQL engine: faulty client functions, timeouts, chain depth, DBA edits, catalogue rules."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core import db
from gateway import function_builder
from tests.factories import ACTOR, echo_setup


def _replace(app, fn: str, body_sql: str, args: str = "unique_id text, data_input json") -> None:
    with app.app_context(), db.transaction() as conn:
        conn.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION clientfn.{fn}({args}) RETURNS TABLE(results json) "
            f"LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$ BEGIN {body_sql} END $f$"
        )


def _txn(app, public_id):
    with app.app_context(), db.transaction() as conn:
        return dict(
            conn.execute(text("SELECT * FROM gateway.transactions WHERE public_id = :p"), {"p": public_id})
            .mappings()
            .one()
        )


@pytest.fixture
def echo(app, echo_service):
    return echo_setup(app, echo_service.url)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("RAISE EXCEPTION 'boom from DBA';", "raised: boom from DBA"),
        ("RETURN QUERY SELECT '[1,2]'::json;", "results must be a JSON object"),
        ("RETURN QUERY SELECT json_build_object('status','200','action','JUMP');", "results.action is JUMP"),
        ("RETURN QUERY SELECT json_build_object('action','OUTPUT');", "results.status is missing"),
        ("RETURN QUERY SELECT json_build_object('status','200','action','SERVICE');", "serviceurl is required"),
        ("RETURN;", "returned no result row"),
    ],
)
def test_faulty_request_function_is_502_naming_it(app, client, echo, body, fragment):
    merchant, service = echo
    fn = f"{merchant.app_id}_{service['name']}_pay"
    _replace(app, fn, body)
    resp = client.post(
        "/api/v1/payment/process", json=merchant.fields(service["name"], "pay"), headers=merchant.headers()
    )
    assert resp.status_code == 502
    data = resp.get_json()
    assert f"clientfn.{fn}" in data["message"] and fragment in data["message"]
    txn = _txn(app, data["transaction_id"])
    assert txn["state"] == "failed" and fragment in txn["reason"]


def test_runaway_function_hits_statement_timeout(app, client, echo):
    merchant, service = echo
    fn = f"{merchant.app_id}_{service['name']}_pay"
    _replace(app, fn, "PERFORM pg_sleep(5); RETURN QUERY SELECT json_build_object('status','200','action','OUTPUT');")
    app.config["DB_STATEMENT_TIMEOUT_MS"] = 300
    try:
        resp = client.post(
            "/api/v1/payment/process", json=merchant.fields(service["name"], "pay"), headers=merchant.headers()
        )
    finally:
        app.config["DB_STATEMENT_TIMEOUT_MS"] = 5000
    assert resp.status_code == 502
    assert "exceeded the statement timeout" in resp.get_json()["message"]
    assert _txn(app, resp.get_json()["transaction_id"])["state"] == "failed"


def test_service_chain_depth_is_bounded(app, client, echo):
    merchant, service = echo
    fn = f"response_{merchant.app_id}_{service['name']}_pay"
    _replace(
        app,
        fn,
        "RETURN QUERY SELECT json_build_object('status','200','action','SERVICE','serviceurl','/pay',"
        "'servicepayload', json_build_object('unique_id', unique_id));",
        args="unique_id text, data_input json, code integer, data_output json",
    )
    resp = client.post(
        "/api/v1/payment/process", json=merchant.fields(service["name"], "pay"), headers=merchant.headers()
    )
    assert resp.status_code == 502
    assert "chain deeper than" in resp.get_json()["message"]
    with app.app_context(), db.transaction() as conn:
        calls = conn.execute(
            text(
                "SELECT count(*) FROM gateway.call_attempts a JOIN gateway.transactions t "
                "ON t.id = a.transaction_id WHERE t.public_id = :p"
            ),
            {"p": resp.get_json()["transaction_id"]},
        ).scalar()
    assert calls == app.config["MAX_CHAIN_DEPTH"]


def test_output_without_service_call(app, client, echo):
    merchant, service = echo
    _replace(
        app,
        f"{merchant.app_id}_{service['name']}_pay",
        "RETURN QUERY SELECT json_build_object('status','200','action','OUTPUT','message','answered in SQL');",
    )
    resp = client.post(
        "/api/v1/payment/process", json=merchant.fields(service["name"], "pay"), headers=merchant.headers()
    )
    assert resp.status_code == 200 and resp.get_json()["message"] == "answered in SQL"


def test_dba_edit_is_used_and_kept_on_regeneration(app, client, echo):
    merchant, service = echo
    fn = f"{merchant.app_id}_{service['name']}_pay"
    _replace(app, fn, "RETURN QUERY SELECT json_build_object('status','200','action','OUTPUT','message','DBA v2');")
    body = merchant.fields(service["name"], "pay")
    assert (
        client.post("/api/v1/payment/process", json=body, headers=merchant.headers()).get_json()["message"] == "DBA v2"
    )
    with app.app_context(), db.transaction() as conn:
        registry_id = conn.execute(
            text("SELECT id FROM gateway.function_registry WHERE request_fn = :f"), {"f": fn}
        ).scalar()
        report = function_builder.generate(conn, registry_id, "tests")
        state = conn.execute(
            text("SELECT state FROM gateway.function_registry WHERE id = :i"), {"i": registry_id}
        ).scalar()
        origins = (
            conn.execute(
                text("SELECT origin FROM gateway.function_versions WHERE fn_name = :f ORDER BY version"), {"f": fn}
            )
            .scalars()
            .all()
        )
    assert report[fn] == "kept_edit"
    assert state == "edited"
    assert origins == ["generated", "psql"]  # recorded when the edit was made, not at regeneration
    again = client.post(
        "/api/v1/payment/process", json=merchant.fields(service["name"], "pay"), headers=merchant.headers()
    )
    assert again.get_json()["message"] == "DBA v2"
    # forcing regeneration restores the template, keeping the edit as a version
    with app.app_context(), db.transaction() as conn:
        forced = function_builder.generate(conn, registry_id, "tests", force=True)
    assert forced[fn] == "updated"


def test_regeneration_without_edit_is_unchanged(app, echo):
    merchant, service = echo
    from admin.services import assign

    with app.app_context(), db.transaction() as conn:
        result = assign(conn, merchant.app_id, service["name"], ACTOR)
    reports = [f["generation"] for f in result["functions"]]
    assert all(v == "unchanged" for r in reports for v in r.values())


def test_catalogue_rules_for_generated_functions(app, echo):
    merchant, _ = echo
    with app.app_context(), db.transaction() as conn:
        rows = (
            conn.execute(
                text(
                    "SELECT p.proname, n.nspname, p.proconfig, "
                    "has_function_privilege('public', p.oid, 'EXECUTE') AS pub FROM pg_proc p "
                    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname LIKE :pat"
                ),
                {"pat": f"%{merchant.app_id}%"},
            )
            .mappings()
            .all()
        )
    assert len(rows) == 6  # request, response, callback for two routes
    for row in rows:
        assert row["nspname"] == "clientfn"
        assert any(c.startswith("search_path=") for c in row["proconfig"])
        assert row["pub"] is False


def test_gateway_functions_pin_search_path(app):
    with app.app_context(), db.transaction() as conn:
        unpinned = (
            conn.execute(
                text(
                    "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = 'gateway' AND (p.proconfig IS NULL OR NOT EXISTS "
                    "(SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'))"
                )
            )
            .scalars()
            .all()
        )
    assert unpinned == []


def test_result_problem_table(app):
    cases = {
        '{"status":"200","action":"OUTPUT"}': None,
        '{"status":200,"action":"PENDING"}': None,
        '{"status":"200","action":"SERVICE","serviceurl":"/x"}': None,
        '"x"': "results must be a JSON object",
        '{"action":"OUTPUT"}': 'results.status is missing (a string such as "200")',
    }
    with app.app_context(), db.transaction() as conn:
        for raw, expected in cases.items():
            got = conn.execute(text("SELECT gateway.result_problem(CAST(:r AS jsonb))"), {"r": raw}).scalar()
            assert got == expected, raw
