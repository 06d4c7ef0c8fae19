"""`make test` leaves no process behind: a pytest session whose test starts a server and then times out, and whose
other test orphans a process, ends with both processes gone (tests/reaper.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

INNER = """
import subprocess, sys, time
from pathlib import Path

def test_times_out_while_its_server_runs():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # never waited for
    Path("{pids}", "server").write_text(str(proc.pid))
    time.sleep(30)

def test_orphans_a_process():
    # The middle process exits at once, so the sleeper is nobody's child: only the subreaper can find it.
    middle = subprocess.run(["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True)
    Path("{pids}", "orphan").write_text(middle.stdout.strip())
"""


def _alive(pid: int) -> bool:
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False


def test_a_timed_out_session_leaves_no_process(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER.format(pids=pids)))
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.reaper", "-o", "timeout=2",
         "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "Timeout" in inner.stdout, inner.stdout
    assert "processes left running by the tests, now stopped" in inner.stderr, inner.stderr
    for name in ("server", "orphan"):
        pid = int((pids / name).read_text())
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"{name} process {pid} survived the session"
