"""ISP billing and the captive page in a real browser (Playwright + Chromium) at desktop and phone width:
the operator's screens, a subscriber paying on the Daraja simulator until "connected" and signed in on the
hotspot (RouterOS simulator /ip/hotspot/active), and a cancelled payment that shows why and grants nothing.
Screenshots go to a temporary directory: tests never write tracked files."""

from __future__ import annotations

import re

import pytest
import requests

from microservices.mpesa.app import create_app as create_mpesa_app
from microservices.router.app import create_app as create_router_app
from simulators.daraja import RunningSimulator
from simulators.hotspot_login import HotspotLoginServer
from tests.billing.conftest import SIM_SETTINGS, make_isp, plan, rows, subscriber
from tests.billing.test_isp_flow import worker_once
from tests.factories import make_admin
from tests.routeros_fixtures import make_simulator
from tests.servers import LiveServer

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(VIEWPORTS))
def tab(request, browser, live_gateway):
    """A fresh browser context at desktop or phone width; records JS errors and every 4xx/5xx response."""
    phone = request.param == "phone"
    context = browser.new_context(base_url=live_gateway.url, viewport=VIEWPORTS[request.param], is_mobile=phone,
                                  has_touch=phone)  # fmt: skip
    context.set_default_timeout(15000)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(f"js: {exc}"))
    page.on("response", lambda r: page.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.width = request.param
    yield page
    context.close()


@pytest.fixture(scope="module")
def stack(app, database_url):
    """The live ISP stack as in tests/billing: Daraja simulator and both adapters, served for real."""
    daraja = RunningSimulator(SIM_SETTINGS)
    mpesa_app = create_mpesa_app(
        {
            "DATABASE_URL": database_url,
            "INTERNAL_TOKEN": app.config["INTERNAL_TOKEN"],
            "ENCRYPTION_KEY": app.config["ENCRYPTION_KEY"],
            "DARAJA_RETRY_BACKOFF_S": 0.01,
        }
    )
    mpesa = LiveServer(mpesa_app).start()
    router = LiveServer(create_router_app({"INTERNAL_TOKEN": app.config["INTERNAL_TOKEN"], "ROUTER_TIMEOUT_S": 2}))
    router.start()
    yield {"daraja": daraja, "mpesa": mpesa, "router": router}
    router.stop()
    mpesa.stop()
    mpesa_app.extensions["mpesa_client"].close()
    daraja.stop()


@pytest.fixture
def routeros():
    sim = make_simulator()
    yield sim
    sim.stop()


@pytest.fixture
def hotspot(routeros):
    server = HotspotLoginServer(routeros).start()
    yield server
    server.stop()


@pytest.fixture
def live_hs(app, live_gateway, stack, routeros, monkeypatch):
    monkeypatch.setitem(app.config, "BILLING_DRIFT_INTERVAL_S", 3600)
    requests.post(f"{stack['daraja'].base_url}/simulator/reset", timeout=5).raise_for_status()
    return make_isp(
        app,
        mpesa_url=stack["mpesa"].url,
        router_url=stack["router"].url,
        daraja_url=stack["daraja"].base_url,
        router_port=routeros.port,
        plans=(
            plan("HOUR", duration="1 hour", price="10", profile="10M", service_type="hotspot"),
            plan("DAY", duration="1 day", price="50", profile="20M", service_type="hotspot"),
        ),
        subscribers=(subscriber("carol", phone="254711000222", service_type="hotspot"),),
    )


def no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px at {page.width} width"


def test_operator_screens(app, tab, live_hs, routeros, tmp_path):
    username, password = make_admin(app, "admin")
    tab.goto("/portal/login")
    tab.fill("#username", username)
    tab.fill("#password", password)
    tab.click("[data-test=sign-in]")
    tab.wait_for_url("**/portal/")
    tab.goto("/portal/billing")
    tab.click(f"[data-test=isp-{live_hs.app_id}]")
    tab.wait_for_selector("[data-test=subscribers]")
    no_sideways_scroll(tab)

    tab.fill("#username", "dave")
    tab.fill("#password", "dave-secret-1")
    tab.fill("#phone", "0722333444")
    tab.select_option("#service_type", "hotspot")
    tab.click("[data-test=create-subscriber]")
    tab.wait_for_selector("text=Subscriber dave created.")
    tab.click("[data-test=check-router]")
    tab.wait_for_selector("[data-test=router-check]")
    assert "no hotspot account named dave on the router" in tab.inner_text("[data-test=router-check]")
    tab.fill("#reason", "router abuse")
    tab.click("[data-test=suspend]")
    tab.wait_for_selector("[data-test=hold-reason]")
    assert "router abuse" in tab.inner_text("[data-test=hold-reason]")
    assert "suspend" in tab.inner_text("[data-test=jobs]")
    tab.screenshot(path=str(tmp_path / f"subscriber-{tab.width}.png"), full_page=True)
    no_sideways_scroll(tab)
    tab.click("[data-test=resume]")
    tab.wait_for_selector("text=Subscriber dave resumed.")

    tab.click("[data-test=tab-plans]")
    tab.fill("#code", "WEEK")
    tab.fill("#name", "Weekly")
    tab.fill("#price", "300")
    tab.fill("#duration", "7 days")
    tab.fill("#profile", "20M")
    tab.click("[data-test=create-plan]")
    tab.wait_for_selector("text=Plan WEEK created.")
    no_sideways_scroll(tab)

    tab.click("[data-test=tab-subscriptions]")
    tab.wait_for_selector("#ending")
    tab.click("[data-test=tab-router]")
    tab.click("[data-test=test-router]")
    tab.wait_for_selector("[data-test=router-test]")
    assert tab.inner_text("[data-test=router-test]").startswith("connected: ")
    tab.click("[data-test=reconcile]")
    tab.wait_for_selector("text=Router checked")
    no_sideways_scroll(tab)
    tab.screenshot(path=str(tmp_path / f"router-{tab.width}.png"), full_page=True)

    tab.goto("/api/v1/docs")
    tab.wait_for_selector("[data-test=endpoints]")
    assert tab.evaluate("getComputedStyle(document.body).fontFamily") != "Times New Roman"  # styled
    no_sideways_scroll(tab)
    assert tab.problems == [], tab.problems  # no missing asset, no script error on any signed-in page


def test_captive_page_pays_connects_and_signs_the_device_in(app, tab, live_hs, routeros, hotspot, tmp_path):
    dst = f"{hotspot.url}/status"
    tab.goto(f"/hotspot/{live_hs.app_id}?mac=02:00:7F:00:00:01&ip=127.0.0.1&link-login-only={hotspot.login_url}"
             f"&dst={dst}")  # fmt: skip
    assert "link-login-only" not in tab.url  # the hotspot's parameters left the address bar
    no_sideways_scroll(tab)
    tab.screenshot(path=str(tmp_path / f"captive-{tab.width}.png"), full_page=True)
    tab.click("[data-test=plan]:has-text('KES 10')")
    tab.fill("#phone", "0708374149")
    tab.click("[data-test=pay]")
    tab.wait_for_url("**/wait")
    while "/done" not in tab.url and not tab.url.startswith(hotspot.url):
        worker_once(app)  # the router job is the worker's, as in production
        tab.wait_for_timeout(300)
    tab.wait_for_selector("[data-test=connected]")
    assert tab.inner_text("[data-test=until]").startswith("Connected until ")
    username = tab.inner_text("[data-test=new-username]")
    assert re.fullmatch(r"[a-z2-9]{8}", tab.inner_text("[data-test=new-password]"))
    tab.screenshot(path=str(tmp_path / f"connected-{tab.width}.png"), full_page=True)
    tab.wait_for_url(f"{dst}*")  # the page posted the credentials to link-login-only; the hotspot sent us on
    [active] = routeros.state()["/ip/hotspot/active"]
    assert active["user"] == username == "254708374149"
    assert hotspot.logins[-1]["username"] == username

    tab.goto(f"/hotspot/{live_hs.app_id}")
    assert "plan HOUR" in tab.inner_text("[data-test=account]")
    assert "KES 10.00" in tab.inner_text("[data-test=payments]")
    assert tab.inner_text("[data-test=time-left]").endswith("min")
    assert tab.problems == [], tab.problems


def test_cancelled_payment_shows_the_reason_and_grants_nothing(app, tab, live_hs, routeros):
    tab.goto(f"/hotspot/{live_hs.app_id}")
    tab.fill("#phone", "0700000001")  # the Daraja simulator's "customer cancels" number
    tab.click("[data-test=pay]")
    # An outside event: the simulator's callback (3 s), then the page's next poll; a loaded machine needs room.
    tab.wait_for_selector("[data-test=retry]:visible", timeout=45_000)
    assert tab.inner_text("[data-test=stage]") == "Payment not completed"
    assert tab.inner_text("[data-test=message]") == "Cancelled by the customer. Nothing was added to your account."
    no_sideways_scroll(tab)
    worker_once(app)
    assert rows(app, "SELECT id FROM billing.subscriptions WHERE client_id = :c", c=live_hs.client_id) == []
    assert routeros.state()["/ip/hotspot/user"] == [] and routeros.state()["/ip/hotspot/active"] == []
