"""The processes of one benchmark run, on free loopback ports: PostgreSQL, the gateway under gunicorn with its
production settings, the worker, the loopback sink, the M-Pesa adapter, the Daraja simulator, the bare pipeline.
Every process is stopped (by its own PID) when the run ends; their logs go to one directory."""

from __future__ import annotations

import base64
import os
import runpy
import secrets
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
PGBIN = ROOT / "scripts" / "pgbin"
PY = sys.executable
GUNICORN = str(Path(PY).parent / "gunicorn")
# The default client limit (RATELIMIT_DEFAULT, 6000/minute per authenticated client) would refuse part of the
# load: a benchmark raises it and says so (the counter is still kept, in the same statement as the payment).
BENCH_RATE_LIMIT = "1000000/minute"
# The dev cluster's settings (scripts/dev_postgres.sh: fsync off), plus room for every pool.
# pg_stat_statements counts the round trips of one request (bench/round_trips.py).
PG_ARGS = (
    "-h 127.0.0.1 -c logging_collector=off -c max_connections=300 -c shared_buffers=256MB "
    "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_utility=on"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_settings() -> dict:
    """Workers, threads and worker class as gunicorn.conf.py resolves them in this environment."""
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    return {"workers": conf["workers"], "threads": conf["threads"], "worker_class": conf["worker_class"]}


def wait_http(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")
        time.sleep(0.2)


def wait_tcp(port: int, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Stack:
    """Starts and stops the benchmark's processes; `env` is the gateway's environment."""

    def __init__(self, exits: ExitStack, log_dir: Path) -> None:
        self.exits = exits
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        exits.callback(self.stop_all)
        self.database_url = ""
        self.postmaster_pid = 0
        self.env: dict[str, str] = {}
        self.urls: dict[str, str] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 - closed when the stack stops
        self.exits.callback(log.close)
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def database(self, fsync: bool = False) -> str:
        """A throwaway cluster; fsync off (-F) as the dev cluster unless asked for (production durability)."""
        import testing.postgresql

        factory = testing.postgresql.PostgresqlFactory(
            cache_initialized_db=False,
            initdb=str(PGBIN / "initdb"),
            postgres=str(PGBIN / "postgres"),
            postgres_args=PG_ARGS + ("" if fsync else " -F"),
        )
        pg = factory()
        self.exits.callback(pg.stop)
        self.database_url = pg.url()
        self.postmaster_pid = pg.child_process.pid
        return self.database_url

    def gateway_env(self) -> dict[str, str]:
        """Production settings with fresh secrets, free ports, and the raised rate limit."""
        ports = {name: free_port() for name in ("gateway", "sink", "mpesa", "daraja", "bare")}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        self.ports = ports
        self.env = {
            **os.environ,
            "GATEWAY_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "INTERNAL_TOKEN": secrets.token_urlsafe(24),
            "DATABASE_URL": self.database_url,
            "HOST": "127.0.0.1",
            "PORT": str(ports["gateway"]),
            "PUBLIC_BASE_URL": self.urls["gateway"],
            "RATELIMIT_DEFAULT": BENCH_RATE_LIMIT,
            "MPESA_SERVICE_URL": self.urls["mpesa"],
            "MPESA_SERVICE_PORT": str(ports["mpesa"]),
            "DARAJA_BASE_URL": self.urls["daraja"],
            "DARAJA_SIM_PORT": str(ports["daraja"]),
            "PYTHONUNBUFFERED": "1",
        }
        return self.env

    def start_services(self) -> None:
        """The sink, the Daraja simulator and the M-Pesa adapter (as `make run` starts it)."""
        env = self.env
        self.start("sink", [PY, "-m", "bench.sink", str(self.ports["sink"])], env)
        self.start("daraja-sim", [PY, "-m", "bench.daraja_sim", str(self.ports["daraja"])], env)
        self.start("mpesa", [PY, "-c", "from microservices.mpesa.app import main; main()"], env)
        wait_tcp(self.ports["sink"])
        wait_http(self.urls["daraja"] + "/simulator/requests")
        wait_http(self.urls["mpesa"] + "/healthz")

    def start_worker(self) -> None:
        """The background worker: it sends the STK queries that confirm held success callbacks (production)."""
        self.start("worker", [PY, "-m", "flask", "--app", "app", "worker"], self.env)

    def start_gateway(self) -> None:
        self.start("gateway", [GUNICORN, "-c", "gunicorn.conf.py", "app:create_app()"], self.env)
        wait_http(self.urls["gateway"] + "/healthz")

    def start_bare(self, request_fn: str, response_fn: str) -> None:
        """Ceiling (b) under the same gunicorn.conf.py (same workers, threads, worker class)."""
        env = {
            **self.env,
            "PORT": str(self.ports["bare"]),
            "BARE_DATABASE_URL": self.database_url,
            "BARE_REQUEST_FN": request_fn,
            "BARE_RESPONSE_FN": response_fn,
            "BARE_SERVICE_URL": self.urls["sink"],
        }
        self.start("bare", [GUNICORN, "-c", "gunicorn.conf.py", "bench.bare_app:create_app()"], env)
        wait_tcp(self.ports["bare"], 30)

    def app_pids(self) -> list[int]:
        """The processes this stack started besides PostgreSQL (their children are found by bench.topology)."""
        return [proc.pid for proc in self.procs.values() if proc.poll() is None]

    def cpu_groups(self, app: str | None) -> dict[str, list[int]]:
        """The process groups bench.cpu meters for a row whose app under test is `app` ("gateway", "bare" or
        None for pgbench): PostgreSQL, that app, the services it calls, and the background worker."""
        running = {name: proc.pid for name, proc in self.procs.items() if proc.poll() is None}
        return {
            "postgres": [self.postmaster_pid],
            "app": [running[app]] if app in running else [],
            "services": [running[n] for n in ("sink", "mpesa", "daraja-sim") if n in running],
            # The worker serves the gateway (STK confirmations, summaries); a ceiling's row does not count it.
            "worker": [running["worker"]] if app == "gateway" and "worker" in running else [],
        }

    def gateway_worker_pids(self) -> list[int]:
        """PIDs of the gateway's gunicorn workers (children of the master), for a profiler."""
        master = self.procs["gateway"].pid
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]
