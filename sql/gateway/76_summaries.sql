-- The summaries' deltas (migration 0110): triggers append them, the worker folds them in, readers read the
-- *_live views (summary + deltas not folded yet).

-- Fold committed deltas into transaction_stats_hourly and api_usage_daily. Each statement deletes the deltas it
-- folds and upserts their sums, so a delta is counted exactly once; the deltas of transactions still open are
-- not visible yet and wait for a later pass. SKIP LOCKED lets two workers fold side by side. p_limit bounds
-- the deltas taken from each table (NULL: all of them). Returns how many deltas were folded.
CREATE OR REPLACE FUNCTION gateway.fold_summary_deltas(p_limit integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_txn integer;
    v_api integer;
BEGIN
    WITH d AS (
        DELETE FROM gateway.transaction_stats_delta
         WHERE ctid = ANY (ARRAY(SELECT ctid FROM gateway.transaction_stats_delta LIMIT p_limit
                                    FOR UPDATE SKIP LOCKED))
        RETURNING hour, client_id, service, state, txn_count, amount_sum
    ), folded AS (
        INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, slot, txn_count,
                                                          amount_sum)
        SELECT hour, client_id, service, state, 0, sum(txn_count), sum(amount_sum)
          FROM d
         GROUP BY 1, 2, 3, 4
         ORDER BY 1, 2, 3, 4
        ON CONFLICT (hour, client_id, service, state, slot) DO UPDATE
           SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum
    )
    SELECT count(*) INTO v_txn FROM d;

    WITH d AS (
        DELETE FROM gateway.api_usage_delta
         WHERE ctid = ANY (ARRAY(SELECT ctid FROM gateway.api_usage_delta LIMIT p_limit FOR UPDATE SKIP LOCKED))
        RETURNING day, client_id, endpoint, http_status, calls
    ), folded AS (
        INSERT INTO gateway.api_usage_daily AS u (day, client_id, endpoint, http_status, slot, calls)
        SELECT day, client_id, endpoint, http_status, 0, sum(calls)
          FROM d
         GROUP BY 1, 2, 3, 4
         ORDER BY 2, 1, 3, 4
        ON CONFLICT (client_id, day, endpoint, http_status, slot) DO UPDATE SET calls = u.calls + EXCLUDED.calls
    )
    SELECT count(*) INTO v_api FROM d;
    RETURN v_txn + v_api;
END $$;
