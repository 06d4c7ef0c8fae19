-- Provider and microservice callbacks: idempotent, bound to one transaction by an unguessable token.

-- Returns {"outcome": applied|duplicate|late|ignored|refused|unknown, "http_status", "detail", "txn"}.
CREATE OR REPLACE FUNCTION gateway.apply_callback(p_token_hash text, p_body json, p_source_ip text, p_ctx jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    SELECT id INTO v_id FROM gateway.transactions WHERE callback_token_hash = p_token_hash;
    IF NOT FOUND THEN
        INSERT INTO gateway.callbacks (transaction_id, source_ip, body, outcome, detail)
        VALUES (NULL, p_source_ip, p_body::jsonb, 'refused', 'unknown callback token');
        RETURN jsonb_build_object('outcome', 'unknown', 'http_status', 404, 'detail', 'unknown callback token');
    END IF;
    IF json_typeof(p_body) = 'object' AND p_body->>'source' = 'stkquery' THEN
        -- That shape is the worker's own STK query answer; from outside it is a forgery.
        INSERT INTO gateway.callbacks (transaction_id, source_ip, body, outcome, detail)
        VALUES (v_id, p_source_ip, p_body::jsonb, 'refused', 'a callback cannot claim to be a status query');
        RETURN jsonb_build_object('outcome', 'refused', 'http_status', 400,
                                  'detail', 'a callback cannot claim to be a status query');
    END IF;
    RETURN gateway.settle(v_id, p_body, p_source_ip, p_ctx);
END $$;

-- Hand a callback body (from the provider, or the worker's status query) to the callback_ function and apply it.
-- Returns {"outcome": applied|duplicate|late|ignored|refused, "http_status", "detail", "txn"}.
CREATE OR REPLACE FUNCTION gateway.settle(p_txn bigint, p_body json, p_source_ip text, p_ctx jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t gateway.transactions;
    reg gateway.function_registry;
    v_invoke jsonb;
    r jsonb;
    v_ref text;
    v_decision text;
    v_outcome text;
    v_detail text;
    v_paid numeric;
    v_success boolean;
    v_from_query boolean;
BEGIN
    SELECT * INTO t FROM gateway.transactions WHERE id = p_txn FOR UPDATE;
    SELECT * INTO reg FROM gateway.function_registry WHERE id = t.registry_id;
    -- The callback function runs in a subtransaction: its own writes (e.g. billing activating a plan) are kept
    -- only when the gateway applies a success or failure; a held, duplicate, refused, ignored or mismatched
    -- callback leaves no trace but its callbacks row.
    BEGIN
        v_invoke := gateway.invoke(reg.fn_schema, reg.callback_fn, 'callback', t.f010, t.request::json, NULL, p_body);
        r := v_invoke->'result';
        v_ref := nullif(r->>'reference', '');
        v_paid := CASE WHEN (r->>'amount') ~ '^[0-9]+(\.[0-9]+)?$' THEN (r->>'amount')::numeric END;
        v_success := r->>'action' IN ('OUTPUT', 'SERVICE');
        v_from_query := coalesce(p_ctx->>'source', '') = 'query';
        v_decision := CASE
            WHEN NOT (v_invoke->>'ok')::boolean THEN 'function_failed'
            WHEN v_ref IS NOT NULL AND t.provider_ref IS NOT NULL AND v_ref <> t.provider_ref THEN 'reference_mismatch'
            -- Callbacks are unsigned: a "paid" body must name this transaction's provider reference and the
            -- amount paid, or anyone holding the URL could settle it with {"ResultCode": 0}.
            WHEN v_success AND NOT v_from_query AND t.state NOT IN ('completed', 'failed')
                 AND (v_ref IS NULL OR t.provider_ref IS NULL) THEN 'missing_reference'
            WHEN v_success AND NOT v_from_query AND t.state NOT IN ('completed', 'failed')
                 AND v_paid IS NULL AND t.amount IS NOT NULL THEN 'missing_amount'
            WHEN t.state IN ('completed', 'failed') THEN 'duplicate'
            WHEN r->>'action' = 'PENDING' THEN 'in_progress'
            -- A late success (after timed_out) is always confirmed by a status query first, whatever the mode.
            WHEN v_success AND NOT v_from_query AND (t.state = 'timed_out'
                 OR (t.state = 'pending' AND gateway.needs_confirmation(t.registry_id, p_ctx))) THEN 'hold'
            WHEN t.state = 'timed_out' AND r->>'action' NOT IN ('OUTPUT', 'SERVICE') THEN 'late_failure'
            WHEN v_paid IS NOT NULL AND t.amount IS NOT NULL AND v_paid <> t.amount
                 AND r->>'action' IN ('OUTPUT', 'SERVICE') THEN 'amount_mismatch'
            ELSE 'apply' END;
        IF v_decision <> 'apply' THEN
            RAISE EXCEPTION USING ERRCODE = 'MP299';
        END IF;
    EXCEPTION WHEN SQLSTATE 'MP299' THEN
        NULL;  -- the decision and the function's answer are kept; the function's writes are undone
    END;

    CASE v_decision
    WHEN 'function_failed' THEN
        -- Our function failed (its subtransaction already rolled back in invoke): reconciliation settles it.
        v_outcome := 'refused';
        v_detail := v_invoke->>'error';
    WHEN 'missing_reference' THEN
        v_outcome := 'refused';
        v_detail := CASE WHEN t.provider_ref IS NULL
            THEN 'success callback refused: the transaction has no provider reference to match'
            ELSE 'success callback refused: it must name the transaction''s provider reference '
                 || '(CheckoutRequestID for M-Pesa)' END;
    WHEN 'missing_amount' THEN
        v_outcome := 'refused';
        v_detail := 'success callback refused: it must carry the amount paid';
    WHEN 'reference_mismatch' THEN
        v_outcome := 'refused';
        v_detail := format('callback reference %s does not match the transaction''s %s', v_ref, t.provider_ref);
    WHEN 'duplicate' THEN
        v_outcome := 'duplicate';
        v_detail := format('transaction already %s; callback recorded, nothing changed', t.state);
    WHEN 'in_progress' THEN
        v_outcome := 'ignored';
        v_detail := 'callback says the payment is still in progress';
    WHEN 'hold' THEN
        -- Callbacks are unsigned: hold a "paid" callback until the provider's status query confirms it.
        UPDATE gateway.transactions
           SET flags = flags || jsonb_build_object('unconfirmed_callback', p_body::jsonb)
                     || CASE WHEN t.state = 'timed_out' THEN '{"late_callback": true, "needs_review": true}'::jsonb
                             ELSE '{}'::jsonb END,
               next_check_at = now()
         WHERE id = t.id;
        v_outcome := CASE WHEN t.state = 'timed_out' THEN 'late' ELSE 'ignored' END;
        v_detail := 'success callback held until a status query confirms it';
    WHEN 'late_failure' THEN
        v_outcome := 'late';
        v_detail := 'late callback for a timed-out transaction reports failure; nothing changed';
        IF v_from_query THEN  -- the query refuted a held success callback: stop checking, keep the flag
            UPDATE gateway.transactions
               SET next_check_at = NULL,
                   flags = flags - 'unconfirmed_callback' || '{"late_callback_refuted": true}'::jsonb
             WHERE id = t.id AND flags ? 'unconfirmed_callback';
            v_detail := 'status query refuted a late success callback; nothing changed';
        END IF;
    WHEN 'amount_mismatch' THEN
        v_outcome := CASE WHEN t.state = 'timed_out' THEN 'late' ELSE 'applied' END;
        v_detail := 'amount mismatch flagged';
        UPDATE gateway.transactions
           SET flags = flags || jsonb_build_object('amount_mismatch',
                       jsonb_build_object('requested', t.amount, 'paid', v_paid), 'needs_review', true)
         WHERE id = t.id;
        PERFORM gateway.apply_result(t.id, jsonb_build_object('ok', true, 'result', jsonb_build_object(
            'status', '409', 'action', 'ERROR', 'type', 'error', 'reference', v_ref, 'receipt', r->>'receipt',
            'message', format('paid amount %s differs from requested %s; flagged for review', v_paid, t.amount))),
            p_ctx - 'log');
    ELSE  -- apply
        v_outcome := CASE WHEN t.state = 'timed_out' THEN 'late' ELSE 'applied' END;
        IF t.state = 'timed_out' THEN
            UPDATE gateway.transactions
               SET flags = flags || jsonb_build_object('late_settlement', true, 'needs_review', true)
             WHERE id = t.id;
            v_detail := 'late callback settled a timed-out transaction';
        END IF;
        IF r->>'action' = 'SERVICE' THEN
            -- The payment is settled; the follow-up call (e.g. router activation) is a durable job.
            PERFORM gateway.enqueue_followup(t.id, r);
            r := r - ARRAY['serviceurl', 'servicepayload', 'servicemethod', 'serviceheaders', 'servicetimeout',
                           'command', 'servicename', 'servicecredentials', 'servicesecrets']
                 || jsonb_build_object('action', 'OUTPUT');
        END IF;
        PERFORM gateway.apply_result(t.id, jsonb_build_object('ok', true, 'result', r), p_ctx - 'log');
    END CASE;
    INSERT INTO gateway.callbacks (transaction_id, source_ip, provider_ref, body, outcome, detail)
    VALUES (t.id, p_source_ip, v_ref, p_body::jsonb, v_outcome, v_detail);
    RETURN jsonb_build_object('outcome', v_outcome, 'detail', v_detail, 'txn', t.id,
                              'http_status', CASE WHEN v_outcome = 'refused' THEN 400 ELSE 200 END);
END $$;

-- A follow-up service call queued by a callback; the worker runs it and feeds the reply to response_.
CREATE OR REPLACE FUNCTION gateway.enqueue_followup(p_txn bigint, p_spec jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_client bigint;
BEGIN
    SELECT client_id INTO v_client FROM gateway.transactions WHERE id = p_txn;
    INSERT INTO gateway.outbox (kind, client_id, transaction_id, dedupe_key, url, payload, max_attempts)
    VALUES ('service_call', v_client, p_txn, format('followup:%s:%s', p_txn, md5(p_spec::text)),
            p_spec->>'serviceurl', p_spec, 12)
    ON CONFLICT (dedupe_key) DO NOTHING;
    UPDATE gateway.transactions SET flags = flags || '{"followup": "pending"}'::jsonb WHERE id = p_txn;
END $$;

-- Whether success callbacks of this registry row's service wait for a confirming status query:
-- the service setting confirm_with_query, else the gateway default (on in production).
CREATE OR REPLACE FUNCTION gateway.needs_confirmation(p_registry_id bigint, p_ctx jsonb) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((s.settings->>'confirm_with_query')::boolean, (p_ctx->>'confirm_default')::boolean, false)
      FROM gateway.function_registry fr JOIN gateway.services s ON s.id = fr.service_id
     WHERE fr.id = p_registry_id
$$;
