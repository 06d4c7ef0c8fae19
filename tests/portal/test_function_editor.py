"""The function editor pages, server side: roles, save and refusals, rollback, dry-run, tests, shadow."""

from __future__ import annotations

import pytest

from tests.factories import echo_setup
from tests.portal.conftest import post
from tests.workshop.conftest import pay


@pytest.fixture
def route(app, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    return merchant, service, f"{merchant.app_id}_{service['name']}_pay"


def _source(fn: str, message: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION clientfn.{fn}(unique_id text, data_input json)\n"
        "RETURNS TABLE(results json) LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$\n"
        "BEGIN\n    RETURN QUERY SELECT json_build_object('status', '200', 'action', 'OUTPUT', "
        f"'message', '{message}');\n"
        "END\n$fn$"
    )


def test_viewer_reads_and_tries_but_cannot_save(viewer_client, route):
    _, service, fn = route
    page = viewer_client.get(f"/portal/functions/{fn}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-editor="sql"' in html and "vendor/codemirror/codemirror.js" in html
    assert 'data-test="save-function"' not in html and "saving needs the admin role" in html
    path = f"/portal/functions/{fn}"
    refused = post(viewer_client, f"{path}/save", {"source": _source(fn, "x"), "reason": "r"}, token_from=path)
    assert refused.status_code == 403
    tried = post(
        viewer_client,
        f"{path}/dry-run",
        {"payload": f'{{"f000": "{service["name"]}", "f004": "5", "f010": "p-1"}}', "service_reply": ""},
        token_from=path,
    )
    assert tried.status_code == 200 and 'data-test="dry-call_spec"' in tried.get_data(as_text=True)


def test_admin_saves_sees_refusals_and_rolls_back(admin_client, client, route):
    merchant, service, fn = route
    path = f"/portal/functions/{fn}"
    broken = post(
        admin_client,
        f"{path}/save",
        {"source": _source(fn, "x").replace("BEGIN", "BEGN"), "reason": "r"},
        token_from=path,
    )
    html = broken.get_data(as_text=True)
    assert broken.status_code == 400 and 'data-test="refusal-line"' in html and "BEGN" in html  # text kept
    unsafe = post(
        admin_client,
        f"{path}/save",
        {"source": _source(fn, "x").replace("SET search_path = pg_catalog, pg_temp ", ""), "reason": "r"},
        token_from=path,
    )
    assert unsafe.status_code == 422 and "<code>search_path</code>" in unsafe.get_data(as_text=True)
    saved = post(
        admin_client,
        f"{path}/save",
        {"source": _source(fn, "from the portal"), "reason": "portal edit"},
        token_from=path,
    )
    assert saved.status_code == 302
    assert pay(client, merchant, service["name"]).get_json()["message"] == "from the portal"
    page = admin_client.get(f"{path}?from=1&to=2").get_data(as_text=True)
    assert 'data-test="diff"' in page and "portal edit" in page and ">portal</span>" in page
    back = post(admin_client, f"{path}/rollback", {"version": "1", "reason": "undo"}, token_from=path)
    assert back.status_code == 302
    assert pay(client, merchant, service["name"]).get_json()["data"]["message"] == "echo pay ok"


def test_tests_and_shadow_from_the_portal(admin_client, client, route):
    merchant, service, fn = route
    path = f"/portal/functions/{fn}"
    assert pay(client, merchant, service["name"]).status_code == 200
    added = post(
        admin_client,
        f"{path}/tests",
        {"name": "asks the service", "payload": '{"f004": "1", "f010": "t"}', "expect": '{"action": "SERVICE"}'},
        token_from=path,
    )
    assert added.status_code == 302
    bad = post(admin_client, f"{path}/tests", {"name": "x", "payload": "{not json", "expect": "{}"}, token_from=path)
    assert bad.status_code == 400 and "not valid JSON" in bad.get_data(as_text=True)
    run = post(admin_client, f"{path}/tests/run", token_from=path).get_data(as_text=True)
    assert "1 passed, 0 failed" in run
    shadow = post(admin_client, f"{path}/shadow", {"source": _source(fn, "draft"), "last": "5"}, token_from=path)
    assert shadow.status_code == 200
    assert "Replayed 1 request(s): <strong>1</strong> answer(s) differ." in shadow.get_data(as_text=True)


def test_function_list_links_to_the_editor(viewer_client, route):
    merchant, _, fn = route
    html = viewer_client.get(f"/portal/clients/{merchant.app_id}/functions").get_data(as_text=True)
    assert f'href="/portal/functions/{fn}"' in html
    assert viewer_client.get("/portal/functions/no_such_fn").status_code == 404
