"""ISP billing in the portal: every screen renders for a viewer, writes need the admin role, and each write goes
through the same billing functions as the admin API (validation message shown, audit row written)."""

from __future__ import annotations

import pytest

from tests.billing.conftest import make_isp, payment, plan, rows, sql, subscriber
from tests.portal.conftest import post


@pytest.fixture
def isp(app):
    isp = make_isp(app, plans=(plan("DAY"), plan("HS", service_type="hotspot")),
                   subscribers=(subscriber("alice"), subscriber("bob", phone="254711222333")))  # fmt: skip
    f010 = payment(app, isp, "alice", "DAY")
    sql(app, "SELECT billing.activate_paid(:a, :f, NULL, NULL, NULL)", a=isp.app_id, f=f010)
    return isp


def base(isp) -> str:
    return f"/portal/billing/{isp.app_id}"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "alice"),
        ("/subscribers?q=2547112", "bob"),
        ("/subscribers/alice", "Router jobs"),
        ("/plans", "DAY plan"),
        ("/subscriptions", "Ending within 24 hours"),
        ("/subscriptions?status=expired", "No expired periods"),
        ("/router", "Router job queue"),
    ],
)
def test_viewer_reads_every_screen(viewer_client, isp, path, expected):
    resp = viewer_client.get(base(isp) + path, follow_redirects=True)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert expected in body
    assert 'data-test="create-plan"' not in body and 'data-test="suspend"' not in body  # no write buttons


def test_billing_index_lists_isp_clients(viewer_client, isp):
    body = viewer_client.get("/portal/billing").get_data(as_text=True)
    assert f'data-test="isp-{isp.app_id}"' in body


def test_viewer_cannot_write(viewer_client, isp):
    resp = post(
        viewer_client, base(isp) + "/subscribers/alice/suspend", {"reason": "x"}, token_from=base(isp) + "/plans"
    )
    assert resp.status_code == 403


def test_admin_runs_the_whole_cycle(app, admin_client, isp):
    token_page = base(isp) + "/plans"
    resp = post(admin_client, base(isp) + "/plans", {"code": "WEEK", "name": "Weekly", "price": "300",
                "duration": "7 days", "profile": "20M", "service_type": "pppoe"}, token_from=token_page)  # fmt: skip
    assert resp.status_code == 302
    assert "Plan WEEK created." in admin_client.get(token_page).get_data(as_text=True)
    bad = post(admin_client, base(isp) + "/plans/WEEK", {"price": "0"}, token_from=token_page, follow_redirects=True)
    assert "price must be greater than zero" in bad.get_data(as_text=True)
    post(admin_client, base(isp) + "/plans/WEEK", {"active": "0"}, token_from=token_page)
    assert sql(app, "SELECT active FROM billing.plans WHERE client_id = :c AND code = 'WEEK'", c=isp.client_id) is False

    post(admin_client, base(isp) + "/subscribers", {"username": "dan", "password": "dan-secret-1", "phone": "",
         "service_type": "hotspot"}, token_from=token_page)  # fmt: skip
    page = admin_client.get(base(isp) + "/subscribers/dan").get_data(as_text=True)
    assert "Subscriber dan created." in page and "dan-secret-1" not in page

    done = post(admin_client, base(isp) + "/subscribers/alice/suspend", {"reason": "abuse report"},
                token_from=token_page, follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "Subscriber alice suspended." in done and 'data-test="hold-reason">abuse report' in done
    done = post(admin_client, base(isp) + "/subscribers/alice/resume", token_from=token_page,
                follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "Subscriber alice resumed." in done
    done = post(admin_client, base(isp) + "/subscribers/bob/remove", token_from=token_page,
                follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "Subscriber bob removed." in done
    actions = [r["action"] for r in rows(app, "SELECT action FROM gateway.audit_log WHERE target LIKE :t ORDER BY id",
                                         t=f"{isp.app_id}/%")]  # fmt: skip
    assert {"billing.plan.create", "billing.plan.update", "billing.subscriber.suspend", "billing.subscriber.resume",
            "billing.subscriber.remove"} <= set(actions)  # fmt: skip


def test_retry_a_job_that_gave_up_and_refuse_a_superseded_one(app, admin_client, isp):
    post(admin_client, base(isp) + "/subscribers/alice/suspend", {"reason": "r"}, token_from=base(isp) + "/plans")
    [job] = rows(app, "SELECT outbox_id FROM billing.router_jobs WHERE client_id = :c AND action = 'suspend'",
                 c=isp.client_id)  # fmt: skip
    sql(app, "UPDATE gateway.outbox SET status = 'dead', attempts = 12, last_error = 'HTTP 502' WHERE id = :i",
        i=job["outbox_id"])  # fmt: skip
    page = admin_client.get(base(isp) + "/router").get_data(as_text=True)
    assert f'data-test="retry-{job["outbox_id"]}"' in page
    done = post(admin_client, base(isp) + f"/router/jobs/{job['outbox_id']}/retry", token_from=base(isp) + "/plans",
                follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "queued again" in done
    assert sql(app, "SELECT status FROM gateway.outbox WHERE id = :i", i=job["outbox_id"]) == "pending"
    again = post(admin_client, base(isp) + f"/router/jobs/{job['outbox_id']}/retry", token_from=base(isp) + "/plans",
                 follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "only a job that gave up can be retried" in again


def test_router_test_without_a_router_says_why(admin_client, isp):
    resp = post(admin_client, base(isp) + "/router/test", token_from=base(isp) + "/plans")
    assert resp.status_code == 200 and 'data-test="router-test"' in resp.get_data(as_text=True)


def test_unknown_client_is_404(viewer_client):
    assert viewer_client.get("/portal/billing/nosuch/plans").status_code == 404
