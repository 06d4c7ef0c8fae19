-- Undo 0090: the one-pass statement triggers for bulk loads, as 0060 and 0080 left them.
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

CREATE OR REPLACE FUNCTION gateway.api_logs_usage() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('gateway.bulk_load', true) IS DISTINCT FROM 'on' THEN
        RETURN NULL;  -- counted row by row (api_logs_usage_row)
    END IF;
    INSERT INTO gateway.api_usage_daily AS u (day, client_id, endpoint, http_status, slot, calls)
    SELECT (n.created_at AT TIME ZONE 'UTC')::date, n.client_id, gateway.api_endpoint(n.path), n.http_status,
           0, count(*)
      FROM new_rows n
     WHERE n.client_id IS NOT NULL
     GROUP BY 1, 2, 3, 4
     ORDER BY 2, 1, 3, 4
    ON CONFLICT (client_id, day, endpoint, http_status, slot) DO UPDATE SET calls = u.calls + EXCLUDED.calls;
    RETURN NULL;
END $$;

CREATE TRIGGER transactions_stats_insert AFTER INSERT ON gateway.transactions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION gateway.transactions_stats_insert();
CREATE TRIGGER api_logs_usage AFTER INSERT ON gateway.api_logs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION gateway.api_logs_usage();
