"""Fixtures for the hostile suite: a live gateway, a merchant with an assigned echo service, a super admin."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from tests.conftest import basic
from tests.factories import MerchantClient, echo_setup, make_admin


@dataclass
class Credentials:
    merchant: MerchantClient
    service: str
    admin_basic: str
    admin_bearer: str


@pytest.fixture(scope="module")
def creds(app, live_gateway, echo_service) -> Credentials:
    merchant, service = echo_setup(app, echo_service.url)
    username, password = make_admin(app, "super_admin")
    token = requests.post(f"{live_gateway.url}/api/v1/admin/auth/token", auth=(username, password), timeout=10)
    assert token.status_code == 200, token.text
    return Credentials(merchant, service["name"], basic(username, password), f"Bearer {token.json()['token']}")
