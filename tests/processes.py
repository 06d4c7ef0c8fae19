"""Child processes of the test run: each in a session of its own, none left behind.

``spawn`` starts a process as the leader of a new session and remembers it. ``kill_all`` (a session fixture in
conftest.py, and atexit for a run that ends without teardown) SIGKILLs every process of those sessions still
alive, so the grandchildren (gunicorn's workers, ``make run``'s children) go too. On Linux the child also gets
SIGKILL if the test process dies first (PR_SET_PDEATHSIG): even ``kill -9`` of pytest leaves no simulator listening.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1
# Loaded here, not in the child: dlopen between fork and exec can deadlock on a lock another thread held.
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_started: list[subprocess.Popen] = []
_lock = threading.Lock()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(args: list[str], *, ignore_sigint: bool = False, **kwargs: Any) -> subprocess.Popen:
    """Popen in a new session. ``ignore_sigint`` starts it as a shell's background job would: SIGINT ignored."""

    def prepare() -> None:
        _die_with_parent()
        if ignore_sigint:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(args, start_new_session=True, preexec_fn=prepare, **kwargs)  # noqa: PLW1509
    with _lock:
        _started.append(proc)
    return proc


def session_members(sid: int) -> list[int]:
    """Every process in session ``sid`` (Linux /proc; empty elsewhere)."""
    members = []
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp session ...
        if int(fields[3]) == sid:
            members.append(int(entry.name))
    return members


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process, its group and every process of its session, then reap it.

    The session matters: ``make run``'s supervisor puts each child in a process group of its own.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in session_members(proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()


def kill_all() -> None:
    """Kill the group of every process ``spawn`` started (a group outlives its leader: always kill the group)."""
    with _lock:
        procs, _started[:] = list(_started), []
    for proc in procs:
        kill_group(proc)


atexit.register(kill_all)


@contextlib.contextmanager
def make_run(env: dict[str, str], stop_wait_s: float = 5) -> Iterator[list[str]]:
    """`make run`'s supervisor (scripts/run_all.py) started with `env`, yielding its output lines once it says it
    is running; SIGTERM at the end, then its whole session is killed if it has not gone by `stop_wait_s`."""
    root = Path(__file__).resolve().parents[1]
    proc = spawn(
        [sys.executable, "scripts/run_all.py"],
        cwd=root,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(90), "".join(lines)[-3000:]
        yield lines
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(stop_wait_s)
        finally:
            kill_group(proc)
