"""api_logs and call_attempts are partitioned by month; the worker's job creates months ahead and drops
months past retention (API_LOG_RETENTION_MONTHS)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import create_engine, text

from gateway import partitions


def _months_ahead(start: date, n: int) -> date:
    month = start.month - 1 + n
    return date(start.year + month // 12, month % 12 + 1, 1)


def test_migration_made_this_month_and_the_next_two(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            names = set(
                conn.execute(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent IN ('gateway.api_logs'::regclass, 'gateway.call_attempts'::regclass)"
                    )
                ).scalars()
            )
            this_month = conn.execute(text("SELECT (now() AT TIME ZONE 'UTC')::date")).scalar_one().replace(day=1)
    finally:
        engine.dispose()
    for table in ("api_logs", "call_attempts"):
        assert f"{table}_default" in names
        for n in range(3):
            assert f"{table}_{_months_ahead(this_month, n):%Y%m}" in names


def test_maintenance_creates_ahead_and_drops_past_retention(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            trans = conn.begin()  # DDL is transactional: everything below is rolled back
            this_month = conn.execute(text("SELECT (now() AT TIME ZONE 'UTC')::date")).scalar_one().replace(day=1)
            conn.execute(
                text(
                    "INSERT INTO gateway.api_logs (method, path, http_status, created_at) "
                    "VALUES ('GET', '/old', 200, now())"
                )
            )
            later = _months_ahead(this_month, 8)
            result = conn.execute(
                text("SELECT gateway.maintain_partitions(1, 2, :today)"), {"today": later}
            ).scalar_one()
            expected_new = {
                f"{t}_{m:%Y%m}" for t in ("api_logs", "call_attempts") for m in (later, _months_ahead(later, 1))
            }
            assert expected_new <= set(result["created"])
            # Retention 2 keeps the two months before `later` and `later` itself; this month is long gone.
            assert f"api_logs_{this_month:%Y%m}" in result["dropped"]
            assert f"call_attempts_{this_month:%Y%m}" in result["dropped"]
            assert f"api_logs_{_months_ahead(later, -2):%Y%m}" not in result["dropped"]
            assert conn.execute(text("SELECT count(*) FROM gateway.api_logs WHERE path = '/old'")).scalar_one() == 0
            # A row of the new month lands in its own partition, not the default one.
            part = conn.execute(
                text(
                    "INSERT INTO gateway.api_logs (method, path, http_status, created_at) "
                    "VALUES ('GET', '/new', 200, :at) RETURNING tableoid::regclass::text"
                ),
                {"at": later},
            ).scalar_one()
            assert part == f"gateway_parts.api_logs_{later:%Y%m}"
            again = conn.execute(
                text("SELECT gateway.maintain_partitions(1, 2, :today)"), {"today": later}
            ).scalar_one()
            assert again["created"] == [] and again["dropped"] == []
            trans.rollback()
    finally:
        engine.dispose()


def test_worker_job_keeps_the_months_ahead(app):
    with app.app_context():
        result = partitions.maintain()
        assert result.get("skipped") or result["dropped"] == []
        assert partitions.maintain_if_due() >= 0


def test_downgrade_and_upgrade_keep_the_rows(database_url):
    """0020 down to 0050 and back, on a scratch database of the same cluster, with a log row kept across."""
    from alembic import command

    from core import schema

    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    scratch = "scratch_" + date.today().strftime("%Y%m%d") + "_" + str(id(admin))[-6:]
    url = database_url.rsplit("/", 1)[0] + "/" + scratch
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {scratch}"))
    try:
        schema.upgrade(url)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO gateway.api_logs (method, path, http_status) VALUES ('GET', '/kept', 200)"))
        command.downgrade(schema.alembic_config(url), "0050")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM gateway.api_logs WHERE path = '/kept'")).scalar_one() == 1
            assert conn.execute(text("SELECT to_regclass('gateway.rate_counters')")).scalar_one() is None
        schema.upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM gateway.api_logs WHERE path = '/kept'")).scalar_one() == 1
            assert (
                conn.execute(text("SELECT relkind FROM pg_class WHERE oid = 'gateway.api_logs'::regclass")).scalar_one()
                == "p"
            )
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"))
        admin.dispose()
