-- The dashboard's and the usage statement's summaries stop taking an upsert per request. Executed once by
-- Alembic revision 0110.
--
-- The row triggers upserted transaction_stats_hourly (at INSERT and at every state change) and api_usage_daily
-- (per logged call): an index probe, a row lock held to COMMIT and a new row version, three times per payment
-- (about 8 % of PostgreSQL's CPU per payment, measured). Now they append a delta row to a table with no index
-- and no key, the worker folds the deltas into the summaries (gateway.fold_summary_deltas: DELETE … RETURNING
-- and one GROUP BY upsert in one statement, so a delta is folded exactly once and only once it is committed),
-- and readers read the *_live views: the summary plus the deltas not folded yet. Exact at every moment.
CREATE TABLE gateway.transaction_stats_delta (
    hour      timestamptz NOT NULL,
    client_id bigint NOT NULL,
    service   text NOT NULL,
    state     text NOT NULL,
    txn_count integer NOT NULL,
    amount_sum numeric(18, 2) NOT NULL
);
CREATE TABLE gateway.api_usage_delta (
    day         date NOT NULL,
    client_id   bigint NOT NULL,
    endpoint    text NOT NULL,
    http_status integer NOT NULL,
    calls       integer NOT NULL
);
-- The worker empties them every pass: autovacuum should keep up with that churn on its own.
ALTER TABLE gateway.transaction_stats_delta SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
ALTER TABLE gateway.api_usage_delta SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);

CREATE VIEW gateway.transaction_stats_live AS
    SELECT hour, client_id, service, state, txn_count, amount_sum FROM gateway.transaction_stats_hourly
    UNION ALL
    SELECT hour, client_id, service, state, txn_count, amount_sum FROM gateway.transaction_stats_delta;
CREATE VIEW gateway.api_usage_live AS
    SELECT day, client_id, endpoint, http_status, calls FROM gateway.api_usage_daily
    UNION ALL
    SELECT day, client_id, endpoint, http_status, calls FROM gateway.api_usage_delta;

CREATE OR REPLACE FUNCTION gateway.transactions_stats_insert_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.transaction_stats_delta (hour, client_id, service, state, txn_count, amount_sum)
    VALUES (date_trunc('hour', NEW.created_at, 'UTC'), NEW.client_id, NEW.service, NEW.state, 1,
            coalesce(NEW.amount, 0));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION gateway.transactions_stats_state() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.transaction_stats_delta (hour, client_id, service, state, txn_count, amount_sum)
    VALUES (date_trunc('hour', NEW.created_at, 'UTC'), NEW.client_id, NEW.service, OLD.state, -1,
            -coalesce(OLD.amount, 0)),
           (date_trunc('hour', NEW.created_at, 'UTC'), NEW.client_id, NEW.service, NEW.state, 1,
            coalesce(NEW.amount, 0));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION gateway.api_logs_usage_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.api_usage_delta (day, client_id, endpoint, http_status, calls)
    VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date, NEW.client_id, gateway.api_endpoint(NEW.path),
            NEW.http_status, 1);
    RETURN NULL;
END $$;
