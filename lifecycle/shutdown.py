"""Stopping a long-running process on SIGINT or SIGTERM within a second, whatever its main thread is doing.

Every entry point that runs until stopped (simulators, microservices, the worker, ``make run``'s supervisor)
goes through here, because Python's defaults are not enough for a server:

- Python runs signal handlers only in the main thread. When the kernel delivers the signal to another thread (a
  serving thread, say), a main thread blocked in ``threading.Event().wait()`` is never woken: the RouterOS
  simulator's intermittent SIGINT hang (issue 17);
- a process started in the background by a non-interactive shell (``make test &``, CI runners) inherits SIGINT
  *ignored*, and Python then keeps ignoring it: Ctrl-C and ``kill -INT`` do nothing;
- SIGTERM's default ends the process without running any clean-up;
- the interpreter's own teardown of a Flask + SQLAlchemy process can take longer than the second allowed.

``StopSignals`` installs handlers for both signals (whatever was inherited) that raise ``Stopping`` in the main
thread, and a self-pipe (``signal.set_wakeup_fd``) that the main thread sleeps on, so the wait ends even when the
kernel hands the signal to another thread. The main thread of every entry point does nothing but that wait (the
work runs on daemon threads), so the exception never lands half-way through real work. ``serve`` runs a
socketserver until then and closes its socket; ``exit_process`` ends the process once everything is released.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socketserver
import sys
import threading
import time
from collections.abc import Iterable
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
POLL_S = 0.05  # how long a socketserver's serve_forever may take to notice shutdown()


class Stopping(BaseException):  # noqa: N818 - named like KeyboardInterrupt, which it generalises
    """A stop signal arrived. A BaseException, so ``except Exception`` in a retry loop does not swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """SIGINT and SIGTERM raise ``Stopping`` once in the main thread; later signals are ignored while cleaning up.

    Create it in the main thread, before starting the work it guards.
    """

    def __init__(self, signals: Iterable[int] = STOP_SIGNALS) -> None:
        self.requested: int | None = None
        self._read_fd, write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(write_fd, False)
        self._write_fd = write_fd
        # The C-level handler writes the signal number here whichever thread it runs on: the main thread's
        # select() below wakes up even when its own blocking call was not interrupted.
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        for signum in signals:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.requested is None:
            self.requested = signum
            raise Stopping(signum)

    def sleep(self, seconds: float | None = None) -> None:
        """Wait ``seconds`` (None: until stopped). A stop signal, even one that came earlier, raises ``Stopping``."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            if self.requested is not None:
                raise Stopping(self.requested)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            # The Python handler runs (and raises) as soon as select() returns, interrupted or woken by the pipe.
            ready, _, _ = select.select([self._read_fd], [], [], remaining)
            if ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._read_fd, 512):
                        pass


def serve(server: socketserver.BaseServer, stop: StopSignals | None = None) -> None:
    """Serve ``server`` until SIGINT or SIGTERM, then stop accepting and close its listening socket.

    Request threads are daemons and are not waited for: clients still connected are cut when the process exits.
    """
    stop = stop or StopSignals()
    if isinstance(server, socketserver.ThreadingMixIn):
        server.daemon_threads = True  # server_close() then waits for no request thread; they end with the process
    thread = threading.Thread(target=server.serve_forever, args=(POLL_S,), name="serve", daemon=True)
    try:
        thread.start()
        stop.sleep()
    except Stopping:
        pass
    finally:
        if thread.is_alive():  # shutdown() waits for a serve_forever loop, so only when one is running
            server.shutdown()
        server.server_close()


def exit_process(code: int = 0) -> None:
    """Flush the logs and standard streams, then end the process without the interpreter's teardown.

    Call it once sockets are closed. Tearing down every module of a Flask + SQLAlchemy process took 1 to 1.5 s
    on a busy 2-core machine, longer than the whole stop may take, and releases nothing the kernel does not.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken pipe must not turn a clean stop into a crash
            stream.flush()
    os._exit(code)
