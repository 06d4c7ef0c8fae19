-- Hot summary rows spread over slots. Executed once by Alembic revision 0060.
--
-- transaction_stats_hourly (0003/0050) and api_usage_daily (0050) had one row per (hour or day, client, …):
-- every payment of a client updated the same few rows, and the row lock taken by the upsert is held until
-- COMMIT, so one client's concurrent requests queued behind each other there (measured: ~1 ms of lock wait
-- per request in the usage upsert alone at 8 connections). Like the rate counters (0020), each key now has
-- up to sixteen rows, one per `pg_backend_pid() % 16`: concurrent sessions write different rows. Readers
-- already sum (reports/usage.py, reports/dashboard.py), so the figures stay exact; bulk statements use slot 0.

LOCK TABLE gateway.transactions, gateway.api_logs IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE gateway.transaction_stats_hourly ADD COLUMN slot smallint NOT NULL DEFAULT 0;
ALTER TABLE gateway.transaction_stats_hourly DROP CONSTRAINT transaction_stats_hourly_pkey;
ALTER TABLE gateway.transaction_stats_hourly ADD PRIMARY KEY (hour, client_id, service, state, slot);

ALTER TABLE gateway.api_usage_daily ADD COLUMN slot smallint NOT NULL DEFAULT 0;
ALTER TABLE gateway.api_usage_daily DROP CONSTRAINT api_usage_daily_pkey;
ALTER TABLE gateway.api_usage_daily ADD PRIMARY KEY (client_id, day, endpoint, http_status, slot);

-- The slot is the session's `pg_backend_pid() % 16`, written inline (a function with its own SET search_path
-- would cost a GUC save and restore per row). A payment's begin and finish may run on different connections,
-- so one transaction's +1 and −1 of a state can land in different slots: only the sums mean anything.
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

CREATE OR REPLACE FUNCTION gateway.transactions_stats_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('gateway.bulk_load', true) IS DISTINCT FROM 'on' THEN
        RETURN NULL;  -- counted row by row at commit (transactions_stats_insert_row)
    END IF;
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, slot, txn_count, amount_sum)
    SELECT date_trunc('hour', n.created_at, 'UTC'), n.client_id, n.service, n.state, 0, count(*),
           coalesce(sum(n.amount), 0)
      FROM new_rows n
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
    ON CONFLICT (hour, client_id, service, state, slot) DO UPDATE
       SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
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

CREATE OR REPLACE FUNCTION gateway.transactions_stats_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, service, state, slot, txn_count, amount_sum)
    SELECT date_trunc('hour', o.created_at, 'UTC'), o.client_id, o.service, o.state, (pg_backend_pid() % 16)::smallint,
           -count(*), -coalesce(sum(o.amount), 0)
      FROM old_rows o
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
    ON CONFLICT (hour, client_id, service, state, slot) DO UPDATE
       SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION gateway.api_logs_usage() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.api_usage_daily AS u (day, client_id, endpoint, http_status, slot, calls)
    SELECT (n.created_at AT TIME ZONE 'UTC')::date, n.client_id, gateway.api_endpoint(n.path), n.http_status,
           (pg_backend_pid() % 16)::smallint, count(*)
      FROM new_rows n
     WHERE n.client_id IS NOT NULL
     GROUP BY 1, 2, 3, 4
     ORDER BY 2, 1, 3, 4
    ON CONFLICT (client_id, day, endpoint, http_status, slot) DO UPDATE SET calls = u.calls + EXCLUDED.calls;
    RETURN NULL;
END $$;
