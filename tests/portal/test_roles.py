"""Roles are enforced on the server for every action, not only hidden in the menu."""

from __future__ import annotations

import pytest

from tests.portal.conftest import csrf_token

# Sign-in and the user's own account are open to every role; everything else that writes is checked.
OWN_ACCOUNT = ("portal_login.", "portal_account.")
ARGS = {
    "app_id": "someclient",
    "service": "someservice",
    "name": "someservice",
    "outbox_id": 1,
    "user_id": 1,
    "public_id": "00000000-0000-0000-0000-000000000000",
    "fn": "someclient_someservice_pay",
    "code": "PLAN",
    "username": "someone",
    "action": "suspend",
}
# POSTs that only read (they run in rolled-back transactions): every role may use them.
READ_ONLY_POSTS = frozenset(
    {"portal_function_editor.dry_run", "portal_function_editor.shadow", "portal_function_editor.run_tests"}
)


def _write_urls(app, prefix: str = "portal_") -> list[str]:
    urls = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith(prefix) or rule.endpoint.startswith(OWN_ACCOUNT):
                continue
            if "POST" in rule.methods and rule.endpoint not in READ_ONLY_POSTS:
                urls.append(url_for(rule.endpoint, **{a: ARGS[a] for a in rule.arguments}))
    return sorted(set(urls))


def test_every_portal_write_route_is_covered(app):
    urls = _write_urls(app)
    assert len(urls) >= 15, urls  # clients, services, users, redeliver…


def test_viewer_cannot_write_anything(app, viewer_client):
    token = csrf_token(viewer_client, "/portal/")
    for url in _write_urls(app):
        response = viewer_client.post(url, data={"csrf_token": token, "app_id": "x", "service": "x"})
        body = response.get_data(as_text=True)
        assert response.status_code == 403, (url, response.status_code)
        assert "not allowed for role viewer" in body, url


@pytest.mark.parametrize("path", ["/portal/clients/new", "/portal/services/new", "/portal/users"])
def test_viewer_cannot_open_write_pages(viewer_client, path):
    assert viewer_client.get(path).status_code == 403


def test_admin_cannot_manage_users(app, admin_client):
    token = csrf_token(admin_client, "/portal/")
    assert admin_client.get("/portal/users").status_code == 403
    for url in _write_urls(app, "portal_users."):
        response = admin_client.post(url, data={"csrf_token": token, "username": "sneaky", "role": "super_admin"})
        assert response.status_code == 403
        assert "needs the super_admin role" in response.get_data(as_text=True)


def test_menu_and_buttons_follow_the_role(viewer_client, super_client):
    viewer_page = viewer_client.get("/portal/clients").get_data(as_text=True)
    assert 'data-test="new-client"' not in viewer_page
    assert 'data-test="nav-users"' not in viewer_page
    super_page = super_client.get("/portal/clients").get_data(as_text=True)
    assert 'data-test="new-client"' in super_page and 'data-test="nav-users"' in super_page


def test_read_only_posts_are_open_to_viewers(app, viewer_client):
    token = csrf_token(viewer_client, "/portal/")
    with app.test_request_context():
        from flask import url_for

        urls = [url_for(endpoint, fn=ARGS["fn"]) for endpoint in sorted(READ_ONLY_POSTS)]
    for url in urls:  # no such function: 404, not 403
        assert viewer_client.post(url, data={"csrf_token": token}).status_code == 404, url
