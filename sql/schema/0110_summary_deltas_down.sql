-- Undo 0110: fold what is pending, then the triggers upsert the summaries again (as 0060 and 0080 left them).
WITH d AS (DELETE FROM gateway.transaction_stats_delta RETURNING *)
INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, slot, txn_count, amount_sum)
SELECT hour, client_id, service, state, 0, sum(txn_count), sum(amount_sum) FROM d GROUP BY 1, 2, 3, 4
ON CONFLICT (hour, client_id, service, state, slot) DO UPDATE
   SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
WITH d AS (DELETE FROM gateway.api_usage_delta RETURNING *)
INSERT INTO gateway.api_usage_daily AS u (day, client_id, endpoint, http_status, slot, calls)
SELECT day, client_id, endpoint, http_status, 0, sum(calls) FROM d GROUP BY 1, 2, 3, 4
ON CONFLICT (client_id, day, endpoint, http_status, slot) DO UPDATE SET calls = u.calls + EXCLUDED.calls;
DROP VIEW IF EXISTS gateway.transaction_stats_live, gateway.api_usage_live;
DROP FUNCTION IF EXISTS gateway.fold_summary_deltas(integer);
DROP TABLE IF EXISTS gateway.transaction_stats_delta, gateway.api_usage_delta;

CREATE OR REPLACE FUNCTION gateway.transactions_stats_insert_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, slot, txn_count, amount_sum)
    VALUES (date_trunc('hour', NEW.created_at, 'UTC'), NEW.client_id, NEW.service, NEW.state,
            (pg_backend_pid() % 16)::smallint, 1, coalesce(NEW.amount, 0))
    ON CONFLICT (hour, client_id, service, state, slot) DO UPDATE
       SET txn_count = s.txn_count + 1, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION gateway.transactions_stats_state() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, slot, txn_count, amount_sum)
    SELECT date_trunc('hour', NEW.created_at, 'UTC'), NEW.client_id, NEW.service, v.state, (pg_backend_pid() % 16)::smallint,
           v.n, v.amount
      FROM (VALUES (OLD.state, -1, -coalesce(OLD.amount, 0)), (NEW.state, 1, coalesce(NEW.amount, 0)))
           AS v(state, n, amount)
     ORDER BY v.state
    ON CONFLICT (hour, client_id, service, state, slot) DO UPDATE
       SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION gateway.api_logs_usage_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.api_usage_daily AS u (day, client_id, endpoint, http_status, slot, calls)
    VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date, NEW.client_id, gateway.api_endpoint(NEW.path),
            NEW.http_status, (pg_backend_pid() % 16)::smallint, 1)
    ON CONFLICT (client_id, day, endpoint, http_status, slot) DO UPDATE SET calls = u.calls + 1;
    RETURN NULL;
END $$;
