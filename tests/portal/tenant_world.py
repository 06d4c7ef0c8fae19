"""Two ISP clients, A and B, each with a paid transaction and its webhook, API log rows, a plan, subscribers, a
router job, audit rows and their own users (org_admin, manager, user): the data the merchant's-portal tests
sign in against. Everything goes through the real service layer and the real API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import text

from admin import clients, users
from billing import subscribers
from core import db
from tests.billing.conftest import make_isp, plan, subscriber
from tests.conftest import unique_name
from tests.factories import ACTOR, assign, make_service

PASSWORD = "tenant horse battery"  # noqa: S105 - a test fixture


@dataclass
class Tenant:
    """One client as its own users see it, with the objects another client's user must never reach."""

    app_id: str
    client_id: int
    company: str
    email: str
    service: str
    isp_service: str
    f010: str
    public_id: str
    webhook_id: int
    router_job_id: int
    plan_code: str
    subscriber: str
    api_username: str
    api_secret: str
    users: dict[str, str] = field(default_factory=dict)  # role → username (password: PASSWORD)
    user_ids: dict[str, int] = field(default_factory=dict)

    def markers(self) -> list[str]:
        """Strings that identify this client's data: none may appear on another client's user's pages."""
        return [
            self.app_id,
            self.company,
            self.email,
            self.f010,
            self.public_id,
            self.plan_code,
            self.subscriber,
            self.api_username,
            *self.users.values(),
        ]


def make_tenant(app, echo_url: str, tag: str) -> Tenant:
    """An ISP client with a webhook URL, an http service it paid through once, a plan, a subscriber suspended
    (so a router job is queued) and one user per client role."""
    marker = uuid.uuid4().hex[:8]
    company = f"{tag} Networks {marker}"
    code = f"P{tag[:1].upper()}{marker}".upper()
    isp = make_isp(app, plans=(plan(code),), subscribers=(subscriber(f"sub{tag.lower()}{marker}"),))
    email = f"ops-{marker}@{tag.lower()}.test"
    with app.app_context(), db.transaction() as conn:
        clients.update_client(
            conn,
            isp.app_id,
            {"company_name": company, "email": email, "callback_url": "http://127.0.0.1:9/hook"},
            ACTOR,
        )
    service = make_service(app, echo_url)
    assign(app, isp.app_id, service["name"])
    merchant = isp.merchant
    f010 = f"ord-{tag.lower()}-{marker}"
    body = {**merchant.fields(service["name"], "pay", f004="25", f005="0712345678"), "f010": f010}
    answer = app.test_client().post("/api/v1/payment/process", json=body, headers=merchant.headers()).get_json()
    public_id = answer["transaction_id"]
    username = next(iter(isp.subscribers))
    with app.app_context(), db.transaction() as conn:
        subscribers.suspend(conn, isp.app_id, username, {"reason": "test"}, ACTOR)
        webhook_id = conn.execute(
            text(
                "SELECT o.id FROM gateway.outbox o JOIN gateway.transactions t ON t.id = o.transaction_id "
                "WHERE t.public_id = :p AND o.kind = 'webhook'"
            ),
            {"p": public_id},
        ).scalar_one()
        router_job_id = conn.execute(
            text("SELECT max(outbox_id) FROM billing.router_jobs WHERE client_id = :c"), {"c": isp.client_id}
        ).scalar_one()
        tenant = Tenant(
            isp.app_id, isp.client_id, company, email, service["name"], isp.isp_service, f010, public_id,
            webhook_id, router_job_id, code, username, merchant.api_username, merchant.api_secret,
        )  # fmt: skip
        for role in ("org_admin", "manager", "user"):
            name = unique_name(f"{tag.lower()}{role[:3]}")
            user, _ = users.create_user(conn, name, PASSWORD, role, ACTOR, client_id=isp.client_id)
            tenant.users[role], tenant.user_ids[role] = name, user["id"]
    return tenant
