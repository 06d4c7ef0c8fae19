"""Fixtures for end-to-end flows: the Daraja simulator and the real M-Pesa adapter, served on loopback."""

from __future__ import annotations

import pytest
import requests

from microservices.mpesa.app import create_app as create_mpesa_app
from simulators.daraja import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, RunningSimulator
from tests.servers import LiveServer

SIM_SETTINGS = {
    "apps": [{"consumer_key": "flow-key", "consumer_secret": "flow-secret"}],
    "passkeys": {SANDBOX_SHORTCODE: SANDBOX_PASSKEY},
    "callback_delay_s": 0.3,
    "late_callback_delay_s": 1.5,
    "expire_after_s": 0.3,
    "subscriber_lock": False,
    "callback_timeout_s": 3.0,
}


@pytest.fixture(scope="session")
def flow_daraja():
    sim = RunningSimulator(SIM_SETTINGS)
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def mpesa_service(app, database_url):
    server = LiveServer(
        create_mpesa_app(
            {
                "DATABASE_URL": database_url,
                "INTERNAL_TOKEN": app.config["INTERNAL_TOKEN"],
                "ENCRYPTION_KEY": app.config["ENCRYPTION_KEY"],
            }
        )
    ).start()
    yield server
    server.stop()


@pytest.fixture
def daraja(flow_daraja):
    requests.post(f"{flow_daraja.base_url}/simulator/reset", timeout=5).raise_for_status()
    return flow_daraja


def mpesa_credentials(base_url: str) -> dict:
    return {
        "consumer_key": "flow-key",
        "consumer_secret": "flow-secret",
        "shortcode": SANDBOX_SHORTCODE,
        "passkey": SANDBOX_PASSKEY,
        "transaction_type": "CustomerPayBillOnline",
        "environment": "custom",
        "base_url": base_url,
    }
