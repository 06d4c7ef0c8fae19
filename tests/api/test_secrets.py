"""f007/f008 and API secrets never reach any table or log in clear."""

from __future__ import annotations

import subprocess

from sqlalchemy import text

from core import db
from tests.factories import echo_setup


def test_f007_f008_absent_from_database_dump(app, client, echo_service, database_url, caplog):
    merchant, service = echo_setup(app, echo_service.url)
    f007, f008 = "Enc-Pa55-7c1d9e", "Plain-Pa55-3b8f2a"
    ok = client.post(
        "/api/v1/payment/process",
        headers=merchant.headers(),
        json=merchant.fields(service["name"], "pay", f007=f007, f008=f008),
    )
    bad = client.post(
        "/api/v1/payment/process",
        headers=merchant.headers(),
        json=merchant.fields(service["name"], "pay", f007=f007, f008=f008, f004="-1"),
    )
    down = client.post(
        "/api/v1/payment/process",
        headers=merchant.headers(),
        json=merchant.fields(service["name"], "pay", f007=f007, f008=f008, f001="status:500"),
    )
    assert (ok.status_code, bad.status_code, down.status_code) == (200, 400, 502)
    dump = _dump(database_url)
    assert merchant.app_id in dump  # the dump really holds this test's rows
    for secret in (f007, f008, merchant.api_secret, merchant.webhook_secret):
        assert secret not in dump
        assert secret not in caplog.text
    with app.app_context(), db.transaction() as conn:
        stored = conn.execute(
            text(
                "SELECT request FROM gateway.transactions t JOIN gateway.clients c "
                "ON c.id = t.client_id WHERE c.app_id = :a LIMIT 1"
            ),
            {"a": merchant.app_id},
        ).scalar()
    assert stored["f007"] == "****" and stored["f008"] == "****"


def _dump(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    pg_dump = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    out = subprocess.run(
        [
            f"{pg_dump}/pg_dump",
            "-h",
            parts.hostname,
            "-p",
            str(parts.port),
            "-U",
            parts.username or "postgres",
            "--data-only",
            parts.path.lstrip("/"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout
