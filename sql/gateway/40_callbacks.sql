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
    v_outcome text;
    v_detail text;
    v_paid numeric;
BEGIN
    SELECT * INTO t FROM gateway.transactions WHERE id = p_txn FOR UPDATE;
    SELECT * INTO reg FROM gateway.function_registry WHERE id = t.registry_id;
    v_invoke := gateway.invoke(reg.fn_schema, reg.callback_fn, 'callback', t.f010, t.request::json, NULL, p_body);

    IF NOT (v_invoke->>'ok')::boolean THEN
        -- Our function failed: change nothing; reconciliation will settle the transaction.
        v_outcome := 'refused';
        v_detail := v_invoke->>'error';
    ELSE
        r := v_invoke->'result';
        v_ref := nullif(r->>'reference', '');
        IF v_ref IS NOT NULL AND t.provider_ref IS NOT NULL AND v_ref <> t.provider_ref THEN
            v_outcome := 'refused';
            v_detail := format('callback reference %s does not match the transaction''s %s', v_ref, t.provider_ref);
        ELSIF t.state IN ('completed', 'failed') THEN
            v_outcome := 'duplicate';
            v_detail := format('transaction already %s; callback recorded, nothing changed', t.state);
        ELSIF r->>'action' = 'PENDING' THEN
            v_outcome := 'ignored';
            v_detail := 'callback says the payment is still in progress';
        ELSIF t.state = 'pending' AND r->>'action' IN ('OUTPUT', 'SERVICE')
              AND coalesce(p_ctx->>'source', '') <> 'query' AND gateway.needs_confirmation(t.registry_id, p_ctx) THEN
            -- Callbacks are unsigned: hold a "paid" callback until the provider's status query confirms it.
            UPDATE gateway.transactions
               SET flags = flags || jsonb_build_object('unconfirmed_callback', p_body::jsonb), next_check_at = now()
             WHERE id = t.id;
            v_outcome := 'ignored';
            v_detail := 'success callback held until a status query confirms it';
        ELSIF t.state = 'timed_out' AND r->>'action' <> 'OUTPUT' AND r->>'action' <> 'SERVICE' THEN
            v_outcome := 'late';
            v_detail := 'late callback for a timed-out transaction reports failure; nothing changed';
        ELSE
            v_outcome := CASE WHEN t.state = 'timed_out' THEN 'late' ELSE 'applied' END;
            v_paid := CASE WHEN (r->>'amount') ~ '^[0-9]+(\.[0-9]+)?$' THEN (r->>'amount')::numeric END;
            IF v_paid IS NOT NULL AND t.amount IS NOT NULL AND v_paid <> t.amount
               AND r->>'action' IN ('OUTPUT', 'SERVICE') THEN
                UPDATE gateway.transactions
                   SET flags = flags || jsonb_build_object('amount_mismatch',
                               jsonb_build_object('requested', t.amount, 'paid', v_paid), 'needs_review', true)
                 WHERE id = t.id;
                v_invoke := jsonb_build_object('ok', true, 'result', jsonb_build_object(
                    'status', '409', 'action', 'ERROR', 'type', 'error', 'reference', v_ref,
                    'receipt', r->>'receipt',
                    'message', format('paid amount %s differs from requested %s; flagged for review', v_paid, t.amount)));
                v_detail := 'amount mismatch flagged';
            END IF;
            IF t.state = 'timed_out' THEN
                UPDATE gateway.transactions
                   SET flags = flags || jsonb_build_object('late_settlement', true, 'needs_review', true)
                 WHERE id = t.id;
                v_detail := coalesce(v_detail || '; ', '') || 'late callback settled a timed-out transaction';
            END IF;
            IF v_invoke->'result'->>'action' = 'SERVICE' THEN
                -- The payment is settled; the follow-up call (e.g. router activation) is a durable job.
                PERFORM gateway.enqueue_followup(t.id, v_invoke->'result');
                v_invoke := jsonb_build_object('ok', true, 'result',
                    (v_invoke->'result') - ARRAY['serviceurl', 'servicepayload', 'servicemethod', 'serviceheaders',
                                                 'servicetimeout', 'command']
                    || jsonb_build_object('action', 'OUTPUT'));
            END IF;
            PERFORM gateway.apply_result(t.id, v_invoke, p_ctx - 'log');
        END IF;
    END IF;
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
