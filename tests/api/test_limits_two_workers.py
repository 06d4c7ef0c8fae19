"""Limits hold across processes with make run's defaults (counters in PostgreSQL, no Redis), and a client over
its limit still has its provider callbacks settled. Two gunicorn instances (one worker each) on one database take
the requests in turn, so the counters are proven shared between processes whichever way a kernel would have
spread connections over one instance's workers."""

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


def _start(app_database_url: str) -> tuple[subprocess.Popen, str, Path]:
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    env = {
        **os.environ,
        "DATABASE_URL": app_database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        "RATELIMIT_DEFAULT": "1000/minute",
        "RATELIMIT_ANONYMOUS": "4/minute",
        "RATELIMIT_STORAGE_URI": "",
    }
    env.pop("RATELIMIT_ENABLED", None)
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py"]
    command += ["--access-logformat", "pid=%(p)s %(s)s", "app:create_app()"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}", Path(log.name)


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("gunicorn did not start: " + log.read_text()[-2000:])


@pytest.fixture
def gunicorn_gateways(app_database_url):
    started = [_start(app_database_url) for _ in range(2)]
    try:
        for proc, url, log in started:
            _wait_healthy(proc, url, log)
        yield [(url, log) for _, url, log in started]
    finally:
        for proc, _, log in started:
            proc.terminate()
            proc.wait(timeout=30)
            log.unlink(missing_ok=True)


def _pids(log: Path) -> set[str]:
    return set(re.findall(r"pid=<(\d+)>", log.read_text()))


def test_limits_are_shared_by_two_workers_and_spare_callbacks(app, gunicorn_gateways, echo_service):
    urls = [url for url, _ in gunicorn_gateways]
    turn = iter(range(1000))
    merchant, service = echo_setup(app, echo_service.url)
    with app.app_context(), db.transaction() as conn:
        conn.exec_driver_sql("UPDATE gateway.clients SET rate_limit = '6/minute' WHERE id = %s", (merchant.id,))

    def pay(**extra):
        # The two instances take the requests in turn: one shared counter or the 7th request would pass.
        return requests.post(
            f"{urls[next(turn) % 2]}/api/v1/payment/process",
            json=merchant.fields(service["name"], "pay", f004="10", **extra),
            headers=merchant.headers(),
            timeout=10,
        )

    codes = [pay().status_code for _ in range(5)]
    pending = pay(f001="pending")  # the 6th and last allowed: the echo service calls back 0.2 s later
    codes += [pending.status_code] + [pay().status_code for _ in range(6)]
    assert codes == [200] * 5 + [202] + [429] * 6, codes
    assert all(_pids(log) for _, log in gunicorn_gateways), "both instances should have answered"

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
            f"{urls[i % 2]}/api/v1/payment/status",
            json={},
            headers={"Authorization": basic("x", "y"), "App-ID": unique_name("r")},
            timeout=10,
        )
        for i in range(7)
    ]
    assert [r.status_code for r in failed] == [401] * 4 + [429] * 3
    assert all("Retry-After" in r.headers for r in failed[4:])
