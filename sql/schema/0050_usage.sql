-- Monthly usage statements per client, read from pre-aggregates so a month of millions of rows answers in
-- milliseconds. Executed once by Alembic revision 0050.
--
-- 1. gateway.transaction_stats_hourly gains the service in its key: the same triggers keep it exact, with the
--    same number of upserts per payment as before, and a statement can now say "transactions by service".
-- 2. gateway.api_usage_daily: API calls per (UTC day, client, endpoint, HTTP status), kept exact by a
--    statement-level trigger on gateway.api_logs. Paths are reduced to endpoints (no f010, token or username),
--    so the table stays small and holds nothing secret.

LOCK TABLE gateway.transactions IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE gateway.transaction_stats_hourly ADD COLUMN service text NOT NULL DEFAULT '';
ALTER TABLE gateway.transaction_stats_hourly DROP CONSTRAINT transaction_stats_hourly_pkey;
ALTER TABLE gateway.transaction_stats_hourly ADD PRIMARY KEY (hour, client_id, service, state);

CREATE OR REPLACE FUNCTION gateway.transactions_stats_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
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

-- Rebuild with the service (under the lock above, so no row is missed or counted twice).
TRUNCATE gateway.transaction_stats_hourly;
INSERT INTO gateway.transaction_stats_hourly (hour, client_id, service, state, txn_count, amount_sum)
SELECT date_trunc('hour', created_at, 'UTC'), client_id, service, state, count(*), coalesce(sum(amount), 0)
  FROM gateway.transactions
 GROUP BY 1, 2, 3, 4;
ALTER TABLE gateway.transaction_stats_hourly ALTER COLUMN service DROP DEFAULT;

CREATE TABLE gateway.api_usage_daily (
    day         date NOT NULL,     -- the UTC day of the call
    client_id   bigint NOT NULL,
    endpoint    text NOT NULL,     -- the path with its last, per-object part replaced by a placeholder
    http_status integer NOT NULL,
    calls       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (client_id, day, endpoint, http_status)
);
COMMENT ON TABLE gateway.api_usage_daily IS
    'Usage pre-aggregate of gateway.api_logs (client calls only), maintained by the api_logs_usage trigger';

-- '/api/v1/transactions/INV-1' → '/api/v1/transactions/{id}': no f010, callback token or username is kept.
CREATE FUNCTION gateway.api_endpoint(path text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT regexp_replace(left(path, 200), '^(/api/v1/(transactions|callbacks|isp/subscribers))/[^/]+$', '\1/{id}')
$$;

CREATE FUNCTION gateway.api_logs_usage() RETURNS trigger
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

CREATE TRIGGER api_logs_usage AFTER INSERT ON gateway.api_logs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION gateway.api_logs_usage();

LOCK TABLE gateway.api_logs IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO gateway.api_usage_daily (day, client_id, endpoint, http_status, calls)
SELECT (created_at AT TIME ZONE 'UTC')::date, client_id, gateway.api_endpoint(path), http_status, count(*)
  FROM gateway.api_logs
 WHERE client_id IS NOT NULL
 GROUP BY 1, 2, 3, 4;
