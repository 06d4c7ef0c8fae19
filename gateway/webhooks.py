"""Merchant webhooks: signed POSTs of final transaction states, delivered from the outbox."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import requests


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Signature header value: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance_s: int = 300, now: float | None = None) -> bool:
    """Merchant-side check (also documented in docs/webhooks.md): right MAC and a fresh timestamp."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    fresh = abs((now or time.time()) - timestamp) <= tolerance_s
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))


def deliver(
    session: requests.Session, url: str, payload: dict, secret: str, outbox_id: int, timeout_s: float
) -> tuple[int | None, str | None, int]:
    """POST one webhook. Returns (HTTP status or None, error text or None, latency ms)."""
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Signature": signature(secret, int(time.time()), body),
        "X-Webhook-Id": str(outbox_id),
        "X-Event": str(payload.get("event", "")),
        "User-Agent": "mospay-gateway-webhooks/1",
    }
    started = time.monotonic()
    try:
        resp = session.post(url, data=body, headers=headers, timeout=(3, timeout_s), allow_redirects=False)
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: could not reach {url}", int((time.monotonic() - started) * 1000)
    latency = int((time.monotonic() - started) * 1000)
    if 200 <= resp.status_code < 300:
        return resp.status_code, None, latency
    return resp.status_code, f"merchant answered HTTP {resp.status_code}", latency
