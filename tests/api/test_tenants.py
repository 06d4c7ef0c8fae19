"""A client's own users on the admin API: created with a generated password, tokens that carry their client,
roles (org_admin, manager, user), and isolation: every admin endpoint tried against another client's objects."""

from __future__ import annotations

import re
import uuid

import jwt
import pytest
from sqlalchemy import select

from admin.roles import GATEWAY_ONLY
from billing import catalogue
from core import db
from models import AuditLog, Outbox
from tests.conftest import basic, unique_name
from tests.factories import ACTOR, echo_setup, make_admin, make_client_user

PASSWORD = "tenant password 123"  # noqa: S105 - what tests.factories.make_client_user sets


def _token(client, username: str, password: str) -> dict:
    resp = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


def _pay(client, merchant, service) -> str:
    resp = client.post(
        "/api/v1/payment/process", headers=merchant.headers(), json=merchant.fields(service["name"], "pay", f004="5")
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["transaction_id"]


@pytest.fixture
def gateway_admin(app, client):
    return _token(client, *make_admin(app, "admin"))


@pytest.fixture
def two_clients(app, client, echo_service):
    """Clients A and B, each with a paid transaction and a queued webhook; B also has a plan, a subscriber and
    a user that share one username (so every <username> route meets one of B's)."""
    a, service_a = echo_setup(app, echo_service.url, fields=[])
    b, service_b = echo_setup(app, echo_service.url, fields=[])
    company_b = unique_name("Company B ")
    for merchant in (a, b):
        with app.app_context(), db.transaction() as conn:
            from admin import clients

            change = {"callback_url": "http://127.0.0.1:9/hook"}
            if merchant is b:
                change["company_name"] = company_b
            clients.update_client(conn, merchant.app_id, change, ACTOR)
    txn_a, txn_b = _pay(client, a, service_a), _pay(client, b, service_b)
    shared = unique_name("bshared")
    with app.app_context(), db.transaction() as conn:
        plan = catalogue.create_plan(
            conn,
            b.app_id,
            {
                "code": unique_name("plan"),
                "name": "B plan",
                "price": 10,
                "duration": "1 day",
                "profile": "b",
                "service_type": "pppoe",
            },
            ACTOR,
        )
        catalogue.create_subscriber(
            conn, b.app_id, {"username": shared, "password": "secret-b-1", "service_type": "pppoe"}, ACTOR
        )
        outbox_ids = {
            m.app_id: conn.execute(select(Outbox.id).where(Outbox.client_id == m.id).order_by(Outbox.id)).scalar()
            for m in (a, b)
        }
        from admin import users

        users.create_user(conn, shared, None, "manager", ACTOR, client_id=b.id)
    assert all(outbox_ids.values()), "each payment queues a webhook"
    return {
        "a": a,
        "b": b,
        "txn_a": txn_a,
        "txn_b": txn_b,
        "outbox_a": outbox_ids[a.app_id],
        "outbox_b": outbox_ids[b.app_id],
        "plan_b": plan["code"],
        "shared_b": shared,
        "company_b": company_b,
    }


def test_gateway_admin_creates_the_first_org_admin_who_signs_in_after_changing_the_password(
    app, client, gateway_admin, two_clients
):
    a = two_clients["a"]
    username = unique_name("oa")
    created = client.post(
        f"/api/v1/admin/clients/{a.app_id}/users",
        headers=gateway_admin,
        json={"username": username, "role": "org_admin", "email": "boss@acme.test"},
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["role"] == "org_admin" and body["app_id"] == a.app_id and body["must_change_password"] is True
    generated = body["password"]
    assert len(generated) >= 12 and "password_hash" not in body and "totp_secret_enc" not in body
    # The generated password is shown once: the list never shows it.
    listed = client.get(f"/api/v1/admin/clients/{a.app_id}/users", headers=gateway_admin).get_json()["items"]
    assert [u["username"] for u in listed if u["username"] == username] and generated not in str(listed)

    refused = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, generated)})
    assert refused.status_code == 403 and "/api/v1/admin/account/password" in refused.get_json()["message"]
    changed = client.post(
        "/api/v1/admin/account/password",
        headers={"Authorization": basic(username, generated)},
        json={"current_password": generated, "new_password": "my own password 42"},
    )
    assert changed.status_code == 200, changed.get_json()
    token = client.post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, "my own password 42")})
    assert token.status_code == 200 and token.get_json()["app_id"] == a.app_id
    claims = jwt.decode(token.get_json()["token"], options={"verify_signature": False})
    assert claims["app_id"] == a.app_id and claims["role"] == "org_admin"

    # The org admin manages the rest of the client's users.
    org_admin = {"Authorization": f"Bearer {token.get_json()['token']}"}
    manager = client.post(
        f"/api/v1/admin/clients/{a.app_id}/users",
        headers=org_admin,
        json={"username": unique_name("m"), "role": "manager"},
    )
    assert manager.status_code == 201, manager.get_json()
    with app.app_context(), db.transaction() as conn:
        rows = conn.execute(select(AuditLog.action, AuditLog.client_id).where(AuditLog.username == username)).all()
    assert ("user.create", a.id) in rows  # the org admin's actions land in the client's own audit log


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"username": "ab", "role": "manager"}, 400, "username"),
        ({"username": "good.name", "role": "admin"}, 400, "org_admin, manager, user"),
        ({"username": "good.name", "role": "viewer"}, 400, "org_admin, manager, user"),
        ({"username": "good.name"}, 400, "role"),
        ({"username": "good.name", "role": "user", "email": "not an address"}, 400, "email"),
        ({"username": "good.name", "role": "user", "password": "x"}, 400, "unknown field"),
        (["username"], 400, "JSON object"),
    ],
)
def test_creating_a_client_user_refuses_bad_input_with_advice(client, gateway_admin, two_clients, body, status, words):
    resp = client.post(f"/api/v1/admin/clients/{two_clients['a'].app_id}/users", headers=gateway_admin, json=body)
    assert resp.status_code == status and words in resp.get_json()["message"], resp.get_json()


def test_a_username_is_taken_across_the_gateway(client, gateway_admin, two_clients):
    taken = two_clients["shared_b"]  # a user of client B
    resp = client.post(
        f"/api/v1/admin/clients/{two_clients['a'].app_id}/users",
        headers=gateway_admin,
        json={"username": taken, "role": "user"},
    )
    assert resp.status_code == 409


def test_roles_within_a_client(app, client, two_clients):
    a = two_clients["a"]
    org_admin_name, _ = make_client_user(app, a.app_id, "org_admin")
    org_admin = _token(client, org_admin_name, PASSWORD)
    manager = _token(client, make_client_user(app, a.app_id, "manager")[0], PASSWORD)
    reader_name, _ = make_client_user(app, a.app_id, "user")
    reader = _token(client, reader_name, PASSWORD)
    base = f"/api/v1/admin/clients/{a.app_id}"

    # A manager works with transactions, webhooks and ISP billing, but not with credentials or users.
    assert client.get("/api/v1/admin/transactions", headers=manager).status_code == 200
    assert client.post(f"/api/v1/admin/outbox/{two_clients['outbox_a']}/redeliver", headers=manager).status_code == 200
    for path in ("/credentials/rotate", "/webhook-secret/rotate"):
        resp = client.post(base + path, headers=manager)
        assert resp.status_code == 403 and "org_admin" in resp.get_json()["message"]
    assert client.put(base + "/credentials/mpesa", headers=manager, json={}).status_code == 403
    assert (
        client.post(base + "/users", headers=manager, json={"username": unique_name("x"), "role": "user"}).status_code
        == 403
    )
    assert client.patch(f"{base}/users/{reader_name}", headers=manager, json={"active": False}).status_code == 403

    # A user reads and nothing more.
    assert client.get(f"/api/v1/admin/transactions/{two_clients['txn_a']}", headers=reader).status_code == 200
    resp = client.post(f"/api/v1/admin/outbox/{two_clients['outbox_a']}/redeliver", headers=reader)
    assert resp.status_code == 403 and "read-only" in resp.get_json()["message"]
    assert client.post(base + "/plans", headers=reader, json={}).status_code == 403

    # The org admin rotates the client's secret and manages users, but not their own role or activation.
    rotated = client.post(base + "/credentials/rotate", headers=org_admin)
    assert rotated.status_code == 200 and rotated.get_json()["api_secret"]
    assert client.patch(f"{base}/users/{reader_name}", headers=org_admin, json={"role": "manager"}).status_code == 200
    for change in ({"role": "user"}, {"active": False}):
        resp = client.patch(f"{base}/users/{org_admin_name}", headers=org_admin, json=change)
        assert resp.status_code == 409 and "your own account" in resp.get_json()["message"]
    assert client.patch(f"{base}/users/{reader_name}", headers=org_admin, json={"role": "admin"}).status_code == 400
    assert client.patch(f"{base}/users/{reader_name}", headers=org_admin, json={"active": "no"}).status_code == 400
    assert client.patch(f"{base}/users/{reader_name}", headers=org_admin, json={}).status_code == 400

    # Lockouts, two-factor and lost passwords are the org admin's to handle too.
    for change, key, value in (
        ({"totp_required": True}, "totp_required", True),
        ({"unlock": True}, "locked_until", None),
    ):
        resp = client.patch(f"{base}/users/{reader_name}", headers=org_admin, json=change)
        assert resp.status_code == 200 and resp.get_json()[key] == value, resp.get_json()
    for bad in ({"unlock": False}, {"totp_required": "yes"}, {"password": "x"}):
        assert client.patch(f"{base}/users/{reader_name}", headers=org_admin, json=bad).status_code == 400
    reset = client.post(f"{base}/users/{reader_name}/password", headers=manager)
    assert reset.status_code == 403
    reset = client.post(f"{base}/users/{reader_name}/password", headers=org_admin)
    assert reset.status_code == 200 and reset.get_json()["must_change_password"] is True
    assert client.get("/api/v1/admin/transactions", headers=reader).status_code == 401  # sessions ended
    fresh = client.post(
        "/api/v1/admin/auth/token", headers={"Authorization": basic(reader_name, reset.get_json()["password"])}
    )
    assert fresh.status_code == 403  # the generated password must be changed first
    assert client.post(f"{base}/users/{org_admin_name}/password", headers=org_admin).status_code == 409
    client.patch(f"{base}/users/{reader_name}", headers=org_admin, json={"totp_required": False})
    with app.app_context(), db.transaction() as conn:
        from admin import users

        users.set_password(conn, users_id(conn, reader_name), PASSWORD, ACTOR)
    reader = _token(client, reader_name, PASSWORD)

    # Deactivation ends the user's token at once.
    assert client.patch(f"{base}/users/{reader_name}", headers=org_admin, json={"active": False}).status_code == 200
    assert client.get("/api/v1/admin/transactions", headers=reader).status_code == 401


def users_id(conn, username: str) -> int:
    from models import User

    return conn.execute(select(User.id).where(User.username == username)).scalar_one()


def test_gateway_pages_are_closed_to_client_users(app, client, two_clients):
    a = two_clients["a"]
    org_admin = _token(client, make_client_user(app, a.app_id, "org_admin")[0], PASSWORD)
    for method, path in (
        ("get", "/api/v1/admin/services"),
        ("post", "/api/v1/admin/clients"),
        ("patch", f"/api/v1/admin/clients/{a.app_id}"),  # limits, quota and status are the gateway's to set
        ("post", f"/api/v1/admin/clients/{a.app_id}/deactivate"),
        ("post", f"/api/v1/admin/clients/{a.app_id}/services"),
        ("get", "/api/v1/admin/functions"),
    ):
        resp = getattr(client, method)(path, headers=org_admin, json={})
        assert resp.status_code == 403 and resp.get_json()["message"].endswith(GATEWAY_ONLY), (path, resp.get_json())


def test_lists_show_only_the_own_client(app, client, two_clients):
    a, b = two_clients["a"], two_clients["b"]
    org_admin = _token(client, make_client_user(app, a.app_id, "user")[0], PASSWORD)
    clients_page = client.get("/api/v1/admin/clients", headers=org_admin).get_json()
    assert [c["app_id"] for c in clients_page["items"]] == [a.app_id]
    for query in ("", f"?app_id={b.app_id}"):
        items = client.get(f"/api/v1/admin/transactions{query}", headers=org_admin).get_json()["items"]
        assert {t["app_id"] for t in items} <= {a.app_id}
    assert two_clients["txn_a"] in str(client.get("/api/v1/admin/transactions", headers=org_admin).get_json())


def test_a_client_user_sees_its_calls_without_the_gateways_service_addresses(
    app, client, gateway_admin, two_clients, echo_service
):
    path = f"/api/v1/admin/transactions/{two_clients['txn_a']}"
    own = _token(client, make_client_user(app, two_clients["a"].app_id, "user")[0], PASSWORD)
    as_client = client.get(path, headers=own).get_json()
    assert as_client["attempts"] and echo_service.url not in str(as_client)
    assert as_client["attempts"][0]["url"].endswith("service)")
    assert client.get(path, headers=gateway_admin).get_json()["attempts"][0]["url"].startswith(echo_service.url)


def test_a_token_whose_client_claim_was_changed_is_refused(app, client, two_clients):
    username, _ = make_client_user(app, two_clients["a"].app_id, "org_admin")
    token = _token(client, username, PASSWORD)["Authorization"].split()[1]
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["app_id"] = two_clients["b"].app_id  # signed with the real key: only the claim check can refuse it
    forged = jwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    resp = client.get(f"/api/v1/admin/clients/{two_clients['b'].app_id}", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401


# Every path parameter of the admin API, filled with one of client B's objects, or with a "ghost" that exists
# nowhere (gateway-only routes that name no client object answer 403 before they look at the value).
def _values(objects: dict) -> tuple[dict, dict]:
    b = objects["b"]
    real = {
        "app_id": b.app_id,
        "public_id": objects["txn_b"],
        "outbox_id": str(objects["outbox_b"]),
        "username": objects["shared_b"],
        "code": objects["plan_b"],
    }
    ghost = {
        "app_id": unique_name("ghost"),
        "public_id": str(uuid.uuid4()),
        "outbox_id": "2147480000",
        "username": unique_name("ghost"),
        "code": unique_name("ghost"),
    }
    for same in ({"name": "anyservice", "fn": f"clientfn.{b.app_id}_x_pay", "n": "1"},):
        real.update(same)
        ghost.update(same)
    return real, ghost


def _fill(rule, values: dict) -> str:
    unknown = set(rule.arguments) - set(values)
    if unknown:
        pytest.fail(f"{rule.rule}: teach this isolation test to fill {sorted(unknown)} with client B's objects")
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1)], rule.rule)


# Routes a client's user may call without naming a client: they answer 200 about its own client only.
OWN_SCOPE = {("GET", "/api/v1/admin/clients"), ("GET", "/api/v1/admin/transactions")}


@pytest.mark.parametrize("role", ["org_admin", "user"])
def test_a_client_user_reaches_nothing_of_another_client(app, client, two_clients, role):
    """Every admin route and method, with client B's objects: the answer is the one a client that does not
    exist gets (same status, same body but for the name asked for), 403 or 404, and never B's data."""
    a, b = two_clients["a"], two_clients["b"]
    headers = _token(client, make_client_user(app, a.app_id, role)[0], PASSWORD)
    real, ghost = _values(two_clients)
    never_shown = (b.api_username, two_clients["company_b"], two_clients["txn_b"])
    tried = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/admin"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            answers = []
            for values in (real, ghost):
                query = f"?app_id={values['app_id']}&q={values['app_id']}" if method == "GET" else ""
                resp = client.open(_fill(rule, values) + query, method=method, headers=headers, json={})
                answers.append((resp.status_code, resp.get_data(as_text=True)))
            tried += 1
            (status, body), (ghost_status, ghost_body) = answers
            where = (method, rule.rule, status, body[:300])
            if (method, rule.rule) in OWN_SCOPE:
                assert status == 200 and not any(s in body for s in (b.app_id, *never_shown)), where
                continue
            for key in real:
                ghost_body = ghost_body.replace(ghost[key], real[key])
            assert (status, body) == (ghost_status, ghost_body), where
            assert status in (401, 403, 404), where  # 401: the Basic-only routes (token, password change)
            assert not any(s in body for s in never_shown if s not in _fill(rule, real)), where
    assert tried >= 50
