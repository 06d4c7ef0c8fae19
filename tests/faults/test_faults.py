"""Faults injected into real processes (issue 13 item 7). After each: every accepted request has exactly one
transaction in a final or recoverable state, the worker settles the recoverable ones, and no outside effect
(a microservice call, a webhook) happens twice."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.factories import assign, echo_setup, make_client, make_service
from tests.faults import harness
from tests.faults.conftest import rows

FINAL = {"completed", "failed", "timed_out"}
RECOVERABLE = {"received", "dispatched", "pending"}


def _post(url: str, body: dict, headers: dict, timeout: float = 15) -> int | str:
    try:
        return requests.post(f"{url}/api/v1/payment/process", json=body, headers=headers, timeout=timeout).status_code
    except requests.RequestException as exc:
        return type(exc).__name__


def _txns(app, f010s: list[str]) -> dict[str, list[dict]]:
    found = rows(app, "SELECT f010, state FROM gateway.transactions WHERE f010 = ANY(:f)", f=f010s)
    out: dict[str, list[dict]] = {f: [] for f in f010s}
    for r in found:
        out[r["f010"]].append(r)
    return out


def _settle_recoverable(app) -> None:
    """What the worker does after a crash: orphaned 'dispatched' rows become timed_out (outcome unknown)."""
    app.config.update(STALE_DISPATCH_S=0)
    app.test_cli_runner().invoke(args=["worker", "--once"])


@pytest.fixture(scope="module")
def gateway(pg):
    """One gunicorn for the whole module: it must live through every fault below without a restart."""
    proc = harness.gateway(pg.url, workers=2).start()
    yield proc
    proc.stop()


def test_kill9_a_gunicorn_worker_mid_requests(fapp, gateway, echo_proc):
    merchant, service = echo_setup(fapp, echo_proc.url)
    bodies = [merchant.fields(service["name"], "pay", f001="sleep:0.8") for _ in range(12)]
    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(_post, gateway.url, b, merchant.headers()) for b in bodies]
        time.sleep(0.4)  # every request is inside a worker, waiting on the echo service
        victim = gateway.children()[0]
        os.kill(victim, signal.SIGKILL)
        answers = [f.result() for f in futures]
    assert any(a == 200 for a in answers) and any(a != 200 for a in answers), answers
    f010s = [b["f010"] for b in bodies]
    _settle_recoverable(fapp)
    txns = _txns(fapp, f010s)
    for body, answer in zip(bodies, answers, strict=True):
        found = txns[body["f010"]]
        assert len(found) <= 1
        if answer == 200:
            assert [t["state"] for t in found] == ["completed"]
        else:  # the connection died with the worker: nothing, or a row the worker has settled
            assert all(t["state"] in FINAL for t in found), found
        calls = requests.get(f"{echo_proc.url}/calls/{body['f010']}", timeout=5).json()["calls"]
        assert calls <= 1  # a POST is never re-sent, not even by the restarted worker
        assert calls == 1 if answer == 200 else (calls == 0 or found)  # no outside call without its record
    assert gateway.children() and victim not in gateway.children()  # gunicorn replaced the worker
    again = merchant.fields(service["name"], "pay")
    assert _post(gateway.url, again, merchant.headers()) == 200


def test_postgres_restart_under_load(fapp, pg, gateway, echo_proc):
    merchant, service = echo_setup(fapp, echo_proc.url)
    assert _post(gateway.url, merchant.fields(service["name"], "pay"), merchant.headers()) == 200
    answers: list[tuple[str, int | str, float]] = []
    stop = threading.Event()

    def load() -> None:  # four clients paying back to back through the whole restart
        while not stop.is_set():
            body = merchant.fields(service["name"], "pay", f001="sleep:0.05")
            started = time.monotonic()
            answer = _post(gateway.url, body, merchant.headers(), timeout=10)
            answers.append((body["f010"], answer, time.monotonic() - started))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    pg.stop()
    try:
        time.sleep(2.0)
        during = len(answers)
        health = requests.get(f"{gateway.url}/healthz", timeout=10)
        down = []
        for _ in range(3):
            started = time.monotonic()
            resp = requests.post(
                f"{gateway.url}/api/v1/payment/process",
                json=merchant.fields(service["name"], "pay"),
                headers=merchant.headers(),
                timeout=10,
            )
            down.append((resp.status_code, resp.json()["status"], time.monotonic() - started))
    finally:
        pg.start()
    time.sleep(2.0)  # service resumes without restarting the gateway
    stop.set()
    for t in threads:
        t.join(15)
    slowest = max(elapsed for _, _, elapsed in answers)
    print(
        f"\npostgres restart: {len(answers)} requests, {sum(a == 503 for _, a, _ in answers)} answered 503, "
        f"slowest {slowest:.2f} s"
    )
    assert health.status_code == 503
    assert all(code == 503 and status == "503" and elapsed < 2.0 for code, status, elapsed in down), down
    assert {a for _, a, _ in answers} <= {200, 503}, answers  # never a 500, never a dropped connection
    assert slowest < 3.0  # never a hang
    assert [a for _, a, _ in answers[during:]][-4:] == [200] * 4  # the last requests went through again
    assert 503 in [a for _, a, _ in answers]
    _settle_recoverable(fapp)
    txns = _txns(fapp, [f for f, _, _ in answers])
    for f010, answer, _ in answers:
        if answer == 200:
            assert [t["state"] for t in txns[f010]] == ["completed"]
        else:  # refused before its record, or cut between the call and the answer: settled by the worker
            assert all(t["state"] in FINAL for t in txns[f010]), txns[f010]
    assert len(answers) > 20


def test_microservice_down_back_and_hanging(fapp, gateway, echo_proc):
    merchant, service = echo_setup(fapp, echo_proc.url)  # service timeout 2 s
    echo_proc.stop()
    down = merchant.fields(service["name"], "pay")
    started = time.monotonic()
    assert _post(gateway.url, down, merchant.headers()) == 502
    assert time.monotonic() - started < 5
    echo_proc.start()  # back on the same port
    back = merchant.fields(service["name"], "pay")
    assert _post(gateway.url, back, merchant.headers()) == 200
    hang = merchant.fields(service["name"], "pay", f001="sleep:6")
    started = time.monotonic()
    assert _post(gateway.url, hang, merchant.headers()) == 504
    assert time.monotonic() - started < 5
    txns = _txns(fapp, [down["f010"], back["f010"], hang["f010"]])
    assert [t["state"] for t in txns[down["f010"]]] == ["failed"]
    assert [t["state"] for t in txns[back["f010"]]] == ["completed"]
    # final either way: the generic http response function turns a 504 into ERROR (failed)
    assert [t["state"] in FINAL for t in txns[hang["f010"]]] == [True]
    for body, expected in ((back, 1), (hang, 1)):  # a POST is never retried: one call each
        assert requests.get(f"{echo_proc.url}/calls/{body['f010']}", timeout=5).json()["calls"] == expected
    # the merchant retries the same f010 after each failure: the stored answer replays, no second call
    assert _post(gateway.url, hang, merchant.headers()) == 504
    assert requests.get(f"{echo_proc.url}/calls/{hang['f010']}", timeout=5).json()["calls"] == 1


def _pending(fapp, provider, receiver, gateway_url: str, n: int) -> tuple:
    merchant = make_client(fapp, callback_url=receiver.url)
    service = make_service(fapp, provider.url)
    assign(fapp, merchant.app_id, service["name"])
    bodies = [merchant.fields(service["name"], "pay", f004="10") for _ in range(n)]
    for body in bodies:
        assert _post(gateway_url, body, merchant.headers()) == 202
    return merchant, bodies


def _callback(url: str, f010: str, status: str) -> int:
    body = {"status": status, "reference": f"ref-{f010}", "amount": "10", "message": f"provider says {status}"}
    return requests.post(url, json=body, timeout=10).status_code


def test_callbacks_twice_and_out_of_order(fapp, gateway, provider, receiver):
    merchant, bodies = _pending(fapp, provider, receiver, gateway.url, 3)
    twice, reordered, failed_first = (b["f010"] for b in bodies)
    assert _callback(provider.callback_urls[twice], twice, "completed") == 200
    assert _callback(provider.callback_urls[twice], twice, "completed") in (200, 409)
    assert _callback(provider.callback_urls[reordered], reordered, "completed") == 200
    assert _callback(provider.callback_urls[reordered], reordered, "failed") in (200, 409)  # a stale 'failed'
    assert _callback(provider.callback_urls[failed_first], failed_first, "failed") == 200
    assert _callback(provider.callback_urls[failed_first], failed_first, "completed") in (200, 409)
    for _ in range(2):
        fapp.test_cli_runner().invoke(args=["worker", "--once"])
    txns = _txns(fapp, [twice, reordered, failed_first])
    assert [t["state"] for t in txns[twice]] == ["completed"]
    assert [t["state"] for t in txns[reordered]] == ["completed"]
    assert [t["state"] for t in txns[failed_first]] == ["failed"]
    events = rows(
        fapp,
        "SELECT t.f010, count(*) AS n FROM gateway.transaction_events e JOIN gateway.transactions t "
        "ON t.id = e.transaction_id WHERE t.f010 = ANY(:f) AND e.to_state IN ('completed', 'failed') GROUP BY 1",
        f=[twice, reordered, failed_first],
    )
    assert {e["f010"]: e["n"] for e in events} == {twice: 1, reordered: 1, failed_first: 1}
    assert receiver.by_txn == {twice: 1, reordered: 1, failed_first: 1}
    assert all(provider.calls[f] == 1 for f in (twice, reordered, failed_first))


def test_worker_killed_mid_webhook(fapp, pg, gateway, provider, receiver):
    merchant, bodies = _pending(fapp, provider, receiver, gateway.url, 1)
    f010 = bodies[0]["f010"]
    receiver.delay_s = 3.0  # the merchant is slow: the worker is inside the POST when it dies
    assert _callback(provider.callback_urls[f010], f010, "completed") == 200
    proc = harness.worker(pg.url).start()
    try:
        deadline = time.monotonic() + 10
        while not rows(
            fapp,
            "SELECT 1 FROM gateway.outbox o JOIN gateway.transactions t ON t.id = o.transaction_id "
            "WHERE t.f010 = :f AND o.attempts = 1 AND o.next_attempt_at > now()",
            f=f010,
        ):
            assert time.monotonic() < deadline, "the worker never claimed the webhook"
            time.sleep(0.1)
        time.sleep(0.5)
        proc.kill9()
    finally:
        proc.stop()
    outbox = rows(
        fapp,
        "SELECT o.status, o.attempts FROM gateway.outbox o JOIN gateway.transactions t "
        "ON t.id = o.transaction_id WHERE t.f010 = :f",
        f=f010,
    )
    assert outbox == [{"status": "pending", "attempts": 1}]  # the claim survives as a lease, nothing is lost
    receiver.delay_s = 0.0
    with fapp.app_context():  # the lease runs out (LEASE_S); make that instant rather than wait two minutes
        rows(
            fapp,
            "UPDATE gateway.outbox SET next_attempt_at = now() WHERE transaction_id = "
            "(SELECT id FROM gateway.transactions WHERE f010 = :f) RETURNING id",
            f=f010,
        )
    fapp.test_cli_runner().invoke(args=["worker", "--once"])
    fapp.test_cli_runner().invoke(args=["worker", "--once"])
    outbox = rows(
        fapp,
        "SELECT o.status, o.attempts FROM gateway.outbox o JOIN gateway.transactions t "
        "ON t.id = o.transaction_id WHERE t.f010 = :f",
        f=f010,
    )
    assert outbox == [{"status": "delivered", "attempts": 2}]
    time.sleep(3.2)  # the killed worker's POST may still land: webhooks are at-least-once, same X-Webhook-Id
    assert receiver.by_txn[f010] in (1, 2)
    assert len([k for k in receiver.by_webhook if k]) == 1


def test_worker_killed_mid_service_job(fapp, pg, provider):
    """A router-style job whose worker dies inside the call runs again after its lease, with the same
    Idempotency-Key, so the service can tell a re-run from a new order (router actions set a state, so a
    re-run changes nothing)."""
    merchant = make_client(fapp)
    service = make_service(fapp, provider.url)
    assign(fapp, merchant.app_id, service["name"])
    uid = f"job-{merchant.app_id}"
    spec = {"servicename": service["name"], "serviceurl": "/enable", "servicepayload": {"unique_id": uid}}
    [job] = rows(
        fapp,
        "SELECT gateway.enqueue_service_job(:c, CAST(:s AS jsonb), :d) AS id",
        c=merchant.id,
        s=json.dumps(spec),
        d=uid,
    )
    provider.delay_s = 3.0
    proc = harness.worker(pg.url).start()
    try:
        deadline = time.monotonic() + 10
        while provider.calls[uid] == 0:
            assert time.monotonic() < deadline, "the worker never called the service"
            time.sleep(0.05)
        proc.kill9()
    finally:
        proc.stop()
        provider.delay_s = 0.0
    [outbox] = rows(fapp, "SELECT status, attempts FROM gateway.outbox WHERE id = :i", i=job["id"])
    assert (outbox["status"], outbox["attempts"]) == ("pending", 1)  # leased, not lost, not marked done
    rows(fapp, "UPDATE gateway.outbox SET next_attempt_at = now() WHERE id = :i RETURNING id", i=job["id"])
    for _ in range(2):
        fapp.test_cli_runner().invoke(args=["worker", "--once"])
    [outbox] = rows(fapp, "SELECT status, attempts FROM gateway.outbox WHERE id = :i", i=job["id"])
    assert (outbox["status"], outbox["attempts"]) == ("delivered", 2)
    keys = provider.idempotency_keys[uid]
    assert len(keys) == 2 and keys[0] == keys[1] == f"job-{job['id']}"
