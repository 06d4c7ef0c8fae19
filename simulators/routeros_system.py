"""The two ``/system`` menus health checks read: ``/system/resource`` (read-only) and ``/system/identity``.

Each is a single row without ``.id``, as on a real router (docs/protocols/routeros.md, "Health commands"). The
figures are those of a small Cloud Hosted Router; only the uptime moves.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from simulators.routeros_menus import Trap, matches

DEFAULT_IDENTITY = "MikroTik"
MIB = 1 << 20


def format_uptime(seconds: float) -> str:
    """RouterOS's duration format, largest unit first, zero units left out: ``1w2d3h4m5s``, ``0s``."""
    rest, out = int(seconds), ""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        count, rest = divmod(rest, size)
        out += f"{count}{unit}" if count else ""
    return out + f"{rest}s" if rest or not out else out


class SystemMenus:
    """``/system/resource`` and ``/system/identity`` of one simulated router. Guarded by the caller's lock."""

    PATHS = frozenset({"/system/resource", "/system/identity"})

    def __init__(self, ros_version: str, version: tuple[int, ...]) -> None:
        self.ros_version, self.version = ros_version, version
        self.started = time.monotonic()
        self.identity = DEFAULT_IDENTITY

    def reset(self) -> None:
        self.identity = DEFAULT_IDENTITY

    def resource(self) -> dict[str, str]:
        """The row of ``/system/resource/print``, in the router's field order."""
        return {
            "uptime": format_uptime(time.monotonic() - self.started),
            "version": f"{self.ros_version} (stable)",
            "build-time": "2025-02-28 12:00:00",
            "factory-software": "7.1",
            "free-memory": str(812 * MIB),
            "total-memory": str(1024 * MIB),
            "cpu": "QEMU",
            "cpu-count": "1",
            "cpu-frequency": "2400",
            "cpu-load": "1",
            "free-hdd-space": str(96 * MIB),
            "total-hdd-space": str(128 * MIB),
            "write-sect-since-reboot": "1024",
            "write-sect-total": "1024",
            "architecture-name": "x86_64",
            "board-name": "CHR",
            "platform": "MikroTik",
        }

    def execute(self, path: str, verb: str, attrs: dict[str, str], queries: list[str]) -> list[list[str]]:
        """Run ``print`` (both menus) or ``set =name=`` (identity). :raise Trap: like the router."""
        if verb == "print":
            row = self.resource() if path == "/system/resource" else {"name": self.identity}
            return self._print(row, attrs, queries)
        if verb == "set" and path == "/system/identity":
            if set(attrs) - {"name"}:
                raise Trap("unknown parameter")
            if not attrs.get("name"):
                raise Trap("value of name must not be empty", 1)
            self.identity = attrs["name"]
            return [["!done"]]
        raise Trap("no such command prefix", 0)

    def _print(self, row: Mapping[str, str], attrs: dict[str, str], queries: list[str]) -> list[list[str]]:
        proplist = [p for p in attrs.pop(".proplist", "").split(",") if p]
        for ignored in ("detail", "terse", "without-paging"):
            attrs.pop(ignored, None)
        if attrs:
            raise Trap("unknown parameter")
        if not matches(row, queries):
            return [["!empty"], ["!done"]] if self.version >= (7, 18) else [["!done"]]
        keys = [k for k in proplist if k in row] if proplist else list(row)
        return [["!re", *(f"={k}={row[k]}" for k in keys)], ["!done"]]
