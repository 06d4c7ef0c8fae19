"""M-Pesa adapter fixtures: a real Daraja simulator on loopback, adapter apps, a PostgreSQL for the token cache."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest
import requests
from flask import Flask

from config import DEV_ENCRYPTION_KEY
from microservices.mpesa.app import create_app
from simulators.daraja import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, RunningSimulator

ROOT = Path(__file__).resolve().parents[2]
PGBIN = ROOT / "scripts" / "pgbin"
INTERNAL_TOKEN = "test-internal-token"
CONSUMER_KEY, CONSUMER_SECRET = "sim-consumer-key", "sim-consumer-secret"
NO_STK_KEY, NO_STK_SECRET = "no-stk-key", "no-stk-secret"  # an app without the M-Pesa Express product
OTHER_SHORTCODE, OTHER_PASSKEY = "600100", "other-passkey"
CALLBACK_URL = "http://127.0.0.1:9/mpesa/callback"  # nothing listens; the simulator records the failed delivery
PAYER = "254712345678"

SIMULATOR_SETTINGS = {
    "apps": [
        {"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET},
        {"consumer_key": NO_STK_KEY, "consumer_secret": NO_STK_SECRET, "stk_enabled": False},
    ],
    "passkeys": {SANDBOX_SHORTCODE: SANDBOX_PASSKEY, OTHER_SHORTCODE: OTHER_PASSKEY},
    # Wide enough for "still pending" checks right after a push on a loaded machine; tests poll for the outcome.
    "callback_delay_s": 1.0,
    "late_callback_delay_s": 2.5,
    "expire_after_s": 2.5,
    "subscriber_lock": False,  # these tests push to one number many times
    "callback_timeout_s": 1.0,
}

TOKEN_TABLE_DDL = """
CREATE SCHEMA IF NOT EXISTS gateway;
CREATE TABLE IF NOT EXISTS gateway.daraja_tokens (
    cache_key text PRIMARY KEY,
    access_token_enc text NOT NULL,
    expires_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sim_requests(sim: RunningSimulator, path: str | None = None) -> list[dict]:
    """What the simulator received, read through its own inspection endpoint."""
    received = requests.get(f"{sim.base_url}/simulator/requests", timeout=5).json()["requests"]
    return [r for r in received if path is None or r["path"] == path]


@pytest.fixture(scope="session")
def daraja_sim() -> Iterator[RunningSimulator]:
    sim = RunningSimulator(SIMULATOR_SETTINGS)
    yield sim
    sim.stop()


@pytest.fixture
def sim(daraja_sim: RunningSimulator) -> RunningSimulator:
    """The session simulator, reset to a clean state (no tokens, requests or pushes)."""
    requests.post(f"{daraja_sim.base_url}/simulator/reset", timeout=5).raise_for_status()
    return daraja_sim


@pytest.fixture
def start_simulator() -> Iterator[Callable[..., RunningSimulator]]:
    """Start an extra simulator with settings layered on SIMULATOR_SETTINGS (slow answers, numeric expires_in…)."""
    started: list[RunningSimulator] = []

    def start(**overrides: object) -> RunningSimulator:
        started.append(RunningSimulator({**SIMULATOR_SETTINGS, **overrides}))
        return started[-1]

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def credentials(sim: RunningSimulator) -> dict:
    return {
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "shortcode": SANDBOX_SHORTCODE,
        "passkey": SANDBOX_PASSKEY,
        "transaction_type": "CustomerPayBillOnline",
        "base_url": sim.base_url,
    }


@pytest.fixture
def push_body(credentials: dict) -> dict:
    return {
        "credentials": credentials,
        "amount": "10",
        "phone": "0712345678",
        "account_reference": "INV001",
        "description": "Internet",
        "callback_url": CALLBACK_URL,
    }


@pytest.fixture
def make_service() -> Iterator[Callable[..., Flask]]:
    """Build adapter apps (in-memory token cache unless DATABASE_URL is given); closes their clients afterwards."""
    apps: list[Flask] = []

    def make(**settings: object) -> Flask:
        base = {"INTERNAL_TOKEN": INTERNAL_TOKEN, "DATABASE_URL": "", "ENCRYPTION_KEY": DEV_ENCRYPTION_KEY}
        apps.append(create_app({**base, "DARAJA_RETRY_BACKOFF_S": 0.01, **settings}))
        apps[-1].testing = True
        return apps[-1]

    yield make
    for app in apps:
        app.extensions["mpesa_client"].close()


@pytest.fixture
def service(make_service: Callable[..., Flask]) -> Flask:
    return make_service()


@pytest.fixture
def call(service: Flask) -> Callable[..., object]:
    """POST JSON to the adapter with the internal token, through Flask's test client."""
    client = service.test_client()

    def post(path: str, body: object, token: str | None = INTERNAL_TOKEN) -> object:
        headers = {"X-Internal-Token": token} if token is not None else {}
        return client.post(path, json=body, headers=headers)

    return post


@pytest.fixture(scope="session")
def mpesa_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The project's test database when tests/conftest.py offers `database_url`, else a private cluster."""
    factory = server = None
    try:
        url = request.getfixturevalue("database_url")
    except pytest.FixtureLookupError:
        import testing.postgresql

        factory = testing.postgresql.PostgresqlFactory(
            cache_initialized_db=True, initdb=str(PGBIN / "initdb"), postgres=str(PGBIN / "postgres")
        )
        server = factory()
        url = server.url()
    # The migration owns this table; creating it here keeps these tests independent of migration order.
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(TOKEN_TABLE_DDL)
    conn.close()
    yield url
    if server is not None:
        server.stop()
        factory.clear_cache()


@pytest.fixture
def token_db(mpesa_database_url: str) -> Iterator[str]:
    """A database URL whose token cache table starts and ends empty."""

    def truncate() -> None:
        with psycopg2.connect(mpesa_database_url) as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM gateway.daraja_tokens")
        conn.close()

    truncate()
    yield mpesa_database_url
    truncate()
