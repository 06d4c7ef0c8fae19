"""Subscriber passwords: stored encrypted, resolved only at call time and only for the client the call is for."""

from __future__ import annotations

import pytest

from gateway import service_secrets
from tests.billing.conftest import SUBSCRIBER_PASSWORD, sql, subscriber


def test_password_is_resolved_for_its_own_client_only(app, isp, isp_factory):
    alice = isp.subscribers["alice"]["id"]
    other = isp_factory(subscribers=(subscriber("carol"),))
    with app.app_context():
        assert service_secrets.resolve(isp.client_id, {"password": f"subscriber:{alice}"}) == {
            "password": SUBSCRIBER_PASSWORD
        }
        with pytest.raises(service_secrets.SecretReferenceError, match="not a subscriber of this client"):
            service_secrets.resolve(other.client_id, {"password": f"subscriber:{alice}"})
    stored = sql(app, "SELECT password_enc FROM billing.subscribers WHERE id = :i", i=alice)
    assert SUBSCRIBER_PASSWORD not in stored


@pytest.mark.parametrize(
    "refs",
    [
        None,
        {},
        "subscriber:1",
        {"password": "subscriber:abc"},
        {"password": 1},
        {"consumer_secret": "subscriber:1"},  # only the password slot can be filled
        {"password": "credentials:mpesa"},
    ],
)
def test_malformed_references_are_refused(app, isp, refs):
    with app.app_context(), pytest.raises(service_secrets.SecretReferenceError):
        service_secrets.resolve(isp.client_id, refs)
