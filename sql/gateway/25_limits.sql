-- Authentication and limits in SQL, so they ride in the statement a request makes anyway.
-- Counters are fixed windows in gateway.rate_counters, shared by every worker and instance.

-- Fixed windows of p_secs seconds, aligned to the epoch (UTC).
-- The small helpers on the hot path are PL/pgSQL, not SQL: a SQL function with SET search_path is never
-- inlined, and called from PL/pgSQL it is parsed and planned again on every call; PL/pgSQL caches its plans.
CREATE OR REPLACE FUNCTION gateway.rate_window(p_secs integer) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN to_timestamp(floor(extract(epoch FROM clock_timestamp()) / p_secs) * p_secs);
END $$;

-- 0 when p_key has room for one more hit in the current window, else the seconds until the window ends
-- (Retry-After). Reads only: counting is rate_count's job, done by the caller as late as possible.
CREATE OR REPLACE FUNCTION gateway.rate_check(p_key text, p_limit integer, p_secs integer) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_window timestamptz;
BEGIN
    IF p_limit IS NULL OR p_secs IS NULL OR p_limit <= 0 OR p_secs <= 0 THEN
        RETURN 0;
    END IF;
    v_window := gateway.rate_window(p_secs);
    IF coalesce((SELECT sum(hits) FROM gateway.rate_counters WHERE key = p_key AND window_start = v_window), 0)
       < p_limit THEN
        RETURN 0;
    END IF;
    RETURN greatest(1, ceil(extract(epoch FROM v_window + make_interval(secs => p_secs) - clock_timestamp())))::integer;
END $$;

-- Count one hit. One slot per backend (pid % 16) spreads a busy client's hits over up to sixteen rows, and
-- callers count at the very end of their statement, so a row lock is held only for the commit that follows:
-- one client's concurrent requests never queue behind each other's whole request. The price: requests
-- checked at the same instant may all pass, so a window can admit up to (concurrency − 1) extra requests.
CREATE OR REPLACE FUNCTION gateway.rate_count(p_key text, p_secs integer) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_window timestamptz;
BEGIN
    IF p_secs IS NULL OR p_secs <= 0 THEN
        RETURN;
    END IF;
    v_window := gateway.rate_window(p_secs);
    INSERT INTO gateway.rate_counters AS r (key, window_start, slot, hits, expires_at)
    VALUES (p_key, v_window, pg_backend_pid() % 16, 1, v_window + make_interval(secs => p_secs))
    ON CONFLICT (key, window_start, slot) DO UPDATE SET hits = r.hits + 1;
END $$;

-- Check and count in one (for statements with nothing else to do after the check).
CREATE OR REPLACE FUNCTION gateway.rate_hit(p_key text, p_limit integer, p_secs integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_retry integer := gateway.rate_check(p_key, p_limit, p_secs);
BEGIN
    IF v_retry = 0 AND p_limit IS NOT NULL AND p_limit > 0 THEN
        PERFORM gateway.rate_count(p_key, p_secs);
    END IF;
    RETURN v_retry;
END $$;

-- Resolve a client (and, when given, a service route) and decide whether the presented credential holds.
-- p_secret_hash is HMAC-SHA256(SECRET_KEY, api_secret) computed by Python: comparing it here with `=` leaks
-- at most how many leading characters of two keyed hashes agree, which an attacker cannot steer without the
-- key (the double-HMAC argument). Python still re-checks every refusal in constant time to word the error.
-- p_limits: {"rate": {"n": 600, "secs": 60}} for RATELIMIT_DEFAULT, or NULL when counting happens elsewhere.
-- p_count: count the request now (status and token endpoints); begin_request passes false and counts at
-- its end (see rate_count).
-- Returns NULL for an unknown App ID; else the resolution with "authenticated", "rate_key" and "rate_secs"
-- when a limit applies, and, when over it, "retry_after" (seconds) and "limit" (the limit that applied).
CREATE OR REPLACE FUNCTION gateway.authenticate_client(
    p_app_id text, p_username text, p_secret_hash text, p_token_version integer,
    p_service text, p_route text, p_limits jsonb, p_count boolean DEFAULT true
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r jsonb;
    v_ok boolean;
    v_rate text;
    v_n integer;
    v_secs integer;
    v_retry integer;
BEGIN
    SELECT to_jsonb(x) INTO r FROM (
        SELECT c.id AS client_id, c.app_id, c.status, c.credential_version, c.rate_limit, c.monthly_quota,
               cr.secret_hash,
               s.id AS service_id, s.name AS service_name, s.kind, s.base_url, s.timeout_s::float AS timeout_s,
               s.active AS service_active, s.settings,
               sr.id AS route_id,
               a.id AS assignment_id, a.active AS assignment_active,
               fr.id AS registry_id,
               -- kept on the service row by a trigger on service_fields (migration 0100)
               coalesce(s.field_rules, '[]') AS fields, coalesce(s.rules_version, md5('[]')) AS rules_version,
               (SELECT json_object_agg(pc.provider, pc.data_enc)
                  FROM gateway.provider_credentials pc WHERE pc.client_id = c.id) AS provider_credentials
          FROM gateway.clients c
          LEFT JOIN gateway.client_credentials cr
                 ON cr.client_id = c.id AND cr.active AND cr.api_username = p_username
          LEFT JOIN gateway.services s ON s.name = p_service
          LEFT JOIN gateway.service_routes sr ON sr.service_id = s.id AND sr.route = p_route
          LEFT JOIN gateway.assignments a ON a.client_id = c.id AND a.service_id = s.id
          LEFT JOIN gateway.function_registry fr ON fr.assignment_id = a.id AND fr.route_id = sr.id
         WHERE c.app_id = p_app_id) x;
    IF r IS NULL THEN
        RETURN NULL;
    END IF;
    v_ok := r->>'status' = 'active' AND CASE
        WHEN p_token_version IS NOT NULL THEN (r->>'credential_version')::integer = p_token_version
        ELSE r->>'secret_hash' IS NOT NULL AND r->>'secret_hash' = p_secret_hash END;
    r := r || jsonb_build_object('authenticated', coalesce(v_ok, false));
    IF v_ok AND p_limits ? 'rate' THEN
        v_rate := coalesce(r->>'rate_limit', p_limits->'rate'->>'text');
        IF r->>'rate_limit' IS NOT NULL THEN  -- "1200/minute", checked by clients_rate_limit_format
            v_n := split_part(r->>'rate_limit', '/', 1)::integer;
            v_secs := CASE split_part(r->>'rate_limit', '/', 2)
                      WHEN 'second' THEN 1 WHEN 'minute' THEN 60 WHEN 'hour' THEN 3600 ELSE 86400 END;
        ELSE
            v_n := (p_limits->'rate'->>'n')::integer;
            v_secs := (p_limits->'rate'->>'secs')::integer;
        END IF;
        v_retry := gateway.rate_check('client:' || (r->>'client_id'), v_n, v_secs);
        IF v_retry > 0 THEN
            r := r || jsonb_build_object('retry_after', v_retry, 'limit', v_rate);
        ELSIF p_count THEN
            PERFORM gateway.rate_count('client:' || (r->>'client_id'), v_secs);
        ELSE
            r := r || jsonb_build_object('rate_key', 'client:' || (r->>'client_id'), 'rate_secs', v_secs);
        END IF;
    END IF;
    RETURN r;
END $$;

-- The monthly transaction quota: NULL when there is room (or no quota), else the refusal for the client.
-- Counted per UTC calendar month; count_quota() adds one when a new transaction is accepted.
CREATE OR REPLACE FUNCTION gateway.quota_refusal(p_client_id bigint, p_quota integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_month timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    v_next timestamptz := v_month + interval '1 month';
    v_used bigint;
BEGIN
    IF p_quota IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(sum(hits), 0) INTO v_used FROM gateway.rate_counters
     WHERE key = 'quota:' || p_client_id AND window_start = v_month;
    IF v_used < p_quota THEN
        RETURN NULL;
    END IF;
    RETURN jsonb_build_object(
        'retry_after', greatest(1, ceil(extract(epoch FROM v_next - now())))::integer,
        'message', format('monthly quota of %s transactions reached; it resets on %s UTC',
                          p_quota, to_char(v_next AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')));
END $$;

-- PL/pgSQL, not SQL: see rate_window.
CREATE OR REPLACE FUNCTION gateway.count_quota(p_client_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_month timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
BEGIN
    INSERT INTO gateway.rate_counters AS r (key, window_start, slot, hits, expires_at)
    VALUES ('quota:' || p_client_id, v_month, pg_backend_pid() % 16, 1, v_month + interval '2 months')
    ON CONFLICT (key, window_start, slot) DO UPDATE SET hits = r.hits + 1;
END $$;

-- A request that failed authentication (401): count it against its source address and write its API log
-- row in the same statement. Returns 0, or the Retry-After seconds when the address is over
-- RATELIMIT_ANONYMOUS, in which case the row records the 429 the caller gets instead.
CREATE OR REPLACE FUNCTION gateway.log_refused(p_log jsonb, p_response jsonb, p_limit integer, p_secs integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_retry integer := gateway.rate_hit('anon:' || coalesce(p_log->>'remote_addr', '?'), p_limit, p_secs);
BEGIN
    INSERT INTO gateway.api_logs (client_id, app_id, method, path, http_status, latency_ms, remote_addr,
                                  request_body, response_body)
    VALUES (NULL, left(p_log->>'app_id', 100), p_log->>'method', left(p_log->>'path', 500),
            CASE WHEN v_retry > 0 THEN 429 ELSE 401 END, (p_log->>'latency_ms')::integer, p_log->>'remote_addr',
            left(p_log->>'request_body', 4000),
            left(CASE WHEN v_retry > 0 THEN NULL ELSE p_response::text END, 4000));
    RETURN v_retry;
END $$;
