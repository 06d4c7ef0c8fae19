-- The API usage pre-aggregate counted row by row. Executed once by Alembic revision 0080.
--
-- 0050's trigger ran once per INSERT statement over a transition table: a tuplestore and a GROUP BY plan for
-- the one row each request logs, plus a call of the SQL function api_endpoint, which PostgreSQL parses again
-- on every call from PL/pgSQL (a SQL function with SET search_path is never inlined). A row trigger runs one
-- cached INSERT … ON CONFLICT, and api_endpoint becomes PL/pgSQL (its plan cached per session).
-- Bulk loads (demo data, the benchmark's 5M rows) set gateway.bulk_load = on and keep the one-pass
-- statement trigger, as the transactions' stats triggers do (0020).

CREATE OR REPLACE FUNCTION gateway.api_endpoint(path text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF starts_with(path, '/api/v1/transactions/') OR starts_with(path, '/api/v1/callbacks/')
       OR starts_with(path, '/api/v1/isp/subscribers/') THEN
        RETURN regexp_replace(left(path, 200), '^(/api/v1/(transactions|callbacks|isp/subscribers))/[^/]+$', '\1/{id}');
    END IF;
    RETURN left(path, 200);
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

CREATE TRIGGER api_logs_usage_row AFTER INSERT ON gateway.api_logs
    FOR EACH ROW
    WHEN (NEW.client_id IS NOT NULL AND current_setting('gateway.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION gateway.api_logs_usage_row();
