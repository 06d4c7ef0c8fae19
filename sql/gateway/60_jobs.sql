-- Durable background work for the worker: webhooks, follow-up service calls, pending-payment checks.
-- Claims lease rows (next_attempt_at/next_check_at pushed forward) so two workers never take the same row,
-- and a crashed worker's rows come back when the lease ends.

CREATE OR REPLACE FUNCTION gateway.claim_jobs(p_kind text, p_limit integer, p_lease_s integer)
RETURNS SETOF gateway.outbox
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    UPDATE gateway.outbox o
       SET attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => p_lease_s)
     WHERE o.id IN (SELECT id FROM gateway.outbox
                     WHERE kind = p_kind AND status = 'pending' AND next_attempt_at <= now()
                     ORDER BY next_attempt_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
    RETURNING o.*
$$;

-- Record one delivery attempt; schedule a retry with capped exponential backoff, or give up visibly.
CREATE OR REPLACE FUNCTION gateway.record_attempt(
    p_outbox bigint, p_ok boolean, p_retryable boolean, p_status integer, p_error text, p_latency integer,
    p_backoff_base_s integer
) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o gateway.outbox;
    v_status text;
BEGIN
    SELECT * INTO o FROM gateway.outbox WHERE id = p_outbox FOR UPDATE;
    INSERT INTO gateway.outbox_attempts (outbox_id, status_code, latency_ms, error)
    VALUES (p_outbox, p_status, p_latency, left(p_error, 1000));
    v_status := CASE WHEN p_ok THEN 'delivered'
                     WHEN NOT p_retryable OR o.attempts >= o.max_attempts THEN 'dead'
                     ELSE 'pending' END;
    UPDATE gateway.outbox
       SET status = v_status, last_status = p_status, last_error = left(p_error, 1000),
           delivered_at = CASE WHEN p_ok THEN now() END,
           -- 1, 2, 4 … × base, capped at an hour, with ±20 % jitter so retries do not arrive in lockstep
           next_attempt_at = CASE WHEN v_status = 'pending' THEN now() + make_interval(secs =>
               least(3600, p_backoff_base_s * power(2, greatest(o.attempts - 1, 0))) * (0.8 + random() * 0.4))
               ELSE next_attempt_at END
     WHERE id = p_outbox;
    RETURN v_status;
END $$;

-- A service job without a payment (router suspension, drift repair), deduplicated by key.
CREATE OR REPLACE FUNCTION gateway.enqueue_service_job(p_client_id bigint, p_spec jsonb, p_dedupe text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO gateway.outbox (kind, client_id, transaction_id, dedupe_key, url, payload, max_attempts)
    VALUES ('service_call', p_client_id, NULL, p_dedupe, p_spec->>'serviceurl',
            p_spec || jsonb_build_object('client_id', p_client_id), 12)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;

-- The reply to a follow-up job of a payment goes to that payment's response_ function.
-- Returns {"job": delivered|pending|dead, "action", "message"}.
CREATE OR REPLACE FUNCTION gateway.finish_followup(
    p_outbox bigint, p_code integer, p_data json, p_attempt jsonb, p_backoff_base_s integer
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o gateway.outbox;
    t gateway.transactions;
    reg gateway.function_registry;
    v_invoke jsonb;
    r jsonb;
    v_job text;
    v_retryable boolean := p_code IN (502, 503, 504);
BEGIN
    SELECT * INTO o FROM gateway.outbox WHERE id = p_outbox;
    SELECT * INTO t FROM gateway.transactions WHERE id = o.transaction_id FOR UPDATE;
    SELECT * INTO reg FROM gateway.function_registry WHERE id = t.registry_id;
    INSERT INTO gateway.call_attempts (transaction_id, step, method, url, status_code, latency_ms,
                                       request_body, response_body, error)
    VALUES (t.id, t.depth, coalesce(p_attempt->>'method', 'POST'), coalesce(p_attempt->>'url', ''), p_code,
            (p_attempt->>'latency_ms')::integer, p_attempt->>'request_body', p_attempt->>'response_body',
            p_attempt->>'error');
    v_invoke := gateway.invoke(reg.fn_schema, reg.response_fn, 'response', t.f010,
        (t.request || jsonb_build_object('followup_command', o.payload->>'command'))::json, p_code, p_data);
    r := v_invoke->'result';
    IF (v_invoke->>'ok')::boolean AND r->>'action' IN ('OUTPUT', 'PENDING') THEN
        v_job := gateway.record_attempt(p_outbox, true, false, p_code, NULL, (p_attempt->>'latency_ms')::integer,
                                        p_backoff_base_s);
    ELSIF (v_invoke->>'ok')::boolean AND r->>'action' = 'SERVICE' THEN
        PERFORM gateway.enqueue_followup(t.id, r);
        v_job := gateway.record_attempt(p_outbox, true, false, p_code, NULL, (p_attempt->>'latency_ms')::integer,
                                        p_backoff_base_s);
    ELSE
        v_job := gateway.record_attempt(p_outbox, false, v_retryable, p_code,
            coalesce(r->>'message', v_invoke->>'error'), (p_attempt->>'latency_ms')::integer, p_backoff_base_s);
    END IF;
    UPDATE gateway.transactions
       SET flags = flags || jsonb_build_object('followup',
               CASE v_job WHEN 'delivered' THEN 'done' WHEN 'dead' THEN 'failed' ELSE 'pending' END,
               'followup_message', coalesce(r->>'message', v_invoke->>'error'))
               -- a paid transaction whose follow-up gave up (e.g. never provisioned) needs a person
               || CASE WHEN v_job = 'dead' THEN '{"needs_review": true}'::jsonb ELSE '{}'::jsonb END,
           updated_at = now()
     WHERE id = t.id;
    INSERT INTO gateway.transaction_events (transaction_id, from_state, to_state, detail)
    VALUES (t.id, t.state, t.state, format('follow-up %s: %s (%s)', coalesce(o.payload->>'command', 'call'),
            v_job, coalesce(r->>'message', v_invoke->>'error', 'HTTP ' || p_code)));
    RETURN jsonb_build_object('job', v_job, 'action', r->>'action', 'message', coalesce(r->>'message',
                              v_invoke->>'error'));
END $$;

-- Pending payments whose check is due, leased so that only one worker checks each.
DROP FUNCTION IF EXISTS gateway.claim_due_checks(integer, integer);  -- its result columns changed
CREATE FUNCTION gateway.claim_due_checks(p_limit integer, p_lease_s integer)
RETURNS TABLE(id bigint, client_id bigint, registry_id bigint, provider_ref text, age_s integer, template_kind text,
              service text, unconfirmed_callback jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH due_pending AS (
        SELECT t.id FROM gateway.transactions t
         WHERE t.state = 'pending' AND t.next_check_at <= now()
         ORDER BY t.next_check_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), due_late AS (
        -- a late success callback held on a timed_out payment: the status query decides (a bounded number of tries)
        SELECT t.id FROM gateway.transactions t
         WHERE t.state = 'timed_out' AND t.next_check_at <= now() AND t.check_attempts < 30
         ORDER BY t.next_check_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), due AS (
        SELECT id FROM due_pending UNION SELECT id FROM due_late
    ), leased AS (
        UPDATE gateway.transactions t
           SET next_check_at = now() + make_interval(secs => p_lease_s), check_attempts = t.check_attempts + 1
          FROM due WHERE t.id = due.id
        RETURNING t.id, t.client_id, t.registry_id, t.provider_ref, t.created_at, t.service, t.flags
    )
    SELECT l.id, l.client_id, l.registry_id, l.provider_ref,
           extract(epoch FROM now() - l.created_at)::integer, fr.template_kind, l.service,
           l.flags->'unconfirmed_callback'
      FROM leased l LEFT JOIN gateway.function_registry fr ON fr.id = l.registry_id
$$;

-- Nothing stays PENDING forever: a payment nobody settled in time becomes timed_out (webhook queued).
CREATE OR REPLACE FUNCTION gateway.expire_transaction(p_txn bigint, p_reason text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_state text;
BEGIN
    SELECT state INTO v_state FROM gateway.transactions WHERE id = p_txn FOR UPDATE;
    IF v_state NOT IN ('pending', 'dispatched') THEN
        RETURN false;
    END IF;
    UPDATE gateway.transactions
       SET reason = p_reason, http_status = 504, next_check_at = NULL,
           result = coalesce(result, '{}'::jsonb) || jsonb_build_object('status', '504', 'action', 'ERROR',
                                                                       'message', p_reason)
     WHERE id = p_txn;
    PERFORM gateway.set_state(p_txn, 'timed_out', p_reason);
    PERFORM gateway.enqueue_webhook(p_txn);
    RETURN true;
END $$;

-- A request whose process died between the outside call and R3 stays 'dispatched': after a grace period it
-- becomes timed_out (outcome unknown), so retries stop answering "in progress" and a late callback can still
-- settle it. Returns how many were swept.
CREATE OR REPLACE FUNCTION gateway.sweep_stale_dispatched(p_older_than_s integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_id bigint;
    v_count integer := 0;
BEGIN
    FOR v_id IN SELECT id FROM gateway.transactions
                 WHERE state = 'dispatched' AND updated_at < now() - make_interval(secs => p_older_than_s)
                 ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED
    LOOP
        PERFORM gateway.expire_transaction(v_id,
            'the gateway stopped during the service call; the outcome is unknown (check with the provider)');
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END $$;
