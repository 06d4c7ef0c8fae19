"""Row (r) of the benchmark writes what one payment through the API writes, table by table (so the row keeps
measuring the records if the hot path gains or loses one), and fails loudly when it cannot."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from bench import load, seed
from tests.factories import echo_setup

# Every table of the gateway schema (partitioned parents counted through their partitions), and the rate
# counters' hits, which an upsert raises without adding a row.
_TABLES = text(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'gateway' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"
)


def _counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(_TABLES).scalars().all()
            counts = {t: conn.execute(text(f'SELECT count(*) FROM gateway."{t}"')).scalar_one() for t in tables}  # noqa: S608 - names from pg_class
            counts["rate_counters.hits"] = conn.execute(
                text("SELECT coalesce(sum(hits), 0) FROM gateway.rate_counters")
            ).scalar_one()
    finally:
        engine.dispose()
    return counts


def _written(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {t: after[t] - before[t] for t in after if after[t] != before[t]}


@pytest.fixture
def records(app, echo_service, database_url):
    merchant, service = echo_setup(app, echo_service.url)
    m = seed.Merchant(merchant.app_id, merchant.api_username, merchant.api_secret, merchant.id, "", "")
    auth = {**seed.install_records(database_url, m, 100_000), "service": service["name"]}
    return merchant, service, auth


def _run_once(database_url: str, script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "records.sql"
    path.write_text(script)
    return subprocess.run(
        [load.pgbench_path(), "-n", "-c1", "-t1", "-f", str(path), database_url], capture_output=True, text=True
    )


def test_a_records_pair_writes_what_one_payment_writes(app, app_database_url, database_url, records, tmp_path):
    merchant, service, auth = records
    gateway = create_app(
        {
            "DATABASE_URL": app_database_url,
            "TESTING": True,
            "ENV": "testing",
            "RATELIMIT_ENABLED": True,  # the bench's gateway counts every request against the client's limit
            "RATELIMIT_DEFAULT": "100000/minute",
            "PUBLIC_BASE_URL": app.config["PUBLIC_BASE_URL"],
        }
    )
    try:
        before = _counts(database_url)
        answer = gateway.test_client().post(
            "/api/v1/payment/process", json=merchant.fields(service["name"], "pay"), headers=merchant.headers()
        )
        assert answer.status_code == 200, answer.get_json()
        through_api = _written(before, _counts(database_url))
    finally:
        gateway.extensions["db_engine"].dispose()

    body = merchant.fields(service["name"], "pay")
    script = load.records_script(auth, body, {"message": "ok"}, service["base_url"] + "/pay")
    before = _counts(database_url)
    run = _run_once(database_url, script, tmp_path)
    assert run.returncode == 0, run.stderr
    by_records = _written(before, _counts(database_url))

    assert through_api["transactions"] == 1 and through_api["api_logs"] == 1  # the comparison compares something
    assert by_records == through_api


def test_a_pair_that_cannot_be_the_payment_fails_the_row(database_url, records, tmp_path):
    merchant, service, auth = records
    body = merchant.fields(service["name"], "pay")
    wrong_secret = load.records_script({**auth, "secret_hash": "0" * 64}, body, {}, "http://127.0.0.1/pay")
    run = _run_once(database_url, wrong_secret, tmp_path)
    assert run.returncode != 0 and "not an active, assigned client" in run.stderr
    with pytest.raises(RuntimeError, match="pgbench failed"):
        load.run_pgbench(database_url, wrong_secret, connections=1, seconds=1)
