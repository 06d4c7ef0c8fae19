"""Health of the gateway's microservices as the dashboard shows it: up or down, never an exception."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests

TIMEOUT_S = 1.0


def check_one(name: str, base_url: str, timeout: float = TIMEOUT_S) -> dict:
    """GET <base_url>/healthz once. Any failure (refused, timeout, bad answer) is reported as down."""
    url = base_url.rstrip("/") + "/healthz"
    started = time.monotonic()
    try:
        response = requests.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return {
            "name": name,
            "url": url,
            "up": False,
            "status": None,
            "latency_ms": int((time.monotonic() - started) * 1000),
            "detail": _reason(exc),
        }
    return {
        "name": name,
        "url": url,
        "up": response.status_code == 200,
        "status": response.status_code,
        "latency_ms": int((time.monotonic() - started) * 1000),
        "detail": "ok" if response.status_code == 200 else f"answered HTTP {response.status_code}",
    }


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return f"no answer within {TIMEOUT_S:g} s"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or host unreachable"
    return type(exc).__name__


def check_all(services: dict[str, str], timeout: float = TIMEOUT_S) -> list[dict]:
    """Check every service at once, so the answer takes at most one timeout, not one per service."""
    if not services:
        return []
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        futures = [pool.submit(check_one, name, url, timeout) for name, url in services.items()]
        return [f.result() for f in futures]
