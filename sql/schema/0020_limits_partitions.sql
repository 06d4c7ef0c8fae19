-- Limits that live in the round trip a request already makes, and monthly partitions for the two tables
-- that grow with every request. Executed once by Alembic revision 0020.
--
-- 1. clients.rate_limit ("1200/minute"; NULL = RATELIMIT_DEFAULT) and clients.monthly_quota (NULL = none).
-- 2. gateway.rate_counters: fixed-window counters shared by every worker and instance, written in the
--    statement (and commit) the request makes anyway; monthly quotas count here too. Each key has a
--    few slots (one per backend, by pid) so concurrent requests of one client do not queue on one row lock.
-- 3. gateway.api_logs and gateway.call_attempts become range-partitioned by created_at, one partition per
--    month in schema gateway_parts; gateway.maintain_partitions() (worker job) creates months ahead and
--    drops months past retention. Primary keys include the partition key, as PostgreSQL requires.

ALTER TABLE gateway.clients
    ADD COLUMN rate_limit text CONSTRAINT clients_rate_limit_format
        CHECK (rate_limit ~ '^[1-9][0-9]{0,8}/(second|minute|hour|day)$'),
    ADD COLUMN monthly_quota integer CONSTRAINT clients_monthly_quota_positive CHECK (monthly_quota > 0);

CREATE TABLE gateway.rate_counters (
    key          text NOT NULL,          -- 'client:<id>', 'anon:<ip>', 'quota:<id>'
    window_start timestamptz NOT NULL,
    slot         smallint NOT NULL,
    hits         integer NOT NULL DEFAULT 0,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (key, window_start, slot)
);
CREATE INDEX rate_counters_expires ON gateway.rate_counters (expires_at);

CREATE SCHEMA IF NOT EXISTS gateway_parts;
COMMENT ON SCHEMA gateway_parts IS 'Monthly partitions of gateway.api_logs and gateway.call_attempts';

-- api_logs ------------------------------------------------------------------------------------------
ALTER TABLE gateway.api_logs RENAME TO api_logs_old;
ALTER SEQUENCE gateway.api_logs_id_seq OWNED BY NONE;
DROP INDEX IF EXISTS gateway.api_logs_created;
DROP INDEX IF EXISTS gateway.api_logs_client_created;
DROP INDEX IF EXISTS gateway.api_logs_status_created;
ALTER TABLE gateway.api_logs_old DROP CONSTRAINT api_logs_pkey;

CREATE TABLE gateway.api_logs (
    id             bigint NOT NULL DEFAULT nextval('gateway.api_logs_id_seq'),
    client_id      bigint REFERENCES gateway.clients(id) ON DELETE SET NULL,
    app_id         text,
    method         text NOT NULL,
    path           text NOT NULL,
    http_status    integer NOT NULL,
    latency_ms     integer,
    remote_addr    text,
    transaction_id bigint,
    request_body   text,  -- masked, truncated
    response_body  text,  -- masked, truncated
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE gateway.api_logs_id_seq OWNED BY gateway.api_logs.id;
CREATE INDEX api_logs_created ON gateway.api_logs (created_at DESC);
CREATE INDEX api_logs_client_created ON gateway.api_logs (client_id, created_at DESC);
CREATE INDEX api_logs_status_created ON gateway.api_logs (http_status, created_at DESC);
-- Rows outside every month partition land here; the worker keeps months ahead, so it stays empty.
CREATE TABLE gateway_parts.api_logs_default PARTITION OF gateway.api_logs DEFAULT;
-- The usage pre-aggregate (0050) follows the table: the old trigger goes with the old table below.
CREATE TRIGGER api_logs_usage AFTER INSERT ON gateway.api_logs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION gateway.api_logs_usage();

-- call_attempts -------------------------------------------------------------------------------------
ALTER TABLE gateway.call_attempts RENAME TO call_attempts_old;
ALTER SEQUENCE gateway.call_attempts_id_seq OWNED BY NONE;
DROP INDEX IF EXISTS gateway.call_attempts_txn;
ALTER TABLE gateway.call_attempts_old DROP CONSTRAINT call_attempts_pkey;

CREATE TABLE gateway.call_attempts (
    id             bigint NOT NULL DEFAULT nextval('gateway.call_attempts_id_seq'),
    transaction_id bigint NOT NULL REFERENCES gateway.transactions(id) ON DELETE CASCADE,
    step           integer NOT NULL,
    method         text NOT NULL,
    url            text NOT NULL,
    status_code    integer,
    latency_ms     integer,
    request_body   text,   -- masked, truncated
    response_body  text,   -- masked, truncated
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE gateway.call_attempts_id_seq OWNED BY gateway.call_attempts.id;
CREATE INDEX call_attempts_txn ON gateway.call_attempts (transaction_id, id);
CREATE TABLE gateway_parts.call_attempts_default PARTITION OF gateway.call_attempts DEFAULT;

-- Month partitions covering the existing rows and two months ahead (gateway.maintain_partitions, in
-- sql/gateway/75_partitions.sql, keeps them coming), then the rows themselves.
DO $$
DECLARE
    v_table text;
    v_month timestamp;
    v_first timestamp := date_trunc('month', least(
        now(),
        coalesce((SELECT min(created_at) FROM gateway.api_logs_old), now()),
        coalesce((SELECT min(created_at) FROM gateway.call_attempts_old), now())) AT TIME ZONE 'UTC');
BEGIN
    FOREACH v_table IN ARRAY ARRAY['api_logs', 'call_attempts'] LOOP
        FOR v_month IN SELECT generate_series(v_first, date_trunc('month', now() AT TIME ZONE 'UTC')
                                                        + interval '2 months', interval '1 month') LOOP
            EXECUTE format('CREATE TABLE gateway_parts.%I PARTITION OF gateway.%I FOR VALUES FROM (%L) TO (%L)',
                           v_table || '_' || to_char(v_month, 'YYYYMM'), v_table,
                           v_month AT TIME ZONE 'UTC', (v_month + interval '1 month') AT TIME ZONE 'UTC');
        END LOOP;
    END LOOP;
END $$;

-- Already counted in api_usage_daily: copy the rows without counting them again.
ALTER TABLE gateway.api_logs DISABLE TRIGGER api_logs_usage;
INSERT INTO gateway.api_logs SELECT * FROM gateway.api_logs_old;
ALTER TABLE gateway.api_logs ENABLE TRIGGER api_logs_usage;
INSERT INTO gateway.call_attempts SELECT * FROM gateway.call_attempts_old;
DROP TABLE gateway.api_logs_old;
DROP TABLE gateway.call_attempts_old;

-- 4. The dashboard's hourly pre-aggregate (0003) is kept at COMMIT instead of mid-statement. Its rows are
--    per (hour, client, state): every payment of a client in the same hour updates the same few rows, and a
--    trigger firing at INSERT held those row locks for the rest of the request's statement, so one client's
--    concurrent payments queued behind each other. Deferred (constraint) triggers take the locks only for
--    the commit. Bulk loads (demo data) set gateway.bulk_load = on and keep the one-pass statement trigger.
CREATE FUNCTION gateway.transactions_stats_insert_row() RETURNS trigger
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

CREATE CONSTRAINT TRIGGER transactions_stats_insert_row AFTER INSERT ON gateway.transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (current_setting('gateway.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION gateway.transactions_stats_insert_row();

DROP TRIGGER transactions_stats_state ON gateway.transactions;
CREATE CONSTRAINT TRIGGER transactions_stats_state AFTER UPDATE OF state ON gateway.transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION gateway.transactions_stats_state();
