"""A transaction's life as one ordered list for the portal: request, state changes, outside calls,
callbacks, webhooks and the answer. Built from transactions.detail(); every body is masked again here,
so a secret that slipped into a stored body still never reaches the page."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from core.masking import mask_json, mask_text

# Among events with the same timestamp (one database transaction shares one now()): the cause before the
# state change it caused, and the answer and its webhook last.
_ORDER = {"request": 0, "call": 1, "callback": 2, "state": 3, "response": 4, "webhook": 5}


def pretty(value: Any) -> str:
    """Indented JSON of a masked value; text that is JSON is parsed first so its keys get masked too."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return mask_text(value) or ""
    return json.dumps(mask_json(value), indent=2, sort_keys=True, default=str)


def build(detail: dict) -> list[dict]:
    """Timeline entries: {kind, at, title, status, body…}, oldest first."""
    entries: list[dict] = [
        {
            "kind": "request",
            "at": detail["created_at"],
            "title": f"Request {detail['service']}/{detail['route']}",
            "subtitle": f"f010 {detail['f010']}",
            "body": pretty(detail.get("request")),
        }
    ]
    for event in detail.get("events", []):
        entries.append(
            {
                "kind": "state",
                "at": event["created_at"],
                "title": f"{event['from_state'] or 'new'} → {event['to_state']}",
                "status": event["to_state"],
                "subtitle": event.get("detail") or "",
            }
        )
    for attempt in detail.get("attempts", []):
        ok = attempt.get("status_code") is not None and attempt["status_code"] < 400 and not attempt.get("error")
        entries.append(
            {
                "kind": "call",
                "at": attempt["created_at"],
                "title": f"Call {attempt['step']}: {attempt['method']} {attempt['url']}",
                "subtitle": (f"HTTP {attempt['status_code']}" if attempt.get("status_code") else "no answer")
                + (f" in {attempt['latency_ms']} ms" if attempt.get("latency_ms") is not None else ""),
                "ok": ok,
                "error": mask_text(attempt.get("error")),
                "body": pretty(attempt.get("request_body")),
                "reply": pretty(attempt.get("response_body")),
            }
        )
    for callback in detail.get("callbacks", []):
        entries.append(
            {
                "kind": "callback",
                "at": callback["created_at"],
                "title": f"Callback ({callback['outcome']})",
                "subtitle": " · ".join(
                    x for x in (callback.get("provider_ref"), callback.get("source_ip"), callback.get("detail")) if x
                ),
                "ok": callback["outcome"] in ("applied", "duplicate"),
                "body": pretty(callback.get("body")),
            }
        )
    if detail.get("result") is not None:
        entries.append(
            {
                "kind": "response",
                "at": detail.get("completed_at") or detail["updated_at"],
                "title": f"Answer HTTP {detail.get('http_status') or '—'}",
                "subtitle": detail.get("reason") or "",
                "ok": (detail.get("http_status") or 500) < 400,
                "body": pretty(detail["result"]),
            }
        )
    for item in detail.get("outbox", []):
        entries.append(
            {
                "kind": "webhook" if item["kind"] == "webhook" else "call",
                "at": item["created_at"],
                "title": f"{'Webhook' if item['kind'] == 'webhook' else 'Follow-up call'} to {item.get('url') or '—'}",
                "subtitle": f"{item['status']} after {item['attempts']} of {item['max_attempts']} attempts"
                + (f", last HTTP {item['last_status']}" if item.get("last_status") else ""),
                "ok": item["status"] != "dead",  # pending is not a failure yet
                "error": mask_text(item.get("last_error")),
                "outbox_id": item["id"],
                "outbox_status": item["status"],
                "body": pretty(item.get("payload")),
            }
        )
    entries.sort(key=lambda e: (_sort_time(e["at"]), _ORDER[e["kind"]]))
    return entries


def _sort_time(value: datetime | None) -> float:
    return value.timestamp() if value else 0.0
