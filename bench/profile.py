"""Where a gateway worker spends its time: py-spy samples one gunicorn worker during a row and the collapsed
stacks are summed per function (inclusive share of the samples). Optional: needs py-spy (pip install py-spy)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pyspy() -> str | None:
    """py-spy from PYSPY, PATH or the virtualenv; None when it is not installed."""
    for candidate in (os.environ.get("PYSPY"), shutil.which("py-spy")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def start(pid: int, seconds: int, out: Path) -> subprocess.Popen | None:
    """Start sampling pid for `seconds` (100 Hz, raw collapsed stacks into out); None without py-spy."""
    tool = pyspy()
    if tool is None:
        return None
    args = [tool, "record", "-p", str(pid), "-d", str(seconds), "-r", "100", "-f", "raw", "-o", str(out)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# Where a sampled thread is, by its stack: the first rule that matches names the sample. py-spy counts a thread
# blocked in a C call that released the GIL (a socket read, libpq waiting for the server) as active, so the
# database and HTTP rows are wall time spent waiting on those round trips, not CPU.
# Newer py-spy versions name methods with their class ("DefaultDialect.do_execute"): rules match the bare name.
def _bare(name: str) -> str:
    func, _, where = name.partition(" (")
    return f"{func.rsplit('.', 1)[-1]} ({where}" if where else func.rsplit(".", 1)[-1]


_CATEGORIES = (
    ("idle thread (waiting for a request)", lambda leaf, names: _bare(leaf) == "_worker (futures/thread.py)"),
    ("HTTP call to the microservice", lambda leaf, names: any(_bare(n) == "call (adapters/http.py)" for n in names)),
    ("database: pool pre-ping (SELECT 1)", lambda leaf, names: _bare(leaf).startswith("do_ping ")),
    ("database: COMMIT", lambda leaf, names: _bare(leaf).startswith("do_commit ")),
    ("database: statements (incl. BEGIN)", lambda leaf, names: _bare(leaf).startswith("do_execute ")),
    (
        "writing the answer to the client",
        lambda leaf, names: _bare(leaf).startswith(("write (gunicorn", "sendall ")),
    ),
    (
        "Python in the request",
        lambda leaf, names: any(_bare(n) == "handle_request (workers/gthread.py)" for n in names),
    ),
    ("gunicorn and other", lambda leaf, names: True),
)


def summarise(raw: Path, top: int = 25) -> dict:
    """Samples by category (shares of the busy samples), plus the project's own functions by inclusive share."""
    inclusive: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        names = [_frame_name(frame) for frame in frames]
        for name in {_frame_name(f) for f in frames if _is_project(f)}:
            inclusive[name] += n
        leaf = names[-1] if names else ""
        categories[next(label for label, rule in _CATEGORIES if rule(leaf, names))] += n
    idle = categories.pop(_CATEGORIES[0][0], 0)
    busy = total - idle
    return {
        "samples": total,
        "idle_samples": idle,
        "busy": {label: round(n / busy, 3) for label, n in categories.most_common()} if busy else {},
        "inclusive": [{"frame": k, "share": round(n / total, 3)} for k, n in inclusive.most_common(top)],
    }


# py-spy shortens paths to the import path ("routes/api_payments.py", "flask/app.py"): a frame is ours when
# its first part is one of the project's root modules or packages.
_PROJECT = {p.name for p in ROOT.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()} - {"bench", "tests"}


def _is_project(frame: str) -> bool:
    path = frame.partition(" (")[2].rsplit(":", 1)[0]
    return Path(path).parts[0] in _PROJECT if path else False


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/module.py:123)".
    func, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    parts = Path(path).parts
    if "site-packages" in parts:
        module = "/".join(parts[parts.index("site-packages") + 1 :][:2])
    else:
        module = "/".join(parts[-2:])
    return f"{func} ({module})"
