"""Per-process memory of each service's field rules, so a request can be validated before its one
begin_request round trip. SQL re-checks the rules' version in that statement: a stale memory costs one
extra round trip and never a wrongly accepted request."""

from __future__ import annotations

import threading
from dataclasses import dataclass

MAX_SERVICES = 1000  # a bound, not a tuning knob: gateways have tens of services


@dataclass(frozen=True)
class Rules:
    version: str
    rules: list[dict]


_known: dict[str, Rules] = {}
_lock = threading.Lock()


def get(service: str) -> Rules | None:
    return _known.get(service)


def remember(service: str, version: str | None, rules: list[dict]) -> None:
    if version is None:
        return
    with _lock:
        if len(_known) >= MAX_SERVICES and service not in _known:
            _known.clear()
        _known[service] = Rules(version, rules)
