"""Builders that go through the real service layer (the same code the admin API and portal call)."""

from __future__ import annotations

from dataclasses import dataclass

from admin import clients, services, users
from core import db
from tests.conftest import basic, unique_name

ACTOR = {"id": None, "username": "tests"}


@dataclass
class MerchantClient:
    """A created client with its once-shown secrets, and helpers to call the API as it."""

    app_id: str
    api_username: str
    api_secret: str
    webhook_secret: str
    id: int

    def headers(self) -> dict:
        return {"Authorization": basic(self.api_username, self.api_secret), "App-ID": self.app_id}

    def fields(self, service: str, route: str, **extra: str) -> dict:
        body = {"f000": service, "f002": route, "f003": self.app_id, "f010": unique_name("tx")}
        body.update(extra)
        return body


def make_client(app, **overrides) -> MerchantClient:
    data = {"app_id": unique_name("c"), "company_name": "Acme Ltd", "email": "ops@acme.test", **overrides}
    with app.app_context(), db.transaction() as conn:
        created = clients.create_client(conn, data, ACTOR)
    return MerchantClient(
        created["app_id"], created["api_username"], created["api_secret"], created["webhook_secret"], created["id"]
    )


def make_service(app, base_url: str, **overrides) -> dict:
    data = {
        "name": unique_name("s"),
        "display_name": "Echo",
        "kind": "http",
        "base_url": base_url,
        "routes": ["pay", "refund"],
        "timeout_s": 2,
        **overrides,
    }
    with app.app_context(), db.transaction() as conn:
        return services.create_service(conn, data, ACTOR)


def assign(app, app_id: str, service: str) -> dict:
    with app.app_context(), db.transaction() as conn:
        return services.assign(conn, app_id, service, ACTOR)


def make_admin(
    app,
    role: str = "super_admin",
    password: str = "correct horse battery",  # noqa: S107 - a test fixture
) -> tuple[str, str]:
    username = unique_name("u")
    with app.app_context(), db.transaction() as conn:
        users.create_user(conn, username, password, role, ACTOR)
    return username, password


def echo_setup(app, echo_url: str, **service_overrides) -> tuple[MerchantClient, dict]:
    """A client with an http service pointing at the echo microservice, assigned."""
    merchant = make_client(app)
    service = make_service(app, echo_url, **service_overrides)
    assign(app, merchant.app_id, service["name"])
    return merchant, service


def make_client_user(app, app_id: str, role: str = "org_admin") -> tuple[str, str]:
    """A client's own user with a password of its own (no forced change), through the service layer."""
    username = unique_name("t")
    with app.app_context(), db.transaction() as conn:
        client_id = clients.get_client(conn, app_id)["id"]
        user, password = users.create_user(conn, username, None, role, ACTOR, client_id=client_id)
        users.set_password(conn, user["id"], "tenant password 123", ACTOR)
    return username, "tenant password 123"
