"""No process outlives the test session, even when a test timed out or a child lost its parent.

pytest becomes a child subreaper (Linux prctl), so processes orphaned by their parent (a killed supervisor's
children, say) are re-parented to it instead of to init; when the session ends, every descendant still running is
terminated, then killed, and named in the output. Loaded by tests/conftest.py."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from pathlib import Path

import pytest

PR_SET_CHILD_SUBREAPER = 36


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the command name may hold spaces and parentheses
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    """Every live process below pid (zombies included: they are reaped by the caller)."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop_descendants(grace_s: float = 5.0) -> list[str]:
    """SIGTERM every descendant, SIGKILL what is left after grace_s; the commands that were still running."""
    _reap()
    left = [(pid, _command(pid)) for pid in descendants(os.getpid())]
    left = [(pid, cmd) for pid, cmd in left if cmd]  # zombies have an empty command line
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, _ in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in descendants(os.getpid())):
            _reap()
            time.sleep(0.05)
    _reap()
    return [f"{pid} {cmd}" for pid, cmd in left]


def pytest_sessionstart(session: pytest.Session) -> None:
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    stopped = stop_descendants()
    if stopped:
        sys.stderr.write("\nprocesses left running by the tests, now stopped:\n  " + "\n  ".join(stopped) + "\n")
