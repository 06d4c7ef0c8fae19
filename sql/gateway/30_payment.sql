-- The payment pipeline: begin (insert + request function), finish (response function), apply a result.
-- p_ctx carries per-call settings from Python: {"log": {...}, "max_depth": 5, "pending_check_s": 60}.

-- 0060's release gave apply_result a fourth argument (the opening event, now begin_payment's own INSERT).
DROP FUNCTION IF EXISTS gateway.apply_result(bigint, jsonb, jsonb, text);

-- What a function's result (or an invoke failure) means for a transaction at chain depth p_depth, written
-- nowhere: the state it moves to, the result kept for the merchant, the HTTP status, the event's detail, the
-- failure reason and the next status check (NULL when the state sets none).
-- apply_result writes it to an existing row; begin_payment inserts the row already in that state.
DROP FUNCTION IF EXISTS gateway.plan_result(jsonb, integer, integer, jsonb);  -- its OUT columns grew once
CREATE FUNCTION gateway.plan_result(
    p_invoke jsonb, p_depth integer, p_status integer, p_ctx jsonb,
    OUT state text, OUT result jsonb, OUT http_status integer, OUT detail text, OUT reason text,
    OUT next_check_at timestamptz
)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r jsonb := p_invoke->'result';
    v_action text;
    v_max integer := coalesce((p_ctx->>'max_depth')::integer, 5);
BEGIN
    IF NOT (p_invoke->>'ok')::boolean THEN
        r := jsonb_build_object('status', '502', 'action', 'ERROR', 'type', 'error',
                                'message', p_invoke->>'error');
        v_action := 'FAILED';
    ELSE
        v_action := r->>'action';
    END IF;
    IF v_action = 'SERVICE' AND p_depth >= v_max THEN
        r := jsonb_build_object('status', '502', 'action', 'ERROR', 'type', 'error',
             'message', format('service chain deeper than %s calls; check the functions for a loop', v_max));
        v_action := 'FAILED';
    END IF;
    result := r;
    CASE v_action
        WHEN 'SERVICE' THEN
            state := 'dispatched';
            detail := format('calling %s', r->>'serviceurl');
            http_status := p_status;
        WHEN 'OUTPUT' THEN
            state := 'completed';
            http_status := gateway.http_status_of(r, 200);
        WHEN 'PENDING' THEN
            state := 'pending';
            http_status := gateway.http_status_of(r, 202);
        ELSE  -- ERROR or a failure of the function itself
            state := 'failed';
            http_status := CASE WHEN v_action = 'FAILED' THEN 502 ELSE gateway.http_status_of(r, 400) END;
            IF http_status < 400 THEN
                http_status := 400;  -- an ERROR must never look like success to the merchant
            END IF;
    END CASE;
    IF state <> 'dispatched' THEN
        detail := r->>'message';
    END IF;
    detail := left(detail, 2000);
    IF state = 'failed' THEN
        reason := left(r->>'message', 1000);
    ELSIF state = 'pending' THEN
        next_check_at := now() + make_interval(secs => coalesce((p_ctx->>'pending_check_s')::integer, 60));
    END IF;
END $$;

-- The answer for Python once a transaction's row holds a planned result: the call spec while it asks for a
-- SERVICE, else the final answer, with the merchant's webhook queued and the API log row written.
-- Takes the row as it now stands (the caller has it from its INSERT or UPDATE … RETURNING): no re-read.
-- A dispatched row's depth is the step of the call it asks for.
DROP FUNCTION IF EXISTS gateway.conclude(bigint, uuid, text, integer, jsonb, integer, jsonb);
CREATE OR REPLACE FUNCTION gateway.conclude(t gateway.transactions, p_ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_answer jsonb;
BEGIN
    IF t.state = 'dispatched' THEN
        RETURN jsonb_build_object('outcome', 'service', 'spec', t.result, 'transaction_id', t.public_id,
                                  'txn', t.id, 'step', t.depth);
    END IF;
    PERFORM gateway.enqueue_webhook_for(t);
    v_answer := t.result || jsonb_build_object('transaction_id', t.public_id);
    PERFORM gateway.write_api_log(p_ctx->'log', t.http_status, v_answer, t.id);
    RETURN jsonb_build_object('outcome', 'final', 'http_status', t.http_status, 'result', v_answer,
                              'transaction_id', t.public_id, 'txn', t.id);
END $$;

-- Apply a validated result (or an invoke failure) to a transaction the caller has locked.
-- Returns the outcome for Python: {"outcome": "final"|"service", "http_status", "result", "spec", …}.
CREATE OR REPLACE FUNCTION gateway.apply_result(p_txn bigint, p_invoke jsonb, p_ctx jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t gateway.transactions;
BEGIN
    SELECT * INTO t FROM gateway.transactions WHERE id = p_txn;
    RETURN gateway.apply_result_to(t, p_invoke, p_ctx);
END $$;

-- apply_result on the locked row the caller already holds (finish_payment): the row is written ONCE (state,
-- result and every other column in one UPDATE: each UPDATE is a new row version with an entry in every index,
-- because state and updated_at are indexed), and the state change is recorded in transaction_events.
CREATE OR REPLACE FUNCTION gateway.apply_result_to(t gateway.transactions, p_invoke jsonb, p_ctx jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p record;
    r jsonb;
    u gateway.transactions;
BEGIN
    p := gateway.plan_result(p_invoke, t.depth, t.http_status, p_ctx);
    r := p.result;
    -- Optional gateway extensions a function may return: a provider reference and a receipt.
    UPDATE gateway.transactions
       SET state = p.state,
           result = r,
           http_status = p.http_status,
           depth = CASE WHEN p.state = 'dispatched' THEN depth + 1 ELSE depth END,
           reason = CASE p.state WHEN 'completed' THEN NULL WHEN 'failed' THEN p.reason ELSE reason END,
           next_check_at = coalesce(p.next_check_at, next_check_at),
           provider_ref = coalesce(nullif(r->>'reference', ''), provider_ref),
           receipt = coalesce(nullif(r->>'receipt', ''), receipt),
           updated_at = now(),
           completed_at = CASE WHEN p.state IN ('completed', 'failed', 'timed_out') THEN now() ELSE completed_at END
     WHERE id = t.id
    RETURNING * INTO u;
    INSERT INTO gateway.transaction_events (transaction_id, from_state, to_state, detail)
    VALUES (t.id, t.state, p.state, p.detail);
    RETURN gateway.conclude(u, p_ctx);
END $$;

-- R2: call the request function, then insert the transaction idempotently on (client, f010) ALREADY in the
-- state its result asks for: one row version (an INSERT and no UPDATE: every version of this row costs an
-- entry in each of its indexes, and the dashboard's counters follow every state change).
-- A replay or a conflicting reuse of f010 is answered from the stored row without calling the function.
-- Two requests racing with one new f010 both call the function; the INSERT of the second finds the first's
-- row and raises MP409, which aborts its statement (the function's own writes with it): the caller sends
-- the request again and gets the replay answer.
CREATE OR REPLACE FUNCTION gateway.begin_payment(
    p_client_id bigint, p_registry_id bigint, p_f010 text, p_payload_hash text,
    p_request jsonb, p_data_input json, p_callback_token_hash text,
    p_amount numeric, p_msisdn text, p_account_ref text, p_ctx jsonb
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    reg record;
    t gateway.transactions;
    p record;
    r jsonb;
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

    SELECT * INTO t FROM gateway.transactions WHERE client_id = p_client_id AND f010 = p_f010;
    IF FOUND THEN
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

    p := gateway.plan_result(
        gateway.invoke(reg.fn_schema, reg.request_fn, 'request', p_f010, p_data_input, NULL, NULL), 0, NULL, p_ctx);
    r := p.result;
    INSERT INTO gateway.transactions (client_id, registry_id, service, route, f010, payload_hash, request,
                                      callback_token_hash, amount, msisdn, account_ref,
                                      state, result, http_status, depth, reason, next_check_at, provider_ref,
                                      receipt, completed_at)
    VALUES (p_client_id, p_registry_id, reg.service_name, reg.route, p_f010, p_payload_hash, p_request,
            p_callback_token_hash, p_amount, p_msisdn, p_account_ref,
            p.state, r, p.http_status, CASE WHEN p.state = 'dispatched' THEN 1 ELSE 0 END, p.reason, p.next_check_at,
            nullif(r->>'reference', ''), nullif(r->>'receipt', ''),
            CASE WHEN p.state IN ('completed', 'failed') THEN now() END)
    ON CONFLICT (client_id, f010) DO NOTHING
    RETURNING * INTO t;
    IF t.id IS NULL THEN
        RAISE EXCEPTION 'f010 % was begun by a concurrent request; send the request again for its answer', p_f010
              USING ERRCODE = 'MP409';
    END IF;
    INSERT INTO gateway.transaction_events (transaction_id, from_state, to_state, detail)
    VALUES (t.id, NULL, 'received', format('%s/%s', reg.service_name, reg.route)),
           (t.id, 'received', p.state, p.detail);
    RETURN gateway.conclude(t, p_ctx);
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
    RETURN gateway.apply_result_to(
        t,
        gateway.invoke(reg.fn_schema, reg.response_fn, 'response', t.f010, p_data_input, p_code, p_data_output),
        p_ctx);
END $$;
