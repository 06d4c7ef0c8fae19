"""`flask --app app functions export DIR` and `functions import DIR [--dry-run]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from core import db
from workshop import files

CLI_ACTOR = {"id": None, "username": "cli"}


def register(app: Flask) -> None:
    group = AppGroup("functions", help="Client functions as .sql files (review them, keep them in git).")

    @group.command("export")
    @click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
    @click.option("--app-id", default=None, help="only this client's functions")
    def export_cmd(directory: Path, app_id: str | None) -> None:
        """Write one <name>.sql file per client function into DIRECTORY."""
        with db.transaction() as conn:
            names = files.export_all(conn, directory, app_id)
        click.echo(f"exported {len(names)} function(s) to {directory}")

    @group.command("import")
    @click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="run the gates and report what would change; change nothing")
    def import_cmd(directory: Path, dry_run: bool) -> None:
        """Apply changed .sql files as new versions (origin import) through the compile, lint and test gates."""
        with db.transaction() as conn:
            report = files.import_all(conn, directory, CLI_ACTOR, dry_run=dry_run)
        click.echo(json.dumps(report, indent=2, default=str))
        if report["refused"]:
            sys.exit(1)

    app.cli.add_command(group)
