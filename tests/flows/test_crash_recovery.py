"""Kill -9 the gateway between STK push and callback: the callback is lost, and after a restart the
worker's reconciliation settles the payment with nothing lost or doubled."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from core import db
from simulators.daraja import RunningSimulator
from tests.factories import ACTOR, assign, make_client
from tests.flows.conftest import SIM_SETTINGS, mpesa_credentials
from tests.processes import kill_group, spawn

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_gateway(database_url: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "RATELIMIT_ENABLED": "false",
    }
    proc = spawn(
        [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port), "--no-reload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60  # a loaded machine takes seconds to import the app
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return proc
        except requests.RequestException:  # refused while starting, or a slow first answer
            time.sleep(0.1)
    kill_group(proc)
    raise AssertionError("gateway did not start")


def _wait_for_lost_callback(sim: RunningSimulator, deadline_s: float = 30) -> dict:
    """The simulator's scheduled callback has been tried against the dead gateway (and failed)."""
    deadline = time.monotonic() + deadline_s
    while not (tried := [c for c in sim.state.callbacks if c["reason"] == "scheduled"]):
        assert time.monotonic() < deadline, "the simulator never tried its callback"
        time.sleep(0.05)
    return tried[0]


@pytest.fixture
def slow_callback_daraja():
    sim = RunningSimulator({**SIM_SETTINGS, "callback_delay_s": 2.0})
    yield sim
    sim.stop()


def test_gateway_killed_before_callback_settles_by_reconciliation(
    app, database_url, mpesa_service, slow_callback_daraja
):
    from admin.clients import set_mpesa_credentials
    from admin.services import create_service
    from tests.conftest import unique_name

    merchant = make_client(app, callback_url="http://127.0.0.1:9/unreachable-hook")
    with app.app_context(), db.transaction() as conn:
        svc = create_service(
            conn,
            {
                "name": unique_name("m"),
                "display_name": "M-Pesa",
                "kind": "mpesa_stk",
                "base_url": mpesa_service.url,
                "routes": ["stkpush", "query"],
            },
            ACTOR,
        )
        set_mpesa_credentials(conn, merchant.app_id, mpesa_credentials(slow_callback_daraja.base_url), ACTOR)
    assign(app, merchant.app_id, svc["name"])
    port = _free_port()
    gateway = _start_gateway(database_url, port)
    body = merchant.fields(svc["name"], "stkpush", f004="25", f005="0708374149")
    try:
        resp = requests.post(
            f"http://127.0.0.1:{port}/api/v1/payment/process", json=body, headers=merchant.headers(), timeout=20
        )
        assert resp.status_code == 202, resp.text
    finally:
        gateway.send_signal(signal.SIGKILL)
        gateway.wait()
    lost = _wait_for_lost_callback(slow_callback_daraja)  # the callback hits the dead gateway and is lost
    assert lost["status_code"] is None, lost
    gateway = _start_gateway(database_url, port)  # the restart
    try:
        app.config.update(STK_QUERY_AFTER_SECONDS=0, RECONCILE_INTERVAL_S=0)
        with app.app_context(), db.transaction() as conn:
            conn.execute(
                text("UPDATE gateway.transactions SET next_check_at = now() WHERE f010 = :f"), {"f": body["f010"]}
            )
        for _ in range(2):  # running the worker twice must not settle or notify twice
            app.test_cli_runner().invoke(args=["worker", "--once"])
        with app.app_context(), db.transaction() as conn:
            txn = (
                conn.execute(text("SELECT * FROM gateway.transactions WHERE f010 = :f"), {"f": body["f010"]})
                .mappings()
                .one()
            )
            webhooks = conn.execute(
                text("SELECT count(*) FROM gateway.outbox WHERE transaction_id = :t AND kind = 'webhook'"),
                {"t": txn["id"]},
            ).scalar()
            events = (
                conn.execute(
                    text("SELECT to_state FROM gateway.transaction_events WHERE transaction_id = :t ORDER BY id"),
                    {"t": txn["id"]},
                )
                .scalars()
                .all()
            )
        assert txn["state"] == "completed"
        assert txn["result"]["data"]["settled_by"] == "stkquery"
        assert webhooks == 1
        with app.app_context(), db.transaction() as conn:
            conn_count = conn.execute(
                text(
                    "SELECT count(*) FROM gateway.callbacks WHERE transaction_id = :t AND source_ip NOT LIKE 'worker:%'"
                ),
                {"t": txn["id"]},
            ).scalar()
        assert conn_count == 0  # the callback really was lost: reconciliation alone settled it
        assert events == ["received", "dispatched", "pending", "completed"]
        status = requests.get(
            f"http://127.0.0.1:{port}/api/v1/transactions/{body['f010']}", headers=merchant.headers(), timeout=5
        ).json()
        assert status["status"] == "completed"
    finally:
        kill_group(gateway)


def test_orphaned_dispatched_request_is_swept(app, client, echo_service):
    """A process that died after R2 leaves 'dispatched': the worker turns it into timed_out, not 'in progress'."""
    from tests.factories import echo_setup

    merchant, service = echo_setup(app, echo_service.url)
    body = merchant.fields(service["name"], "pay")
    assert client.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 200
    with app.app_context(), db.transaction() as conn:  # make it look like the crash happened mid-call long ago
        conn.execute(
            text(
                "UPDATE gateway.transactions SET state = 'dispatched', updated_at = now() - interval "
                "'1 hour' WHERE f010 = :f"
            ),
            {"f": body["f010"]},
        )
    assert client.post("/api/v1/payment/process", json=body, headers=merchant.headers()).status_code == 409
    app.test_cli_runner().invoke(args=["worker", "--once"])
    with app.app_context(), db.transaction() as conn:
        state = conn.execute(
            text("SELECT state FROM gateway.transactions WHERE f010 = :f"), {"f": body["f010"]}
        ).scalar()
    assert state == "timed_out"
    replay = client.post("/api/v1/payment/process", json=body, headers=merchant.headers())
    assert replay.status_code == 504 and "outcome is unknown" in replay.get_json()["message"]
