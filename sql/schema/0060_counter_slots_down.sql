-- Downgrade of 0060: one row per key again (the slots summed), and the trigger functions of 0020/0050.

LOCK TABLE gateway.transactions, gateway.api_logs IN SHARE ROW EXCLUSIVE MODE;

CREATE TEMP TABLE stats_merged ON COMMIT DROP AS
SELECT hour, client_id, service, state, sum(txn_count) AS txn_count, sum(amount_sum) AS amount_sum
  FROM gateway.transaction_stats_hourly GROUP BY 1, 2, 3, 4;
TRUNCATE gateway.transaction_stats_hourly;
ALTER TABLE gateway.transaction_stats_hourly DROP CONSTRAINT transaction_stats_hourly_pkey;
ALTER TABLE gateway.transaction_stats_hourly DROP COLUMN slot;
ALTER TABLE gateway.transaction_stats_hourly ADD PRIMARY KEY (hour, client_id, service, state);
INSERT INTO gateway.transaction_stats_hourly (hour, client_id, service, state, txn_count, amount_sum)
SELECT hour, client_id, service, state, txn_count, amount_sum FROM stats_merged;

CREATE TEMP TABLE usage_merged ON COMMIT DROP AS
SELECT day, client_id, endpoint, http_status, sum(calls) AS calls FROM gateway.api_usage_daily GROUP BY 1, 2, 3, 4;
TRUNCATE gateway.api_usage_daily;
ALTER TABLE gateway.api_usage_daily DROP CONSTRAINT api_usage_daily_pkey;
ALTER TABLE gateway.api_usage_daily DROP COLUMN slot;
ALTER TABLE gateway.api_usage_daily ADD PRIMARY KEY (client_id, day, endpoint, http_status);
INSERT INTO gateway.api_usage_daily (day, client_id, endpoint, http_status, calls)
SELECT day, client_id, endpoint, http_status, calls FROM usage_merged;

CREATE OR REPLACE FUNCTION gateway.transactions_stats_insert_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, txn_count, amount_sum)
    VALUES (date_trunc('hour', NEW.created_at, 'UTC'), NEW.client_id, NEW.service, NEW.state, 1,
            coalesce(NEW.amount, 0))
    ON CONFLICT (hour, client_id, service, state) DO UPDATE
       SET txn_count = s.txn_count + 1, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION gateway.transactions_stats_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('gateway.bulk_load', true) IS DISTINCT FROM 'on' THEN
        RETURN NULL;  -- counted row by row at commit (transactions_stats_insert_row)
    END IF;
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, txn_count, amount_sum)
    SELECT date_trunc('hour', n.created_at, 'UTC'), n.client_id, n.service, n.state, count(*),
           coalesce(sum(n.amount), 0)
      FROM new_rows n
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
    ON CONFLICT (hour, client_id, service, state) DO UPDATE
       SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION gateway.transactions_stats_state() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, txn_count, amount_sum)
    SELECT date_trunc('hour', NEW.created_at, 'UTC'), NEW.client_id, NEW.service, v.state, v.n, v.amount
      FROM (VALUES (OLD.state, -1, -coalesce(OLD.amount, 0)), (NEW.state, 1, coalesce(NEW.amount, 0)))
           AS v(state, n, amount)
     ORDER BY v.state
    ON CONFLICT (hour, client_id, service, state) DO UPDATE
       SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION gateway.transactions_stats_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, txn_count, amount_sum)
    SELECT date_trunc('hour', o.created_at, 'UTC'), o.client_id, o.service, o.state, -count(*),
           -coalesce(sum(o.amount), 0)
      FROM old_rows o
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
    ON CONFLICT (hour, client_id, service, state) DO UPDATE
       SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION gateway.api_logs_usage() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.api_usage_daily AS u (day, client_id, endpoint, http_status, calls)
    SELECT (n.created_at AT TIME ZONE 'UTC')::date, n.client_id, gateway.api_endpoint(n.path), n.http_status, count(*)
      FROM new_rows n
     WHERE n.client_id IS NOT NULL
     GROUP BY 1, 2, 3, 4
     ORDER BY 2, 1, 3, 4
    ON CONFLICT (client_id, day, endpoint, http_status) DO UPDATE SET calls = u.calls + EXCLUDED.calls;
    RETURN NULL;
END $$;

