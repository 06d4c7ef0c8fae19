"""`make run`'s embedded PostgreSQL (scripts/dev_postgres.sh): two copies side by side on Unix sockets only, fsync
on, a scram password, and a failure that names its log and what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _script(name: str, pg_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOCAL_PG_DIR": str(pg_dir)}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / name)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def cluster_dirs():
    # Under /tmp with mode 755: as root the server runs as `postgres`, which must reach LOCAL_PG_DIR (pytest's
    # tmp_path is mode 700). The path is long enough that the socket falls back to a short dir in /tmp.
    base = Path(tempfile.mkdtemp(prefix="mospay-dev-pg-test-" + "x" * 60))
    base.chmod(0o755)
    dirs = [base / "one", base / "two"]
    yield dirs
    for d in dirs:
        _script("stop_postgres.sh", d)
    shutil.rmtree(base, ignore_errors=True)


def test_two_copies_run_side_by_side_without_tcp(cluster_dirs):
    urls = []
    for d in cluster_dirs:
        started = _script("dev_postgres.sh", d)
        assert started.returncode == 0, started.stderr
        urls.append(started.stdout.strip().splitlines()[-1])
    assert urls[0] != urls[1]
    for url in urls:
        assert "@/mospay?host=/" in url  # a socket directory, not host:port
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT current_setting('listen_addresses'), current_setting('fsync'), current_database()")
            assert cur.fetchone() == ("", "on", "mospay")
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(url.replace("postgres:", "postgres:wrong", 1))
    # A second start reuses the running cluster and gives the same URL.
    again = _script("dev_postgres.sh", cluster_dirs[0])
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] == urls[0], again.stderr


def test_a_failed_start_shows_the_log_and_what_to_do(cluster_dirs):
    d = cluster_dirs[0]
    assert _script("dev_postgres.sh", d).returncode == 0
    _script("stop_postgres.sh", d)
    with (d / "data" / "postgresql.auto.conf").open("a") as conf:
        conf.write("shared_buffers = 'plenty'\n")
    failed = _script("dev_postgres.sh", d)
    assert failed.returncode == 1
    assert "the server did not start" in failed.stderr
    assert 'invalid value for parameter "shared_buffers"' in failed.stderr  # the log's last lines
    assert f"{d}/server.log" in failed.stderr and "make stop-db" in failed.stderr
