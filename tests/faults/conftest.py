"""Fixtures of the fault suite: its own PostgreSQL (restartable), an app bound to it for set-up and checks,
the echo microservice as a process, and in-process stand-ins for a PENDING provider and a merchant's webhook URL."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import Counter
from pathlib import Path

import pytest
from flask import Flask, jsonify, request
from sqlalchemy import text

from app import create_app
from core import db
from core import schema as schema_setup
from tests.faults import harness
from tests.servers import LiveServer


@pytest.fixture(scope="package")
def pg():
    base = Path(tempfile.mkdtemp(prefix="faults-pg-"))
    base.chmod(0o755)  # the server runs as an unprivileged user (pytest's tmp tree is private to root)
    cluster = harness.Postgres(base)
    try:
        cluster.start()
        schema_setup.upgrade(cluster.url)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="package")
def fapp(pg):
    application = create_app({"DATABASE_URL": pg.url, "TESTING": True, "RATELIMIT_ENABLED": False})
    yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture
def echo_proc():
    proc = harness.echo().start()
    yield proc
    proc.stop()


class PendingProvider:
    """A provider that answers PENDING with a reference of its own and keeps the callback URL it was given,
    so a test can deliver callbacks itself: twice, late, out of order, to either gateway."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.callback_urls: dict[str, str] = {}
        self.idempotency_keys: dict[str, list[str]] = {}
        self.delay_s = 0.0
        self.lock = threading.Lock()
        app = Flask("pending-provider")

        @app.post("/<route>")
        def call(route: str):
            payload = request.get_json(silent=True) or {}
            unique_id = str(payload.get("unique_id"))
            with self.lock:
                self.calls[unique_id] += 1
                self.callback_urls[unique_id] = (payload.get("data") or {}).get("callback_url", "")
                self.idempotency_keys.setdefault(unique_id, []).append(request.headers.get("Idempotency-Key", ""))
            if self.delay_s:
                threading.Event().wait(self.delay_s)
            return jsonify(
                {"action": "PENDING", "message": "accepted; will call back", "reference": f"ref-{unique_id}"}
            )

        self.server = LiveServer(app).start()
        self.url = self.server.url


class Receiver:
    """A merchant's webhook URL: counts deliveries per outbox id and per transaction."""

    def __init__(self) -> None:
        self.by_webhook: Counter[str] = Counter()
        self.by_txn: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.delay_s = 0.0
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            body = request.get_json(silent=True) or {}
            if self.delay_s:
                threading.Event().wait(self.delay_s)
            with self.lock:
                self.by_webhook[request.headers.get("X-Webhook-Id", "")] += 1
                self.by_txn[str(body.get("f010") or body.get("transaction_id"))] += 1
            return {"ok": True}

        self.server = LiveServer(app).start()
        self.url = f"{self.server.url}/hook"


@pytest.fixture(scope="package")
def provider():
    p = PendingProvider()
    yield p
    p.server.stop()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.stop()


def rows(app, sql: str, **params) -> list[dict]:
    with app.app_context(), db.transaction() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]
