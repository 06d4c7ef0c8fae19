"""Portal fixtures: signed-in test clients per role, CSRF-aware helpers, and (for browser tests) the assets
and a headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.factories import make_admin

ROOT = Path(__file__).resolve().parents[2]
CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS_ENV = "MOSPAY_SCREENSHOTS_DIR"  # set by `make screenshots`; `make test` writes no file


def screenshot(page, name: str, **options) -> None:
    """Render a screenshot (so a page that cannot render still fails); save it only under `make screenshots`."""
    target = os.environ.get(SCREENSHOTS_ENV)
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        options["path"] = str(Path(target) / name)
    page.screenshot(**options)


def csrf_token(client, path: str = "/portal/login") -> str:
    """The CSRF token of the client's session, read from any portal page's <meta name="csrf-token">."""
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no csrf-token meta tag on {path} (HTTP {page.status_code})"
    return match.group(1)


LOGIN_PAGE = "/portal/login"


def post(client, path: str, data: dict | None = None, *, token_from: str = LOGIN_PAGE, **kwargs):
    """POST a portal form with a valid CSRF token (read from the page `token_from`), as the browser would."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_from)}, **kwargs)


def sign_in(client, username: str, password: str):
    response = post(client, "/portal/login", {"username": username, "password": password})
    return response


def signed_in(app, role: str):
    username, password = make_admin(app, role)
    client = app.test_client()
    response = sign_in(client, username, password)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    client.username = username
    return client


@pytest.fixture(scope="session")
def super_client(app):
    return signed_in(app, "super_admin")


@pytest.fixture(scope="session")
def admin_client(app):
    return signed_in(app, "admin")


@pytest.fixture(scope="session")
def viewer_client(app):
    return signed_in(app, "viewer")


@pytest.fixture(scope="session")
def assets() -> Path:
    """static/vendor/ from npm (scripts/install_assets.sh returns at once when it is up to date)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "install_assets.sh")], check=True, cwd=ROOT, timeout=300)
    return ROOT / "static" / "vendor"


@pytest.fixture(scope="session")
def browser(assets):
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_gateway):
    """A fresh browser context (own cookies) whose relative URLs go to the live gateway."""
    context = browser.new_context(base_url=live_gateway.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.js_errors = errors
    yield tab
    context.close()
