"""Item 1: every change is a version when it is made, with author, origin, reason and time."""

from __future__ import annotations

from sqlalchemy import text

from core import db
from core import schema as schema_setup
from gateway import function_builder
from tests.workshop.conftest import pay, psql

OUTPUT_V2 = (
    "CREATE OR REPLACE FUNCTION clientfn.{fn}(unique_id text, data_input json) RETURNS TABLE(results json) "
    "LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$ BEGIN RETURN QUERY SELECT "
    "json_build_object('status','200','action','OUTPUT','message','edited in psql'); END $f$"
)


def _versions(app, fn: str) -> list[dict]:
    with app.app_context(), db.transaction() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text(
                    "SELECT version, origin, author, reason FROM gateway.function_versions WHERE fn_name = :f "
                    "ORDER BY version"
                ),
                {"f": fn},
            ).mappings()
        ]


def test_generation_is_recorded_once_with_origin_generated(app, echo):
    _, _, fn = echo
    assert [(v["version"], v["origin"]) for v in _versions(app, fn)] == [(1, "generated")]
    assert [v["origin"] for v in _versions(app, f"response_{fn}")] == ["generated"]


def test_psql_edit_appears_in_history_at_once(app, client, database_url, echo, admin):
    merchant, service, fn = echo
    psql(database_url, OUTPUT_V2.format(fn=fn))
    versions = _versions(app, fn)
    assert [v["origin"] for v in versions] == ["generated", "psql"]
    assert versions[-1]["author"] == "postgres"  # the database role of the psql session
    listed = client.get(f"/api/v1/admin/functions/{fn}/versions", headers=admin).get_json()["items"]
    assert listed[0]["version"] == 2 and listed[0]["origin"] == "psql"  # newest first
    assert pay(client, merchant, service["name"]).get_json()["message"] == "edited in psql"
    # the same text again is no change; ALTER is one
    psql(database_url, OUTPUT_V2.format(fn=fn))
    assert len(_versions(app, fn)) == 2
    psql(database_url, f"ALTER FUNCTION clientfn.{fn}(text, json) SET statement_timeout = '2s'")
    assert [v["origin"] for v in _versions(app, fn)] == ["generated", "psql", "psql"]


def test_psql_reason_is_kept(app, database_url, echo):
    _, _, fn = echo
    psql(
        database_url,
        "BEGIN; SET LOCAL mospay.fn_reason = 'ticket 42: new greeting'; " + OUTPUT_V2.format(fn=fn) + "; COMMIT;",
    )
    assert _versions(app, fn)[-1]["reason"] == "ticket 42: new greeting"


def test_regeneration_keeps_a_psql_edit(app, client, database_url, echo):
    merchant, service, fn = echo
    psql(database_url, OUTPUT_V2.format(fn=fn))
    with app.app_context(), db.transaction() as conn:
        registry_id = conn.execute(
            text("SELECT id FROM gateway.function_registry WHERE request_fn = :f"), {"f": fn}
        ).scalar()
        report = function_builder.generate(conn, registry_id, "tests")
    assert report[fn] == "kept_edit"
    assert [v["origin"] for v in _versions(app, fn)] == ["generated", "psql"]
    assert pay(client, merchant, service["name"]).get_json()["message"] == "edited in psql"


def test_history_trigger_does_not_break_migrations(app, database_url, echo):
    """Re-running every migration and reloading the SQL library (CREATE OR REPLACE of every gateway function)
    with the event trigger in place works and records nothing."""
    _, _, fn = echo
    with app.app_context(), db.transaction() as conn:
        before = conn.execute(text("SELECT count(*) FROM gateway.function_versions")).scalar()
    schema_setup.upgrade(database_url)
    with app.app_context(), db.transaction() as conn:
        assert conn.execute(text("SELECT count(*) FROM gateway.function_versions")).scalar() == before
        assert (
            conn.execute(
                text("SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'record_client_function_ddl'")
            ).scalar()
            == "O"
        )


def test_an_unregistered_clientfn_function_is_ignored(app, database_url):
    psql(
        database_url,
        "CREATE OR REPLACE FUNCTION clientfn.scratch_pad_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'; "
        "DROP FUNCTION clientfn.scratch_pad_fn()",
    )
    assert _versions(app, "scratch_pad_fn") == []
