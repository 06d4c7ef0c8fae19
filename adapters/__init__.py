"""The contract between the processor and outside services: a call spec in, a reply code and data out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServiceCall:
    """One outside call, as a client function asked for it, after the gateway resolved and checked it."""

    url: str
    method: str
    payload: Any
    headers: dict[str, str]
    timeout_s: float
    idempotency_key: str
    # Values to scrub from anything recorded about this call (f007/f008, injected credentials).
    secrets: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class ServiceReply:
    """The outcome as a code for the response function: HTTP status, or 502 (unreachable) / 504 (timed out)."""

    code: int
    data: Any
    latency_ms: int
    error: str | None = None
    request_body: str | None = None  # masked, truncated
    response_body: str | None = None  # masked, truncated
