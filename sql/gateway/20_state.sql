-- Transaction state changes, API log rows and outbox rows: every change is recorded.

CREATE OR REPLACE FUNCTION gateway.set_state(p_txn bigint, p_to text, p_detail text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_from text;
BEGIN
    SELECT state INTO v_from FROM gateway.transactions WHERE id = p_txn;
    UPDATE gateway.transactions
       SET state = p_to, updated_at = now(),
           completed_at = CASE WHEN p_to IN ('completed', 'failed', 'timed_out') THEN now() ELSE completed_at END
     WHERE id = p_txn;
    INSERT INTO gateway.transaction_events (transaction_id, from_state, to_state, detail)
    VALUES (p_txn, v_from, p_to, left(p_detail, 2000));
END $$;

CREATE OR REPLACE FUNCTION gateway.write_api_log(p_log jsonb, p_status integer, p_response jsonb, p_txn bigint)
RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_log IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO gateway.api_logs (client_id, app_id, method, path, http_status, latency_ms, remote_addr,
                                  transaction_id, request_body, response_body)
    VALUES ((p_log->>'client_id')::bigint, p_log->>'app_id', p_log->>'method', p_log->>'path', p_status,
            CASE WHEN p_log ? 'started_at'
                 THEN (extract(epoch FROM clock_timestamp()) * 1000)::bigint - (p_log->>'started_at')::bigint END,
            p_log->>'remote_addr', p_txn, left(p_log->>'request_body', 4000), left(p_response::text, 4000));
END $$;

-- Queue the merchant webhook for a final state (once per state, whatever retries happen).
CREATE OR REPLACE FUNCTION gateway.enqueue_webhook(p_txn bigint) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t gateway.transactions;
BEGIN
    SELECT * INTO t FROM gateway.transactions WHERE id = p_txn;
    IF FOUND THEN
        PERFORM gateway.enqueue_webhook_for(t);
    END IF;
END $$;

-- The same for a row the caller holds as it now stands (the payment pipeline: no re-read).
CREATE OR REPLACE FUNCTION gateway.enqueue_webhook_for(t gateway.transactions) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_url text;
BEGIN
    IF t.state NOT IN ('completed', 'failed', 'timed_out') THEN
        RETURN;
    END IF;
    SELECT callback_url INTO v_url FROM gateway.clients WHERE id = t.client_id;
    IF coalesce(v_url, '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO gateway.outbox (kind, client_id, transaction_id, dedupe_key, url, payload, max_attempts)
    VALUES ('webhook', t.client_id, t.id, format('webhook:%s:%s', t.id, t.state), v_url,
            jsonb_strip_nulls(jsonb_build_object(
                'event', 'transaction.' || t.state,
                'transaction_id', t.public_id,
                'f010', t.f010,
                'service', t.service,
                'route', t.route,
                'status', t.state,
                'amount', t.amount::text,
                'msisdn', t.msisdn,
                'receipt', t.receipt,
                'reason', CASE WHEN t.state <> 'completed' THEN t.reason END,
                'result', t.result,
                'occurred_at', now())),
            coalesce(nullif(current_setting('gateway.webhook_max_attempts', true), '')::integer, 8))
    ON CONFLICT (dedupe_key) DO NOTHING;
END $$;
