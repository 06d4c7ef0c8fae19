"""The dashboard's and the usage statement's summaries: the worker folds the deltas that triggers append
(gateway.fold_summary_deltas, migration 0110). Readers never wait for it: the *_live views add the deltas not
folded yet, so the figures are exact whether the worker runs or not; folding keeps those views cheap."""

from __future__ import annotations

from sqlalchemy import text

from core import db

FOLD_BATCH = 50_000  # deltas per table per statement: a pass after an outage catches up in a few statements


def fold(limit: int | None = FOLD_BATCH) -> int:
    """Fold up to `limit` committed deltas of each summary (None: all). Returns how many were folded."""
    with db.transaction() as conn:
        return conn.execute(text("SELECT gateway.fold_summary_deltas(:n)"), {"n": limit}).scalar_one()
