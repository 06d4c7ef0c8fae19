"""Workshop fixtures: an echo route, admin and viewer tokens, a real psql session, and the row counts of
every table (to prove that dry-runs and replays write nothing)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import text

from core import db
from tests.conftest import basic
from tests.factories import echo_setup, make_admin

PSQL = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"


def _token(client, app, role: str) -> dict:
    username, password = make_admin(app, role)
    token = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)})
    return {"Authorization": f"Bearer {token.get_json()['token']}"}


@pytest.fixture
def admin(app, client):
    return _token(client, app, "admin")


@pytest.fixture
def viewer(app, client):
    return _token(client, app, "viewer")


@pytest.fixture
def echo(app, echo_service):
    """(merchant, service, request function name) of a fresh http route `pay` served by the echo microservice."""
    merchant, service = echo_setup(app, echo_service.url)
    return merchant, service, f"{merchant.app_id}_{service['name']}_pay"


def psql(database_url: str, command: str) -> str:
    """Run SQL through the real psql client, as a DBA would."""
    done = subprocess.run(
        [PSQL, database_url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-c", command],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def row_counts(app) -> dict[str, int]:
    """Exact row count of every table of the database, read as its owner (the app's role may not read them all)."""
    owner = db.make_engine(app.config["MIGRATION_DATABASE_URL"], pool_size=1)
    try:
        with app.app_context(), db.transaction(owner) as conn:
            tables = conn.execute(
                text(
                    # Partitioned tables count as one (their months, in gateway_parts, are not listed).
                    "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
                    "AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                    "AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1"
                )
            ).scalars()
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}  # noqa: S608 - names from pg_catalog
    finally:
        owner.dispose()


def assert_only_request_logs(before: dict[str, int], after: dict[str, int], requests_made: int) -> None:
    """Every table kept its row count, except the API log, which holds one row per admin request made (the
    gateway logs every /api/ request; the dry-run or replay itself wrote nothing)."""
    assert after["gateway.api_logs"] == before["gateway.api_logs"] + requests_made
    assert {k: v for k, v in after.items() if k != "gateway.api_logs"} == {
        k: v for k, v in before.items() if k != "gateway.api_logs"
    }


def pay(client, merchant, service: str, **fields: str):
    """POST /api/v1/payment/process for the route `pay`."""
    return client.post(
        "/api/v1/payment/process", json=merchant.fields(service, "pay", **fields), headers=merchant.headers()
    )


def live_source(client, admin, fn: str) -> str:
    answer = client.get(f"/api/v1/admin/functions/{fn}", headers=admin)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["source"]
