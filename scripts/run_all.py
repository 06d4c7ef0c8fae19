"""`make run`: local PostgreSQL if needed, migrate, seed the demo, then start the gateway, its microservices,
the simulators and the worker, and print where everything is. Ctrl-C (SIGINT) or SIGTERM stops what it started
within a second."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lifecycle.shutdown import Stopping, StopSignals  # noqa: E402 - needs the project root on the path first

PY = sys.executable
STOP_S = 0.9  # every child stops within a second of SIGINT/SIGTERM; one that does not is killed


def sh(args: list[str], env: dict) -> str:
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"failed: {' '.join(args)}")
    return out.stdout.strip()


def local_database(env: dict) -> str:
    """Start the project-local PostgreSQL (its progress and errors go straight to the terminal); its URL."""
    out = subprocess.run(["bash", "scripts/dev_postgres.sh"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise SystemExit("make run: the local PostgreSQL did not start (see above)")
    return out.stdout.strip().splitlines()[-1]


def port_or_free(wanted: int) -> str:
    """The default port if nothing listens there, else a free one (another copy of the project may be running)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", wanted))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def wait_until_listening(
    ports: list[int], children: dict[str, subprocess.Popen], health_url: str = "", limit_s: float = 60
) -> None:
    """Return once every port accepts connections and the gateway answers (so the printed URLs work at once),
    or a child has exited."""
    deadline = time.monotonic() + limit_s
    waiting = list(ports)
    while waiting and time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in children.values()):
            return  # the main loop reports which one and stops the rest
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", waiting[0])) == 0:
                waiting.pop(0)
                continue
        time.sleep(0.2)
    while health_url and time.monotonic() < deadline:  # gunicorn listens before its workers have booted
        try:
            with urllib.request.urlopen(health_url, timeout=2):  # noqa: S310 (our own loopback URL)
                return
        except urllib.error.HTTPError:
            return  # it answers (a 503 names the database problem on the page itself)
        except OSError:
            time.sleep(0.2)


def pipe(name: str, proc: subprocess.Popen) -> None:
    for line in proc.stdout:  # type: ignore[union-attr]
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


def main() -> int:
    stop = StopSignals()  # first: Ctrl-C during the set-up below stops cleanly too
    env = dict(os.environ)
    defaults = {
        "PORT": 5000,
        "MPESA_SERVICE_PORT": 5101,
        "ROUTER_SERVICE_PORT": 5102,
        "ECHO_SERVICE_PORT": 5103,
        "DARAJA_SIM_PORT": 5201,
        "ROUTEROS_SIM_PORT": 18728,
        "HOTSPOT_SIM_PORT": 18080,  # the simulated hotspot's login page (the captive page signs devices in there)
    }
    for name, default in defaults.items():  # a port set explicitly is used as given (and fails loudly if taken)
        if not env.get(name):
            env[name] = port_or_free(default)
    port = env["PORT"]
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    env.setdefault("MPESA_SERVICE_URL", f"http://127.0.0.1:{env['MPESA_SERVICE_PORT']}")
    env.setdefault("ROUTER_SERVICE_URL", f"http://127.0.0.1:{env['ROUTER_SERVICE_PORT']}")
    env.setdefault("ECHO_SERVICE_URL", f"http://127.0.0.1:{env['ECHO_SERVICE_PORT']}")
    env.setdefault("DARAJA_BASE_URL", f"http://127.0.0.1:{env['DARAJA_SIM_PORT']}")
    env.setdefault("ROUTEROS_SIM_HOST", "127.0.0.1")
    flask = [PY, "-m", "flask", "--app", "app"]
    if not env.get("DATABASE_URL"):
        # The embedded cluster: migrate as its owner, then run everything as the gateway's own role.
        env["MIGRATION_DATABASE_URL"] = local_database(env)
        shown = re.sub(r":[^:@/]+@", ":***@", env["MIGRATION_DATABASE_URL"])  # the password stays in <cluster>/password
        print(f"database: project-local PostgreSQL {shown} (stop it with `make stop-db`)", flush=True)
        sh([*flask, "migrate"], env)
        env["DATABASE_URL"] = sh([*flask, "app-role"], env)
    else:
        sh([*flask, "migrate"], env)
    admin_args = ["--username", env.get("ADMIN_USERNAME", "admin")]
    if env.get("ADMIN_PASSWORD"):
        admin_args += ["--password", env["ADMIN_PASSWORD"]]
    admin_note = sh([*flask, "ensure-admin", *admin_args], env)
    demo_note = "  " + sh([*flask, "seed-demo"], env)  # sh() strips the line's own indent

    processes = {
        "daraja-sim": [PY, "-c", "from simulators.daraja import main; main()"],
        "routeros-sim": [
            PY,
            "-c",
            "import os; from simulators.routeros import main; main(['--hotspot-port', os.environ['HOTSPOT_SIM_PORT']])",
        ],
        "mpesa": [PY, "-c", "from microservices.mpesa.app import main; main()"],
        "router": [PY, "-c", "from microservices.router.app import main; main()"],
        "echo": [PY, "-c", "from microservices.echo.app import main; main()"],
        "worker": [*flask, "worker"],
        "gateway": [str(Path(PY).parent / "gunicorn"), "-c", "gunicorn.conf.py", "app:create_app()"],
    }
    children: dict[str, subprocess.Popen] = {}
    try:
        for name, args in processes.items():
            # Each child leads its own process group, so a stop that times out can kill gunicorn's workers too.
            out = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "process_group": 0}
            proc = subprocess.Popen(args, cwd=ROOT, env=env, **out)
            children[name] = proc
            threading.Thread(target=pipe, args=(name, proc), daemon=True).start()
        wait_until_listening([int(env[name]) for name in defaults], children, f"http://127.0.0.1:{port}/healthz")
        for name, proc in children.items():
            if proc.poll() is not None:
                print(f"[{name}] exited with {proc.returncode} while starting; stopping", flush=True)
                return 1
        print(
            f"""
MosPay gateway is running
  portal          http://127.0.0.1:{port}/            {admin_note}
  API docs        http://127.0.0.1:{port}/api/v1/docs
  health          http://127.0.0.1:{port}/healthz
  M-Pesa adapter  {env["MPESA_SERVICE_URL"]}     Daraja simulator {env["DARAJA_BASE_URL"]}
  router adapter  {env["ROUTER_SERVICE_URL"]}     RouterOS simulator 127.0.0.1:{env["ROUTEROS_SIM_PORT"]}
  echo service    {env["ECHO_SERVICE_URL"]}
  DBA (psql)      psql "{env["DATABASE_URL"]}"     (or `make psql`; edits are kept as function versions)
  captive page    http://127.0.0.1:{port}/hotspot/demo     hotspot login http://127.0.0.1:{env["HOTSPOT_SIM_PORT"]}/login
{demo_note}
Ctrl-C stops everything started here.""",
            flush=True,
        )
        while True:
            for name, proc in children.items():
                if proc.poll() is not None:
                    print(f"[{name}] exited with {proc.returncode}; stopping", flush=True)
                    return 1
            stop.sleep(0.5)
    except Stopping:
        return 0
    finally:
        stop_children(children)


def stop_children(children: dict[str, subprocess.Popen]) -> None:
    """Ask every child to stop, all at once; whatever is still running after STOP_S is killed with its group."""
    for name, proc in children.items():
        if proc.poll() is None:
            # gunicorn's SIGTERM is a graceful stop of up to graceful_timeout (30 s); SIGINT is its quick stop.
            proc.send_signal(signal.SIGINT if name == "gateway" else signal.SIGTERM)
    deadline = time.monotonic() + STOP_S
    for name, proc in children.items():
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[{name}] still running {STOP_S} s after the stop signal; killing it", flush=True)
        with contextlib.suppress(ProcessLookupError):  # a group outlives its leader: kill what is left of it
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except Stopping:  # during the set-up, before any child started: subprocess.run has killed its command
        raise SystemExit(0) from None
