"""`make bench SPLIT=1`: the rows again with PostgreSQL on CPUs of its own and everything else (gunicorn,
the sink, the adapters, the worker, wrk, pgbench) on the others: a deployment's database host, modelled on
one machine. On a shared box the database's CPU per payment competes with the gateway's Python; split, each
side shows what it costs by itself. Linux only (CPU affinity); pinning is undone when the block ends."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

PROC = Path("/proc")
SPLIT_TAG = " [split]"  # how rows, ratios and reports mark what ran split


def halves(cpus: Iterable[int]) -> tuple[set[int], set[int]] | None:
    """(database CPUs, application CPUs): the first half (at least one) for the database, the rest for the
    application; None when there are fewer than two CPUs to split."""
    ordered = sorted(cpus)
    if len(ordered) < 2:
        return None
    cut = max(1, len(ordered) // 2)
    return set(ordered[:cut]), set(ordered[cut:])


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process now running."""
    out = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        # The command name may hold spaces and parentheses: the fields after the last ")" are fixed.
        out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def process_tree(roots: Iterable[int]) -> list[int]:
    """The roots and every descendant of them."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [r for r in roots if r in parents]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def pin(pids: Iterable[int], cpus: set[int]) -> None:
    """Set the CPU affinity of every thread of the processes (a process's affinity is per thread, and gthread
    workers already run theirs). Threads and processes started later inherit the affinity of their starter."""
    for pid in pids:
        try:
            tids = [int(t.name) for t in (PROC / str(pid) / "task").iterdir()]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:
                continue  # the thread ended meanwhile


class Split:
    """While entered: the database's process trees on its CPUs, the application's trees and this process (so
    the wrk and pgbench it starts) on the others. Leaving puts every one of them back on all the CPUs."""

    def __init__(self, db_roots: list[int], app_roots: list[int], cpus: set[int] | None = None) -> None:
        self.all_cpus = set(cpus if cpus is not None else os.sched_getaffinity(0))
        split = halves(self.all_cpus)
        if split is None:
            raise RuntimeError("SPLIT needs at least two CPUs")
        self.db_cpus, self.app_cpus = split
        self.db_roots, self.app_roots = db_roots, app_roots

    def describe(self) -> str:
        return f"PostgreSQL on CPU {_cpus(self.db_cpus)}, everything else on CPU {_cpus(self.app_cpus)}"

    def __enter__(self) -> Split:
        # The postmaster first: the backends it forks from now on inherit its CPUs.
        db = set(process_tree(self.db_roots))
        pin(db, self.db_cpus)
        pin([p for p in process_tree(self.app_roots) if p not in db], self.app_cpus)
        pin([os.getpid()], self.app_cpus)  # this process alone: the postmaster is its child too
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None):
        pin([*process_tree([*self.db_roots, *self.app_roots]), os.getpid()], self.all_cpus)


def _cpus(cpus: set[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))
