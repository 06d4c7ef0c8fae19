"""The Daraja simulator driven by an unmodified third-party SDK from PyPI (daraja-v3), pointed at it by base_url.

The SDK builds the STK Timestamp from the process's local clock (``datetime.now()``). Servers abroad usually run
on UTC, three hours behind Kenya; Daraja still accepts such a timestamp as long as the Password was built from it
(docs/protocols/daraja.md, "Timestamp"), and so must the simulator by default.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from mpesa import MpesaClient, MpesaError

from simulators.daraja import EAT, SANDBOX_PASSKEY, SANDBOX_SHORTCODE, RunningSimulator
from tests.simulators.test_daraja_simulator import KEY, SECRET, SETTINGS, CallbackReceiver, wait_for


@pytest.fixture
def utc_clock() -> Iterator[None]:
    """Run the SDK as on a machine whose clock is UTC, whatever this machine's zone is."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    rec = CallbackReceiver()
    yield rec
    rec.stop()


def sim(**settings: object) -> RunningSimulator:
    return RunningSimulator({**SETTINGS, **settings})


def sdk(simulator: RunningSimulator) -> MpesaClient:
    return MpesaClient(KEY, SECRET, shortcode=SANDBOX_SHORTCODE, passkey=SANDBOX_PASSKEY, base_url=simulator.base_url)


def test_sdk_on_a_utc_clock_pushes_and_queries(utc_clock, receiver):
    simulator = sim()
    try:
        client = sdk(simulator)
        result = client.stk_push("0712345678", 10, "INV001", callback_url=receiver.url)
        assert result.checkout_request_id.startswith("ws_CO_")
        (sent,) = [r["json"] for r in simulator.state.requests if r["path"].endswith("processrequest")]
        local = datetime.strptime(sent["Timestamp"], "%Y%m%d%H%M%S")
        # The SDK really sent UTC wall time: three hours behind EAT, outside the old ten-minute window.
        assert abs(local - datetime.now(UTC).replace(tzinfo=None)) < timedelta(seconds=5)
        assert datetime.now(EAT).replace(tzinfo=None) - local > timedelta(hours=2, minutes=59)
        (delivery,) = wait_for(lambda: receiver.for_checkout(result.checkout_request_id))
        parsed = MpesaClient.parse_stk_callback(delivery["body"])
        assert (parsed["paid"], parsed["amount"], parsed["phone"]) == (True, 10, "254712345678")
        assert len(parsed["mpesa_receipt"]) == 10
        status = client.stk_query(result.checkout_request_id)
        assert (status.is_paid, status.result_code) == (True, "0")
    finally:
        simulator.stop()


def test_sdk_sees_a_cancelled_push_in_the_query(utc_clock, receiver):
    simulator = sim()
    try:
        client = sdk(simulator)
        result = client.stk_push("254700000001", 5, "INV002", callback_url=receiver.url)
        with pytest.raises(MpesaError, match="being processed"):  # in flight: 500.001.1001, ask again later
            client.stk_query(result.checkout_request_id)
        wait_for(lambda: receiver.for_checkout(result.checkout_request_id))
        status = client.stk_query(result.checkout_request_id)
        assert (status.is_paid, status.result_code) == (False, "1032")
    finally:
        simulator.stop()


def test_strict_timestamp_window_is_opt_in(utc_clock, receiver):
    simulator = sim(timestamp_window_s=600)  # [sim-choice] catches clients that format UTC; Daraja does not
    try:
        with pytest.raises(MpesaError, match="Invalid Timestamp"):
            sdk(simulator).stk_push("0712345678", 10, "INV003", callback_url=receiver.url)
    finally:
        simulator.stop()
