"""CLI for operators and scripts: `flask --app app <command>`."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app

from admin import client_users, clients, roles, services, users
from core import db, db_roles
from core import schema as schema_setup
from core.actor import system_actor
from core.errors import GatewayError
from demo import data as demo_data
from demo import seed as demo_seed
from lifecycle.shutdown import exit_process
from reports import transactions

SYSTEM = system_actor("cli")


def _out(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _run(fn):
    try:
        with db.transaction() as conn:
            return fn(conn)
    except GatewayError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)


def register(app: Flask) -> None:
    from workshop import commands as workshop_commands

    register_worker(app)
    register_demo(app)
    workshop_commands.register(app)

    @app.cli.command("migrate")
    def migrate() -> None:
        """Alembic upgrade to head, then load the SQL function library, as the owner (MIGRATION_DATABASE_URL,
        else DATABASE_URL)."""
        schema_setup.upgrade(current_app.config["MIGRATION_DATABASE_URL"] or current_app.config["DATABASE_URL"])
        click.echo("database migrated and SQL library loaded")

    @app.cli.command("app-role")
    @click.option("--name", default="mospay_app", show_default=True)
    def app_role(name: str) -> None:
        """Create or refresh the gateway's login role (as the owner: MIGRATION_DATABASE_URL); prints its URL."""
        owner = current_app.config["MIGRATION_DATABASE_URL"] or current_app.config["DATABASE_URL"]
        click.echo(db_roles.ensure_login_role(owner, name))

    @app.cli.command("create-admin")
    @click.option("--username", required=True)
    @click.option("--password", default=None, help="omit to generate one (must be changed at first sign-in)")
    @click.option("--role", default="super_admin", type=click.Choice(users.ROLES))
    def create_admin(username: str, password: str | None, role: str) -> None:
        """Create a portal/admin-API user."""
        user, pw = _run(lambda c: users.create_user(c, username, password, role, SYSTEM))
        _out({"username": user["username"], "role": user["role"], "password": pw if password is None else "(as given)"})

    @app.cli.command("create-client-user")
    @click.option("--app-id", required=True, help="the client the user belongs to")
    @click.option("--username", required=True)
    @click.option("--role", default="org_admin", type=click.Choice(roles.CLIENT_ROLES))
    @click.option("--email", default=None)
    def create_client_user(app_id: str, username: str, role: str, email: str | None) -> None:
        """Create a client's own user (the first org_admin); prints the generated password once."""
        body = {"username": username, "role": role, "email": email}
        _out(_run(lambda c: client_users.create(c, app_id, body, SYSTEM)))

    @app.cli.command("ensure-admin")
    @click.option("--username", default="admin")
    @click.option("--password", default=None)
    def ensure_admin(username: str, password: str | None) -> None:
        """Create the first super admin if none exists (used by `make run`)."""

        def go(conn):
            if users.any_super_admin(conn):
                return None
            return users.create_user(conn, username, password, "super_admin", SYSTEM, must_change=False)

        created = _run(go)
        if created is None:
            click.echo("admin: a super admin already exists (sign in with your password)")
        elif password:
            click.echo(f"admin: created super admin {username!r} with ADMIN_PASSWORD")
        else:
            click.echo(
                f"admin: created super admin {username!r} with generated password: {created[1]}  "
                "(shown once; you must change it at first sign-in)"
            )

    @app.cli.command("create-client")
    @click.option("--app-id", required=True)
    @click.option("--company", required=True)
    @click.option("--email", required=True)
    @click.option("--callback-url", default=None)
    def create_client(app_id: str, company: str, email: str, callback_url: str | None) -> None:
        """Create a client; prints api_secret and webhook_secret once."""
        _out(
            _run(
                lambda c: clients.create_client(
                    c, {"app_id": app_id, "company_name": company, "email": email, "callback_url": callback_url}, SYSTEM
                )
            )
        )

    @app.cli.command("create-service")
    @click.option("--json", "spec", required=True, help='e.g. {"name":"echo","display_name":"Echo","kind":"http",…}')
    def create_service(spec: str) -> None:
        """Define a service from a JSON spec (same shape as POST /api/v1/admin/services)."""
        try:
            data = json.loads(spec)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}") from exc
        _out(_run(lambda c: services.create_service(c, data, SYSTEM)))

    @app.cli.command("assign")
    @click.option("--app-id", required=True)
    @click.option("--service", required=True)
    def assign(app_id: str, service: str) -> None:
        """Assign a service to a client and generate its functions."""
        _out(_run(lambda c: services.assign(c, app_id, service, SYSTEM)))

    @app.cli.command("list-clients")
    def list_clients() -> None:
        _out(_run(lambda c: clients.list_clients(c, per_page=1000))["items"])

    @app.cli.command("list-services")
    def list_services() -> None:
        _out(_run(services.list_services))

    @app.cli.command("list-transactions")
    @click.option("--app-id", default=None)
    @click.option("--status", default=None)
    @click.option("--limit", default=50)
    def list_transactions(app_id: str | None, status: str | None, limit: int) -> None:
        _out(_run(lambda c: transactions.search(c, {"app_id": app_id, "status": status}, 1, limit))["items"])


def register_worker(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="run every due job once and exit")
    def worker_cmd(once: bool) -> None:
        """Deliver webhooks, run follow-up calls, reconcile pending payments, billing jobs."""
        import worker

        if once:
            _out(worker.run_once(current_app._get_current_object()))
        else:
            worker.run_forever(current_app._get_current_object())
            exit_process()  # stopped by SIGINT/SIGTERM: skip the slow interpreter teardown


def register_demo(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Register the built-in services and the demo merchant (idempotent)."""
        note = _run(lambda c: (demo_seed.ensure_services(c), demo_seed.ensure_demo_client(c))[1])
        click.echo(note)

    demo_data.register_cli(app)
