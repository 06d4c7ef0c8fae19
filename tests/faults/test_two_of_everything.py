"""Two gateway instances (gunicorn, 2 workers each) and two worker processes on one database, under bounded
load (issue 13 item 8): callbacks delivered to both gateways at once, webhooks, expiry of unsettled payments and
standalone service (router-style) jobs are each processed exactly once."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.factories import assign, make_client, make_service
from tests.faults import harness
from tests.faults.conftest import rows

N_CALLBACK, N_EXPIRE, N_JOBS = 16, 8, 16


QUICK = {"STK_QUERY_AFTER_SECONDS": "0", "RECONCILE_INTERVAL_S": "1", "WORKER_POLL_S": "1"}


@pytest.fixture(scope="module")
def two_of_everything(pg):
    """Two gunicorn gateways (2 workers each) and two `flask worker` loops on one database."""
    gateways = [harness.gateway(pg.url, workers=2, **QUICK) for _ in range(2)]
    workers = [harness.worker(pg.url, **QUICK) for _ in range(2)]
    try:
        for proc in [*gateways, *workers]:
            proc.start()
        yield gateways
    finally:
        for proc in [*workers, *gateways]:
            proc.stop()


def test_two_gateways_two_workers_process_everything_once(fapp, two_of_everything, provider, receiver, echo_proc):
    _run(fapp, two_of_everything, provider, receiver, echo_proc)


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


def test_two_gateways_two_workers_mpesa_reconciliation_and_double_callbacks(fapp, pg, two_of_everything, receiver):
    """M-Pesa through the Daraja simulator: payments whose callback never comes are settled by the racing
    workers' STK queries once; payments whose callback Daraja sends twice are applied once."""
    from admin.clients import set_mpesa_credentials
    from admin.services import create_service
    from core import db
    from microservices.mpesa.app import create_app as create_mpesa_app
    from simulators.daraja import RunningSimulator
    from tests.conftest import unique_name
    from tests.factories import ACTOR
    from tests.flows.conftest import SIM_SETTINGS, mpesa_credentials
    from tests.servers import LiveServer

    sim = RunningSimulator(SIM_SETTINGS)
    mpesa = LiveServer(
        create_mpesa_app(
            {
                "DATABASE_URL": pg.url,
                "INTERNAL_TOKEN": fapp.config["INTERNAL_TOKEN"],
                "ENCRYPTION_KEY": fapp.config["ENCRYPTION_KEY"],
            }
        )
    ).start()
    gateways = two_of_everything
    try:
        merchant = make_client(fapp, callback_url=receiver.url)
        with fapp.app_context(), db.transaction() as conn:
            svc = create_service(
                conn,
                {
                    "name": unique_name("m"),
                    "display_name": "M-Pesa",
                    "kind": "mpesa_stk",
                    "base_url": mpesa.url,
                    "routes": ["stkpush", "query"],
                    "timeout_s": 10,
                },
                ACTOR,
            )
            set_mpesa_credentials(conn, merchant.app_id, mpesa_credentials(sim.base_url), ACTOR)
        assign(fapp, merchant.app_id, svc["name"])
        phones = ["0700000007"] * 5 + ["0700000005"] * 5  # no callback at all / the callback twice
        bodies = [merchant.fields(svc["name"], "stkpush", f004="10", f005=p) for p in phones]

        def pay(i_body):
            i, body = i_body
            url = gateways[i % 2].url
            return requests.post(f"{url}/api/v1/payment/process", json=body, headers=merchant.headers(), timeout=20)

        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(pay, enumerate(bodies)))
        assert [a.status_code for a in answers] == [202] * len(bodies), [a.text for a in answers]
        f010s = [b["f010"] for b in bodies]
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            left = rows(
                fapp,
                "SELECT count(*) AS n FROM gateway.transactions WHERE f010 = ANY(:f) AND state = 'pending'",
                f=f010s,
            )[0]["n"]
            if left == 0 and sum(receiver.by_txn[f] for f in f010s) >= len(f010s):
                break
            time.sleep(0.3)
        time.sleep(2.0)  # the second Daraja callback and any duplicate work would land by now
        txns = rows(
            fapp,
            "SELECT f010, state, result->'data'->>'settled_by' AS settled_by FROM gateway.transactions "
            "WHERE f010 = ANY(:f)",
            f=f010s,
        )
        assert {t["f010"]: t["state"] for t in txns} == dict.fromkeys(f010s, "completed")
        events = rows(
            fapp,
            "SELECT t.f010, count(*) AS n FROM gateway.transaction_events e JOIN gateway.transactions t "
            "ON t.id = e.transaction_id WHERE t.f010 = ANY(:f) AND e.to_state = 'completed' GROUP BY 1",
            f=f010s,
        )
        assert {e["f010"]: e["n"] for e in events} == dict.fromkeys(f010s, 1)
        assert {f: receiver.by_txn[f] for f in f010s} == dict.fromkeys(f010s, 1)
        pushes = requests.get(f"{sim.base_url}/simulator/requests", timeout=5).json()["requests"]
        stk_pushes = [p for p in pushes if p["path"] == "/mpesa/stkpush/v1/processrequest"]
        assert len(stk_pushes) == len(bodies)  # one prompt per payment: nobody pushed twice
    finally:
        mpesa.stop()
        sim.stop()
