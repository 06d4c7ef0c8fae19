"""Client functions as files: one `<name>.sql` per function, for review and git. Import applies changed files
as new versions (origin import) through the same compile, lint and test gates as the editor."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Connection

from core.errors import GatewayError
from gateway import function_builder
from workshop import catalog, editor


def _normal(source: str) -> str:
    return source.strip().rstrip(";").strip()


def export_all(conn: Connection, directory: Path, app_id: str | None = None) -> list[str]:
    """Write every client function (or one client's) to directory/<name>.sql; returns the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for item in catalog.list_functions(conn, app_id):
        source = function_builder.current_source(conn, item["name"])
        if source is None:
            continue
        (directory / f"{item['name']}.sql").write_text(_normal(source) + ";\n")
        written.append(item["name"])
    return written


def import_all(conn: Connection, directory: Path, actor: dict, *, dry_run: bool = False) -> dict:
    """Apply the files that differ from the live functions, each in its own savepoint.

    Returns {"changed": [...], "unchanged": n, "refused": [{"name", "message", ...}]}. With dry_run, the gates
    still run but every change is rolled back.
    """
    report: dict = {"changed": [], "unchanged": 0, "refused": [], "dry_run": dry_run}
    for path in sorted(directory.glob("*.sql")):
        name = path.stem
        try:
            ref = catalog.resolve(conn, name)
        except GatewayError as exc:
            report["refused"].append({"name": name, "message": exc.message})
            continue
        source = path.read_text()
        live = function_builder.current_source(conn, name)
        if live is not None and _normal(live) == _normal(source):
            report["unchanged"] += 1
            continue
        savepoint = conn.begin_nested()
        try:
            saved = editor.save(conn, ref, {"source": source, "reason": f"import from {path.name}"}, actor, "import")
        except GatewayError as exc:
            savepoint.rollback()
            report["refused"].append({"name": name, **exc.body()})
            continue
        if dry_run:
            savepoint.rollback()
        else:
            savepoint.commit()
        report["changed"].append({"name": name, "version": None if dry_run else saved["version"]})
    return report
