"""bench.cpu: CPU seconds of process trees and per request, on real child processes of the test."""

from __future__ import annotations

import subprocess
import sys

from bench import cpu

BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"


def test_a_running_child_and_a_reaped_grandchild_are_both_counted():
    # The child burns 0.3 s itself, and starts, burns through and reaps a grandchild of 0.3 s: the tree's
    # figure holds both, the grandchild through the child's counters of reaped children.
    code = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {BURN.format(s=0.3)!r}], check=True)\n"
        + BURN.format(s=0.3)
        + "print('done', flush=True)\nsys.stdin.read()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "done"
        assert cpu.tree_seconds([proc.pid]) >= 0.55
    finally:
        proc.communicate("")
    assert cpu.tree_seconds([2**22 + 12345]) == 0  # a pid that does not run


def test_the_meter_gives_milliseconds_per_request_with_the_load_tool():
    with cpu.CpuMeter({"postgres": [], "app": [2**22 + 12345]}) as meter:
        subprocess.run([sys.executable, "-c", BURN.format(s=0.2)], check=True)  # a child: the load tool
    per = meter.per_request(100)
    assert set(per) == {"app", cpu.LOAD_TOOL, "total"}  # a group without processes is not metered
    assert per["app"] == 0
    assert per[cpu.LOAD_TOOL] >= 1.5  # ≥ 0.2 s over 100 requests
    assert per["total"] == round(per["app"] + per[cpu.LOAD_TOOL], 3)
    assert meter.per_request(0) == {}
