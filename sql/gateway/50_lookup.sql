-- Read-only lookups usable from client functions; each is scoped to one client's rows.

CREATE OR REPLACE FUNCTION gateway.transaction_status(p_app_id text, p_f010 text) RETURNS json
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT json_strip_nulls(json_build_object(
               'transaction_id', t.public_id, 'f010', t.f010, 'status', t.state, 'service', t.service,
               'route', t.route, 'amount', t.amount::text, 'msisdn', t.msisdn, 'receipt', t.receipt,
               'reason', t.reason, 'reference', t.provider_ref, 'created_at', t.created_at, 'updated_at', t.updated_at))
      FROM gateway.transactions t
      JOIN gateway.clients c ON c.id = t.client_id
     WHERE c.app_id = p_app_id AND t.f010 = p_f010
$$;

-- A timestamp as the API writes it everywhere else (Python's isoformat of what psycopg2 returns): the session's
-- offset, microseconds only when there are some, always six digits (PostgreSQL's own JSON trims trailing zeros).
CREATE OR REPLACE FUNCTION gateway.iso_time(p_at timestamptz) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN to_char(p_at, 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN date_part('microseconds', p_at)::bigint % 1000000 = 0 THEN '' ELSE to_char(p_at, '.US') END
        || to_char(p_at, 'TZH:TZM');
END $$;

-- The status endpoints' one statement (its own transaction, as begin_request): authenticate and count the
-- request against the client's rate limit, find the client's transaction by f010 and, when it is found,
-- write the API log with the answer. One round trip for the usual lookup.
-- p_auth: {"app_id", "username", "secret_hash", "token_version"}; p_ctx: {"log": {...}, "limits": {...}}.
-- Outcomes:
--   "found":   "answer" is the merchant's view of the transaction; the API log row is written.
--   "refused": bad credentials, inactive client or over the rate limit; "resolution" holds what
--              authenticate_client saw, so Python words the refusal as it always has (and logs it).
--   "missing": authenticated, but the client has no transaction with this f010 (Python answers 404, logged).
CREATE OR REPLACE FUNCTION gateway.status_request(p_auth jsonb, p_f010 text, p_ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a jsonb;
    v_view jsonb;
    v_answer jsonb;
BEGIN
    a := gateway.authenticate_client(p_auth->>'app_id', p_auth->>'username', p_auth->>'secret_hash',
                                     (p_auth->>'token_version')::integer, '', '', p_ctx->'limits', true);
    IF a IS NULL OR NOT (a->>'authenticated')::boolean OR a ? 'retry_after' THEN
        RETURN jsonb_build_object('outcome', 'refused', 'resolution', a);
    END IF;
    -- The keys reports.transactions.merchant_view shows, absent when NULL (a null inside "result" stays).
    SELECT (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(jsonb_build_object(
                'transaction_id', t.public_id::text, 'f010', t.f010, 'status', t.state, 'service', t.service,
                'route', t.route, 'amount', t.amount::text, 'msisdn', t.msisdn, 'receipt', t.receipt,
                'reason', t.reason, 'result', t.result, 'created_at', gateway.iso_time(t.created_at),
                'updated_at', gateway.iso_time(t.updated_at), 'completed_at', gateway.iso_time(t.completed_at))) e
             WHERE jsonb_typeof(e.value) <> 'null')
      INTO v_view
      FROM gateway.transactions t
     WHERE t.client_id = (a->>'client_id')::bigint AND t.f010 = p_f010;
    IF v_view IS NULL THEN
        RETURN jsonb_build_object('outcome', 'missing', 'client_id', a->'client_id', 'app_id', a->'app_id');
    END IF;
    v_answer := jsonb_build_object('status', '200', 'message', 'transaction ' || (v_view->>'status')) || v_view;
    PERFORM gateway.write_api_log(
        p_ctx->'log' || jsonb_build_object('client_id', a->'client_id', 'app_id', a->'app_id'), 200, v_answer, NULL);
    RETURN jsonb_build_object('outcome', 'found', 'answer', v_answer, 'client_id', a->'client_id',
                              'app_id', a->'app_id');
END $$;
