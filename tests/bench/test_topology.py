"""bench.topology: CPU halves, process trees and pinning, on real child processes of the test."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from bench import topology

needs_two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="splitting needs two CPUs")


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [
        ({0}, None),
        ({0, 1}, ({0}, {1})),
        ({0, 1, 2}, ({0}, {1, 2})),
        ({4, 5, 6, 7}, ({4, 5}, {6, 7})),
    ],
)
def test_halves_give_the_database_the_first_half(cpus, expected):
    assert topology.halves(cpus) == expected


@pytest.fixture
def parent_and_child():
    """A python process that starts a sleeping child and a second thread, then waits."""
    code = (
        "import subprocess, sys, threading, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    yield proc.pid, child
    for pid in (child, proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    proc.wait(10)


def _affinities(pid: int) -> set[frozenset[int]]:
    return {frozenset(os.sched_getaffinity(int(t))) for t in os.listdir(f"/proc/{pid}/task")}


def test_process_tree_finds_the_descendants(parent_and_child):
    parent, child = parent_and_child
    assert set(topology.process_tree([parent])) == {parent, child}
    assert topology.process_tree([2**22 + 12345]) == []  # a pid that does not run


@needs_two_cpus
def test_split_pins_every_thread_and_puts_them_back(parent_and_child):
    parent, child = parent_and_child
    everything = frozenset(os.sched_getaffinity(0))
    with topology.Split([child], [parent]) as split:
        assert _affinities(child) == {frozenset(split.db_cpus)}
        assert _affinities(parent) == {frozenset(split.app_cpus)}  # both of its threads
        assert os.sched_getaffinity(0) == split.app_cpus  # what this process starts runs there too
        assert "PostgreSQL on CPU" in split.describe()
    assert _affinities(child) == {everything}
    assert _affinities(parent) == {everything}
    assert frozenset(os.sched_getaffinity(0)) == everything


def test_split_refuses_a_single_cpu():
    with pytest.raises(RuntimeError, match="two CPUs"):
        topology.Split([], [], cpus={0})
