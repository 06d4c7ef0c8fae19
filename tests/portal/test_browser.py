"""The portal in a real browser: Playwright drives Debian's headless Chromium against the live gateway.
`make screenshots` saves the screenshots shown in the README under docs/screenshots/; `make test` writes no file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import requests

from core import db
from demo import data as demo_data
from tests.conftest import unique_name
from tests.factories import make_admin
from tests.portal.conftest import screenshot

pytestmark = pytest.mark.browser


def _sign_in(page, username: str, password: str) -> None:
    page.goto("/portal/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("[data-test=sign-in]")
    page.wait_for_url("**/portal/")


def _no_js_errors(page) -> None:
    assert page.js_errors == [], page.js_errors


def test_admin_day_end_to_end(app, page, live_gateway, echo_service):
    with app.app_context(), db.transaction() as conn:  # some history, so the charts have something to show
        demo_data.generate(conn, 4000, days=7)
    username, password = make_admin(app, "super_admin")
    _sign_in(page, username, password)
    page.wait_for_selector("[data-test=health-down], [data-test=health-up]")

    # Create a client: its secret is shown once, with a copy button.
    app_id, service_name = unique_name("c"), unique_name("s")
    page.click("[data-test=nav-clients]")
    page.click("[data-test=new-client]")
    page.fill("#app_id", app_id)
    page.fill("#company_name", "Kilimo Fresh Ltd")
    page.fill("#email", "payments@kilimo.test")
    page.fill("#callback_url", "http://127.0.0.1:9/webhook")
    page.click("[data-test=create-client]")
    page.wait_for_selector("[data-test=shown-once]")  # the click returns once the next page starts loading
    api_username = page.input_value("[data-test=secret-api_username]")
    api_secret = page.input_value("[data-test=secret-api_secret]")
    assert len(api_secret) >= 40
    page.click("[data-copy='#secret-api_secret']")
    page.wait_for_selector("text=Copied")
    page.click("[data-test=secrets-done]")
    page.wait_for_url(f"**/portal/clients/{app_id}")
    assert api_secret not in page.content()
    assert page.inner_text("[data-test=api-secret-masked]").endswith(api_secret[-4:])

    # Create a service pointing at the echo microservice.
    page.click("[data-test=nav-services]")
    page.click("[data-test=new-service]")
    page.fill("#name", service_name)
    page.fill("#display_name", "Fresh produce orders")
    page.select_option("#kind", "http")
    page.fill("#base_url", echo_service.url)
    page.fill("#routes", "pay, status")
    page.fill("#timeout_s", "3")
    page.check("#fields-4-used")
    page.check("#fields-4-required")
    page.click("[data-test=save-service]")
    page.wait_for_url(f"**/portal/services/{service_name}")

    # Assign it from the client page.
    page.goto(f"/portal/clients/{app_id}")
    page.select_option("#service", service_name)
    page.click("[data-test=assign-service]")
    page.wait_for_selector(f"text=clientfn.{app_id}_{service_name}_pay")
    screenshot(page, "client.png", full_page=True)

    # A merchant pays through the API …
    f010 = "order-" + unique_name("x")
    answer = requests.post(
        f"{live_gateway.url}/api/v1/payment/process",
        timeout=10,
        auth=(api_username, api_secret),
        headers={"App-ID": app_id},
        json={
            "f000": service_name,
            "f002": "pay",
            "f003": app_id,
            "f004": "1250",
            "f005": "0712345678",
            "f008": "pin-never-shown",
            "f010": f010,
        },
    )
    assert answer.status_code == 200, answer.text

    # … and the admin finds it, opens its timeline, exports CSV.
    page.click("[data-test=nav-transactions]")
    page.fill("#f-app", app_id)
    page.click("[data-test=apply-filters]")
    page.click(f"[data-test=txn-link]:has-text('{f010}')")
    page.wait_for_selector("[data-test=timeline]")
    timeline = page.inner_text("[data-test=timeline]")
    assert "dispatched → completed" in timeline and "Webhook" in timeline
    assert "pin-never-shown" not in page.content()
    screenshot(page, "transaction-timeline.png", full_page=True)

    page.go_back()
    with page.expect_download() as download:
        page.click("[data-test=export-csv]")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["transaction_id", "created_at", "completed_at"]
    assert [r[6] for r in rows[1:]] == [f010]
    assert rows[1][9] == "25471****678"

    page.click("[data-test=nav-dashboard]")
    page.wait_for_selector("#hourlyChart")
    page.wait_for_selector("[data-test=health-down], [data-test=health-up]")
    screenshot(page, "dashboard.png", full_page=True)
    _no_js_errors(page)

    page.click("[data-test=user-menu]")
    page.click("[data-test=sign-out]")
    page.wait_for_url("**/portal/login")
    assert "You are signed out" in page.content()
    page.goto("/portal/clients")
    page.wait_for_url("**/portal/login?next=*")


def test_viewer_cannot_create_or_edit(app, page):
    username, password = make_admin(app, "viewer")
    _sign_in(page, username, password)
    page.click("[data-test=nav-clients]")
    page.wait_for_url("**/portal/clients")  # else the count below could read the page being left
    assert page.locator("[data-test=new-client]").count() == 0
    assert page.locator("[data-test=nav-users]").count() == 0
    response = page.goto("/portal/clients/new")
    assert response.status == 403
    assert "not allowed for role viewer" in page.inner_text("[data-test=error-message]")
    # Even a hand-made form with a valid token is refused by the server.
    page.goto("/portal/clients")
    status = page.evaluate("""async () => {
        const token = document.querySelector('meta[name=csrf-token]').content;
        const body = new URLSearchParams({csrf_token: token, app_id: 'viewermade', company_name: 'X',
                                          email: 'x@example.com'});
        return (await fetch('/portal/clients/new', {method: 'POST', body})).status;
    }""")
    assert status == 403
    _no_js_errors(page)


def test_form_without_csrf_token_is_refused(app, page):
    username, password = make_admin(app, "admin")
    _sign_in(page, username, password)
    page.goto("/portal/clients/new")
    page.evaluate("document.querySelector('form[action$=\"/clients/new\"] input[name=csrf_token]').remove()")
    page.fill("#app_id", unique_name("c"))
    page.fill("#company_name", "No Token Ltd")
    page.fill("#email", "x@example.com")
    page.click("[data-test=create-client]")
    page.wait_for_selector("[data-test=error-message]")
    assert "missing CSRF token" in page.inner_text("[data-test=error-message]")
    assert "Traceback" not in page.content()


def test_phone_width(app, browser, live_gateway):
    context = browser.new_context(
        base_url=live_gateway.url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    try:
        username, password = make_admin(app, "admin")
        _sign_in(page, username, password)
        for path in ("/portal/", "/portal/transactions", "/portal/clients"):
            page.goto(path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (path, overflow)
        page.goto("/portal/")
        screenshot(page, "dashboard-phone.png")
        # The menu starts folded away on a phone and the ☰ button brings it back.
        sidebar_width = "document.querySelector('.sidebar').getBoundingClientRect().width"
        assert page.evaluate(sidebar_width) == 0
        page.click("#sidebarToggleTop")
        assert page.evaluate(sidebar_width) > 0
        page.click("[data-test=nav-clients]")
        page.wait_for_url("**/portal/clients")
        _no_js_errors(page)
    finally:
        context.close()


TABLE_PAGES = ("/portal/", "/portal/transactions", "/portal/clients", "/portal/services", "/portal/api-logs",
               "/portal/audit", "/portal/users")  # fmt: skip
# The columns that must stay on screen at phone width, per page (by header text).
MUST_SHOW_ON_PHONE = {
    "/portal/": {"Recent transactions": ["f010", "Status", "Amount"], "Recent API calls": ["Call", "HTTP"]},
    "/portal/transactions": {"": ["f010", "Status", "Amount"]},
    "/portal/services": {"": ["Name (f000)", "Status"]},
    "/portal/clients": {"": ["App ID", "Status"]},
    "/portal/api-logs": {"": ["Call", "HTTP"]},
    "/portal/audit": {"": ["Who", "What"]},
    "/portal/users": {"": ["User", "Role", "Status", "Actions"]},
}
_MEASURE_TABLES = """() => [...document.querySelectorAll('table')].map(table => {
    const card = table.closest('.card-body') || table.closest('.card') || document.body;
    const scroller = table.closest('.table-responsive') || card;
    const header = table.closest('.card') && table.closest('.card').querySelector('.card-header');
    const cardBox = card.getBoundingClientRect();
    return {
        card: header ? header.innerText.trim() : '',
        overflow: Math.max(scroller.scrollWidth - scroller.clientWidth,
                           table.getBoundingClientRect().right - cardBox.right),
        visible: [...table.querySelectorAll('thead th')].filter(th => {
            const box = th.getBoundingClientRect();
            return getComputedStyle(th).display !== 'none' && box.width > 20 && box.right <= cardBox.right + 1;
        }).map(th => th.innerText.trim()),
    };
})"""


@pytest.mark.parametrize("width", [1366, 390])
def test_tables_stay_inside_their_cards(app, browser, live_gateway, width):
    with app.app_context(), db.transaction() as conn:  # rows with long values, so the tables have something to fit
        demo_data.generate(conn, 200, days=1)
    for _ in range(3):  # API calls with long paths, as a merchant's status polls make
        requests.get(f"{live_gateway.url}/api/v1/transactions/{'order' * 12}", timeout=5,
                     headers={"App-ID": "demo"}, auth=("nobody", "wrong"))  # fmt: skip
    context = browser.new_context(base_url=live_gateway.url, viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        username, password = make_admin(app, "super_admin")
        _sign_in(page, username, password)
        for path in TABLE_PAGES:
            page.goto(path)
            tables = page.evaluate(_MEASURE_TABLES)
            assert tables, path
            for table in tables:
                assert table["overflow"] <= 1, (width, path, table)
            if width < 576:
                for card, columns in MUST_SHOW_ON_PHONE.get(path, {}).items():
                    shown = [t["visible"] for t in tables if t["card"].startswith(card)]
                    assert shown and all(c in shown[0] for c in columns), (path, card, shown)
    finally:
        context.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_usage_month_in_the_browser(app, browser, live_gateway, width):
    """The usage page draws its chart, fits the screen and picks another month through its form."""
    with app.app_context(), db.transaction() as conn:
        demo_data.generate(conn, 50, days=1)
    context = browser.new_context(base_url=live_gateway.url, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    try:
        username, password = make_admin(app, "viewer")
        _sign_in(page, username, password)
        page.goto("/portal/clients/demoshop/usage")
        assert int(page.inner_text("[data-test=usage-transactions]").replace(",", "")) > 0
        assert page.evaluate("document.getElementById('usageChart').getBoundingClientRect().height") > 50
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
        for table in page.evaluate(_MEASURE_TABLES):
            assert table["overflow"] <= 1, (width, table)
        page.fill("#u-month", "2001-02")
        page.click("[data-test=usage-show]")
        page.wait_for_url("**/usage?month=2001-02")
        assert page.inner_text("[data-test=usage-transactions]") == "0"
        _no_js_errors(page)
    finally:
        context.close()
