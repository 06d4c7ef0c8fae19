"""The README's curl tour, run as written: its ```sh blocks, in order, in one bash, against a fresh instance
started by `make run`'s supervisor on free ports. Only the addresses and the admin password are filled in."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from core import schema as schema_setup
from tests.processes import make_run
from tests.test_run_all import PORT_VARS, _free_ports

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PASSWORD_PLACEHOLDER = "<the password make run printed>"
pytestmark = pytest.mark.slow


def tour_script() -> str:
    """The ```sh blocks from the tour heading up to the Errors section."""
    readme = README.read_text()
    section = readme[readme.index("## A tour in curl") : readme.index("\n## Errors")]
    blocks = re.findall(r"^```sh\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 3, "the tour, M-Pesa and ISP blocks"
    return "\n".join(blocks)


@pytest.fixture
def fresh_database(database_url):
    """A database of its own (the tour creates the client `acme`), migrated, dropped afterwards."""
    name = f"tour_{secrets.token_hex(4)}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        schema_setup.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def instance(fresh_database):
    ports = dict(zip(PORT_VARS, map(str, _free_ports(len(PORT_VARS))), strict=True))
    # No ADMIN_PASSWORD: make run generates one that must be changed, as a newcomer gets it; the tour changes it.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_URL") and k != "ADMIN_PASSWORD"}
    env.update(ports, DATABASE_URL=fresh_database, ADMIN_USERNAME="admin")
    with make_run(env, stop_wait_s=20) as lines:
        printed = re.search(r"generated password: (\S+)", "".join(lines))
        assert printed, "make run no longer prints the generated admin password"
        yield ports, printed.group(1), lines


@pytest.mark.timeout(300)
def test_the_readme_tour_runs_as_written(instance):
    ports, password, lines = instance
    script = tour_script()
    for placeholder in ("http://127.0.0.1:5000", "127.0.0.1:5103", "127.0.0.1:5201", '"port":18728'):
        assert placeholder in script, f"the tour no longer uses {placeholder}: update this test's substitutions"
    assert PASSWORD_PLACEHOLDER in script
    script = (
        script.replace("http://127.0.0.1:5000", f"http://127.0.0.1:{ports['PORT']}")
        .replace("127.0.0.1:5103", f"127.0.0.1:{ports['ECHO_SERVICE_PORT']}")
        .replace("127.0.0.1:5201", f"127.0.0.1:{ports['DARAJA_SIM_PORT']}")
        .replace('"port":18728', f'"port":{ports["ROUTEROS_SIM_PORT"]}')
        .replace(PASSWORD_PLACEHOLDER, password)
    )
    # Any HTTP error stops the tour (curl -s alone would print it and go on); a loop's curl may not fail it.
    prelude = 'set -e\ncurl() { command curl --fail-with-body "$@"; }\n'
    run = subprocess.run(
        ["bash", "-c", prelude + script], capture_output=True, text=True, timeout=240, cwd=ROOT, check=False
    )
    out = run.stdout
    assert run.returncode == 0, f"{out[-3000:]}\n{run.stderr[-3000:]}\n{''.join(lines)[-3000:]}"
    answers = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(a.get("message") == "echo pay ok" and a.get("action") == "OUTPUT" for a in answers), out
    status_answers = [a for a in answers if a.get("f010") == "order-1001" and a.get("status") == "completed"]
    assert len(status_answers) == 2, out  # both status forms
    mpesa = [a for a in answers if a.get("f010") == "mp-1"]
    assert mpesa and mpesa[-1]["status"] == "completed" and mpesa[-1]["receipt"], out
    isp = [a for a in answers if isinstance(a.get("data"), dict) and "summary" in a["data"]]
    assert isp and isp[-1]["data"]["summary"].startswith("active until"), out  # the plan is active on the router
    # The merchant's own administrator: acme's transactions only, its statement, and a rotated secret.
    listed = [a for a in answers if "items" in a and "page" in a]
    assert listed and {t["app_id"] for t in listed[-1]["items"]} == {"acme"}, out
    assert any("api_calls" in a and a.get("app_id") == "acme" for a in answers), out
    assert answers[-1]["app_id"] == "acme" and answers[-1]["api_secret"], out
