"""`servicesecrets`: references in a call spec to secrets kept encrypted outside SQL, resolved at call time.

A client function may not hold a subscriber's router password (SQL only ever stores the ciphertext), so its call
spec names it, e.g. {"password": "subscriber:42"}, and dispatch puts the clear value into the payload just before
the call, scoped to the client the call is made for. The data lives in the billing schema; the resolution belongs
to the call path, which is why it sits here and not in billing/.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text

from core import db
from core.crypto import app_secret_box

# servicesecrets: payload key → reference. Only these keys, only these references.
SECRET_KEYS = ("password",)
SECRET_REF_RE = re.compile(r"^subscriber:(\d{1,18})$")


class SecretReferenceError(ValueError):
    """A `servicesecrets` entry that is malformed or names a subscriber of another client."""


def subscriber_password(client_id: int, subscriber_id: int) -> str:
    """The clear password of one of this client's subscribers. :raise SecretReferenceError: not this client's."""
    with db.transaction() as conn:
        enc = conn.execute(
            text("SELECT billing.subscriber_password_enc(:c, :s)"), {"c": client_id, "s": subscriber_id}
        ).scalar()
    if enc is None:
        raise SecretReferenceError(f"servicesecrets: subscriber {subscriber_id} is not a subscriber of this client")
    try:
        return app_secret_box().decrypt(enc)
    except ValueError as exc:
        raise SecretReferenceError(
            f"servicesecrets: the password of subscriber {subscriber_id} cannot be "
            "decrypted with the configured ENCRYPTION_KEY"
        ) from exc


def resolve(client_id: int, refs: Any) -> dict[str, str]:
    """Turn a call spec's `servicesecrets` ({"password": "subscriber:<id>"}) into payload values, scoped to the
    client the call is made for. :raise SecretReferenceError: for anything else."""
    if not isinstance(refs, dict) or not refs:
        raise SecretReferenceError('servicesecrets must be an object such as {"password": "subscriber:42"}')
    resolved = {}
    for key, ref in refs.items():
        match = SECRET_REF_RE.match(ref) if isinstance(ref, str) else None
        if key not in SECRET_KEYS or match is None:
            raise SecretReferenceError(
                f'servicesecrets: {key!r} → {str(ref)[:40]!r} is not supported; only {{"password": "subscriber:<id>"}}'
            )
        resolved[key] = subscriber_password(client_id, int(match.group(1)))
    return resolved
