"""The function editor in a real browser: CodeMirror loads from static/vendor, a refused save keeps the text
and marks the line, a save changes what payments get, dry-run uses the draft, rollback restores."""

from __future__ import annotations

import pytest

from tests.factories import echo_setup, make_admin
from tests.portal.conftest import screenshot
from tests.portal.test_browser import _no_js_errors, _sign_in
from tests.workshop.conftest import pay

pytestmark = pytest.mark.browser


def _editor_ready(page) -> None:
    """After a page load: the editor's scripts (at the end of the page) have run. The server's HTML, which the
    waits for text and badges see, can be there a moment before them on a busy machine."""
    page.wait_for_function("() => window.functionEditor !== undefined")


def test_dba_edits_tries_ships_and_rolls_back(app, client, page, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    fn = f"{merchant.app_id}_{service['name']}_pay"
    username, password = make_admin(app, "admin")
    _sign_in(page, username, password)
    page.goto(f"/portal/clients/{merchant.app_id}/functions")
    page.click(f"[data-test=open-editor-{fn}]")
    page.wait_for_selector(".CodeMirror")  # the real editor replaced the textarea
    assert "CREATE OR REPLACE FUNCTION clientfn." + fn in page.evaluate("window.functionEditor.getValue()")

    # A broken draft is refused with PostgreSQL's line; the text stays in the editor.
    live = page.evaluate("window.functionEditor.getValue()")
    page.evaluate("src => window.functionEditor.setValue(src)", live.replace("RETURN QUERY", "RETRN QUERY"))
    page.fill("#reason", "try a typo")
    page.click("[data-test=save-function]")
    page.wait_for_selector("[data-test=refusal-line]")
    # The server's badge is in the HTML before the editor's scripts at the end of the page have run: wait for
    # the line they mark (a fresh-clone run on a busy machine once looked in between).
    page.wait_for_selector(".cm-refused-line")
    assert "RETRN QUERY" in page.evaluate("window.functionEditor.getValue()")

    # Dry-run the draft that doubles the amount, then ship it.
    draft = live.replace(
        "'data', data_input)",
        "'data', (data_input::jsonb || jsonb_build_object('double', "
        "((data_input->>'f004')::numeric * 2)::text))::json)",
    )
    assert draft != live
    page.evaluate("src => window.functionEditor.setValue(src)", draft)
    page.fill("#payload", f'{{"f000": "{service["name"]}", "f002": "pay", "f004": "21", "f010": "b-1"}}')
    page.click("[data-test=dry-run]")
    page.wait_for_selector("[data-test=dry-run-result]")
    _editor_ready(page)  # the save below sends the editor's text through its submit handler
    assert '"double": "42"' in page.inner_text("[data-test=dry-call_spec]")
    screenshot(page, "function-editor.png", full_page=True)
    page.fill("#reason", "send the doubled amount too")
    page.click("[data-test=save-function]")
    page.wait_for_selector("text=Saved version 2")
    assert pay(client, merchant, service["name"], f004="21").get_json()["data"]["echo"]["double"] == "42"

    # Roll back to version 1 in one action.
    page.fill("[aria-label='reason for rolling back to version 1']", "partner not ready")
    page.click("[data-test=rollback-1]")
    page.wait_for_selector("text=Rolled back to version 1 as version 3")
    _editor_ready(page)
    assert "double" not in pay(client, merchant, service["name"], f004="21").get_json()["data"]["echo"]

    # Shadow-replay the doubling draft over the two real payments, then attach a test and run it.
    page.evaluate("src => window.functionEditor.setValue(src)", draft)
    page.fill("#last", "5")
    page.click("[data-test=shadow-run]")
    page.wait_for_selector("[data-test=shadow-result]")
    assert "Replayed 2 request(s): 2 answer(s) differ." in page.inner_text("[data-test=shadow-result]")
    page.click("text=Attach a test")
    page.fill("#test-name", "asks the service")
    page.fill("#test-expect", '{"action": "SERVICE", "serviceurl": "/pay"}')
    page.click("[data-test=add-test]")
    page.wait_for_selector("[data-test=test-case]")
    page.click("[data-test=run-tests]")
    page.wait_for_selector("[data-test=test-summary]")
    assert page.inner_text("[data-test=test-summary]") == "1 passed, 0 failed"
    _no_js_errors(page)
