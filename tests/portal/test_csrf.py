"""Every portal form needs its CSRF token; the JSON API (header-authenticated) does not."""

from __future__ import annotations

from tests.factories import make_admin


def _refused(response) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "CSRF token" in body and "reload the page and retry" in body
    assert "Traceback" not in body


def test_sign_in_without_token_is_refused(app, client):
    username, password = make_admin(app, "viewer")
    _refused(
        client.post("/portal/login", data={"username": username, "password": password}, headers={"Accept": "text/html"})
    )


def test_write_without_token_is_refused(super_client):
    _refused(
        super_client.post(
            "/portal/clients/new", data={"app_id": "nocsrf", "company_name": "X", "email": "x@example.com"}
        )
    )
    _refused(super_client.post("/portal/logout"))
    assert super_client.get("/portal/").status_code == 200  # still signed in


def test_token_of_another_session_is_refused(app, super_client, viewer_client):
    from tests.portal.conftest import csrf_token

    token = csrf_token(viewer_client, "/portal/")
    _refused(
        super_client.post(
            "/portal/clients/new",
            data={"csrf_token": token, "app_id": "othercsrf", "company_name": "X", "email": "x@example.com"},
        )
    )


def test_json_api_needs_no_csrf_token(client):
    response = client.post("/api/v1/auth/token", headers={"App-ID": "nobody"})
    assert response.status_code == 401  # refused for its credentials, not for CSRF
    assert response.is_json
