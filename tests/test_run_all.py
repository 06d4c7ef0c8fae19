"""`make run`'s supervisor for real: migrate, seed, start every process, take an M-Pesa payment through the
simulators, then stop everything it started on SIGTERM."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import basic
from tests.factories import make_admin
from tests.processes import make_run

ROOT = Path(__file__).resolve().parents[1]
# A ceiling, not a wait: on a loaded 2-core machine a fresh gunicorn worker's first answer took over 5 s.
HTTP_S = 30
PORT_VARS = (
    "PORT",
    "MPESA_SERVICE_PORT",
    "ROUTER_SERVICE_PORT",
    "ECHO_SERVICE_PORT",
    "DARAJA_SIM_PORT",
    "ROUTEROS_SIM_PORT",
    "HOTSPOT_SIM_PORT",
)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture
def running(database_url):
    ports = dict(zip(PORT_VARS, map(str, _free_ports(len(PORT_VARS))), strict=True))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_URL") or k == "DATABASE_URL"}
    env.update(ports, DATABASE_URL=database_url)
    # tests/test_shutdown.py holds the stop to one second; here the payment is the point
    with make_run(env) as lines:
        yield f"http://127.0.0.1:{ports['PORT']}", lines
    for port in ports.values():  # every child process it started is gone
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", int(port))) != 0, f"port {port} still open"


def test_make_run_serves_a_payment_end_to_end(app, running):
    url, lines = running
    assert requests.get(f"{url}/healthz", timeout=HTTP_S).json()["database"] == "up"
    assert requests.get(f"{url}/portal/login", timeout=HTTP_S).status_code == 200
    captive = requests.get(f"{url}/hotspot/demo", timeout=HTTP_S)
    assert captive.status_code == 200 and "2-minute hotspot trial" in captive.text
    username, password = make_admin(app, "admin")
    admin = requests.post(f"{url}/api/v1/admin/auth/token", auth=(username, password), timeout=HTTP_S).json()["token"]
    creds = requests.post(
        f"{url}/api/v1/admin/clients/demo/credentials/rotate",
        timeout=HTTP_S,
        headers={"Authorization": f"Bearer {admin}"},
    ).json()
    headers = {"Authorization": basic(creds["api_username"], creds["api_secret"]), "App-ID": "demo"}
    f010 = f"run-{time.time_ns()}"
    pay = requests.post(
        f"{url}/api/v1/payment/process",
        headers=headers,
        timeout=HTTP_S,
        json={"f000": "mpesa", "f002": "stkpush", "f003": "demo", "f004": "10", "f005": "0708374149", "f010": f010},
    )
    assert pay.status_code == 202, pay.text
    deadline = time.monotonic() + 60  # the simulator calls back after 3 s; a loaded machine adds to that
    status = None
    while time.monotonic() < deadline:
        status = requests.get(f"{url}/api/v1/transactions/{f010}", headers=headers, timeout=HTTP_S).json()
        if status["status"] != "pending":
            break
        time.sleep(0.5)
    assert status["status"] == "completed", status
    assert status["receipt"]


def test_make_run_prints_a_psql_command_that_works(running):
    _, lines = running
    printed = next(line for line in lines if "DBA (psql)" in line)
    command = shlex.split(printed.split("DBA (psql)", 1)[1].split("(or `make psql`")[0])
    done = subprocess.run([*command, "-XAtc", "SELECT 1"], capture_output=True, text=True, timeout=20, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "1"), done.stderr
