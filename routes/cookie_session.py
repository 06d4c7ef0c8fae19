"""Flask's signed cookie session, without its cost on requests that carry no session cookie (every API call):
Flask builds the cookie signer for each request before it looks for the cookie, and works out every cookie
setting before it finds an empty session has nothing to save. Behaviour is Flask's own in every case."""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin


class CookieSessionInterface(SecureCookieSessionInterface):
    """SecureCookieSessionInterface with fast paths for the session a cookie-less request starts with."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()  # what Flask returns here too, without building the signer first
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")  # as Flask does for any session that was read
            return
        super().save_session(app, session, response)
