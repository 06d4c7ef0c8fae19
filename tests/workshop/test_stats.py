"""Item 7: calls and mean time from pg_stat_user_functions, p95 and errors from the route's transactions."""

from __future__ import annotations

import time

from tests.workshop.conftest import pay

RAISE = (
    "CREATE OR REPLACE FUNCTION clientfn.{fn}(unique_id text, data_input json) RETURNS TABLE(results json) "
    "LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$ BEGIN "
    "IF data_input->>'f004' = '13' THEN RAISE EXCEPTION 'unlucky amount'; END IF; "
    "RETURN QUERY SELECT json_build_object('status','200','action','OUTPUT','message','ok'); END $f$"
)


def test_stats_count_calls_time_and_errors(client, admin, viewer, echo):
    merchant, service, fn = echo
    saved = client.put(
        f"/api/v1/admin/functions/{fn}", headers=admin, json={"source": RAISE.format(fn=fn), "reason": "stats"}
    )
    assert saved.status_code == 200, saved.get_json()
    answers = [pay(client, merchant, service["name"], f004=amount).status_code for amount in ("10", "13", "20")]
    assert answers == [200, 502, 200]
    deadline, stats = time.time() + 15, {}
    while time.time() < deadline:  # backends flush function statistics about once a second when idle
        stats = client.get(f"/api/v1/admin/functions/{fn}/stats", headers=viewer).get_json()
        if stats["calls"] >= 2:
            break
        time.sleep(0.3)
    assert stats["track_functions"] == "pl"
    # PostgreSQL counts the calls that completed; the one that raised is in our own records as an error
    assert stats["calls"] == 2 and stats["mean_ms"] > 0
    assert stats["errors"] == 1 and stats["transactions"] == 3
    assert stats["p95_ms"] is not None and stats["p95_ms"] >= 0
    assert client.get("/api/v1/admin/functions/nope_a_b/stats", headers=viewer).status_code == 404
