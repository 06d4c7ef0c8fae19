"""The merchant's portal: a client's own user (org_admin, manager, user) reaches only their client's pages and
objects. The isolation test walks every portal route in app.url_map, so a route added later is covered, or
makes this test fail until someone says how to fill its arguments and whether tenants may open it."""

from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import text

from admin import users
from admin.scope import Scope
from core import db
from reports import dashboard
from tests.portal.conftest import CSRF_RE, csrf_token, post, sign_in
from tests.portal.tenant_world import PASSWORD, Tenant, make_tenant

# Every portal endpoint, by who may open it. A new endpoint must be added to one of these sets (and its
# arguments to fill_args below): the isolation test fails until then.
TENANT_ENDPOINTS = frozenset(
    {
        "portal_monitoring.dashboard",
        "portal_monitoring.api_logs",
        "portal_monitoring.audit_log",
        "portal_transactions.list_transactions",
        "portal_transactions.export_csv",
        "portal_transactions.detail",
        "portal_transactions.redeliver",
        "portal_clients.list_clients",  # a tenant is sent to their own client's page
        "portal_clients.detail",
        "portal_clients.rotate",
        "portal_clients.rotate_webhook",
        "portal_clients.set_mpesa",
        "portal_clients.set_router",
        "portal_usage.month",
        "portal_usage.month_csv",
        "portal_client_users.list_users",
        "portal_client_users.create",
        "portal_client_users.update",
        "portal_billing.index",  # a tenant is sent to their own client's billing screens
        "portal_billing.overview",
        "portal_billing.plans",
        "portal_billing.create_plan",
        "portal_billing.update_plan",
        "portal_billing.subscriber_list",
        "portal_billing.create_subscriber",
        "portal_billing.subscriber",
        "portal_billing.check_on_router",
        "portal_billing.subscriber_action",
        "portal_billing.subscriptions",
        "portal_billing.router",
        "portal_billing.router_settings",
        "portal_billing.router_test",
        "portal_billing.retry_job",
        "portal_billing.reconcile",
    }
)
GATEWAY_ENDPOINTS = frozenset(
    {
        "portal_monitoring.health",
        "portal_clients.new_client",
        "portal_clients.edit",
        "portal_clients.set_status",
        "portal_clients.assign_service",
        "portal_clients.set_assignment",
        "portal_services.list_services",
        "portal_services.new_service",
        "portal_services.detail",
        "portal_services.edit",
        "portal_services.assign",
        "portal_functions.list_functions",
        "portal_function_editor.edit",
        "portal_function_editor.save",
        "portal_function_editor.rollback",
        "portal_function_editor.dry_run",
        "portal_function_editor.shadow",
        "portal_function_editor.add_test",
        "portal_function_editor.run_tests",
        "portal_users.list_users",
        "portal_users.create",
        "portal_users.update",
    }
)
# Sign-in and one's own account: every signed-in user, and no other client's object in their addresses.
OWN_ENDPOINTS = frozenset(
    {
        "portal_login.login",
        "portal_login.verify_code",
        "portal_login.enrol_code",
        "portal_login.logout",
        "portal_account.account",
        "portal_account.change_password",
        "portal_account.enrol",
        "portal_account.disable",
    }
)
REDIRECTS_TO_OWN = {"portal_clients.list_clients", "portal_billing.index"}


@pytest.fixture(scope="module")
def world(app, echo_service) -> tuple[Tenant, Tenant]:
    return make_tenant(app, echo_service.url, "Alpha"), make_tenant(app, echo_service.url, "Bravo")


def _signed_in(app, username: str):
    client = app.test_client()
    response = sign_in(client, username, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return client


@pytest.fixture(scope="module")
def org_admin(app, world):
    return _signed_in(app, world[0].users["org_admin"])


@pytest.fixture(scope="module")
def manager(app, world):
    return _signed_in(app, world[0].users["manager"])


@pytest.fixture(scope="module")
def plain_user(app, world):
    return _signed_in(app, world[0].users["user"])


def portal_rules(app) -> list:
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/portal")]
    assert len(rules) > 50, "the portal's routes were not found"
    return rules


def fill_args(endpoint: str, arguments: set[str], owner: Tenant, target: Tenant) -> dict:
    """The URL arguments of `endpoint`: the client in the address is `owner`'s, every object `target`'s.
    Fails on an argument it does not know, so a new route cannot slip through unchecked."""
    values = {
        "app_id": owner.app_id,
        "public_id": target.public_id,
        "outbox_id": target.router_job_id if endpoint.startswith("portal_billing.") else target.webhook_id,
        "username": target.users["manager"] if endpoint.startswith("portal_client_users.") else target.subscriber,
        "code": target.plan_code,
        "action": "remove",
        "service": target.service,
        "name": target.service,
        "fn": f"{target.app_id}_{target.service}_pay",
        "user_id": target.user_ids["org_admin"],
    }
    unknown = arguments - values.keys()
    assert not unknown, f"{endpoint} has URL argument(s) {sorted(unknown)}: teach fill_args how to fill them"
    return {a: values[a] for a in arguments}


def _classified(endpoint: str) -> None:
    assert endpoint in TENANT_ENDPOINTS | GATEWAY_ENDPOINTS | OWN_ENDPOINTS, (
        f"new portal endpoint {endpoint}: add it to TENANT_ENDPOINTS (and scope it) or GATEWAY_ENDPOINTS"
    )


def _token(client) -> str:
    match = CSRF_RE.search(client.get("/portal/account").get_data(as_text=True))
    assert match, "the tenant's session has no CSRF token (signed out?)"
    return match.group(1)


def _assert_no_markers(body: str, other: Tenant, where: str) -> None:
    for marker in other.markers():
        assert marker not in body, f"{where}: shows {marker!r} of the other client"


def test_every_portal_endpoint_is_classified(app):
    endpoints = {r.endpoint for r in portal_rules(app)}
    for endpoint in endpoints:
        _classified(endpoint)
    assert not (TENANT_ENDPOINTS | GATEWAY_ENDPOINTS | OWN_ENDPOINTS) - endpoints, "a listed endpoint is gone"
    # What the test expects is what the code says: tenants=True exactly on the tenant endpoints.
    for endpoint in endpoints - {"portal_login.login", "portal_login.verify_code", "portal_login.enrol_code"}:
        view = app.view_functions[endpoint]
        expected = endpoint in TENANT_ENDPOINTS or endpoint in OWN_ENDPOINTS
        assert getattr(view, "tenants", False) == expected or endpoint == "portal_login.logout", endpoint


def test_isolation_every_route_against_the_other_clients_objects(app, world, org_admin):
    """Signed in as client A's org_admin, GET and POST every portal route with client B's objects, both
    under B's app_id and under A's own: only 403, 404 or a redirect to A's own pages, never B's data."""
    a, b = world
    token, tried = _token(org_admin), 0
    for rule in portal_rules(app):
        _classified(rule.endpoint)
        if rule.endpoint in OWN_ENDPOINTS:
            continue  # no client object in their addresses; signing out would end this sweep
        owners = (b, a) if "app_id" in rule.arguments and len(rule.arguments) > 1 else (b,)
        for owner in owners:
            args = fill_args(rule.endpoint, set(rule.arguments), owner, b)
            with app.test_request_context():
                url = url_for(rule.endpoint, **args)
            for method in sorted({"GET", "POST"} & rule.methods):
                if method == "GET":
                    response = org_admin.get(url)
                else:
                    form = {"csrf_token": token, "role": "user", "active": "0", "action": "deactivate",
                            "reason": "x", "username": "intruder", "code": "X1", "name": "x", "price": "1",
                            "duration": "1 day", "profile": "1M", "service_type": "pppoe"}  # fmt: skip
                    response = org_admin.post(url, data=form)
                tried += 1
                where = f"{method} {url} ({rule.endpoint})"
                body = response.get_data(as_text=True)
                # A 404 may name what was asked for ("no transaction '…'"): the asker typed it. Everything
                # else of B (company, email, f010, API username, users, other objects) must not show.
                shown = body + response.headers.get("Location", "")
                for asked in args.values():
                    shown = shown.replace(str(asked), "<asked>")
                _assert_no_markers(shown, b, where)
                if rule.endpoint in GATEWAY_ENDPOINTS:
                    assert response.status_code == 403, (where, response.status_code, body[:500])
                    continue
                if response.status_code == 302:
                    # Only to A's own pages: the lists that send a tenant home, or a billing write under A's
                    # address that reports (as a red flash) that B's object is not A's.
                    location = response.headers["Location"]
                    assert a.app_id in location, (where, location)
                    if rule.endpoint not in REDIRECTS_TO_OWN:
                        assert owner is a and rule.endpoint.startswith("portal_billing."), (where, location)
                        after = org_admin.get(location)
                        text_ = after.get_data(as_text=True)
                        assert after.status_code == 404 or "alert-danger" in text_, (where, text_[:3000])
                        assert "alert-success" not in text_, (where, text_[:3000])
                    continue
                if not rule.arguments:  # the tenant's own lists (dashboard, transactions, logs): scoped
                    assert response.status_code == 200, (where, response.status_code, body[:500])
                    continue
                assert response.status_code in (403, 404), (where, response.status_code, body[:500])
    assert tried > 60
    assert org_admin.get("/portal/account").status_code == 200  # still signed in: nothing above signed out
    with app.app_context(), db.transaction() as conn:  # and nothing of B changed
        row = conn.execute(
            text("SELECT status FROM billing.subscribers WHERE client_id = :c AND username = :u"),
            {"c": b.client_id, "u": b.subscriber},
        ).scalar_one()
        assert row != "removed"
        assert users.get_user(conn, b.user_ids["manager"])["active"]
        assert users.get_user(conn, b.user_ids["manager"])["role"] == "manager"


def _own_get_urls(app, a: Tenant) -> list[str]:
    urls = []
    for rule in portal_rules(app):
        if rule.endpoint in TENANT_ENDPOINTS and "GET" in rule.methods:
            with app.test_request_context():
                urls.append(url_for(rule.endpoint, **fill_args(rule.endpoint, set(rule.arguments), a, a)))
    return urls


def test_own_pages_open_and_show_only_own_data(app, world, org_admin):
    a, b = world
    urls = _own_get_urls(app, a)
    assert len(urls) >= 15
    for url in urls:
        response = org_admin.get(url, follow_redirects=True)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, (url, response.status_code, body[:1000])
        assert "Traceback" not in body
        _assert_no_markers(body, b, url)
    # The other client's rows exist (a gateway admin sees them); the tenant's lists hold only their own.
    listing = org_admin.get("/portal/transactions").get_data(as_text=True)
    assert a.f010 in listing
    assert a.public_id in org_admin.get("/portal/").get_data(as_text=True)
    assert "/api/v1/payment/process" in org_admin.get("/portal/api-logs").get_data(as_text=True)
    csv_body = org_admin.get("/portal/transactions.csv").get_data(as_text=True)
    assert a.f010 in csv_body and b.f010 not in csv_body
    audit = org_admin.get("/portal/audit").get_data(as_text=True)
    assert "client.update" in audit and "billing.subscriber.suspend" in audit


def test_gateway_admin_still_sees_both_clients(world, super_client):
    a, b = world
    listing = super_client.get("/portal/transactions").get_data(as_text=True)
    assert a.f010 in listing and b.f010 in listing
    audit = super_client.get("/portal/audit?action=client.update").get_data(as_text=True)
    assert a.app_id in audit and b.app_id in audit
    assert b.users["manager"] in super_client.get(f"/portal/clients/{b.app_id}/users").get_data(as_text=True)
    assert b.users["manager"] not in super_client.get("/portal/users").get_data(as_text=True)  # gateway users only


@pytest.mark.parametrize(
    "path",
    [
        "/portal/services",
        "/portal/services/new",
        "/portal/users",
        "/portal/clients/new",
        "/portal/health",
    ],
)
def test_gateway_pages_are_refused_with_a_message(org_admin, path):
    response = org_admin.get(path)
    assert response.status_code == 403
    assert "this is a gateway administrators" in response.get_data(as_text=True)


def test_clients_list_sends_a_tenant_to_their_own_client(world, org_admin):
    a, _ = world
    response = org_admin.get("/portal/clients?q=Bravo")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/portal/clients/{a.app_id}")
    response = org_admin.get("/portal/billing")
    assert response.headers["Location"].endswith(f"/portal/billing/{a.app_id}/subscribers")


def test_tenant_menu_shows_only_their_pages(world, org_admin, plain_user):
    a, _ = world
    page = org_admin.get("/portal/").get_data(as_text=True)
    assert f'data-test="tenant-name">{a.company}' in page
    for entry in ("dashboard", "transactions", "usage", "isp-billing", "settings-credentials", "users", "api-logs"):
        assert f'data-test="nav-{entry}"' in page, entry
    for gateway_only in ("nav-clients", "nav-services", 'id="health-list"', "Revenue by client"):
        assert gateway_only not in page, gateway_only
    assert 'data-test="nav-users"' not in plain_user.get("/portal/").get_data(as_text=True)


def test_sign_in_lands_on_the_tenants_dashboard(app, world):
    client = app.test_client()
    response = sign_in(client, world[0].users["user"], PASSWORD)
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/")
    assert world[0].company in client.get("/portal/").get_data(as_text=True)


def test_dashboard_figures_are_the_clients_own(app, world):
    a, _ = world
    with app.app_context(), db.transaction() as conn:
        everyone = dashboard.overview(conn)
        own = dashboard.overview(conn, Scope(a.client_id, a.app_id))
        only_a = conn.execute(
            text(
                "SELECT count(*) FROM gateway.transactions "
                "WHERE client_id = :c AND created_at >= date_trunc('day', now())"
            ),
            {"c": a.client_id},
        ).scalar_one()
    assert own["totals"]["today"]["count"] == only_a < everyone["totals"]["today"]["count"]
    assert {r["app_id"] for r in own["recent_transactions"]} == {a.app_id}
    assert {r["app_id"] for r in own["recent_api_calls"]} <= {a.app_id}
    assert own["counts"] is None and own["revenue"] == []
    assert sum(h["completed"] + h["failed"] + h["in_flight"] for h in own["hours"]) == only_a
    assert len(own["hours"]) == 24


# ---------------------------------------------------------------------------------------------- roles


def _csrf(client, path: str = "/portal/account") -> str:
    return csrf_token(client, path)


def test_manager_cannot_do_an_org_admins_work(world, manager):
    a, _ = world
    token = _csrf(manager)
    for path in (
        f"/portal/clients/{a.app_id}/credentials/rotate",
        f"/portal/clients/{a.app_id}/webhook-secret/rotate",
        f"/portal/clients/{a.app_id}/mpesa",
        f"/portal/clients/{a.app_id}/router",
        f"/portal/billing/{a.app_id}/router/settings",
        f"/portal/clients/{a.app_id}/users",
        f"/portal/clients/{a.app_id}/users/{a.users['user']}",
    ):
        response = manager.post(path, data={"csrf_token": token, "username": "x-new", "role": "org_admin",
                                            "action": "role"})  # fmt: skip
        assert response.status_code == 403, path
        assert "not allowed for role manager" in response.get_data(as_text=True), path
    assert manager.get(f"/portal/clients/{a.app_id}/users").status_code == 403
    page = manager.get(f"/portal/clients/{a.app_id}").get_data(as_text=True)
    assert 'data-test="rotate-credentials"' not in page and 'data-test="client-users-link"' not in page
    # A manager does operate: redeliver the client's webhook, and ISP work.
    response = manager.post(f"/portal/outbox/{a.webhook_id}/redeliver", data={"csrf_token": token})
    assert response.status_code == 302 and a.public_id in response.headers["Location"]
    assert 'data-test="redeliver"' in manager.get(f"/portal/transactions/{a.public_id}").get_data(as_text=True)


def test_a_user_cannot_operate(world, plain_user):
    a, _ = world
    token = _csrf(plain_user)
    for path in (
        f"/portal/outbox/{a.webhook_id}/redeliver",
        f"/portal/billing/{a.app_id}/plans",
        f"/portal/billing/{a.app_id}/subscribers/{a.subscriber}/resume",
        f"/portal/billing/{a.app_id}/router/jobs/{a.router_job_id}/retry",
        f"/portal/clients/{a.app_id}/credentials/rotate",
    ):
        response = plain_user.post(path, data={"csrf_token": token, "code": "X", "name": "x"})
        assert response.status_code == 403, path
        assert "not allowed for role user (read-only)" in response.get_data(as_text=True), path
    page = plain_user.get(f"/portal/transactions/{a.public_id}").get_data(as_text=True)
    assert a.f010 in page and 'data-test="redeliver"' not in page
    assert plain_user.get(f"/portal/billing/{a.app_id}/plans").status_code == 200


def test_org_admin_cannot_change_own_role_or_deactivate_themself(app, world, org_admin):
    a, _ = world
    me = a.users["org_admin"]
    url = f"/portal/clients/{a.app_id}/users/{me}"
    for data in ({"action": "role", "role": "user"}, {"action": "deactivate"}):
        response = org_admin.post(url, data={**data, "csrf_token": _csrf(org_admin)}, follow_redirects=True)
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and "your own account" in body, body[:2000]
    with app.app_context(), db.transaction() as conn:
        user = users.get_user(conn, a.user_ids["org_admin"])
    assert user["role"] == "org_admin" and user["active"]


def test_org_admin_manages_the_clients_users(app, world, org_admin):
    a, _ = world
    base = f"/portal/clients/{a.app_id}/users"
    page = org_admin.get(base).get_data(as_text=True)
    assert a.users["manager"] in page and a.users["user"] in page
    created = post(org_admin, base, {"username": "alpha-clerk", "role": "manager", "email": "clerk@alpha.test"},
                   token_from=base)  # fmt: skip
    body = created.get_data(as_text=True)
    assert created.status_code == 200 and 'data-test="shown-once"' in body
    password = body.split('data-test="secret-password"')[0].rsplit('value="', 1)[1].split('"', 1)[0]
    assert len(password) >= 12
    assert password not in org_admin.get(base).get_data(as_text=True)  # shown once
    again = post(org_admin, base, {"username": "alpha-clerk", "role": "user"}, token_from=base)
    assert again.status_code == 400 and "user &#39;alpha-clerk&#39; exists" in again.get_data(as_text=True)
    bad = post(org_admin, base, {"username": "x y", "role": "user"}, token_from=base)
    assert bad.status_code == 400
    bad_email = post(org_admin, base, {"username": "alpha-mail", "role": "user", "email": "nope"}, token_from=base)
    assert bad_email.status_code == 400 and "email must be an address" in bad_email.get_data(as_text=True)
    gateway_role = post(org_admin, base, {"username": "alpha-boss", "role": "super_admin"}, token_from=base)
    assert gateway_role.status_code == 400  # only client roles

    user_url = f"{base}/alpha-clerk"
    done = post(org_admin, user_url, {"action": "role", "role": "user"}, token_from=base, follow_redirects=True)
    assert "alpha-clerk is now user" in done.get_data(as_text=True)
    done = post(org_admin, user_url, {"action": "deactivate"}, token_from=base, follow_redirects=True)
    assert "alpha-clerk deactivated" in done.get_data(as_text=True)
    done = post(org_admin, user_url, {"action": "activate"}, token_from=base, follow_redirects=True)
    assert "alpha-clerk activated" in done.get_data(as_text=True)
    bad_role = post(org_admin, user_url, {"action": "role", "role": "admin"}, token_from=base, follow_redirects=True)
    assert "role of a client&#39;s user must be one of" in bad_role.get_data(as_text=True)
    done = post(org_admin, user_url, {"action": "require_2fa"}, token_from=base, follow_redirects=True)
    assert "alpha-clerk must set up two-factor" in done.get_data(as_text=True)
    assert 'data-test="relax-2fa-alpha-clerk"' in done.get_data(as_text=True)
    done = post(org_admin, user_url, {"action": "relax_2fa"}, token_from=base, follow_redirects=True)
    assert 'data-test="require-2fa-alpha-clerk"' in done.get_data(as_text=True)
    unknown = post(org_admin, user_url, {"action": "explode"}, token_from=base, follow_redirects=True)
    assert "unknown action" in unknown.get_data(as_text=True)
    assert post(org_admin, f"{base}/nobody-here", {"action": "deactivate"}, token_from=base).status_code == 404

    # The new user signs in with the generated password and must choose their own first.
    client = app.test_client()
    response = sign_in(client, "alpha-clerk", password)
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/account/password")
    audit = org_admin.get("/portal/audit?action=user.").get_data(as_text=True)
    assert "user.create" in audit and "user.set_role" in audit and "alpha-clerk" in audit


def test_gateway_admin_creates_the_first_org_admin(app, world, admin_client, viewer_client):
    _, b = world
    base = f"/portal/clients/{b.app_id}/users"
    page = admin_client.get(f"/portal/clients/{b.app_id}").get_data(as_text=True)
    assert 'data-test="client-users-link"' in page
    created = post(admin_client, base, {"username": "bravo-first", "role": "org_admin"}, token_from=base)
    assert created.status_code == 200 and 'data-test="shown-once"' in created.get_data(as_text=True)
    assert viewer_client.get(base).status_code == 403  # a gateway viewer does not manage users


def test_org_admin_rotates_credentials_and_reads_it_in_the_audit_log(world, org_admin):
    a, b = world
    page = org_admin.get(f"/portal/clients/{a.app_id}").get_data(as_text=True)
    assert 'data-test="rotate-credentials"' in page
    assert 'data-test="save-client"' not in page and 'data-test="deactivate"' not in page  # gateway's
    assert 'data-test="assign-service"' not in page
    assert f"clientfn.{a.app_id}_" not in page  # routes only, not the gateway's generated functions
    assert f'data-test="routes-{a.service}"' in page
    response = post(
        org_admin, f"/portal/clients/{a.app_id}/credentials/rotate", token_from=f"/portal/clients/{a.app_id}"
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-test="secret-api_secret"' in body
    response = post(org_admin, f"/portal/clients/{a.app_id}/webhook-secret/rotate",
                    token_from=f"/portal/clients/{a.app_id}")  # fmt: skip
    assert 'data-test="secret-webhook_secret"' in response.get_data(as_text=True)
    bad = post(org_admin, f"/portal/clients/{a.app_id}/router", {"host": "", "port": "x"},
               token_from=f"/portal/clients/{a.app_id}")  # fmt: skip
    assert bad.status_code == 400
    _assert_no_markers(bad.get_data(as_text=True), b, "router form error page")
    audit = org_admin.get("/portal/audit?action=client.").get_data(as_text=True)
    assert "client.rotate_credentials" in audit and "client.rotate_webhook_secret" in audit


def test_tenant_filters_cannot_name_another_client(world, org_admin):
    a, b = world
    for path in (f"/portal/transactions?app_id={b.app_id}", f"/portal/api-logs?app_id={b.app_id}",
                 f"/portal/transactions.csv?app_id={b.app_id}", f"/portal/audit?target={b.app_id}"):  # fmt: skip
        response = org_admin.get(path)
        assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        assert b.f010 not in body and b.public_id not in body, path
    assert a.f010 in org_admin.get(f"/portal/transactions?app_id={b.app_id}").get_data(as_text=True)
