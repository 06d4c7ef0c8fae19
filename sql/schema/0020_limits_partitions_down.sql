-- Downgrade of 0020 (back to 0050): plain api_logs and call_attempts again (rows kept), no limits, statement-time stats.

DROP TRIGGER IF EXISTS transactions_stats_insert_row ON gateway.transactions;
DROP FUNCTION IF EXISTS gateway.transactions_stats_insert_row();
DROP TRIGGER IF EXISTS transactions_stats_state ON gateway.transactions;
CREATE TRIGGER transactions_stats_state AFTER UPDATE OF state ON gateway.transactions
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION gateway.transactions_stats_state();
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

ALTER TABLE gateway.api_logs RENAME TO api_logs_parted;
ALTER SEQUENCE gateway.api_logs_id_seq OWNED BY NONE;
DROP INDEX IF EXISTS gateway.api_logs_created;
DROP INDEX IF EXISTS gateway.api_logs_client_created;
DROP INDEX IF EXISTS gateway.api_logs_status_created;
CREATE TABLE gateway.api_logs (LIKE gateway.api_logs_parted INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER SEQUENCE gateway.api_logs_id_seq OWNED BY gateway.api_logs.id;
INSERT INTO gateway.api_logs SELECT * FROM gateway.api_logs_parted;  -- before the trigger: already counted
DROP TABLE gateway.api_logs_parted;
CREATE TRIGGER api_logs_usage AFTER INSERT ON gateway.api_logs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION gateway.api_logs_usage();  -- first, so the key below gets its old name (api_logs_pkey)
ALTER TABLE gateway.api_logs ADD CONSTRAINT api_logs_pkey PRIMARY KEY (id),
    ADD FOREIGN KEY (client_id) REFERENCES gateway.clients(id) ON DELETE SET NULL;
CREATE INDEX api_logs_created ON gateway.api_logs (created_at DESC);
CREATE INDEX api_logs_client_created ON gateway.api_logs (client_id, created_at DESC);
CREATE INDEX api_logs_status_created ON gateway.api_logs (http_status, created_at DESC);

ALTER TABLE gateway.call_attempts RENAME TO call_attempts_parted;
ALTER SEQUENCE gateway.call_attempts_id_seq OWNED BY NONE;
DROP INDEX IF EXISTS gateway.call_attempts_txn;
CREATE TABLE gateway.call_attempts (LIKE gateway.call_attempts_parted INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER SEQUENCE gateway.call_attempts_id_seq OWNED BY gateway.call_attempts.id;
INSERT INTO gateway.call_attempts SELECT * FROM gateway.call_attempts_parted;
DROP TABLE gateway.call_attempts_parted;  -- first, so the key below gets its old name (call_attempts_pkey)
ALTER TABLE gateway.call_attempts ADD CONSTRAINT call_attempts_pkey PRIMARY KEY (id),
    ADD FOREIGN KEY (transaction_id) REFERENCES gateway.transactions(id) ON DELETE CASCADE;
CREATE INDEX call_attempts_txn ON gateway.call_attempts (transaction_id, id);

DROP SCHEMA gateway_parts CASCADE;
DROP FUNCTION IF EXISTS gateway.maintain_partitions(integer, integer, date);
DROP FUNCTION IF EXISTS gateway.ensure_month_partition(text, date);
DROP FUNCTION IF EXISTS gateway.begin_request(jsonb, text, text, jsonb, json, text, numeric, text, text, jsonb);
DROP FUNCTION IF EXISTS gateway.authenticate_client(text, text, text, integer, text, text, jsonb, boolean);
DROP FUNCTION IF EXISTS gateway.log_refused(jsonb, jsonb, integer, integer);
DROP FUNCTION IF EXISTS gateway.count_quota(bigint);
DROP FUNCTION IF EXISTS gateway.quota_refusal(bigint, integer);
DROP FUNCTION IF EXISTS gateway.rate_hit(text, integer, integer);
DROP FUNCTION IF EXISTS gateway.rate_count(text, integer);
DROP FUNCTION IF EXISTS gateway.rate_check(text, integer, integer);
DROP FUNCTION IF EXISTS gateway.rate_window(integer);
DROP TABLE gateway.rate_counters;
ALTER TABLE gateway.clients DROP COLUMN monthly_quota, DROP COLUMN rate_limit;
