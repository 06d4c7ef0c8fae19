-- The hot path's first round trip: authenticate, resolve, count the rate limit and the quota, and begin
-- the payment in ONE statement, which is also the whole transaction (the app runs it in autocommit), so
-- the transaction row is committed before Python makes the outside call.
--
-- p_auth: {"app_id", "username", "secret_hash", "token_version", "service", "route", "rules_version"}.
--   rules_version is the md5 of the service's field rules that Python validated the fields against; a
--   different current version means the rules changed, and nothing is begun.
-- Outcomes: anything gateway.begin_payment returns ("service", "final", "replay", "conflict"), plus
--   "resolve": nothing done; "resolution" holds what SQL saw, so Python can word the refusal exactly as
--              it always has (bad credentials, inactive client, unknown route, not assigned, new rules);
--   "limited": over the client's rate limit or monthly quota; 429 with retry_after, already logged.
-- Successful outcomes carry "client_id", "app_id" and "target" (service, base URL, timeout, encrypted
-- provider credentials) for the dispatch.
CREATE OR REPLACE FUNCTION gateway.begin_request(
    p_auth jsonb, p_f010 text, p_payload_hash text, p_request jsonb, p_data_input json,
    p_callback_token_hash text, p_amount numeric, p_msisdn text, p_account_ref text, p_ctx jsonb
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a jsonb;
    v_ctx jsonb;
    v_refusal jsonb;
    v_out jsonb;
BEGIN
    a := gateway.authenticate_client(p_auth->>'app_id', p_auth->>'username', p_auth->>'secret_hash',
                                     (p_auth->>'token_version')::integer, p_auth->>'service', p_auth->>'route',
                                     p_ctx->'limits', false);
    IF a IS NULL OR NOT (a->>'authenticated')::boolean OR a->>'registry_id' IS NULL
       OR NOT coalesce((a->>'assignment_active')::boolean, false)
       OR NOT coalesce((a->>'service_active')::boolean, false)
       OR a->>'rules_version' IS DISTINCT FROM p_auth->>'rules_version' THEN
        RETURN jsonb_build_object('outcome', 'resolve', 'resolution', a);
    END IF;

    v_ctx := p_ctx || jsonb_build_object(
        'log', p_ctx->'log' || jsonb_build_object('client_id', a->'client_id', 'app_id', a->'app_id'),
        'pending_check_s', coalesce(a->'settings'->'pending_check_s', p_ctx->'pending_check_s'));

    IF a ? 'retry_after' THEN
        v_refusal := jsonb_build_object('retry_after', a->'retry_after', 'message', format(
            'rate limit of %s exceeded for %s; retry after %s seconds', a->>'limit', a->>'app_id', a->>'retry_after'));
    ELSIF a->>'monthly_quota' IS NOT NULL THEN
        v_refusal := gateway.quota_refusal((a->>'client_id')::bigint, (a->>'monthly_quota')::integer);
        IF v_refusal IS NOT NULL AND EXISTS (SELECT 1 FROM gateway.transactions
                                              WHERE client_id = (a->>'client_id')::bigint AND f010 = p_f010) THEN
            v_refusal := NULL;  -- a replay of a payment already counted is answered, never refused
        END IF;
    END IF;
    IF v_refusal IS NOT NULL THEN
        v_out := jsonb_build_object('status', '429', 'message', v_refusal->>'message');
        PERFORM gateway.write_api_log(v_ctx->'log', 429, v_out, NULL);
        RETURN jsonb_build_object('outcome', 'limited', 'http_status', 429, 'result', v_out,
                                  'retry_after', v_refusal->'retry_after',
                                  'client_id', a->'client_id', 'app_id', a->'app_id');
    END IF;

    v_out := gateway.begin_payment((a->>'client_id')::bigint, (a->>'registry_id')::bigint, p_f010, p_payload_hash,
                                   p_request, p_data_input, p_callback_token_hash, p_amount, p_msisdn,
                                   p_account_ref, v_ctx);
    -- Counted last, so the counter rows are locked only for the commit that follows this statement.
    IF a->>'monthly_quota' IS NOT NULL AND v_out->>'outcome' NOT IN ('replay', 'conflict') THEN
        PERFORM gateway.count_quota((a->>'client_id')::bigint);
    END IF;
    IF a ? 'rate_key' THEN
        PERFORM gateway.rate_count(a->>'rate_key', (a->>'rate_secs')::integer);
    END IF;
    RETURN v_out || jsonb_build_object(
        'client_id', a->'client_id', 'app_id', a->'app_id', 'pending_check_s', v_ctx->'pending_check_s',
        'target', jsonb_build_object('service_name', a->'service_name', 'base_url', a->'base_url',
                                     'timeout_s', a->'timeout_s',
                                     'provider_credentials', coalesce(a->'provider_credentials', '{}'::jsonb)));
END $$;
