"""routes.cookie_session: Flask's cookie session with fast paths for cookie-less requests. Every answer carries
the same cookie and Vary headers as under Flask's own interface, and a browser's session still works."""

from __future__ import annotations

import pytest
from flask.sessions import SecureCookieSessionInterface

from routes.cookie_session import CookieSessionInterface
from tests.portal.conftest import csrf_token, signed_in


def _cookie_headers(app, interface, request) -> tuple:
    saved = app.session_interface
    app.session_interface = interface
    try:
        response = request(app.test_client())
    finally:
        app.session_interface = saved
    return response.status_code, bool(response.headers.getlist("Set-Cookie")), response.headers.get("Vary")


@pytest.mark.parametrize(
    "request_",
    [
        lambda c: c.post("/api/v1/payment/process", json={"f000": "x"}, headers={"Authorization": "Basic eDp5"}),
        lambda c: c.get("/api/v1/transactions/nope", headers={"Authorization": "Bearer nope"}),
        lambda c: c.get("/healthz"),
        lambda c: c.get("/portal/login"),  # a page that starts a session (its CSRF token)
    ],
)
def test_answers_carry_the_headers_flask_would_send(app, request_):
    assert isinstance(app.session_interface, CookieSessionInterface)
    ours = _cookie_headers(app, CookieSessionInterface(), request_)
    flasks = _cookie_headers(app, SecureCookieSessionInterface(), request_)
    assert ours == flasks


def test_a_browser_session_still_starts_and_is_read_back(app, client):
    token = csrf_token(client)  # the login page sets the session cookie with the token in it
    assert token and client.get_cookie(app.config["SESSION_COOKIE_NAME"]) is not None
    assert csrf_token(client) == token  # read back from the cookie on the next request
    viewer = signed_in(app, "viewer")
    assert viewer.get("/portal/").status_code == 200
