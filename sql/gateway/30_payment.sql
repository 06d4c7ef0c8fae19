-- The payment pipeline: begin (insert + request function), finish (response function), apply a result.
-- p_ctx carries per-call settings from Python: {"log": {...}, "max_depth": 5, "pending_check_s": 60}.

-- Apply a validated result (or an invoke failure) to a transaction the caller has locked.
-- Returns the outcome for Python: {"outcome": "final"|"service", "http_status", "result", "spec", …}.
CREATE OR REPLACE FUNCTION gateway.apply_result(p_txn bigint, p_invoke jsonb, p_ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t gateway.transactions;
    r jsonb := p_invoke->'result';
    v_action text;
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

    -- Optional gateway extensions a function may return: a provider reference and a receipt. Only when
    -- present: an UPDATE that changes nothing still writes a new row version (and WAL) on the hot path.
    IF nullif(r->>'reference', '') IS NOT NULL OR nullif(r->>'receipt', '') IS NOT NULL THEN
        UPDATE gateway.transactions
           SET provider_ref = coalesce(nullif(r->>'reference', ''), provider_ref),
               receipt = coalesce(nullif(r->>'receipt', ''), receipt)
         WHERE id = p_txn;
    END IF;

    IF v_action = 'SERVICE' THEN
        IF t.depth >= v_max THEN
            r := jsonb_build_object('status', '502', 'action', 'ERROR', 'type', 'error',
                 'message', format('service chain deeper than %s calls; check the functions for a loop', v_max));
            v_action := 'FAILED';
        ELSE
            UPDATE gateway.transactions SET depth = depth + 1, result = r, updated_at = now() WHERE id = p_txn;
            PERFORM gateway.set_state(p_txn, 'dispatched', format('calling %s', r->>'serviceurl'));
            RETURN jsonb_build_object('outcome', 'service', 'spec', r, 'transaction_id', t.public_id,
                                      'txn', p_txn, 'step', t.depth + 1);
        END IF;
    END IF;

    IF v_action = 'OUTPUT' THEN
        v_status := gateway.http_status_of(r, 200);
        UPDATE gateway.transactions SET result = r, http_status = v_status, reason = NULL WHERE id = p_txn;
        PERFORM gateway.set_state(p_txn, 'completed', r->>'message');
    ELSIF v_action = 'PENDING' THEN
        v_status := gateway.http_status_of(r, 202);
        UPDATE gateway.transactions
           SET result = r, http_status = v_status,
               next_check_at = now() + make_interval(secs => coalesce((p_ctx->>'pending_check_s')::integer, 60))
         WHERE id = p_txn;
        PERFORM gateway.set_state(p_txn, 'pending', r->>'message');
    ELSE  -- ERROR or a failure of the function itself
        v_status := CASE WHEN v_action = 'FAILED' THEN 502 ELSE gateway.http_status_of(r, 400) END;
        IF v_status < 400 THEN
            v_status := 400;  -- an ERROR must never look like success to the merchant
        END IF;
        UPDATE gateway.transactions SET result = r, http_status = v_status, reason = left(r->>'message', 1000)
         WHERE id = p_txn;
        PERFORM gateway.set_state(p_txn, 'failed', r->>'message');
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

    INSERT INTO gateway.transaction_events (transaction_id, from_state, to_state, detail)
    VALUES (v_id, NULL, 'received', format('%s/%s', reg.service_name, reg.route));

    RETURN gateway.apply_result(
        v_id,
        gateway.invoke(reg.fn_schema, reg.request_fn, 'request', p_f010, p_data_input, NULL, NULL),
        p_ctx);
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
