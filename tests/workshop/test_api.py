"""Items 2 and the admin API: list, read, versions, diff, save (PUT) and rollback, roles and audit."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core import db
from tests.workshop.conftest import live_source, pay

OUTPUT = (
    "CREATE OR REPLACE FUNCTION clientfn.{fn}(unique_id text, data_input json)\n"
    "RETURNS TABLE(results json)\n"
    "LANGUAGE plpgsql\n"
    "SET search_path = pg_catalog, pg_temp\n"
    "AS $fn$\n"
    "BEGIN\n"
    "    RETURN QUERY SELECT json_build_object('status', '200', 'action', 'OUTPUT', 'message', {message});\n"
    "END\n"
    "$fn$"
)


def _put(client, admin, fn, source, reason="change the greeting", **extra):
    return client.put(
        f"/api/v1/admin/functions/{fn}", headers=admin, json={"source": source, "reason": reason, **extra}
    )


def test_list_and_read(client, admin, viewer, echo):
    merchant, service, fn = echo
    items = client.get(f"/api/v1/admin/functions?app_id={merchant.app_id}", headers=viewer).get_json()["items"]
    assert [(i["name"], i["abi"]) for i in items if i["route"] == "pay"] == [
        (fn, "request"),
        (f"response_{fn}", "response"),
        (f"callback_{fn}", "callback"),
    ]
    assert items[0] | {"name": fn} == {
        "name": fn,
        "abi": "request",
        "app_id": merchant.app_id,
        "service": service["name"],
        "route": "pay",
        "version": 1,
        "edited": False,
    }
    one = client.get(f"/api/v1/admin/functions/{fn}", headers=viewer).get_json()
    assert (
        one["name"] == fn
        and one["version"] == 1
        and one["source"].startswith(f"CREATE OR REPLACE FUNCTION clientfn.{fn}")
    )
    assert client.get("/api/v1/admin/functions/nosuchfn_x_y", headers=viewer).status_code == 404
    assert client.get("/api/v1/admin/functions/Bad;Name", headers=viewer).status_code == 404
    assert client.get("/api/v1/admin/functions").status_code == 401


def test_save_versions_diff_and_audit(app, client, admin, echo):
    merchant, service, fn = echo
    saved = _put(client, admin, fn, OUTPUT.format(fn=fn, message="'v2 from the API'"))
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["version"] == 2 and saved.get_json()["warnings"] == []
    assert pay(client, merchant, service["name"]).get_json()["message"] == "v2 from the API"
    versions = client.get(f"/api/v1/admin/functions/{fn}/versions", headers=admin).get_json()["items"]
    assert [(v["version"], v["origin"], v["reason"]) for v in versions] == [
        (2, "api", "change the greeting"),
        (1, "generated", None),
    ]
    v1 = client.get(f"/api/v1/admin/functions/{fn}/versions/1", headers=admin).get_json()
    assert "'SERVICE'" in v1["source"]
    diff = client.get(f"/api/v1/admin/functions/{fn}/diff?from=1&to=2", headers=admin).get_json()["diff"]
    assert (
        diff.startswith(f"--- {fn} v1\n+++ {fn} v2\n")
        and "+    RETURN QUERY SELECT json_build_object('status', '200'" in diff
    )
    assert client.get(f"/api/v1/admin/functions/{fn}/diff?from=1&to=9", headers=admin).status_code == 404
    assert client.get(f"/api/v1/admin/functions/{fn}/diff?from=x&to=2", headers=admin).status_code == 400
    with app.app_context(), db.transaction() as conn:
        audit = conn.execute(
            text("SELECT action, after->>'version' FROM gateway.audit_log WHERE target = :t ORDER BY id"), {"t": fn}
        ).all()
    assert audit == [("function.save", "2")]


def test_wrong_source_is_refused_with_line_and_old_version_keeps_serving(client, admin, echo):
    merchant, service, fn = echo
    broken = OUTPUT.format(fn=fn, message="'x'").replace("RETURN QUERY", "RETRN QUERY")
    refused = _put(client, admin, fn, broken)
    assert refused.status_code == 400
    body = refused.get_json()
    assert "syntax error" in body["message"] and body["line"] == 7, body
    unknown_type = OUTPUT.format(fn=fn, message="'x'").replace("BEGIN", "DECLARE v nosuchtype;\nBEGIN")
    refused = _put(client, admin, fn, unknown_type)
    assert refused.status_code == 400 and 'type "nosuchtype" does not exist' in refused.get_json()["message"]
    assert refused.get_json()["line"] == 6
    # still the generated version: it asks for the echo service
    answer = pay(client, merchant, service["name"])
    assert answer.status_code == 200 and answer.get_json()["data"]["message"] == "echo pay ok"
    assert client.get(f"/api/v1/admin/functions/{fn}", headers=admin).get_json()["version"] == 1


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda s, fn: s.replace("unique_id text, data_input json", "unique_id text, data_input jsonb"), "ABI"),
        (lambda s, fn: s.replace(f"clientfn.{fn}", f"gateway.{fn}"), "schema clientfn"),
        (lambda s, fn: s.replace(f"clientfn.{fn}", f"clientfn.{fn}x"), "keeps its name"),
        (lambda s, fn: s + ";\nDROP TABLE gateway.clients;", "exactly one statement"),
        (lambda s, fn: "SELECT 1", "CREATE OR REPLACE FUNCTION"),
        (lambda s, fn: "", "source is required"),
    ],
)
def test_signature_schema_and_shape_are_kept(client, admin, echo, mutate, fragment):
    merchant, service, fn = echo
    refused = _put(client, admin, fn, mutate(OUTPUT.format(fn=fn, message="'x'"), fn))
    assert refused.status_code == 400 and fragment in refused.get_json()["message"], refused.get_json()
    assert pay(client, merchant, service["name"]).get_json()["data"]["message"] == "echo pay ok"


def test_a_changed_return_type_is_refused(client, admin, echo):
    _, _, fn = echo
    source = OUTPUT.format(fn=fn, message="'x'").replace("RETURNS TABLE(results json)", "RETURNS SETOF json")
    refused = _put(client, admin, fn, source)
    assert refused.status_code == 400 and "ABI" in refused.get_json()["message"]


def test_rollback_restores_payment_behaviour(client, admin, echo):
    merchant, service, fn = echo
    assert _put(client, admin, fn, OUTPUT.format(fn=fn, message="'answered in SQL'")).status_code == 200
    assert pay(client, merchant, service["name"]).get_json()["message"] == "answered in SQL"
    back = client.post(
        f"/api/v1/admin/functions/{fn}/rollback",
        headers=admin,
        json={"version": 1, "reason": "the SQL answer was wrong"},
    )
    assert back.status_code == 200, back.get_json()
    assert back.get_json()["version"] == 3 and back.get_json()["restored"] == 1
    answer = pay(client, merchant, service["name"])
    assert answer.status_code == 200 and answer.get_json()["data"]["message"] == "echo pay ok"
    versions = client.get(f"/api/v1/admin/functions/{fn}/versions", headers=admin).get_json()["items"]
    assert versions[0]["origin"] == "rollback" and "rollback to v1" in versions[0]["reason"]
    assert (
        live_source(client, admin, fn)
        == client.get(f"/api/v1/admin/functions/{fn}/versions/1", headers=admin).get_json()["source"]
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"version": 99, "reason": "x"}, 404),
        ({"version": "one", "reason": "x"}, 400),
        ({"version": 1}, 400),
        ([1, 2], 400),
    ],
)
def test_rollback_bad_input(client, admin, echo, body, status):
    _, _, fn = echo
    answer = client.post(f"/api/v1/admin/functions/{fn}/rollback", headers=admin, json=body)
    assert answer.status_code == status and answer.get_json()["message"]


def test_roles_viewers_read_admins_write(client, viewer, echo):
    _, _, fn = echo
    assert client.get(f"/api/v1/admin/functions/{fn}/versions", headers=viewer).status_code == 200
    assert _put(client, viewer, fn, OUTPUT.format(fn=fn, message="'x'")).status_code == 403
    assert (
        client.post(
            f"/api/v1/admin/functions/{fn}/rollback", headers=viewer, json={"version": 1, "reason": "x"}
        ).status_code
        == 403
    )
    assert client.post(f"/api/v1/admin/functions/{fn}/tests", headers=viewer, json={}).status_code == 403


def test_bad_bodies_are_json_errors(client, admin, echo):
    _, _, fn = echo
    assert client.put(f"/api/v1/admin/functions/{fn}", headers=admin, data="x").status_code == 415
    missing_reason = client.put(
        f"/api/v1/admin/functions/{fn}", headers=admin, json={"source": OUTPUT.format(fn=fn, message="'x'")}
    )
    assert missing_reason.status_code == 400 and "reason" in missing_reason.get_json()["message"]
    assert (
        client.put(f"/api/v1/admin/functions/{fn}", headers=admin, json={"source": 5, "reason": "r"}).status_code == 400
    )


def test_a_second_statement_hidden_after_an_escaped_quote_is_refused(app, client, admin, echo):
    _, _, fn = echo
    sneaky = OUTPUT.format(fn=fn, message="E'it\\'s'") + "; DROP TABLE gateway.audit_log; SELECT '"
    refused = _put(client, admin, fn, sneaky)
    assert refused.status_code == 400 and "exactly one statement" in refused.get_json()["message"]
    with app.app_context(), db.transaction() as conn:
        assert conn.execute(text("SELECT to_regclass('gateway.audit_log')")).scalar() is not None


def test_a_source_that_loops_forever_is_stopped_by_the_statement_timeout(app, client, admin, echo):
    _, service, fn = echo
    case = {"name": "answers", "payload": {"f010": "loop"}, "expect": {"action": "OUTPUT"}}
    assert client.post(f"/api/v1/admin/functions/{fn}/tests", headers=admin, json=case).status_code == 201
    looping = OUTPUT.format(fn=fn, message="'x'").replace("BEGIN\n", "BEGIN\n    LOOP END LOOP;\n")
    app.config["DB_STATEMENT_TIMEOUT_MS"], saved = 300, app.config["DB_STATEMENT_TIMEOUT_MS"]
    try:
        refused = _put(client, admin, fn, looping)
    finally:
        app.config["DB_STATEMENT_TIMEOUT_MS"] = saved
    assert refused.status_code == 422
    assert "exceeded the statement timeout" in refused.get_json()["findings"][0]["message"]


def test_nul_characters_are_refused_not_500(client, admin, echo):
    _, _, fn = echo
    base = f"/api/v1/admin/functions/{fn}"
    good = OUTPUT.format(fn=fn, message="'x'")
    assert _put(client, admin, fn, good.replace("'x'", "'x\x00'")).status_code == 400
    assert _put(client, admin, fn, good, reason="why\x00").status_code == 400
    payload = {"f010": "n\x00"}
    assert client.post(f"{base}/dry-run", headers=admin, json={"payload": payload}).status_code == 400
    case = {"name": "n\x00", "payload": {"f010": "a"}, "expect": {"action": "SERVICE"}}
    assert client.post(f"{base}/tests", headers=admin, json=case).status_code == 400
    case = {"name": "n", "payload": {"f010": "a"}, "expect": {"action": "S\x00"}}
    assert client.post(f"{base}/tests", headers=admin, json=case).status_code == 400


def test_saving_the_live_text_again_stores_no_version(client, admin, echo):
    _, _, fn = echo
    again = _put(client, admin, fn, live_source(client, admin, fn), reason="no change")
    assert again.status_code == 200 and again.get_json()["unchanged"] is True and again.get_json()["version"] == 1
    assert len(client.get(f"/api/v1/admin/functions/{fn}/versions", headers=admin).get_json()["items"]) == 1
