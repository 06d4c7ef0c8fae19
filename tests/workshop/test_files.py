"""Item 8: `flask functions export DIR` and `import DIR [--dry-run]`."""

from __future__ import annotations

import json

from sqlalchemy import text

from core import db


def _version_count(app) -> int:
    with app.app_context(), db.transaction() as conn:
        return conn.execute(text("SELECT count(*) FROM gateway.function_versions")).scalar()


def _cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["functions", *args])


def test_export_then_import_of_an_unchanged_tree_changes_nothing(app, echo, tmp_path):
    merchant, _, fn = echo
    exported = _cli(app, "export", str(tmp_path / "fns"), "--app-id", merchant.app_id)
    assert exported.exit_code == 0, exported.output
    assert sorted(p.name for p in (tmp_path / "fns").iterdir()) == sorted(
        [
            f"{fn}.sql",
            f"response_{fn}.sql",
            f"callback_{fn}.sql",
            f"{fn.replace('_pay', '_refund')}.sql",
            f"response_{fn.replace('_pay', '_refund')}.sql",
            f"callback_{fn.replace('_pay', '_refund')}.sql",
        ]
    )
    assert (tmp_path / "fns" / f"{fn}.sql").read_text().startswith(f"CREATE OR REPLACE FUNCTION clientfn.{fn}(")
    before = _version_count(app)
    imported = _cli(app, "import", str(tmp_path / "fns"))
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output) == {"changed": [], "unchanged": 6, "refused": [], "dry_run": False}
    assert _version_count(app) == before


def test_import_applies_changed_files_through_the_gates(app, client, echo, tmp_path):
    merchant, service, fn = echo
    _cli(app, "export", str(tmp_path), "--app-id", merchant.app_id)
    path = tmp_path / f"{fn}.sql"
    path.write_text(path.read_text().replace("'calling service'", "'calling service (from git)'"))
    before = _version_count(app)
    dry = _cli(app, "import", str(tmp_path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["changed"] == [{"name": fn, "version": None}]
    assert _version_count(app) == before
    done = _cli(app, "import", str(tmp_path))
    assert json.loads(done.output)["changed"] == [{"name": fn, "version": 2}]
    with app.app_context(), db.transaction() as conn:
        origin, author = conn.execute(
            text("SELECT origin, author FROM gateway.function_versions WHERE fn_name = :f AND version = 2"), {"f": fn}
        ).one()
    assert (origin, author) == ("import", "cli")
    (tmp_path / f"response_{fn}.sql").write_text("CREATE OR REPLACE FUNCTION clientfn.oops(")
    (tmp_path / "nobody_x_y.sql").write_text("SELECT 1")
    refused = _cli(app, "import", str(tmp_path))
    assert refused.exit_code == 1
    report = json.loads(refused.output)
    assert [r["name"] for r in report["refused"]] == ["nobody_x_y", f"response_{fn}"]
    assert "keeps its name" in report["refused"][1]["message"]
