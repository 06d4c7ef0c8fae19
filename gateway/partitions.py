"""Monthly partitions of api_logs and call_attempts: create months ahead, drop months past retention
(API_LOG_RETENTION_MONTHS). A worker job; the work itself is gateway.maintain_partitions in SQL."""

from __future__ import annotations

import logging
import time
from datetime import date

from flask import current_app
from sqlalchemy import text

from core import db

log = logging.getLogger(__name__)
EVERY_S = 3600.0  # months change slowly; hourly is ample and keeps DDL locks rare
_last_run = 0.0


def maintain(today: date | None = None) -> dict:
    """Run once now: {"created": [...], "dropped": [...], "counters_removed": n} (or {"skipped": true})."""
    cfg = current_app.config
    with db.transaction() as conn:
        result = conn.execute(
            text("SELECT gateway.maintain_partitions(:ahead, :keep, :today)"),
            {"ahead": cfg["PARTITION_MONTHS_AHEAD"], "keep": cfg["API_LOG_RETENTION_MONTHS"], "today": today},
        ).scalar_one()
    if result.get("created") or result.get("dropped"):
        log.info("partitions: %s", result)
    return result


def maintain_if_due() -> int:
    """The worker's hook: maintain at start and then hourly. Returns partitions created plus dropped."""
    global _last_run
    if time.monotonic() - _last_run < EVERY_S and _last_run:
        return 0
    _last_run = time.monotonic()
    result = maintain()
    return len(result.get("created", [])) + len(result.get("dropped", []))
