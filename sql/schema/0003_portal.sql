-- Portal read paths that must stay fast at millions of transactions. Executed once by Alembic revision 0003.
--
-- 1. gateway.transaction_stats_hourly: counts and amounts per (UTC hour, client, state), kept exact by
--    triggers on gateway.transactions, so the dashboard reads a few thousand summary rows instead of
--    scanning the transactions of the last 7 days.
-- 2. Indexes for the admin transaction filters that the core schema does not cover (f010 alone, service).
-- 3. users.totp_last_step: the last accepted TOTP time step, so a code cannot be replayed.

CREATE TABLE gateway.transaction_stats_hourly (
    hour       timestamptz NOT NULL,  -- date_trunc('hour', created_at, 'UTC')
    client_id  bigint NOT NULL,
    state      text NOT NULL,
    txn_count  bigint NOT NULL DEFAULT 0,
    amount_sum numeric(18, 2) NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, client_id, state)
);
COMMENT ON TABLE gateway.transaction_stats_hourly IS
    'Dashboard pre-aggregate of gateway.transactions, maintained by the transactions_stats_* triggers';

-- Inserts: one statement-level trigger over the transition table, so a bulk INSERT … SELECT (demo data,
-- imports) aggregates once per statement instead of once per row. ORDER BY fixes the lock order of the
-- upserted summary rows, so two concurrent statements cannot deadlock on them.
CREATE FUNCTION gateway.transactions_stats_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, state, txn_count, amount_sum)
    SELECT date_trunc('hour', n.created_at, 'UTC'), n.client_id, n.state, count(*), coalesce(sum(n.amount), 0)
      FROM new_rows n
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
    ON CONFLICT (hour, client_id, state) DO UPDATE
       SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
    RETURN NULL;
END $$;

CREATE TRIGGER transactions_stats_insert AFTER INSERT ON gateway.transactions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION gateway.transactions_stats_insert();

-- State changes: row-level and only when the state really changes (the pipeline updates other columns
-- several times per payment; those must not pay for this). Moves one unit from the old state to the new.
CREATE FUNCTION gateway.transactions_stats_state() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, state, txn_count, amount_sum)
    SELECT date_trunc('hour', NEW.created_at, 'UTC'), NEW.client_id, v.state, v.n, v.amount
      FROM (VALUES (OLD.state, -1, -coalesce(OLD.amount, 0)), (NEW.state, 1, coalesce(NEW.amount, 0)))
           AS v(state, n, amount)
     ORDER BY v.state
    ON CONFLICT (hour, client_id, state) DO UPDATE
       SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
    RETURN NULL;
END $$;

CREATE TRIGGER transactions_stats_state AFTER UPDATE OF state ON gateway.transactions
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION gateway.transactions_stats_state();

CREATE FUNCTION gateway.transactions_stats_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO gateway.transaction_stats_hourly AS s (hour, client_id, state, txn_count, amount_sum)
    SELECT date_trunc('hour', o.created_at, 'UTC'), o.client_id, o.state, -count(*), -coalesce(sum(o.amount), 0)
      FROM old_rows o
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
    ON CONFLICT (hour, client_id, state) DO UPDATE
       SET txn_count = s.txn_count + EXCLUDED.txn_count, amount_sum = s.amount_sum + EXCLUDED.amount_sum;
    RETURN NULL;
END $$;

CREATE TRIGGER transactions_stats_delete AFTER DELETE ON gateway.transactions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION gateway.transactions_stats_delete();

-- Backfill under a lock that blocks writers only for the length of this migration, so no row is missed
-- or counted twice between the backfill and the triggers.
LOCK TABLE gateway.transactions IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO gateway.transaction_stats_hourly (hour, client_id, state, txn_count, amount_sum)
SELECT date_trunc('hour', created_at, 'UTC'), client_id, state, count(*), coalesce(sum(amount), 0)
  FROM gateway.transactions
 GROUP BY 1, 2, 3;

-- Filters of the admin transaction list that had no index: f010 without a client, and service.
CREATE INDEX transactions_f010 ON gateway.transactions (f010);
CREATE INDEX transactions_service_created ON gateway.transactions (service, created_at DESC);
-- API log filter by status (4xx/5xx) stays on the created_at index; this one serves "failures first".
CREATE INDEX api_logs_status_created ON gateway.api_logs (http_status, created_at DESC);

ALTER TABLE gateway.users ADD COLUMN totp_last_step bigint;
