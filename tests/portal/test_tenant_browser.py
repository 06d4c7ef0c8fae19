"""The merchant's portal in a real browser: a client's org_admin signs in, sees their own dashboard, opens a
transaction, rotates the API secret (the new one shown once) and opens a usage month."""

from __future__ import annotations

import pytest

from tests.portal.conftest import screenshot
from tests.portal.tenant_world import PASSWORD, make_tenant

pytestmark = pytest.mark.browser


def test_org_admin_uses_the_merchants_portal(app, page, echo_service):
    own = make_tenant(app, echo_service.url, "Kilima")
    other = make_tenant(app, echo_service.url, "Pwani")
    page.on("dialog", lambda dialog: dialog.accept())  # the rotate button asks first

    page.goto("/portal/login")
    page.fill("#username", own.users["org_admin"])
    page.fill("#password", PASSWORD)
    page.click("[data-test=sign-in]")
    page.wait_for_url("**/portal/")
    assert page.inner_text("[data-test=tenant-name]") == own.company
    assert page.is_visible("[data-test=nav-settings-credentials]")
    assert page.locator("[data-test=nav-clients]").count() == 0  # no gateway entries
    assert page.locator("[data-test=nav-services]").count() == 0
    assert int(page.inner_text("[data-test=today-count]")) == 1  # their one payment, not the other client's
    content = page.content()
    assert own.f010[:20] in content and other.f010[:20] not in content and other.company not in content
    screenshot(page, "tenant-dashboard.png", full_page=True)

    # A transaction and its timeline.
    page.click("[data-test=nav-transactions]")
    page.click("[data-test=txn-link]")
    page.wait_for_url(f"**/portal/transactions/{own.public_id}")
    assert page.is_visible("[data-kind=webhook]")
    assert page.is_visible("[data-test=redeliver]")

    # Rotate the API secret: shown once, then only its last four characters.
    page.click("[data-test=nav-settings-credentials]")
    page.wait_for_url(f"**/portal/clients/{own.app_id}")
    page.click("[data-test=rotate-credentials]")
    page.wait_for_selector("[data-test=shown-once]")
    secret = page.input_value("[data-test=secret-api_secret]")
    assert len(secret) >= 40 and secret != own.api_secret
    screenshot(page, "tenant-secret.png")
    page.click("[data-test=secrets-done]")
    page.wait_for_url(f"**/portal/clients/{own.app_id}")
    assert secret not in page.content()
    assert page.inner_text("[data-test=api-secret-masked]").endswith(secret[-4:])

    # A usage month.
    page.click("[data-test=nav-usage]")
    page.wait_for_url(f"**/portal/clients/{own.app_id}/usage")
    assert int(page.inner_text("[data-test=usage-transactions]").replace(",", "")) >= 1
    assert page.evaluate("document.getElementById('usageChart').getBoundingClientRect().height") > 50
    page.fill("#u-month", "2001-02")
    page.click("[data-test=usage-show]")
    page.wait_for_url("**/usage?month=2001-02")
    assert page.inner_text("[data-test=usage-transactions]") == "0"
    screenshot(page, "tenant-usage.png", full_page=True)

    # Their users: a new one gets a generated password, shown once.
    page.click("[data-test=nav-users]")
    page.wait_for_url(f"**/portal/clients/{own.app_id}/users")
    page.fill("#username", f"clerk-{own.app_id}")
    page.select_option("#role", "manager")
    page.click("[data-test=create-client-user]")
    page.wait_for_selector("[data-test=shown-once]")
    assert len(page.input_value("[data-test=secret-password]")) >= 12
    assert page.is_visible(f"[data-test=client-user-clerk-{own.app_id}]")

    # Another client's page is a 404, as one that does not exist.
    response = page.goto(f"/portal/clients/{other.app_id}")
    assert response.status == 404
    assert other.company not in page.content()
    assert page.js_errors == [], page.js_errors
