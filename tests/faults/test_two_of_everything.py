"""Two gateway instances (gunicorn, 2 workers each) and two worker processes on one database, under bounded
load (issue 13 item 8): callbacks delivered to both gateways at once, webhooks, expiry of unsettled payments and
standalone service (router-style) jobs are each processed exactly once."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.factories import assign, make_client, make_service
from tests.faults import harness
from tests.faults.conftest import rows

N_CALLBACK, N_EXPIRE, N_JOBS = 16, 8, 16


def test_two_gateways_two_workers_process_everything_once(fapp, pg, provider, receiver, echo_proc):
    gateways = [harness.gateway(pg.url, workers=2).start() for _ in range(2)]
    workers = [harness.worker(pg.url, WORKER_POLL_S="1").start() for _ in range(2)]
    try:
        _run(fapp, gateways, provider, receiver, echo_proc)
    finally:
        for proc in [*workers, *gateways]:
            proc.stop()


def _run(fapp, gateways, provider, receiver, echo_proc) -> None:
    merchant = make_client(fapp, callback_url=receiver.url)
    pending_service = make_service(fapp, provider.url)
    echo_service = make_service(fapp, echo_proc.url)
    for svc in (pending_service, echo_service):
        assign(fapp, merchant.app_id, svc["name"])
    bodies = [merchant.fields(pending_service["name"], "pay", f004="10") for _ in range(N_CALLBACK + N_EXPIRE)]

    def pay(i_body):
        i, body = i_body
        url = gateways[i % 2].url
        return requests.post(f"{url}/api/v1/payment/process", json=body, headers=merchant.headers(), timeout=20)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(pay, enumerate(bodies)))
    assert [a.status_code for a in answers] == [202] * len(bodies)
    to_call_back, to_expire = bodies[:N_CALLBACK], bodies[N_CALLBACK:]

    # Each callback four times at once: twice through each gateway.
    def call_back(target):
        f010, base = target
        path = provider.callback_urls[f010].split("/api/v1/", 1)[1]
        body = {"status": "completed", "reference": f"ref-{f010}", "amount": "10"}
        return requests.post(f"{base}/api/v1/{path}", json=body, timeout=20).status_code

    targets = [(b["f010"], g.url) for b in to_call_back for g in gateways for _ in range(2)]
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(call_back, targets))
    assert all(c in (200, 409) for c in codes), codes

    # Unsettled payments look an hour old: both workers reach them, one expires each.
    expire_f010s = [b["f010"] for b in to_expire]
    rows(
        fapp,
        "UPDATE gateway.transactions SET created_at = now() - interval '1 hour', next_check_at = now() "
        "WHERE f010 = ANY(:f) RETURNING id",
        f=expire_f010s,
    )
    # Standalone service jobs (what router suspensions and drift repairs are), claimed by either worker.
    job_ids = [f"job-{merchant.app_id}-{i}" for i in range(N_JOBS)]
    for uid in job_ids:
        spec = {
            "servicename": echo_service["name"],
            "serviceurl": "/pay",
            "servicepayload": {"unique_id": uid, "data": {"f001": "sleep:0.1"}},
        }
        rows(
            fapp,
            "SELECT gateway.enqueue_service_job(:c, CAST(:s AS jsonb), :d) AS id",
            c=merchant.id,
            s=json.dumps(spec),
            d=uid,
        )

    all_f010s = [b["f010"] for b in bodies]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        open_rows = rows(
            fapp,
            "SELECT (SELECT count(*) FROM gateway.transactions WHERE f010 = ANY(:f) AND state = 'pending') "
            "+ (SELECT count(*) FROM gateway.outbox WHERE client_id = :c AND status = 'pending') AS n",
            f=all_f010s,
            c=merchant.id,
        )
        if open_rows[0]["n"] == 0 and sum(receiver.by_txn.values()) >= len(bodies):
            break
        time.sleep(0.3)
    time.sleep(1.5)  # let any duplicate that would happen, happen

    states = {
        r["f010"]: r["state"]
        for r in rows(fapp, "SELECT f010, state FROM gateway.transactions WHERE f010 = ANY(:f)", f=all_f010s)
    }
    assert {f: states[f] for f in [b["f010"] for b in to_call_back]} == {b["f010"]: "completed" for b in to_call_back}
    assert {f: states[f] for f in expire_f010s} == dict.fromkeys(expire_f010s, "timed_out")
    events = rows(
        fapp,
        "SELECT t.f010, count(*) AS n FROM gateway.transaction_events e JOIN gateway.transactions t "
        "ON t.id = e.transaction_id WHERE t.f010 = ANY(:f) AND e.to_state IN ('completed', 'failed', 'timed_out') "
        "GROUP BY 1",
        f=all_f010s,
    )
    assert {e["f010"]: e["n"] for e in events} == dict.fromkeys(all_f010s, 1)
    applied = rows(
        fapp,
        "SELECT count(*) AS n FROM gateway.callbacks c JOIN gateway.transactions t ON t.id = c.transaction_id "
        "WHERE t.f010 = ANY(:f) AND c.outcome = 'applied'",
        f=all_f010s,
    )
    assert applied[0]["n"] == N_CALLBACK  # of 4 × N_CALLBACK deliveries, one per payment was applied
    assert dict(receiver.by_txn) == dict.fromkeys(all_f010s, 1)  # one webhook each, from two racing workers
    assert all(n == 1 for n in receiver.by_webhook.values())
    calls = {uid: requests.get(f"{echo_proc.url}/calls/{uid}", timeout=5).json()["calls"] for uid in job_ids}
    assert calls == dict.fromkeys(job_ids, 1)  # each job ran once
    assert all(provider.calls[f] == 1 for f in all_f010s)
