-- The payment pipeline: begin (insert + request function), finish (response function), apply a result.
-- p_ctx carries per-call settings from Python: {"log": {...}, "max_depth": 5, "pending_check_s": 60}.

-- Before 0060's release apply_result took three arguments; a second overload would make 3-argument calls ambiguous.
DROP FUNCTION IF EXISTS gateway.apply_result(bigint, jsonb, jsonb);

-- Apply a validated result (or an invoke failure) to a transaction the caller has locked.
-- Returns the outcome for Python: {"outcome": "final"|"service", "http_status", "result", "spec", …}.
-- The row is written ONCE (state, result and every other column in one UPDATE: each UPDATE is a new row
-- version with an entry in every index, because state and updated_at are indexed), and the state change is
-- recorded in transaction_events in the same INSERT as p_opening, the event begin_payment opens with.
CREATE OR REPLACE FUNCTION gateway.apply_result(p_txn bigint, p_invoke jsonb, p_ctx jsonb, p_opening text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t gateway.transactions;
    r jsonb := p_invoke->'result';
    v_action text;
    v_state text;
    v_detail text;
    v_status integer;
    v_max integer := coalesce((p_ctx->>'max_depth')::integer, 5);
    v_answer jsonb;
BEGIN
    SELECT * INTO t FROM gateway.transactions WHERE id = p_txn;
    IF NOT (p_invoke->>'ok')::boolean THEN
        r := jsonb_build_object('status', '502', 'action', 'ERROR', 'type', 'error',
                                'message', p_invoke->>'error');
        v_action := 'FAILED';
    ELSE
        v_action := r->>'action';
    END IF;
    IF v_action = 'SERVICE' AND t.depth >= v_max THEN
        r := jsonb_build_object('status', '502', 'action', 'ERROR', 'type', 'error',
             'message', format('service chain deeper than %s calls; check the functions for a loop', v_max));
        v_action := 'FAILED';
    END IF;

    CASE v_action
        WHEN 'SERVICE' THEN
            v_state := 'dispatched';
            v_detail := format('calling %s', r->>'serviceurl');
            v_status := t.http_status;
        WHEN 'OUTPUT' THEN
            v_state := 'completed';
            v_status := gateway.http_status_of(r, 200);
        WHEN 'PENDING' THEN
            v_state := 'pending';
            v_status := gateway.http_status_of(r, 202);
        ELSE  -- ERROR or a failure of the function itself
            v_state := 'failed';
            v_status := CASE WHEN v_action = 'FAILED' THEN 502 ELSE gateway.http_status_of(r, 400) END;
            IF v_status < 400 THEN
                v_status := 400;  -- an ERROR must never look like success to the merchant
            END IF;
    END CASE;
    IF v_state <> 'dispatched' THEN
        v_detail := r->>'message';
    END IF;

    -- Optional gateway extensions a function may return: a provider reference and a receipt.
    UPDATE gateway.transactions
       SET state = v_state,
           result = r,
           http_status = v_status,
           depth = CASE WHEN v_state = 'dispatched' THEN depth + 1 ELSE depth END,
           reason = CASE v_state WHEN 'completed' THEN NULL WHEN 'failed' THEN left(r->>'message', 1000)
                                 ELSE reason END,
           next_check_at = CASE WHEN v_state = 'pending'
                                THEN now() + make_interval(secs => coalesce((p_ctx->>'pending_check_s')::integer, 60))
                                ELSE next_check_at END,
           provider_ref = coalesce(nullif(r->>'reference', ''), provider_ref),
           receipt = coalesce(nullif(r->>'receipt', ''), receipt),
           updated_at = now(),
           completed_at = CASE WHEN v_state IN ('completed', 'failed', 'timed_out') THEN now() ELSE completed_at END
     WHERE id = p_txn;
    INSERT INTO gateway.transaction_events (transaction_id, from_state, to_state, detail)
    SELECT p_txn, e.from_state, e.to_state, e.detail
      FROM (VALUES (1, NULL, 'received', p_opening),
                   (2, t.state, v_state, left(v_detail, 2000))) AS e(n, from_state, to_state, detail)
     WHERE e.n = 2 OR p_opening IS NOT NULL
     ORDER BY e.n;

    IF v_state = 'dispatched' THEN
        RETURN jsonb_build_object('outcome', 'service', 'spec', r, 'transaction_id', t.public_id,
                                  'txn', p_txn, 'step', t.depth + 1);
    END IF;
    PERFORM gateway.enqueue_webhook(p_txn);
    v_answer := r || jsonb_build_object('transaction_id', t.public_id);
    PERFORM gateway.write_api_log(p_ctx->'log', v_status, v_answer, p_txn);
    RETURN jsonb_build_object('outcome', 'final', 'http_status', v_status, 'result', v_answer,
                              'transaction_id', t.public_id, 'txn', p_txn);
END $$;

-- R2: insert the transaction idempotently on (client, f010), call the request function, apply its result.
CREATE OR REPLACE FUNCTION gateway.begin_payment(
    p_client_id bigint, p_registry_id bigint, p_f010 text, p_payload_hash text,
    p_request jsonb, p_data_input json, p_callback_token_hash text,
    p_amount numeric, p_msisdn text, p_account_ref text, p_ctx jsonb
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    reg record;
    t gateway.transactions;
    v_id bigint;
    v_status integer;
    v_body jsonb;
BEGIN
    SELECT fr.*, s.name AS service_name, sr.route
      INTO reg
      FROM gateway.function_registry fr
      JOIN gateway.services s ON s.id = fr.service_id
      JOIN gateway.service_routes sr ON sr.id = fr.route_id
     WHERE fr.id = p_registry_id AND fr.client_id = p_client_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'route is not registered for this client' USING ERRCODE = 'MP404';
    END IF;

    INSERT INTO gateway.transactions (client_id, registry_id, service, route, f010, payload_hash, request,
                                      callback_token_hash, amount, msisdn, account_ref)
    VALUES (p_client_id, p_registry_id, reg.service_name, reg.route, p_f010, p_payload_hash, p_request,
            p_callback_token_hash, p_amount, p_msisdn, p_account_ref)
    ON CONFLICT (client_id, f010) DO NOTHING
    RETURNING id INTO v_id;

    IF v_id IS NULL THEN
        SELECT * INTO t FROM gateway.transactions WHERE client_id = p_client_id AND f010 = p_f010;
        IF t.payload_hash <> p_payload_hash THEN
            v_status := 409;
            v_body := jsonb_build_object('status', '409', 'message', format(
                'f010 %s was already used with a different payload; use a new f010 for a new payment', p_f010));
        ELSIF t.state IN ('received', 'dispatched') THEN
            v_status := 409;
            v_body := jsonb_build_object('status', '409', 'message', format(
                'f010 %s is in progress; poll /api/v1/transactions/%s for its result', p_f010, p_f010));
        ELSE
            v_status := t.http_status;
            v_body := t.result || jsonb_build_object('transaction_id', t.public_id);
        END IF;
        PERFORM gateway.write_api_log(p_ctx->'log', v_status, v_body, t.id);
        RETURN jsonb_build_object('outcome', CASE WHEN v_status = 409 THEN 'conflict' ELSE 'replay' END,
                                  'http_status', v_status, 'result', v_body, 'transaction_id', t.public_id,
                                  'txn', t.id);
    END IF;

    -- The opening event ('received') is written by apply_result with the first state change, in one INSERT.
    RETURN gateway.apply_result(
        v_id,
        gateway.invoke(reg.fn_schema, reg.request_fn, 'request', p_f010, p_data_input, NULL, NULL),
        p_ctx, format('%s/%s', reg.service_name, reg.route));
END $$;

-- R3: record the outside call, hand its reply to the response function, apply the result.
CREATE OR REPLACE FUNCTION gateway.finish_payment(
    p_txn bigint, p_code integer, p_data_output json, p_attempt jsonb, p_data_input json, p_ctx jsonb
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t gateway.transactions;
    reg gateway.function_registry;
BEGIN
    SELECT * INTO t FROM gateway.transactions WHERE id = p_txn FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'transaction % not found', p_txn USING ERRCODE = 'MP404';
    END IF;
    INSERT INTO gateway.call_attempts (transaction_id, step, method, url, status_code, latency_ms,
                                       request_body, response_body, error)
    VALUES (p_txn, t.depth, coalesce(p_attempt->>'method', 'POST'), coalesce(p_attempt->>'url', ''), p_code,
            (p_attempt->>'latency_ms')::integer, p_attempt->>'request_body', p_attempt->>'response_body',
            p_attempt->>'error');
    IF t.state <> 'dispatched' THEN
        -- Someone else (a callback) already moved it on: keep their answer.
        RETURN jsonb_build_object('outcome', 'final', 'http_status', t.http_status,
                                  'result', t.result || jsonb_build_object('transaction_id', t.public_id),
                                  'transaction_id', t.public_id, 'txn', p_txn);
    END IF;
    SELECT * INTO reg FROM gateway.function_registry WHERE id = t.registry_id;
    RETURN gateway.apply_result(
        p_txn,
        gateway.invoke(reg.fn_schema, reg.response_fn, 'response', t.f010, p_data_input, p_code, p_data_output),
        p_ctx);
END $$;
