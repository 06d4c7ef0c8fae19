"""The STK Password and its Timestamp: base64(shortcode + passkey + timestamp), timestamp in EAT.

Rules: docs/protocols/daraja.md §2.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

# Kenya has kept UTC+3 without DST since 1942, so a fixed offset is exact and needs no tz database.
EAT = timezone(timedelta(hours=3), "EAT")


def eat_timestamp(now: datetime | None = None) -> str:
    """Return YYYYMMDDHHmmss in East Africa Time, whatever the machine's time zone."""
    moment = now.astimezone(EAT) if now is not None else datetime.now(EAT)
    return moment.strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    """Return base64 of the three parts concatenated as ASCII with no separators."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()
