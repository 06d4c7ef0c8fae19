"""gunicorn, started with the project's own gunicorn.conf.py, never writes a callback token to its access log."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_access_log_masks_callback_token(database_url, tmp_path):
    port = _free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        "RATELIMIT_ENABLED": "0",
    }
    token = "tok" + "Z9" * 20
    with log_path.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own gunicorn with a fixed argument list
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    resp = requests.post(
                        f"http://127.0.0.1:{port}/api/v1/callbacks/{token}", json={"status": "completed"}, timeout=5
                    )
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.2)
            assert resp.status_code == 404
            time.sleep(0.3)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = log_path.read_text()
    assert '"POST /api/v1/callbacks/****" 404' in text, text
    assert token not in text
