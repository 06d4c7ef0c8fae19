-- Calling client functions through the registry, and checking what they return.

-- Why a result cannot be used, or NULL when it is well formed.
CREATE OR REPLACE FUNCTION gateway.result_problem(p_result jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_result IS NULL OR jsonb_typeof(p_result) <> 'object' THEN
        RETURN 'results must be a JSON object';
    END IF;
    IF NOT (p_result ? 'status') OR jsonb_typeof(p_result->'status') NOT IN ('string', 'number') THEN
        RETURN 'results.status is missing (a string such as "200")';
    END IF;
    IF coalesce(p_result->>'action', '') NOT IN ('SERVICE', 'OUTPUT', 'ERROR', 'PENDING') THEN
        RETURN format('results.action is %s; expected SERVICE, OUTPUT, ERROR or PENDING',
                      coalesce(p_result->>'action', 'missing'));
    END IF;
    IF p_result->>'action' = 'SERVICE' AND coalesce(p_result->>'serviceurl', '') = '' THEN
        RETURN 'results.serviceurl is required when action is SERVICE';
    END IF;
    RETURN NULL;
END $$;

-- HTTP status a result asks for: its "status" when that is a valid code, else the default.
-- PL/pgSQL, not SQL: see rate_window (25_limits.sql).
CREATE OR REPLACE FUNCTION gateway.http_status_of(p_result jsonb, p_default integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN CASE WHEN (p_result->>'status') ~ '^[1-5][0-9][0-9]$' THEN (p_result->>'status')::integer
                ELSE p_default END;
END $$;

-- Call one client function (request, response or callback ABI) by the names in a registry row.
-- Never raises for the function's own faults: {"ok":false,"error":…} names the function and the cause.
CREATE OR REPLACE FUNCTION gateway.invoke(
    p_schema text, p_fn text, p_abi text, p_unique_id text, p_input json, p_code integer, p_data json
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_raw json;
    v_result jsonb;
    v_err text;
    v_name text := format('%s.%s', p_schema, p_fn);
BEGIN
    IF p_fn IS NULL THEN
        RETURN jsonb_build_object('ok', false, 'error', format('no %s function is registered', p_abi));
    END IF;
    BEGIN
        IF p_abi = 'request' THEN
            EXECUTE format('SELECT results FROM %I.%I($1, $2) LIMIT 1', p_schema, p_fn)
               INTO v_raw USING p_unique_id, p_input;
        ELSIF p_abi = 'response' THEN
            EXECUTE format('SELECT results FROM %I.%I($1, $2, $3, $4) LIMIT 1', p_schema, p_fn)
               INTO v_raw USING p_unique_id, p_input, p_code, p_data;
        ELSIF p_abi = 'callback' THEN
            EXECUTE format('SELECT results FROM %I.%I($1, $2, $3) LIMIT 1', p_schema, p_fn)
               INTO v_raw USING p_unique_id, p_input, p_data;
        ELSE
            RAISE EXCEPTION 'unknown ABI %', p_abi;
        END IF;
    EXCEPTION
        WHEN query_canceled THEN
            RETURN jsonb_build_object('ok', false, 'error',
                format('function %s exceeded the statement timeout', v_name));
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT;
            RETURN jsonb_build_object('ok', false, 'error', format('function %s raised: %s', v_name, v_err));
    END;
    IF v_raw IS NULL THEN
        RETURN jsonb_build_object('ok', false, 'error', format('function %s returned no result row', v_name));
    END IF;
    v_result := v_raw::jsonb;
    v_err := gateway.result_problem(v_result);
    IF v_err IS NOT NULL THEN
        RETURN jsonb_build_object('ok', false, 'error', format('function %s returned a malformed result: %s', v_name, v_err));
    END IF;
    RETURN jsonb_build_object('ok', true, 'result', v_result);
END $$;
