"""Rate limits: keyed on the authenticated client (its own `rate_limit` or RATELIMIT_DEFAULT), and on the
source address for requests that fail authentication (RATELIMIT_ANONYMOUS).

Counting happens in PostgreSQL by default, inside the statement the request runs anyway
(gateway.authenticate_client, gateway.log_refused), so the limits hold across workers and instances with no
extra service or round trip. With RATELIMIT_STORAGE_URI set (e.g. redis://host:6379) the counts live there
instead, through `limits`, the library Flask-Limiter is built on.
"""

from __future__ import annotations

import functools
import re
import time
from typing import Any

from flask import Flask, current_app

from core.errors import InvalidField, RateLimited

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*([1-9]\d{0,8})\s*(?:/|per)\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def parse_rate(value: str) -> tuple[int, str]:
    """("1200/minute" | "1200 per minute") → (1200, "minute"). Raises InvalidField naming the format.
    Kept per value: every request reads RATELIMIT_DEFAULT through it."""
    match = _RATE.match(value or "")
    if not match:
        raise InvalidField(
            f"rate limit {str(value)[:40]!r} must look like '1200/minute' (count per second, minute, hour or day)"
        )
    return int(match.group(1)), match.group(2).lower()


def normalise_rate(value: str) -> str:
    """The stored form of a rate limit: "1200/minute"."""
    count, unit = parse_rate(value)
    return f"{count}/{unit}"


def _setting(name: str) -> dict[str, Any]:
    count, unit = parse_rate(current_app.config[name])
    return {"n": count, "secs": UNITS[unit], "text": f"{count}/{unit}"}


def external_store(app: Flask) -> Any | None:
    """The `limits` storage for RATELIMIT_STORAGE_URI, or None when PostgreSQL counts."""
    uri = app.config.get("RATELIMIT_STORAGE_URI") or ""
    if not uri or uri.lower() in {"postgres", "postgresql"}:
        return None
    from limits.storage import storage_from_string  # imported only when configured

    return storage_from_string(uri)


def sql_limits() -> dict | None:
    """What SQL counts against, as p_limits: None when limits are off or counted in an external store."""
    cfg = current_app.config
    if not cfg["RATELIMIT_ENABLED"] or current_app.extensions.get("rate_store") is not None:
        return None
    return {"rate": _setting("RATELIMIT_DEFAULT")}


def anonymous_limit() -> tuple[int, int] | None:
    """(count, seconds) for failed authentication per source address, or None when limits are off."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    setting = _setting("RATELIMIT_ANONYMOUS")
    return setting["n"], setting["secs"]


def _hit_external(store: Any, key: str, count: int, secs: int) -> int:
    """Fixed-window hit in the external store: 0 when allowed, else seconds to wait."""
    from limits import RateLimitItemPerSecond
    from limits.strategies import FixedWindowRateLimiter

    item = RateLimitItemPerSecond(count, secs)
    limiter = FixedWindowRateLimiter(store)
    if limiter.hit(item, key):
        return 0
    reset_at, _remaining = limiter.get_window_stats(item, key)
    return max(1, int(reset_at - time.time()) + 1)


def check_client_external(client_id: int, app_id: str, rate_limit: str | None) -> None:
    """With an external store: count one request of an authenticated client; raise RateLimited when over."""
    store = current_app.extensions.get("rate_store")
    if store is None or not current_app.config["RATELIMIT_ENABLED"]:
        return
    count, unit = parse_rate(rate_limit or current_app.config["RATELIMIT_DEFAULT"])
    retry = _hit_external(store, f"client:{client_id}", count, UNITS[unit])
    if retry:
        raise RateLimited(
            f"rate limit of {count}/{unit} exceeded for {app_id}; retry after {retry} seconds", retry_after=retry
        )


def hit_anonymous_external(remote_addr: str) -> int:
    """With an external store: count one failed authentication from remote_addr; Retry-After or 0."""
    store = current_app.extensions.get("rate_store")
    limit = anonymous_limit()
    if store is None or limit is None:
        return 0
    return _hit_external(store, f"anon:{remote_addr}", *limit)


def limited(client: Any) -> RateLimited | None:
    """The 429 for a resolution SQL found over its limit (see gateway.authenticate_client), or None."""
    retry = getattr(client, "retry_after", None)
    if not retry:
        return None
    return RateLimited(
        f"rate limit of {client.limit} exceeded for {client.app_id}; retry after {retry} seconds", retry_after=retry
    )
