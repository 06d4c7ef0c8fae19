"""`make run`: local PostgreSQL if needed, migrate, seed the demo, then start the gateway, its microservices,
the simulators and the worker, and print where everything is. Ctrl-C (SIGINT) or SIGTERM stops what it started
within a second."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from shutdown import Stopping, StopSignals  # noqa: E402 - needs the project root on the path first

PY = sys.executable
PORT_OF = {
    "gateway": "PORT",
    "mpesa": "MPESA_SERVICE_PORT",
    "router": "ROUTER_SERVICE_PORT",
    "echo": "ECHO_SERVICE_PORT",
    "daraja-sim": "DARAJA_SIM_PORT",
    "routeros-sim": "ROUTEROS_SIM_PORT",
}
STOP_S = 0.9  # every child stops within a second of SIGINT/SIGTERM; one that does not is killed


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


def main() -> int:
    stop = StopSignals()  # first: Ctrl-C during the set-up below stops cleanly too
    env = dict(os.environ)
    port = env.setdefault("PORT", "5000")
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    env.setdefault("MPESA_SERVICE_PORT", "5101")
    env.setdefault("ROUTER_SERVICE_PORT", "5102")
    env.setdefault("ECHO_SERVICE_PORT", "5103")
    env.setdefault("DARAJA_SIM_PORT", "5201")
    env.setdefault("ROUTEROS_SIM_PORT", "18728")
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
        "routeros-sim": [PY, "-c", "from simulators.routeros import main; main()"],
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
        listening = {name: int(env[var]) for name, var in PORT_OF.items()}
        if not wait_until_listening(children, listening, stop):
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


def wait_until_listening(children: dict[str, subprocess.Popen], ports: dict[str, int], stop: StopSignals) -> bool:
    """Wait until every server accepts connections; False if a child exits first."""
    waiting = dict(ports)
    while waiting:
        for name, proc in children.items():
            if proc.poll() is not None:
                print(f"[{name}] exited with {proc.returncode} while starting; stopping", flush=True)
                return False
        for name, port in list(waiting.items()):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    del waiting[name]
        stop.sleep(0.05)
    return True


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
