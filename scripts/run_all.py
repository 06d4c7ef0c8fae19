"""`make run`: local PostgreSQL if needed, migrate, seed the demo, then start the gateway, its microservices,
the simulators and the worker, and print where everything is. Ctrl-C stops what it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def sh(args: list[str], env: dict) -> str:
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"failed: {' '.join(args)}")
    return out.stdout.strip()


def pipe(name: str, proc: subprocess.Popen) -> None:
    for line in proc.stdout:  # type: ignore[union-attr]
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


READY_TIMEOUT_S = 60


def wait_listening(url: str, proc: subprocess.Popen) -> bool:
    """True once something accepts TCP connections at url's host and port; False if proc exits or time runs out."""
    parts = urlsplit(url)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((parts.hostname, parts.port or 80), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def main() -> None:
    env = dict(os.environ)
    port = env.setdefault("PORT", "5000")
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    env.setdefault("MPESA_SERVICE_PORT", "5101")
    env.setdefault("ROUTER_SERVICE_PORT", "5102")
    env.setdefault("ECHO_SERVICE_PORT", "5103")
    env.setdefault("DARAJA_SIM_PORT", "5201")
    env.setdefault("ROUTEROS_SIM_PORT", "18728")
    env.setdefault("HOTSPOT_SIM_PORT", "18080")  # the simulated hotspot's login page (captive page sign-in)
    env.setdefault("MPESA_SERVICE_URL", f"http://127.0.0.1:{env['MPESA_SERVICE_PORT']}")
    env.setdefault("ROUTER_SERVICE_URL", f"http://127.0.0.1:{env['ROUTER_SERVICE_PORT']}")
    env.setdefault("ECHO_SERVICE_URL", f"http://127.0.0.1:{env['ECHO_SERVICE_PORT']}")
    env.setdefault("DARAJA_BASE_URL", f"http://127.0.0.1:{env['DARAJA_SIM_PORT']}")
    env.setdefault("ROUTEROS_SIM_HOST", "127.0.0.1")
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = sh(["bash", "scripts/dev_postgres.sh"], env)
        print(f"database: project-local PostgreSQL {env['DATABASE_URL']} (stop it with `make stop-db`)")
    flask = [PY, "-m", "flask", "--app", "app"]
    sh([*flask, "migrate"], env)
    admin_args = ["--username", env.get("ADMIN_USERNAME", "admin")]
    if env.get("ADMIN_PASSWORD"):
        admin_args += ["--password", env["ADMIN_PASSWORD"]]
    admin_note = sh([*flask, "ensure-admin", *admin_args], env)
    demo_note = sh([*flask, "seed-demo"], env)

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
    for name, args in processes.items():
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        children[name] = proc
        threading.Thread(target=pipe, args=(name, proc), daemon=True).start()

    def stop(*_: object) -> None:
        for proc in children.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.time() + 10
        for proc in children.values():
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
        raise SystemExit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    # "running" means answering: wait for each HTTP process to accept connections (a loaded machine can take a
    # while), and stop everything if one exits or never listens.
    for name, url in (
        ("gateway", f"http://127.0.0.1:{port}/healthz"),
        ("mpesa", env["MPESA_SERVICE_URL"]),
        ("router", env["ROUTER_SERVICE_URL"]),
        ("echo", env["ECHO_SERVICE_URL"]),
        ("daraja-sim", env["DARAJA_BASE_URL"]),
    ):
        if not wait_listening(url, children[name]):
            print(f"[{name}] did not start listening on {url} within {READY_TIMEOUT_S} s; stopping", flush=True)
            stop()
    print(
        f"""
MosPay gateway is running
  portal          http://127.0.0.1:{port}/            {admin_note}
  API docs        http://127.0.0.1:{port}/api/v1/docs
  health          http://127.0.0.1:{port}/healthz
  M-Pesa adapter  {env["MPESA_SERVICE_URL"]}     Daraja simulator {env["DARAJA_BASE_URL"]}
  router adapter  {env["ROUTER_SERVICE_URL"]}     RouterOS simulator 127.0.0.1:{env["ROUTEROS_SIM_PORT"]}
  echo service    {env["ECHO_SERVICE_URL"]}
  captive page    http://127.0.0.1:{port}/hotspot/demo     hotspot login http://127.0.0.1:{env["HOTSPOT_SIM_PORT"]}/login
{demo_note}
Ctrl-C stops everything started here.""",
        flush=True,
    )
    while True:
        for name, proc in children.items():
            if proc.poll() is not None:
                print(f"[{name}] exited with {proc.returncode}; stopping", flush=True)
                stop()
        time.sleep(1)


if __name__ == "__main__":
    main()
