"""The billing SQL library: tenant scope, what a payment buys (start now or extend), expiry, provisioning, drift."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from billing import catalogue
from core import db
from tests.billing.conftest import payment, plan, rows, sql, subscriber
from tests.factories import ACTOR


def _activate(app, isp, f010, ref=None, paid=None):
    return sql(
        app, "SELECT billing.activate_paid(:a, :f, :ref, :paid, 'RCPT000001')", a=isp.app_id, f=f010, ref=ref, paid=paid
    )


def _periods(app, isp, username="alice"):
    return rows(
        app,
        "SELECT v.* FROM billing.subscriptions v JOIN billing.subscribers s ON s.id = v.subscriber_id "
        "WHERE v.client_id = :c AND s.username = :u ORDER BY v.starts_at",
        c=isp.client_id,
        u=username,
    )


def _jobs(app, isp, action=None):
    return rows(
        app,
        "SELECT o.*, j.action, j.username FROM billing.router_jobs j JOIN gateway.outbox o "
        "ON o.id = j.outbox_id WHERE j.client_id = :c AND (:a IS NULL OR j.action = :a) ORDER BY o.id",
        c=isp.client_id,
        a=action,
    )


def _subscriber_status(app, isp, username="alice"):
    return sql(app, "SELECT status FROM billing.subscribers WHERE id = :i", i=isp.subscribers[username]["id"])


def _age(app, isp, seconds=10):
    """Move every period of this client `seconds` into the past (as if that time had gone by)."""
    with app.app_context(), db.transaction() as conn:
        ids = (
            conn.execute(
                text("SELECT id FROM billing.subscriptions WHERE client_id = :c ORDER BY starts_at"),
                {"c": isp.client_id},
            )
            .scalars()
            .all()
        )
        for period in ids:  # earliest first, so the no-overlap constraint holds after every row
            conn.execute(
                text(
                    "UPDATE billing.subscriptions SET starts_at = starts_at - make_interval(secs => :s), "
                    "ends_at = ends_at - make_interval(secs => :s) WHERE id = :i"
                ),
                {"s": seconds, "i": period},
            )


def _pgcode(app, statement, **params):
    with pytest.raises(DBAPIError) as exc, app.app_context(), db.engine().begin() as conn:
        conn.execute(text(statement), params)
    return exc.value.orig.pgcode


# ---------------------------------------------------------------------------------------------- catalogue


def test_every_billing_function_pins_search_path_and_is_closed_to_public(app):
    found = rows(
        app,
        "SELECT p.proname, p.proconfig, has_function_privilege('public', p.oid, 'EXECUTE') AS pub "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'billing'",
    )
    assert {"activate_paid", "expire_due", "reconcile_router", "quote", "subscriber_status"} <= {
        f["proname"] for f in found
    }
    for f in found:
        assert any(c.startswith("search_path=pg_catalog") for c in f["proconfig"] or []), f["proname"]
        assert not f["pub"], f["proname"]


def test_expiry_scan_uses_its_index(app):
    with app.app_context(), db.transaction() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN SELECT id FROM billing.subscriptions WHERE status = 'active' AND ends_at <= now() "
                    "ORDER BY ends_at LIMIT 200"
                )
            ).scalars()
        )
    assert "subscriptions_due" in plan


# ---------------------------------------------------------------------------------------------- plans, tenant scope


def test_create_plan_rejects_duplicates_and_bad_durations(app, isp):
    create = "SELECT billing.create_plan(:a, :code, 'x', 10, :d, '10M', 'pppoe')"
    assert _pgcode(app, create, a=isp.app_id, code="DAY", d="1 day") == "MP409"
    assert _pgcode(app, create, a=isp.app_id, code="NEW", d="2 parsecs") == "MP400"
    assert _pgcode(app, create, a=isp.app_id, code="NEW", d="-1 day") == "MP400"
    assert _pgcode(app, create, a="nosuchapp", code="NEW", d="1 day") == "MP404"


def test_one_client_cannot_see_or_buy_another_clients_plans(app, isp, isp_factory):
    other = isp_factory(plans=(plan("OTHER"),), subscribers=(subscriber("carol"),))
    assert [p["code"] for p in sql(app, "SELECT billing.plans_of(:a)", a=other.app_id)] == ["OTHER"]
    assert sql(app, "SELECT billing.quote(:a, 'carol', 'DAY', 10)", a=other.app_id)["ok"] is False
    assert sql(app, "SELECT billing.quote(:a, 'carol', 'OTHER', 10)", a=isp.app_id)["ok"] is False
    assert sql(app, "SELECT billing.subscriber_status(:a, 'alice')", a=other.app_id) is None
    f010 = payment(app, isp, "alice", "DAY")
    assert _activate(app, other, f010) == {"ok": False, "message": f"no payment with f010 {f010}"}
    assert _periods(app, isp) == []
    # A subscriber id of another client resolves to nothing.
    alice_id = isp.subscribers["alice"]["id"]
    assert sql(app, "SELECT billing.subscriber_password_enc(:c, :s)", c=other.client_id, s=alice_id) is None
    # The keys themselves refuse a period that joins one client's subscriber to another's plan.
    other_plan = rows(app, "SELECT id FROM billing.plans WHERE client_id = :c", c=other.client_id)[0]["id"]
    assert (
        _pgcode(
            app,
            "INSERT INTO billing.subscriptions (client_id, subscriber_id, plan_id, price, profile, "
            "service_type, starts_at, ends_at) VALUES (:c, :s, :p, 1, 'x', 'pppoe', now(), now() + "
            "interval '1 day')",
            c=isp.client_id,
            s=alice_id,
            p=other_plan,
        )
        == "23503"
    )


@pytest.mark.parametrize(
    ("username", "code", "amount", "message"),
    [
        ("", "DAY", 10, "f006 (the subscriber username) is required"),
        ("alice", "", 10, "f001 (the plan code) is required"),
        ("zed", "DAY", 10, "f006: no subscriber zed"),
        ("alice", "NOPE", 10, "f001: no active plan NOPE"),
        ("alice", "HS", 10, "plan HS is for hotspot but subscriber alice uses pppoe"),
        ("alice", "FAST", 19, "f004 must be at least the price of plan FAST (20.00)"),
        ("alice", "FAST", None, "f004 must be at least the price of plan FAST (20.00)"),
    ],
)
def test_quote_refusals(app, isp, username, code, amount, message):
    q = sql(app, "SELECT billing.quote(:a, :u, :c, :m)", a=isp.app_id, u=username, c=code, m=amount)
    assert q["ok"] is False and q["status"] == "400"
    assert q["message"].startswith(message)


# ---------------------------------------------------------------------------------------------- activation


def test_first_payment_starts_now_the_same_plan_again_extends_from_the_end(app, isp):
    first = _activate(app, isp, payment(app, isp, "alice", "DAY"))
    second = _activate(app, isp, payment(app, isp, "alice", "DAY"))
    assert first["ok"] and second["ok"] and not first["replay"]
    p1, p2 = _periods(app, isp)
    assert p1["ends_at"] - p1["starts_at"] == dt.timedelta(days=1)
    assert p2["starts_at"] == p1["ends_at"]  # chained, not overlapping
    assert p2["ends_at"] - p2["starts_at"] == dt.timedelta(days=1)
    assert dt.datetime.fromisoformat(second["paid_until"]) == p2["ends_at"]
    status = sql(app, "SELECT billing.subscriber_status(:a, 'alice')", a=isp.app_id)
    assert status["state"] == "active" and status["plan"] == "DAY"
    assert status["summary"].startswith("paid, provisioning pending until ")
    assert status["renewal"].startswith("paying for DAY again extends it from ")
    assert _subscriber_status(app, isp) == "active"


def test_another_plan_replaces_the_running_one_at_once_and_queued_periods_follow(app, isp):
    _activate(app, isp, payment(app, isp, "alice", "DAY"))
    _activate(app, isp, payment(app, isp, "alice", "DAY"))  # queued behind the first
    effect = sql(app, "SELECT billing.renewal_effect(:c, s.id, 'FAST') FROM billing.subscribers s "
                 "WHERE s.client_id = :c AND s.username = 'alice'", c=isp.client_id)  # fmt: skip
    assert effect["effect"] == "replace" and effect["message"].startswith("replaces your DAY plan at once")
    fast = _activate(app, isp, payment(app, isp, "alice", "FAST", amount="20"))
    assert fast["profile"] == "20M"  # the router gets the new speed now, not when DAY would have ended
    old, new, queued = _periods(app, isp)
    assert (old["status"], old["ends_at"]) == ("replaced", new["starts_at"])
    assert (new["profile"], new["ends_at"] - new["starts_at"]) == ("20M", dt.timedelta(days=1))
    assert (queued["status"], queued["starts_at"]) == ("active", new["ends_at"])  # paid time is never lost
    assert queued["ends_at"] - queued["starts_at"] == dt.timedelta(days=1)
    status = sql(app, "SELECT billing.subscriber_status(:a, 'alice')", a=isp.app_id)
    assert status["plan"] == "FAST"


def test_payment_after_expiry_starts_now(app, isp):
    _activate(app, isp, payment(app, isp, "alice", "DAY"))
    _age(app, isp, seconds=2 * 86400)
    before = sql(app, "SELECT now()")
    _activate(app, isp, payment(app, isp, "alice", "DAY"))
    old, new = _periods(app, isp)
    assert old["ends_at"] < before <= new["starts_at"]


def test_activation_is_idempotent_per_payment(app, isp):
    f010 = payment(app, isp, "alice", "DAY")
    first, again = _activate(app, isp, f010), _activate(app, isp, f010)
    assert again["replay"] is True
    assert again["subscription"]["id"] == first["subscription"]["id"]
    assert len(_periods(app, isp)) == 1


def test_overlapping_periods_are_impossible(app, isp):
    _activate(app, isp, payment(app, isp, "alice", "DAY"))
    period = _periods(app, isp)[0]
    code = _pgcode(
        app,
        "INSERT INTO billing.subscriptions (client_id, subscriber_id, plan_id, price, profile, "
        "service_type, starts_at, ends_at) VALUES (:c, :s, :p, 1, '10M', 'pppoe', :a, :b)",
        c=isp.client_id,
        s=period["subscriber_id"],
        p=period["plan_id"],
        a=period["starts_at"] + dt.timedelta(hours=1),
        b=period["ends_at"] + dt.timedelta(hours=1),
    )
    assert code == "23P01"


@pytest.mark.parametrize(
    ("state", "ref", "sent_ref", "paid", "why"),
    [
        ("failed", None, None, None, "the payment is already failed"),
        ("completed", None, None, None, "the payment is already completed"),
        ("pending", "ws_CO_1", "ws_CO_2", None, "reference ws_CO_2 is not this payment's ws_CO_1"),
        ("pending", None, None, 9, "paid 9 but 10.00 was requested"),
    ],
)
def test_no_activation_without_a_matching_open_payment(app, isp, state, ref, sent_ref, paid, why):
    f010 = payment(app, isp, "alice", "DAY", state=state, ref=ref)
    out = _activate(app, isp, f010, ref=sent_ref, paid=paid)
    assert out == {"ok": False, "message": f"not activated: {why}"}
    assert _periods(app, isp) == []


def test_payment_cancels_a_queued_suspension(app, isp):
    _activate(app, isp, payment(app, isp, "alice", "DAY"))
    _age(app, isp, seconds=2 * 86400)
    sql(app, "SELECT billing.expire_due(1000)")
    [job] = _jobs(app, isp, "suspend")
    assert job["status"] == "pending"
    _activate(app, isp, payment(app, isp, "alice", "DAY"))
    [job] = _jobs(app, isp, "suspend")
    assert job["status"] == "dead" and job["last_error"].startswith("superseded: paid by f010")


# ---------------------------------------------------------------------------------------------- expiry


def test_expiry_suspends_and_queues_disable_and_kick(app, isp):
    _activate(app, isp, payment(app, isp, "alice", "DAY"))
    _age(app, isp, seconds=86400 + 5)
    counts = sql(app, "SELECT billing.expire_due(1000)")
    assert counts["suspended"] >= 1
    [period] = _periods(app, isp)
    assert period["status"] == "expired" and period["expired_at"] is not None
    assert _subscriber_status(app, isp) == "suspended"
    [job] = _jobs(app, isp)
    spec = job["payload"]
    assert (job["action"], job["kind"], job["transaction_id"], job["max_attempts"]) == (
        "suspend",
        "service_call",
        None,
        12,
    )
    assert spec["servicename"] == isp.router_service and spec["serviceurl"] == "/suspend"
    assert spec["servicecredentials"] == "router" and spec["client_id"] == isp.client_id
    assert spec["servicepayload"] == {"username": "alice", "service_type": "pppoe"}
    assert "servicesecrets" not in spec
    status = sql(app, "SELECT billing.subscriber_status(:a, 'alice')", a=isp.app_id)
    assert status["state"] == "suspended" and status["summary"].startswith("suspended since ")
    # A second pass finds nothing more to do for this client.
    sql(app, "SELECT billing.expire_due(1000)")
    assert len(_jobs(app, isp)) == 1


def test_expiry_with_an_extension_continues_or_switches_profile(app, isp):
    _activate(app, isp, payment(app, isp, "alice", "DAY"))
    _activate(app, isp, payment(app, isp, "alice", "DAY"))  # queued
    _activate(app, isp, payment(app, isp, "alice", "FAST", amount="20"))  # replaces the first; the queued DAY follows
    _age(app, isp, seconds=86400 + 5)  # the FAST day is over, the queued DAY day has begun
    sql(app, "SELECT billing.expire_due(1000)")
    replaced, fast, queued = _periods(app, isp)
    assert (replaced["status"], fast["status"], queued["status"]) == ("replaced", "expired", "active")
    assert _subscriber_status(app, isp) == "active"
    [job] = _jobs(app, isp)
    assert job["action"] == "activate"
    assert job["payload"]["servicepayload"]["profile"] == "10M"
    assert job["payload"]["servicesecrets"] == {"password": f"subscriber:{isp.subscribers['alice']['id']}"}


def test_late_router_confirmation_after_expiry_queues_a_suspension(app, isp):
    f010 = payment(app, isp, "alice", "DAY")
    _activate(app, isp, f010)
    _age(app, isp, seconds=86400 + 5)
    out = sql(app, "SELECT billing.mark_provisioning(:a, :f, 'done', 'router: created')", a=isp.app_id, f=f010)
    assert out["provisioning"] == "done" and out["suspend_queued"] is True
    assert [j["action"] for j in _jobs(app, isp)] == ["suspend"]


def test_provisioning_states(app, isp):
    f010 = payment(app, isp, "alice", "DAY")
    _activate(app, isp, f010)
    pending = sql(
        app, "SELECT billing.mark_provisioning(:a, :f, 'pending', 'router unreachable')", a=isp.app_id, f=f010
    )
    assert (pending["provisioning"], pending["provisioning_detail"]) == ("pending", "router unreachable")
    done = sql(app, "SELECT billing.mark_provisioning(:a, :f, 'done', 'router: created')", a=isp.app_id, f=f010)
    assert done["provisioning"] == "done" and done["suspend_queued"] is False
    assert sql(app, "SELECT billing.subscriber_status(:a, 'alice')", a=isp.app_id)["summary"].startswith("active until")
    assert sql(app, "SELECT billing.mark_provisioning(:a, 'unknown', 'done', 'x')", a=isp.app_id) is None


# ---------------------------------------------------------------------------------------------- drift


def test_reconcile_reports_and_repairs_every_difference(app, isp, isp_factory):
    with app.app_context(), db.transaction() as conn:
        for name in ("carol", "dave", "erin"):
            catalogue.create_subscriber(conn, isp.app_id, subscriber(name), ACTOR)
    for name in ("alice", "carol", "dave"):
        _activate(app, isp, payment(app, isp, name, "DAY"))
    accounts = [
        {"name": "alice", "profile": "10M", "disabled": False},  # right: no report
        {"name": "carol", "profile": "10M", "disabled": True},  # paid but disabled
        {"name": "dave", "profile": "20M", "disabled": False},  # paid, wrong profile
        {"name": "bob", "profile": "10M", "disabled": False},  # never paid but enabled
        {"name": "erin", "profile": "10M", "disabled": True},  # unpaid and disabled: right
        {"name": "mallory", "profile": "20M", "disabled": False},  # not a subscriber at all
    ]
    out = sql(
        app, "SELECT billing.reconcile_router(:c, 'pppoe', CAST(:a AS jsonb))", c=isp.client_id, a=json.dumps(accounts)
    )
    kinds = {i["username"]: (i["kind"], i["repair"]) for i in out["items"]}
    assert kinds == {
        "carol": ("disabled", "activate"),
        "dave": ("wrong_profile", "activate"),
        "bob": ("enabled_unpaid", "suspend"),
        "mallory": ("unknown_account", "suspend"),
    }
    assert out["checked"] == 6 and out["differences"] == 4
    # alice is paid but missing from a reset router: reported too, with her password as a reference.
    out = sql(app, "SELECT billing.reconcile_router(:c, 'pppoe', '[]'::jsonb)", c=isp.client_id)
    missing = {i["username"]: i for i in out["items"]}
    assert missing["alice"]["kind"] == "missing" and missing["carol"]["detail"] == "a repair was already queued"
    reports = rows(
        app,
        "SELECT username, kind, repair, outbox_id FROM billing.drift_reports WHERE client_id = :c ORDER BY id",
        c=isp.client_id,
    )
    assert len(reports) == 4 + 3
    jobs = {(j["username"], j["action"]): j for j in _jobs(app, isp)}
    assert set(jobs) == {
        ("carol", "activate"),
        ("dave", "activate"),
        ("bob", "suspend"),
        ("mallory", "suspend"),
        ("alice", "activate"),
    }
    assert jobs[("dave", "activate")]["payload"]["servicepayload"]["profile"] == "10M"
    assert "servicesecrets" not in jobs[("mallory", "suspend")]["payload"]
    latest = {r["username"]: r for r in sql(app, "SELECT billing.drift_reports_of(:a, 3)", a=isp.app_id)}
    assert latest["alice"]["job_status"] == "pending" and latest["alice"]["actual"] is None
    assert latest["dave"]["job_status"] is None and latest["dave"]["detail"] == "a repair was already queued"


def test_drift_claims_each_router_once_per_interval(app, isp_factory):
    isp = isp_factory(subscribers=(subscriber("alice"),), router_port=8728)
    first = rows(app, "SELECT * FROM billing.claim_drift_checks(3600, 10, :a)", a=isp.app_id)
    again = rows(app, "SELECT * FROM billing.claim_drift_checks(3600, 10, :a)", a=isp.app_id)
    assert [(r["app_id"], r["router_service"], r["service_types"]) for r in first] == [
        (isp.app_id, isp.router_service, ["pppoe"])
    ]
    assert again == []
    no_router = isp_factory(subscribers=(subscriber("zoe"),), router_port=8728, with_router_service=False)
    assert rows(app, "SELECT * FROM billing.claim_drift_checks(0, 10, :a)", a=no_router.app_id) == []
