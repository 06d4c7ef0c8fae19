"""What one payment writes: the transaction row once per statement (begin inserts it already in its first
state; every state change still in transaction_events), and summary rows that concurrent sessions do not
queue for (0060's slots)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from sqlalchemy import NullPool, create_engine, text
from sqlalchemy.exc import DBAPIError

from core import db
from demo import bulk as demo_bulk
from tests.factories import echo_setup, make_client, unique_name

_UPDATES = text("SELECT pg_stat_get_xact_tuples_updated('gateway.transactions'::regclass)")


def _registry_id(conn, client_id: int, service: str) -> int:
    return conn.execute(
        text(
            "SELECT fr.id FROM gateway.function_registry fr JOIN gateway.services s ON s.id = fr.service_id "
            "JOIN gateway.service_routes sr ON sr.id = fr.route_id "
            "WHERE fr.client_id = :c AND s.name = :s AND sr.route = 'pay'"
        ),
        {"c": client_id, "s": service},
    ).scalar_one()


def test_each_statement_writes_the_transaction_row_once_and_records_every_state(app, echo_service):
    merchant, service = echo_setup(app, echo_service.url)
    fields = merchant.fields(service["name"], "pay")
    with app.app_context(), db.transaction() as conn:
        registry_id = _registry_id(conn, merchant.id, service["name"])
        # The backend's counters also hold earlier transactions not yet reported: count from here.
        before = conn.execute(_UPDATES).scalar_one()
        began = conn.execute(
            text(
                "SELECT gateway.begin_payment(:c, :r, :f010, 'h', CAST(:req AS jsonb), CAST(:req AS json), NULL, "
                "NULL, NULL, NULL, '{}'::jsonb)"
            ),
            {"c": merchant.id, "r": registry_id, "f010": fields["f010"], "req": json.dumps(fields)},
        ).scalar_one()
        assert began["outcome"] == "service"
        # One INSERT, already in the state the request function asked for, and no UPDATE: before, begin
        # inserted 'received' and then updated the row (and before that, twice).
        assert conn.execute(_UPDATES).scalar_one() - before == 0
        finished = conn.execute(
            text(
                "SELECT gateway.finish_payment(:t, 200, CAST(:out AS json), '{}'::jsonb, CAST(:req AS json), "
                "'{}'::jsonb)"
            ),
            {"t": began["txn"], "out": json.dumps({"status": "200", "message": "ok"}), "req": json.dumps(fields)},
        ).scalar_one()
        assert finished["outcome"] == "final"
        assert conn.execute(_UPDATES).scalar_one() - before == 1
        events = conn.execute(
            text("SELECT from_state, to_state FROM gateway.transaction_events WHERE transaction_id = :t ORDER BY id"),
            {"t": began["txn"]},
        ).all()
        state = conn.execute(
            text("SELECT state FROM gateway.transactions WHERE id = :t"), {"t": began["txn"]}
        ).scalar_one()
    assert [tuple(e) for e in events] == [(None, "received"), ("received", "dispatched"), ("dispatched", state)]
    assert state in ("completed", "failed")


def _two_sessions_in_different_slots(exits: ExitStack, eng):
    """Two open connections whose backends write different slots (pg_backend_pid() % 16)."""
    first = exits.enter_context(eng.connect())
    slot = first.execute(text("SELECT pg_backend_pid() % 16")).scalar_one()
    for _ in range(20):
        other = exits.enter_context(eng.connect())
        if other.execute(text("SELECT pg_backend_pid() % 16")).scalar_one() != slot:
            return first, other
    pytest.skip("no second backend in another slot")


_LOG = text(
    "INSERT INTO gateway.api_logs (client_id, app_id, method, path, http_status) "
    "VALUES (:c, :a, 'POST', '/api/v1/payment/process', 200)"
)
_TXN = text(
    "INSERT INTO gateway.transactions (client_id, service, route, f010, payload_hash, request, amount) "
    "VALUES (:c, 'slotsvc', 'pay', :f010, 'h', '{}'::jsonb, 5)"
)


def test_one_clients_concurrent_requests_do_not_queue_on_the_summary_rows(app):
    """Session A has counted a request of a client and not committed yet; session B counts another request of
    the same client, hour and endpoint. With one row per key B waited for A's commit (lock_timeout here)."""
    merchant = make_client(app)
    with app.app_context(), ExitStack() as exits:
        a, b = _two_sessions_in_different_slots(exits, db.engine())
        b.execute(text("SET LOCAL lock_timeout = '500ms'"))
        for conn in (a, b):
            conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # the deferred stats trigger fires at INSERT
            conn.execute(_LOG, {"c": merchant.id, "a": merchant.app_id})
            conn.execute(_TXN, {"c": merchant.id, "f010": unique_name("slot")})
        usage_rows = b.execute(
            text("SELECT count(*) FROM gateway.api_usage_live WHERE client_id = :c"), {"c": merchant.id}
        ).scalar_one()
        a.rollback()
        b.rollback()
    assert usage_rows == 1  # B sees only its own row: A's is not committed


def test_counting_a_request_locks_no_summary_row(app):
    """A request's counts are deltas appended to tables with no key (migration 0110): while session A has counted
    a request and not committed, B can upsert the very summary row A's request belongs to (with the upserting
    triggers of before, B waited for A's row lock: lock_timeout)."""
    merchant = make_client(app)
    with app.app_context(), ExitStack() as exits:
        eng = db.engine()
        a = exits.enter_context(eng.connect())
        a.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # the deferred stats trigger fires at INSERT
        a.execute(_LOG, {"c": merchant.id, "a": merchant.app_id})
        a.execute(_TXN, {"c": merchant.id, "f010": unique_name("slot")})
        slot = a.execute(text("SELECT pg_backend_pid() % 16")).scalar_one()
        b = exits.enter_context(eng.connect())
        b.execute(text("SET LOCAL lock_timeout = '300ms'"))
        b.execute(
            text(
                "INSERT INTO gateway.api_usage_daily AS u (day, client_id, endpoint, http_status, slot, calls) "
                "VALUES ((now() AT TIME ZONE 'UTC')::date, :c, '/api/v1/payment/process', 200, :s, 1) "
                "ON CONFLICT (client_id, day, endpoint, http_status, slot) DO UPDATE SET calls = u.calls + 1"
            ),
            {"c": merchant.id, "s": slot},
        )
        b.execute(
            text(
                "INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, slot, "
                "txn_count, amount_sum) VALUES (date_trunc('hour', now(), 'UTC'), :c, 'slotsvc', 'received', :s, 1, 5) "
                "ON CONFLICT (hour, client_id, service, state, slot) DO UPDATE SET txn_count = s.txn_count + 1"
            ),
            {"c": merchant.id, "s": slot},
        )
        b.rollback()
        a.rollback()


_BEGIN = text(
    "SELECT gateway.begin_payment(:c, :r, :f010, 'h', CAST(:req AS jsonb), CAST(:req AS json), NULL, "
    "NULL, NULL, NULL, '{}'::jsonb)"
)


def test_a_race_for_one_new_f010_leaves_one_row_and_none_of_the_losers_writes(app, echo_service, database_url):
    """begin_payment calls the request function before it inserts the row. Two sessions racing with one new
    f010 both call it; the loser's INSERT waits for the winner, finds its row and raises MP409, which takes
    back everything the loser's statement did, the request function's own writes included."""
    merchant, service = echo_setup(app, echo_service.url)
    fields = merchant.fields(service["name"], "pay")
    params = {"c": merchant.id, "f010": fields["f010"], "req": json.dumps(fields)}
    with app.app_context(), ExitStack() as exits:
        eng = db.engine()
        dba = create_engine(database_url, poolclass=NullPool)  # a DBA edits the function, as in the workshop
        with dba.begin() as setup:
            params["r"] = _registry_id(setup, merchant.id, service["name"])
            fn = setup.execute(
                text("SELECT fn_schema || '.' || request_fn FROM gateway.function_registry WHERE id = :r"), params
            ).scalar_one()
            setup.execute(text("CREATE TABLE IF NOT EXISTS public.race_marks (f010 text, pid integer)"))
            setup.execute(text("GRANT SELECT, INSERT ON public.race_marks TO PUBLIC"))
            # The generated function, plus a write of its own (as a DBA's subscription logic might do).
            setup.exec_driver_sql(
                f"CREATE OR REPLACE FUNCTION {fn}(unique_id text, data_input json) RETURNS TABLE(results json) "
                "LANGUAGE plpgsql AS $$ BEGIN "
                "INSERT INTO public.race_marks VALUES (unique_id, pg_backend_pid()); "
                "RETURN QUERY SELECT json_build_object('status', '200', 'type', 'service', 'version', '1', "
                "'action', 'SERVICE', 'serviceurl', '/pay', 'servicepayload', data_input); END $$"
            )
        winner = exits.enter_context(eng.connect())
        loser = exits.enter_context(eng.connect())
        first = winner.execute(_BEGIN, params).scalar_one()  # not committed: the loser's INSERT will wait
        assert first["outcome"] == "service"
        with ThreadPoolExecutor(1) as pool:
            raced = pool.submit(lambda: loser.execute(_BEGIN, params).scalar_one())
            time.sleep(0.5)  # the loser has called the function and waits on the winner's row
            assert not raced.done()
            winner.commit()
            with pytest.raises(DBAPIError) as refused:
                raced.result(timeout=10)
        loser.rollback()
        assert refused.value.orig.pgcode == "MP409"
        assert "send the request again" in str(refused.value.orig)
        with eng.connect() as check:
            rows = check.execute(
                text("SELECT count(*) FROM gateway.transactions WHERE client_id = :c AND f010 = :f010"), params
            ).scalar_one()
            marks = check.execute(text("SELECT count(*) FROM public.race_marks WHERE f010 = :f010"), params)
            marks = marks.scalar_one()
        # Sent again, the loser gets the answer for the payment in progress, without calling the function.
        again = loser.execute(_BEGIN, params).scalar_one()
        loser.commit()
    assert rows == 1
    assert marks == 1  # the winner's write only
    assert again["outcome"] == "conflict" and "in progress" in again["result"]["message"]


@pytest.mark.parametrize("bulk", [False, True])
def test_usage_counts_each_logged_call_once_row_by_row_or_in_a_bulk_load(app, bulk):
    """Requests are counted by the row trigger; a bulk load (gateway.bulk_load = on) counts its own rows in the
    same statement (demo/bulk.py). Either way each client call is counted once, gateway calls (no client) not
    at all, and nothing else copies the inserted rows (no statement trigger with a transition table)."""
    merchant = make_client(app)
    usage = text(
        "SELECT endpoint, sum(calls)::int FROM gateway.api_usage_live WHERE client_id = :c GROUP BY 1 ORDER BY 1"
    )
    insert = (
        "INSERT INTO gateway.api_logs (client_id, app_id, method, path, http_status) "
        "SELECT c, :a, 'GET', p, 200 FROM (VALUES (CAST(:c AS bigint), '/api/v1/transactions/INV-1'), "
        "(CAST(:c AS bigint), '/api/v1/transactions/INV-2'), (CAST(:c AS bigint), '/api/v1/payment/process'), "
        "(NULL, '/api/v1/payment/process')) AS v(c, p)"
    )
    with app.app_context(), db.transaction() as conn:
        if bulk:
            conn.execute(text("SET LOCAL gateway.bulk_load = on"))
            loaded = conn.execute(text(demo_bulk.counted_api_logs(insert)), {"c": merchant.id, "a": merchant.app_id})
            assert loaded.scalar_one() == 4
        else:
            conn.execute(text(insert), {"c": merchant.id, "a": merchant.app_id})
        counted = [tuple(r) for r in conn.execute(usage, {"c": merchant.id})]
        transition_tables = conn.execute(
            text(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid IN ('gateway.api_logs'::regclass, "
                "'gateway.transactions'::regclass) AND (tgnewtable IS NOT NULL OR tgoldtable IS NOT NULL) "
                "AND tgname NOT LIKE '%_delete'"
            )
        ).scalar_one()
    assert transition_tables == 0
    assert counted == [("/api/v1/payment/process", 1), ("/api/v1/transactions/{id}", 2)]
