"""Limits hold across gunicorn workers with make run's defaults (counters in PostgreSQL, no Redis), and a
client over its limit still has its provider callbacks settled."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from core import db
from tests.conftest import basic, unique_name
from tests.factories import echo_setup

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn_gateway(app_database_url):
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    env = {
        **os.environ,
        "DATABASE_URL": app_database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "2",
        "RATELIMIT_DEFAULT": "1000/minute",
        "RATELIMIT_ANONYMOUS": "4/minute",
        "RATELIMIT_STORAGE_URI": "",
    }
    env.pop("RATELIMIT_ENABLED", None)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "--access-logformat",
            "pid=%(p)s %(s)s",
            "app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("gunicorn did not start: " + Path(log.name).read_text()[-2000:])
    yield url, Path(log.name)
    proc.terminate()
    proc.wait(timeout=30)
    os.unlink(log.name)


def _pids(log: Path) -> set[str]:
    return set(re.findall(r"pid=<(\d+)>", log.read_text()))


def test_limits_are_shared_by_two_workers_and_spare_callbacks(app, gunicorn_gateway, echo_service):
    url, log = gunicorn_gateway
    merchant, service = echo_setup(app, echo_service.url)
    with app.app_context(), db.transaction() as conn:
        conn.exec_driver_sql("UPDATE gateway.clients SET rate_limit = '6/minute' WHERE id = %s", (merchant.id,))

    def pay(**extra):
        # A new connection each time (no session): the kernel hands them to both workers.
        return requests.post(
            f"{url}/api/v1/payment/process",
            json=merchant.fields(service["name"], "pay", f004="10", **extra),
            headers=merchant.headers(),
            timeout=10,
        )

    codes = [pay().status_code for _ in range(5)]
    pending = pay(f001="pending")  # the 6th and last allowed: the echo service calls back 0.2 s later
    codes += [pending.status_code] + [pay().status_code for _ in range(6)]
    assert codes == [200] * 5 + [202] + [429] * 6, codes
    assert len(_pids(log)) == 2, "both workers should have answered"

    # The callback arrived while the client was over its limit, and settled the payment.
    deadline = time.monotonic() + 10
    state = None
    while time.monotonic() < deadline and state != "completed":
        with app.app_context(), db.transaction() as conn:
            state = conn.exec_driver_sql(
                "SELECT state FROM gateway.transactions WHERE public_id::text = %s",
                (pending.json()["transaction_id"],),
            ).scalar_one()
        time.sleep(0.1)
    assert state == "completed"

    # Failed authentications, one random App-ID each, share one per-address budget across the workers.
    failed = [
        requests.post(
            f"{url}/api/v1/payment/status",
            json={},
            headers={"Authorization": basic("x", "y"), "App-ID": unique_name("r")},
            timeout=10,
        )
        for _ in range(7)
    ]
    assert [r.status_code for r in failed] == [401] * 4 + [429] * 3
    assert all("Retry-After" in r.headers for r in failed[4:])
