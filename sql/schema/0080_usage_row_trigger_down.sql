-- Back to 0060: the statement trigger counts every insert, api_endpoint is a SQL function again.
DROP TRIGGER IF EXISTS api_logs_usage_row ON gateway.api_logs;
DROP FUNCTION IF EXISTS gateway.api_logs_usage_row();

CREATE OR REPLACE FUNCTION gateway.api_endpoint(path text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT regexp_replace(left(path, 200), '^(/api/v1/(transactions|callbacks|isp/subscribers))/[^/]+$', '\1/{id}')
$$;

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
