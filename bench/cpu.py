"""CPU per request, by who spends it. On a saturated machine throughput is the cores divided by the CPU one
request costs, whatever process spends it; so each row also says how many milliseconds of CPU PostgreSQL, the
app under test, the services, the worker and the load tool spent per request. A ratio of rows is then the
ratio of these totals, and the table says which part of the difference is whose. Linux only (/proc)."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Mapping, Sequence
from types import TracebackType

from bench.topology import PROC, process_tree

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
# Processes that exit near the end of a row (pgbench's backends) are counted once their parent has reaped them.
REAP_WAIT_S = 0.3
LOAD_TOOL = "load tool"  # wrk or pgbench: children of this process, measured by getrusage
# The groups as the run's table and bench.report show them (stack.Stack.cpu_groups names the first four).
COLUMNS = ("postgres", "app", "services", "worker", LOAD_TOOL, "total")


def tree_seconds(roots: Sequence[int]) -> float:
    """User + system CPU seconds of the process trees under roots, with the children each has reaped: a backend
    that ended during a row is in its postmaster's counters then, and counted once."""
    total = 0
    for pid in process_tree(roots):
        try:
            fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked: its parent counts it once it is reaped
        utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
        total += utime + stime + cutime + cstime
    return total * TICK_S


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds of named process groups across a block (the load tool: this process's waited-for children).
    `per_request(n)` gives milliseconds per request, rounded to microseconds."""

    def __init__(self, groups: Mapping[str, Sequence[int]]) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items() if pids}
        self.before: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def _snapshot(self) -> dict[str, float]:
        return {**{name: tree_seconds(pids) for name, pids in self.groups.items()}, LOAD_TOOL: _children_seconds()}

    def __enter__(self) -> CpuMeter:
        self.before = self._snapshot()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        time.sleep(REAP_WAIT_S)
        after = self._snapshot()
        self.spent = {name: max(0.0, after[name] - self.before[name]) for name in after}

    def per_request(self, requests: int) -> dict[str, float]:
        if requests <= 0:
            return {}
        per = {name: round(1000 * seconds / requests, 3) for name, seconds in self.spent.items()}
        per["total"] = round(sum(per.values()), 3)
        return per
