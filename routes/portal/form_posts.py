"""The portal's one form-post idiom: validate, run the service-layer call in one transaction, and put any
GatewayError under the field it names, so each view only says what to do on success."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask_wtf import FlaskForm
from sqlalchemy.engine import Connection

from core import db
from core.errors import GatewayError
from routes.portal.forms import attach_error

T = TypeVar("T")


def apply(form: FlaskForm, action: Callable[[Connection], T]) -> tuple[bool, T | Any]:
    """(True, result) when the form validated and action(conn) succeeded; else (False, None) with the errors
    on the form (a failed action is rolled back whole)."""
    if not form.validate_on_submit():
        return False, None
    try:
        with db.transaction() as conn:
            return True, action(conn)
    except GatewayError as exc:
        attach_error(form, exc.message)
        return False, None
