"""The summaries' deltas (migration 0110): requests append them, the worker folds them in. Readers' figures (the
*_live views) are the same before and after a fold, a delta is folded once, and a delta of a transaction that
has not committed is neither folded nor lost."""

from __future__ import annotations

from contextlib import ExitStack

from sqlalchemy import text

import worker
from core import db
from gateway import summaries
from tests.factories import make_client, unique_name

_LOG = text(
    "INSERT INTO gateway.api_logs (client_id, app_id, method, path, http_status) "
    "VALUES (:c, :a, 'GET', '/api/v1/transactions/' || :f010, 200)"
)
_TXN = text(
    "INSERT INTO gateway.transactions (client_id, service, route, f010, payload_hash, request, amount) "
    "VALUES (:c, 'foldsvc', 'pay', :f010, 'h', '{}'::jsonb, 5) RETURNING id"
)
_FIGURES = text(
    "SELECT (SELECT coalesce(sum(txn_count), 0) FROM gateway.transaction_stats_live WHERE client_id = :c), "
    "(SELECT coalesce(sum(amount_sum), 0) FROM gateway.transaction_stats_live WHERE client_id = :c "
    "AND state = 'completed'), "
    "(SELECT coalesce(sum(calls), 0) FROM gateway.api_usage_live WHERE client_id = :c), "
    "(SELECT count(*) FROM gateway.transaction_stats_delta WHERE client_id = :c) "
    "+ (SELECT count(*) FROM gateway.api_usage_delta WHERE client_id = :c)"
)


def _pay(conn, merchant, n: int) -> None:
    for _ in range(n):
        f010 = unique_name("fold")
        txn = conn.execute(_TXN, {"c": merchant.id, "f010": f010}).scalar_one()
        conn.execute(text("UPDATE gateway.transactions SET state = 'completed' WHERE id = :t"), {"t": txn})
        conn.execute(_LOG, {"c": merchant.id, "a": merchant.app_id, "f010": f010})


def test_folding_keeps_every_figure_and_empties_the_deltas(app):
    merchant = make_client(app)
    with app.app_context():
        with db.transaction() as conn:
            _pay(conn, merchant, 3)
        with db.transaction() as conn:
            before = tuple(conn.execute(_FIGURES, {"c": merchant.id}).one())
        assert before[:3] == (3, 15, 3) and before[3] > 0  # 3 payments (net of their state changes), 3 calls
        assert summaries.fold(None) >= before[3]
        with db.transaction() as conn:
            after = tuple(conn.execute(_FIGURES, {"c": merchant.id}).one())
            folded = conn.execute(
                text("SELECT sum(txn_count) FROM gateway.transaction_stats_hourly WHERE client_id = :c"),
                {"c": merchant.id},
            ).scalar_one()
        assert after == (*before[:3], 0)
        assert folded == 3


def test_an_uncommitted_delta_is_neither_folded_nor_lost(app):
    merchant = make_client(app)
    with app.app_context(), ExitStack() as exits:
        open_txn = exits.enter_context(db.engine().connect())
        open_txn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # the deferred stats trigger fires now
        _pay(open_txn, merchant, 1)
        summaries.fold(None)  # runs while the payment's transaction is still open
        open_txn.commit()
        with db.transaction() as conn:
            pending = conn.execute(_FIGURES, {"c": merchant.id}).one()
        assert tuple(pending)[:3] == (1, 5, 1) and pending[3] > 0  # still a delta, counted by the readers
        summaries.fold(None)
        with db.transaction() as conn:
            assert tuple(conn.execute(_FIGURES, {"c": merchant.id}).one()) == (1, 5, 1, 0)


def test_the_worker_folds_every_pass(app):
    merchant = make_client(app)
    with app.app_context(), db.transaction() as conn:
        _pay(conn, merchant, 1)
    counts = worker.run_once(app)
    assert counts["summaries"] >= 1
    with app.app_context(), db.transaction() as conn:
        assert tuple(conn.execute(_FIGURES, {"c": merchant.id}).one()) == (1, 5, 1, 0)
