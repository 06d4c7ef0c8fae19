"""Where a gateway worker spends its time: py-spy samples one gunicorn worker during a row and the collapsed
stacks are summed per function (inclusive share of the samples). Optional: needs py-spy (pip install py-spy)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path


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


def summarise(raw: Path, top: int = 30) -> list[dict]:
    """Inclusive share per frame (function (file:line) collapsed to function (module)), largest first."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        seen = set()
        for frame in stack.split(";"):
            name = _frame_name(frame)
            if name not in seen:
                seen.add(name)
                inclusive[name] += n
    return [{"frame": name, "share": round(n / total, 3)} for name, n in inclusive.most_common(top)] if total else []


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
