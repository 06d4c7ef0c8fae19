"""Services in the portal: create and edit with routes, timeout, field definitions and settings; assign."""

from __future__ import annotations

from gateway.fields import FIELD_NAMES
from tests.conftest import unique_name
from tests.factories import make_client, make_service
from tests.portal.conftest import csrf_token


def _form(name: str, **overrides) -> dict:
    data = {
        "name": name,
        "display_name": "Water bills",
        "kind": "http",
        "base_url": "http://127.0.0.1:5999",
        "routes": "pay, status",
        "timeout_s": "2.5",
        "settings": '{"currency": "KES"}',
    }
    for i, field in enumerate(FIELD_NAMES):
        data[f"fields-{i}-field"] = field
    data["fields-4-used"] = "y"
    data["fields-4-required"] = "y"
    data["fields-5-used"] = "y"
    data["fields-5-pattern"] = "^254[17][0-9]{8}$"
    data.update(overrides)
    return data


def test_create_service_with_field_rules(admin_client):
    name = unique_name("s")
    token = csrf_token(admin_client, "/portal/services/new")
    response = admin_client.post("/portal/services/new", data={"csrf_token": token, **_form(name)})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    page = admin_client.get(f"/portal/services/{name}").get_data(as_text=True)
    assert "^254[17][0-9]{8}$" in page and "pay, status" in page and "KES" in page
    assert name in admin_client.get("/portal/services").get_data(as_text=True)


def test_service_validation_messages(admin_client):
    token = csrf_token(admin_client, "/portal/services/new")
    cases = {
        "Bad Name": ({}, "lowercase letters and digits"),
        unique_name("s"): ({"settings": "{not json"}, "settings must be a JSON object"),
        unique_name("t"): ({"timeout_s": "soon"}, "timeout_s must be a number"),
        unique_name("u"): ({"timeout_s": "500"}, "timeout_s must be greater than 0 and at most 120"),
        unique_name("v"): ({"routes": "pay, Pay!"}, "route must be lowercase letters and digits"),
        unique_name("w"): ({"base_url": "localhost:80"}, "enter an http(s) URL"),
    }
    for name, (overrides, message) in cases.items():
        response = admin_client.post("/portal/services/new", data={"csrf_token": token, **_form(name, **overrides)})
        body = response.get_data(as_text=True)
        assert response.status_code == 400, name
        assert message in body, (name, message)
        assert "Traceback" not in body


def test_edit_keeps_name_and_kind_and_refuses_route_removal(app, admin_client):
    service = make_service(app, "http://127.0.0.1:5999")
    url = f"/portal/services/{service['name']}"
    token = csrf_token(admin_client, url)
    form = _form(service["name"], display_name="Renamed", routes="pay, refund, status", kind="router")
    response = admin_client.post(url, data={"csrf_token": token, **form})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    page = admin_client.get(url).get_data(as_text=True)
    assert "Renamed" in page and "pay, refund, status" in page and 'value="http"' in page
    response = admin_client.post(url, data={"csrf_token": token, **_form(service["name"], routes="pay")})
    assert response.status_code == 400
    assert "cannot be removed" in response.get_data(as_text=True)


def test_assign_from_the_service_page(app, admin_client):
    service = make_service(app, "http://127.0.0.1:5999")
    merchant = make_client(app)
    url = f"/portal/services/{service['name']}"
    token = csrf_token(admin_client, url)
    response = admin_client.post(f"{url}/assign", data={"csrf_token": token, "app_id": "nosuchclient1"})
    assert response.status_code == 400 and "no client with app_id" in response.get_data(as_text=True)
    response = admin_client.post(f"{url}/assign", data={"csrf_token": token, "app_id": merchant.app_id})
    assert response.status_code == 302
    assert merchant.app_id in admin_client.get(url).get_data(as_text=True)


def test_viewer_sees_read_only_form(app, viewer_client):
    service = make_service(app, "http://127.0.0.1:5999")
    page = viewer_client.get(f"/portal/services/{service['name']}").get_data(as_text=True)
    assert "<fieldset disabled>" in page
    assert 'data-test="save-service"' not in page
