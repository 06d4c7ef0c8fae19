"""The background worker: one pass runs every due job once (webhooks, follow-up service calls, pending-payment
checks, billing hooks). Stateless; any number can run, rows are claimed with FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

import json
import logging
import threading
import time

from flask import Flask, current_app
from sqlalchemy import select, text

from admin import clients
from billing import jobs as billing_jobs
from core import db
from gateway import dispatch, partitions, summaries, webhooks
from lifecycle.shutdown import Stopping, StopSignals
from models import Transaction

log = logging.getLogger(__name__)
BATCH = 50
LEASE_S = 120  # a claimed row comes back to the queue if its worker dies mid-call
STOP_GRACE_S = 0.5  # on SIGINT/SIGTERM, how long a pass may take to reach its end before it is abandoned


def deliver_webhooks() -> int:
    """Send due merchant webhooks; each attempt is recorded, failures back off, then go dead visibly."""
    cfg = current_app.config
    with db.transaction() as conn:
        jobs = (
            conn.execute(
                text("SELECT * FROM gateway.claim_jobs('webhook', :n, :lease)"), {"n": BATCH, "lease": LEASE_S}
            )
            .mappings()
            .all()
        )
    for job in sorted(jobs, key=lambda j: j["id"]):  # a transaction's events reach the merchant in order
        with db.transaction() as conn:
            secret = clients.webhook_secret(conn, job["client_id"])
        status, error, latency = webhooks.deliver(
            current_app.extensions["service_adapter"].session,
            job["url"],
            job["payload"],
            secret,
            job["id"],
            cfg["WEBHOOK_TIMEOUT_S"],
        )
        with db.transaction() as conn:
            conn.execute(
                text("SELECT gateway.record_attempt(:id, :ok, true, :s, :e, :l, :b)"),
                {
                    "id": job["id"],
                    "ok": error is None,
                    "s": status,
                    "e": error,
                    "l": latency,
                    "b": cfg["WEBHOOK_BACKOFF_BASE_S"],
                },
            )
    return len(jobs)


def run_service_jobs() -> int:
    """Follow-up calls of payments (reply → response_ function) and standalone service jobs."""
    cfg = current_app.config
    with db.transaction() as conn:
        jobs = (
            conn.execute(
                text("SELECT * FROM gateway.claim_jobs('service_call', :n, :lease)"), {"n": BATCH, "lease": LEASE_S}
            )
            .mappings()
            .all()
        )
    for job in sorted(jobs, key=lambda j: j["id"]):
        spec = job["payload"]
        with db.transaction() as conn:
            if job["transaction_id"]:
                service = (
                    spec.get("servicename")
                    or conn.execute(select(Transaction.service).where(Transaction.id == job["transaction_id"])).scalar()
                )
            else:
                service = spec.get("servicename")
            target = dispatch.service_target(conn, job["client_id"], service or "")
        sent = dispatch.dispatch(spec, target, f"job-{job['id']}")
        reply, attempt = sent.reply, sent.attempt
        with db.transaction(timeout_ms=cfg["DB_STATEMENT_TIMEOUT_MS"]) as conn:
            if job["transaction_id"]:
                conn.execute(
                    text("SELECT gateway.finish_followup(:id, :code, CAST(:data AS json), CAST(:att AS jsonb), :b)"),
                    {
                        "id": job["id"],
                        "code": reply.code,
                        "data": json.dumps(reply.data, default=str),
                        "att": json.dumps(attempt),
                        "b": cfg["WEBHOOK_BACKOFF_BASE_S"],
                    },
                )
            else:
                conn.execute(
                    text("SELECT gateway.record_attempt(:id, :ok, :retry, :s, :e, :l, :b)"),
                    {
                        "id": job["id"],
                        "ok": 200 <= reply.code < 300,
                        "retry": reply.code in (502, 503, 504),
                        "s": reply.code,
                        "e": reply.error or (None if reply.code < 300 else reply.response_body),
                        "l": reply.latency_ms,
                        "b": cfg["WEBHOOK_BACKOFF_BASE_S"],
                    },
                )
    return len(jobs)


STATUS_QUERY_KINDS = ("mpesa_stk", "subscription")


def reconcile_pending() -> int:
    """Ask the provider about payments still PENDING past their check time; expire what never settles."""
    cfg = current_app.config
    with db.transaction() as conn:
        due = (
            conn.execute(
                text("SELECT * FROM gateway.claim_due_checks(:n, :lease)"),
                {"n": BATCH, "lease": cfg["RECONCILE_INTERVAL_S"]},
            )
            .mappings()
            .all()
        )
    for txn in due:
        settled = False
        if txn["template_kind"] in STATUS_QUERY_KINDS and txn["provider_ref"]:
            with db.transaction() as conn:
                target = dispatch.service_target(conn, txn["client_id"], txn["service"])
            spec = {
                "serviceurl": "/stkquery",
                "servicecredentials": "mpesa",
                "servicepayload": {"checkout_request_id": txn["provider_ref"]},
            }
            reply = dispatch.dispatch(spec, target, f"check-{txn['id']}-{int(time.time())}").reply
            if (
                reply.code == 200
                and isinstance(reply.data, dict)
                and reply.data.get("state") in ("completed", "failed")
            ):
                with db.transaction(timeout_ms=cfg["DB_STATEMENT_TIMEOUT_MS"]) as conn:
                    outcome = db.call_json(
                        conn,
                        "SELECT gateway.settle(:t, CAST(:b AS json), 'worker:stkquery', CAST(:ctx AS jsonb))",
                        {
                            "t": txn["id"],
                            "b": json.dumps(
                                {"source": "stkquery", **reply.data, "callback": txn["unconfirmed_callback"]}
                            ),
                            "ctx": json.dumps({"max_depth": cfg["MAX_CHAIN_DEPTH"], "source": "query"}),
                        },
                    )
                settled = outcome.get("outcome") in ("applied", "duplicate", "late")
        if not settled and txn["age_s"] >= cfg["STK_EXPIRE_AFTER_SECONDS"]:
            with db.transaction() as conn:
                conn.execute(
                    text("SELECT gateway.expire_transaction(:t, :r)"),
                    {
                        "t": txn["id"],
                        "r": f"not settled within {cfg['STK_EXPIRE_AFTER_SECONDS']} s "
                        "(no callback, status query still pending)",
                    },
                )
    return len(due)


def sweep_orphans() -> int:
    """Requests left 'dispatched' by a crashed gateway become timed_out (outcome unknown), never stuck."""
    with db.transaction() as conn:
        return conn.execute(
            text("SELECT gateway.sweep_stale_dispatched(:s)"), {"s": current_app.config["STALE_DISPATCH_S"]}
        ).scalar_one()


def run_once(app: Flask) -> dict:
    """Every due job, once. Returns how many rows each job type handled."""
    with app.app_context():
        counts = {
            "webhooks": deliver_webhooks(),
            "service_jobs": run_service_jobs(),
            "checks": reconcile_pending(),
            "orphans": sweep_orphans(),
        }
        counts["partitions"] = partitions.maintain_if_due()
        counts["summaries"] = summaries.fold()
        counts["billing"] = billing_jobs.run_due(app)
        # Billing may have queued router jobs: run them in the same pass so `worker --once` finishes the work.
        counts["service_jobs"] += run_service_jobs()
        return counts


def run_forever(app: Flask) -> None:
    """Run passes until SIGINT or SIGTERM; the process stops within a second whatever the pass is doing.

    Passes run on a daemon thread and the main thread only waits for the signal, so no exception is ever
    raised inside a pass. A pass still busy after STOP_GRACE_S (a slow service call, a retry back-off) is
    abandoned with the process, which loses nothing: its open transaction rolls back when the connection
    closes and the rows it claimed return to the queue when their lease ends (LEASE_S), as after a crash.
    """
    poll = app.config["WORKER_POLL_S"]
    stop = StopSignals()
    stopping = threading.Event()

    def passes() -> None:
        while not stopping.is_set():
            try:
                counts = run_once(app)
                if any(v for v in counts.values() if isinstance(v, int)):
                    log.info("worker pass: %s", counts)
            except Exception:  # noqa: BLE001 - one bad pass must not kill the worker; the next pass retries
                log.exception("worker pass failed")
            stopping.wait(poll)

    thread = threading.Thread(target=passes, name="worker-passes", daemon=True)
    try:
        thread.start()
        log.info("worker started; polling every %ss", poll)
        stop.sleep()
    except Stopping as exc:
        stopping.set()
        thread.join(STOP_GRACE_S)
        cut = " (a pass was cut short; its claims return after their lease)" if thread.is_alive() else ""
        log.info("worker stopped on %s%s", exc, cut)
