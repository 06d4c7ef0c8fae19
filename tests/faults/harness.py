"""Real processes for the fault suite: a PostgreSQL cluster of its own (so it can be restarted), gunicorn
gateways, `flask worker` loops and the echo microservice, each started on free ports and stopped by its own id."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import requests

ROOT = Path(__file__).resolve().parents[2]
PGBIN = ROOT / "scripts" / "pgbin"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


class Postgres:
    """A throwaway cluster run by `postgres` directly: stop() and start() are a real server restart."""

    def __init__(self, base: Path) -> None:
        self.data = base / "pg" / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.proc: subprocess.Popen | None = None
        subprocess.run(
            [str(PGBIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(PGBIN / "postgres"), "-D", str(self.data), "-p", str(self.port), "-F"]
            + ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                psycopg2.connect(self.url, connect_timeout=1).close()
                return
            except psycopg2.OperationalError:
                time.sleep(0.1)
        raise AssertionError("postgres did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: running queries are cancelled, clients dropped
            self.proc.wait(30)


class Process:
    """One child process in its own session; ready when `ready_url` answers."""

    def __init__(self, args: list[str], env: dict[str, str], ready_url: str | None = None) -> None:
        self.args, self.env, self.ready_url = args, env, ready_url
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if self.ready_url:
            wait_http(self.ready_url)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        with contextlib.suppress(ProcessLookupError):  # what it left in its own session (gunicorn workers)
            os.killpg(self.proc.pid, signal.SIGKILL)


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_URL")}
    return {**env, "DATABASE_URL": database_url, "RATELIMIT_ENABLED": "false", "PYTHONUNBUFFERED": "1", **extra}


def gateway(database_url: str, workers: int = 2, **extra: str) -> Process:
    """gunicorn with the project's gunicorn.conf.py, as `make run` starts it."""
    port = free_port()
    env = base_env(
        database_url,
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        WEB_CONCURRENCY=str(workers),
        **extra,
    )
    proc = Process([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "app:create_app()"], env, None)
    proc.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    proc.ready_url = f"{proc.url}/healthz"  # type: ignore[attr-defined]
    return proc


def worker(database_url: str, **extra: str) -> Process:
    return Process([sys.executable, "-m", "flask", "--app", "app", "worker"], base_env(database_url, **extra))


def echo() -> Process:
    port = free_port()
    proc = Process(
        [sys.executable, "-c", "from microservices.echo.app import main; main()"],
        {**os.environ, "ECHO_SERVICE_PORT": str(port)},
        f"http://127.0.0.1:{port}/healthz",
    )
    proc.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return proc
