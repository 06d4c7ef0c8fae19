"""Item 3: the guard rails on save, with and without plpgsql_check."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core import db
from tests.workshop.conftest import live_source, pay, psql
from workshop import catalog, lint

SAFE = (
    "CREATE OR REPLACE FUNCTION clientfn.{fn}(unique_id text, data_input json)\n"
    "RETURNS TABLE(results json)\n"
    "LANGUAGE plpgsql\n"
    "{options}\n"
    "AS $fn$\n"
    "DECLARE\n"
    "    v text;\n"
    "BEGIN\n"
    "    {statement}\n"
    "    RETURN QUERY SELECT json_build_object('status', '200', 'action', 'OUTPUT', 'message', 'linted');\n"
    "END\n"
    "$fn$"
)
PINNED = "SET search_path = pg_catalog, pg_temp"


def _source(fn: str, options: str = PINNED, statement: str = "v := 'ok';") -> str:
    return SAFE.format(fn=fn, options=options, statement=statement)


def _put(client, admin, fn, source, **extra):
    return client.put(
        f"/api/v1/admin/functions/{fn}", headers=admin, json={"source": source, "reason": "lint test", **extra}
    )


def _has_plpgsql_check(app) -> bool:
    with app.app_context(), db.transaction() as conn:
        return bool(conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'plpgsql_check'")).scalar())


@pytest.mark.parametrize(
    ("options", "statement", "rule", "line"),
    [
        (PINNED + "\nSECURITY DEFINER", "v := 'ok';", "security_definer", 5),
        ("", "v := 'ok';", "search_path", 1),
        ("SET search_path = gateway, pg_catalog", "v := 'ok';", "search_path", 4),
        (PINNED, "EXECUTE 'SELECT ' || (data_input->>'f004') INTO v;", "dynamic_sql", 9),
        (PINNED, "SELECT app_id INTO v FROM gateway.clients LIMIT 1;", "foreign_table", 9),
    ],
)
def test_unsafe_source_is_refused_then_accepted_with_a_reason(client, admin, echo, options, statement, rule, line):
    merchant, service, fn = echo
    source = _source(fn, options, statement)
    refused = _put(client, admin, fn, source)
    assert refused.status_code == 422, refused.get_json()
    findings = refused.get_json()["findings"]
    assert {"rule": rule, "line": line} in [{"rule": f["rule"], "line": f["line"]} for f in findings], findings
    assert pay(client, merchant, service["name"]).get_json()["data"]["message"] == "echo pay ok"  # old one serves
    accepted = _put(client, admin, fn, source, override_reason="reviewed with the security team")
    assert accepted.status_code == 200
    assert rule in [w["rule"] for w in accepted.get_json()["warnings"]]
    assert "override: reviewed with the security team" in accepted.get_json()["reason"]


def test_another_clients_function_is_refused(client, admin, echo, app, echo_service):
    from tests.factories import echo_setup

    _, _, fn = echo
    other, other_service = echo_setup(app, echo_service.url)
    other_fn = f"{other.app_id}_{other_service['name']}_pay"
    statement = f"SELECT r.results::text INTO v FROM clientfn.{other_fn}(unique_id, data_input) r;"
    refused = _put(client, admin, fn, _source(fn, statement=statement))
    assert refused.status_code == 422
    assert [f["rule"] for f in refused.get_json()["findings"]] == ["foreign_function"], refused.get_json()


def test_execute_granted_to_public_is_found(app, database_url, echo):
    _, _, fn = echo
    psql(database_url, f"GRANT EXECUTE ON FUNCTION clientfn.{fn}(text, json) TO PUBLIC")
    with app.app_context(), db.transaction() as conn:
        ref = catalog.resolve(conn, fn)
        rules = [f["rule"] for f in lint.check(conn, ref, live_source_of(conn, fn), use_plpgsql_check=False)]
    assert rules == ["public_execute"]


def live_source_of(conn, fn):
    from gateway import function_builder

    return function_builder.current_source(conn, fn)


def test_generated_templates_pass_their_own_lint(app, client, admin, echo):
    """The project's own templates go through the same gate as a DBA's edit."""
    merchant, _, _ = echo
    items = client.get(f"/api/v1/admin/functions?app_id={merchant.app_id}", headers=admin).get_json()["items"]
    with app.app_context(), db.transaction() as conn:
        for item in items:
            ref = catalog.resolve(conn, item["name"])
            assert lint.check(conn, ref, live_source(client, admin, item["name"])) == [], item["name"]


def test_plpgsql_check_finds_an_unknown_column(app, client, admin, echo):
    if not _has_plpgsql_check(app):
        pytest.skip("plpgsql_check is not installed (scripts/install_plpgsql_check.sh)")
    _, _, fn = echo
    statement = "SELECT nosuchcolumn INTO v FROM pg_catalog.pg_class LIMIT 1;"
    refused = _put(client, admin, fn, _source(fn, statement=statement))
    assert refused.status_code == 422
    findings = refused.get_json()["findings"]
    assert findings[0]["rule"] == "plpgsql_check" and "nosuchcolumn" in findings[0]["message"]
    assert findings[0]["line"] == 9
    with app.app_context(), db.transaction() as conn:  # created in its own schema, not in the gateway's
        assert (
            conn.execute(
                text(
                    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                    "WHERE e.extname = 'plpgsql_check'"
                )
            ).scalar()
            == "plpgsql_check"
        )


def test_without_plpgsql_check_our_own_checks_still_run(app, client, admin, echo):
    _, _, fn = echo
    app.config["PLPGSQL_CHECK"] = False
    try:
        statement = "SELECT nosuchcolumn INTO v FROM pg_catalog.pg_class LIMIT 1;"
        assert _put(client, admin, fn, _source(fn, statement=statement)).status_code == 200  # found only at run time
        refused = _put(client, admin, fn, _source(fn, PINNED + "\nSECURITY DEFINER"))
        assert refused.status_code == 422
        assert [f["rule"] for f in refused.get_json()["findings"]] == ["security_definer"]
    finally:
        app.config["PLPGSQL_CHECK"] = True
