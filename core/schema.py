"""Brings a database to the current schema: Alembic migrations, then the gateway's SQL function library."""

from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, pool

ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = ROOT / "sql"
_INCLUDE = re.compile(r"^\\ir\s+(\S+)\s*$")


def sql_files(load_file: Path = SQL_DIR / "load.sql") -> list[Path]:
    """The files load.sql includes, in its order (psql's \\ir syntax, so DBAs can also run it with psql)."""
    files = []
    for line in load_file.read_text().splitlines():
        match = _INCLUDE.match(line.strip())
        if match:
            files.append((load_file.parent / match.group(1)).resolve())
    return files


def load_sql_library(url: str) -> int:
    """Apply every function file in one transaction; stops on the first error. Returns the file count."""
    engine = create_engine(url, poolclass=pool.NullPool)
    files = sql_files()
    try:
        with engine.begin() as conn:
            for path in files:
                conn.exec_driver_sql(path.read_text().replace("%", "%%"))
    finally:
        engine.dispose()
    return len(files)


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Migrate to head, then (re)load the SQL library."""
    command.upgrade(alembic_config(url), "head")
    load_sql_library(url)
