"""The operator CLI drives the same service layer."""

from __future__ import annotations

import json

from tests.conftest import unique_name


def test_cli_create_client_service_assign_list(app, echo_service):
    runner = app.test_cli_runner()
    app_id, name = unique_name("c"), unique_name("s")
    out = runner.invoke(args=["create-client", "--app-id", app_id, "--company", "Cli Co", "--email", "c@c.co"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["api_secret"]
    spec = {"name": name, "display_name": "Echo", "kind": "http", "base_url": echo_service.url, "routes": ["pay"]}
    assert runner.invoke(args=["create-service", "--json", json.dumps(spec)]).exit_code == 0
    out = runner.invoke(args=["assign", "--app-id", app_id, "--service", name])
    assert out.exit_code == 0 and f"clientfn.{app_id}_{name}_pay" in out.output
    assert app_id in runner.invoke(args=["list-clients"]).output
    bad = runner.invoke(args=["assign", "--app-id", "nosuch", "--service", name])
    assert bad.exit_code == 1 and "no client" in bad.output


def test_cli_create_admin_generates_password(app):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["create-admin", "--username", unique_name("u"), "--role", "viewer"])
    assert out.exit_code == 0
    assert len(json.loads(out.output)["password"]) >= 12


def test_cli_migrate_is_repeatable(app):
    out = app.test_cli_runner().invoke(args=["migrate"])
    assert out.exit_code == 0, out.output


def test_cli_creates_a_clients_first_org_admin(app):
    runner = app.test_cli_runner()
    app_id = unique_name("c")
    assert (
        runner.invoke(args=["create-client", "--app-id", app_id, "--company", "Co", "--email", "c@c.co"]).exit_code == 0
    )
    out = runner.invoke(args=["create-client-user", "--app-id", app_id, "--username", unique_name("oa")])
    assert out.exit_code == 0, out.output
    created = json.loads(out.output)
    assert created["role"] == "org_admin" and created["app_id"] == app_id and len(created["password"]) >= 12
    bad = runner.invoke(args=["create-client-user", "--app-id", "nosuch", "--username", unique_name("oa")])
    assert bad.exit_code == 1 and "no client" in bad.output
