"""Shared fixtures: a real PostgreSQL (testing.postgresql), the app, a live gateway, the echo microservice."""

from __future__ import annotations

import base64
import os
import socket
import uuid
from pathlib import Path

import pytest
import testing.postgresql

from app import create_app
from core import db_roles
from core import schema as schema_setup
from microservices.echo.app import create_app as create_echo_app
from tests.reaper import pytest_sessionfinish, pytest_sessionstart  # noqa: F401  (hooks)
from tests.servers import LiveServer

ROOT = Path(__file__).resolve().parents[1]
PGBIN = ROOT / "scripts" / "pgbin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def database_url():
    """A migrated database: TEST_DATABASE_URL if set, else a throwaway cluster (initdb as an unprivileged user)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        schema_setup.upgrade(url)
        yield url
        return
    factory = testing.postgresql.PostgresqlFactory(
        cache_initialized_db=False,
        initdb=str(PGBIN / "initdb"),
        postgres=str(PGBIN / "postgres"),
        # track_functions = pl feeds pg_stat_user_functions (the function statistics of the DBA's workshop).
        postgres_args="-h 127.0.0.1 -F -c logging_collector=off -c max_connections=200 -c fsync=off "
        "-c track_functions=pl",
    )
    pg = factory()
    try:
        schema_setup.upgrade(pg.url())
        yield pg.url()
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def app_database_url(database_url):
    """The gateway's own login role (a member of mospay_gateway, not the owner): what the app connects as."""
    return db_roles.ensure_login_role(database_url, "mospay_app")


@pytest.fixture(scope="session")
def gateway_port() -> int:
    return _free_port()


@pytest.fixture(scope="session")
def app(database_url, app_database_url, gateway_port):
    application = create_app(
        {
            "DATABASE_URL": app_database_url,
            "MIGRATION_DATABASE_URL": database_url,
            "TESTING": True,
            "ENV": "testing",
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": True,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{gateway_port}",
            "DB_POOL_SIZE": 30,
        }
    )
    yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture(scope="session")
def live_gateway(app, gateway_port):
    """The gateway served for real, so simulators and microservices can call back over HTTP."""
    server = LiveServer(app, gateway_port).start()
    yield server
    server.stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield


@pytest.fixture(scope="session")
def echo_service(app):
    server = LiveServer(create_echo_app({"INTERNAL_TOKEN": app.config["INTERNAL_TOKEN"]})).start()
    yield server
    server.stop()


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def unique_name(prefix: str = "c") -> str:
    """A short lowercase name unique to this test run (app ids and service names are ≤ 16 chars)."""
    return prefix + uuid.uuid4().hex[:10]
