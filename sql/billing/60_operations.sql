-- Billing library, part 6: what an ISP operator does by hand. Edit a plan; find, edit, hold, resume and remove a
-- subscriber; read one subscriber's whole story. Every change that alters what the router should hold queues a
-- router job (durable, retried); Python only checks input and writes the audit row.

-- The subscriber row of this client, locked. :raise MP404: no such subscriber.
CREATE OR REPLACE FUNCTION billing.subscriber_for_update(p_client_id bigint, p_username text)
RETURNS billing.subscribers
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s billing.subscribers;
BEGIN
    SELECT * INTO s FROM billing.subscribers WHERE client_id = p_client_id AND username = p_username FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no subscriber %', p_username USING ERRCODE = 'MP404';
    END IF;
    RETURN s;
END $$;

-- Switch the account on at the running period's profile (the adapter drops the session when the profile
-- changes), after cancelling a queued suspension. Returns the outbox id, or NULL when no period runs.
CREATE OR REPLACE FUNCTION billing.queue_reactivation(s billing.subscribers, p_reason text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cur billing.subscriptions := billing.current_period(s.client_id, s.id);
BEGIN
    IF cur.id IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM billing.cancel_router_jobs(s.client_id, s.username, 'suspend', p_reason);
    RETURN billing.enqueue_router_job(s.client_id, s.id, s.username, s.service_type, 'activate', cur.profile,
                                      p_reason, format('billing:op:%s:s%s:%s', s.client_id, s.id, clock_timestamp()));
END $$;

-- Edit a plan: any of name, price, duration (interval text), profile, active. A new profile applies at once to
-- everyone inside a period of this plan (the plan sells that speed): their periods take it and router jobs set it.
-- Returns {"before", "after", "reprofiled"}. :raise MP404: no plan; MP400: bad duration.
CREATE OR REPLACE FUNCTION billing.update_plan(p_app text, p_code text, p_changes jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_client bigint := billing.client_id(p_app);
    old billing.plans;
    p billing.plans;
    v_duration interval;
    r record;
    v_count integer := 0;
BEGIN
    SELECT * INTO old FROM billing.plans WHERE client_id = v_client AND code = p_code FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no plan % for %', p_code, p_app USING ERRCODE = 'MP404';
    END IF;
    IF p_changes ? 'duration' THEN
        BEGIN
            v_duration := (p_changes->>'duration')::interval;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
            RAISE EXCEPTION 'duration % is not a PostgreSQL interval; write e.g. "30 days" or "1 hour"',
                quote_literal(left(p_changes->>'duration', 60)) USING ERRCODE = 'MP400';
        END;
        IF v_duration <= interval '0' OR v_duration > interval '10 years' THEN
            RAISE EXCEPTION 'duration must be longer than 0 and at most 10 years' USING ERRCODE = 'MP400';
        END IF;
    END IF;
    UPDATE billing.plans SET
        name = coalesce(p_changes->>'name', name),
        price = coalesce((p_changes->>'price')::numeric, price),
        duration = coalesce(v_duration, duration),
        profile = coalesce(p_changes->>'profile', profile),
        active = coalesce((p_changes->>'active')::boolean, active),
        updated_at = now()
     WHERE id = old.id
    RETURNING * INTO p;
    IF p.profile IS DISTINCT FROM old.profile THEN
        FOR r IN UPDATE billing.subscriptions v SET profile = p.profile
                  WHERE v.client_id = v_client AND v.plan_id = p.id AND v.status = 'active' AND v.ends_at > now()
                 RETURNING v.subscriber_id, v.starts_at <= now() AS running
        LOOP
            CONTINUE WHEN NOT r.running;
            PERFORM billing.queue_reactivation(s, format('plan %s now uses profile %s', p.code, p.profile))
               FROM billing.subscribers s
              WHERE s.client_id = v_client AND s.id = r.subscriber_id AND s.hold_reason IS NULL
                AND s.status <> 'removed';
            v_count := v_count + 1;
        END LOOP;
    END IF;
    RETURN jsonb_build_object('before', billing.plan_json(old), 'after', billing.plan_json(p), 'reprofiled', v_count);
END $$;

-- A page of subscribers matching q, by username: the start of a username (any case), or the start of a phone
-- number in any usual form (07…, 2547…, 7…). {"items": [subscriber + "now"], "total"}.
-- PL/pgSQL on purpose: the patterns reach the planner as constants, so both are index prefix scans
-- (subscribers_client_username_prefix, subscribers_client_phone) instead of a scan of every subscriber.
CREATE OR REPLACE FUNCTION billing.search_subscribers(p_app text, p_q text, p_limit integer, p_offset integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_client bigint := billing.client_id(p_app);
    v_all boolean := coalesce(btrim(p_q), '') = '';
    v_name text := lower(replace(replace(replace(btrim(coalesce(p_q, '')), '\', '\\'), '%', '\%'), '_', '\_')) || '%';
    v_digits text := regexp_replace(coalesce(p_q, ''), '\D', '', 'g');
    v_phone text;
    v_total bigint;
    v_items jsonb;
BEGIN
    v_phone := CASE WHEN v_digits = '' THEN NULL
                    WHEN v_digits ~ '^0[17]' THEN '254' || substr(v_digits, 2)
                    WHEN v_digits ~ '^[17]' THEN '254' || v_digits
                    ELSE v_digits END || '%';
    SELECT count(*) INTO v_total FROM billing.subscribers s
     WHERE s.client_id = v_client
       AND (v_all OR lower(s.username) LIKE v_name OR s.phone LIKE v_phone);
    SELECT coalesce(jsonb_agg(billing.subscriber_json(h)
                              || jsonb_build_object('now', billing.subscriber_status(p_app, h.username))
                              ORDER BY h.username), '[]')
      INTO v_items
      FROM (SELECT s.* FROM billing.subscribers s
             WHERE s.client_id = v_client
               AND (v_all OR lower(s.username) LIKE v_name OR s.phone LIKE v_phone)
             ORDER BY s.username LIMIT p_limit OFFSET p_offset) h;
    RETURN jsonb_build_object('items', v_items, 'total', v_total);
END $$;

-- One subscriber's whole story: the row, what they have now, every period with its payment, and the router
-- jobs that touched the account (newest first). NULL when there is no such subscriber.
CREATE OR REPLACE FUNCTION billing.subscriber_detail(p_app text, p_username text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT billing.subscriber_json(s) || jsonb_build_object(
        'now', billing.subscriber_status(p_app, s.username),
        'periods', coalesce((SELECT jsonb_agg(billing.subscription_json(v) ORDER BY v.starts_at DESC, v.id DESC)
                               FROM billing.subscriptions v
                              WHERE v.client_id = s.client_id AND v.subscriber_id = s.id), '[]'),
        'payments', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                  'transaction_id', t.public_id, 'f010', t.f010, 'plan', t.request->>'f001',
                                  'amount', t.amount::text, 'state', t.state, 'reason', t.reason,
                                  'receipt', t.receipt, 'created_at', t.created_at) ORDER BY t.created_at DESC)
                                FROM (SELECT * FROM gateway.transactions t
                                       WHERE t.client_id = s.client_id AND t.account_ref = s.username
                                         AND t.request ? 'f001'
                                       ORDER BY t.created_at DESC LIMIT 50) t), '[]'),
        'jobs', coalesce((SELECT jsonb_agg(jsonb_build_object(
                              'outbox_id', j.outbox_id, 'action', j.action, 'reason', j.reason,
                              'status', o.status, 'attempts', o.attempts, 'last_status', o.last_status,
                              'last_error', o.last_error, 'created_at', j.created_at) ORDER BY j.outbox_id DESC)
                            FROM (SELECT * FROM billing.router_jobs j
                                   WHERE j.client_id = s.client_id AND j.username = s.username
                                   ORDER BY j.outbox_id DESC LIMIT 50) j
                            JOIN gateway.outbox o ON o.id = j.outbox_id), '[]'))
      FROM billing.subscribers s
     WHERE s.client_id = billing.client_id(p_app) AND s.username = p_username
$$;

-- Edit phone and/or password (already encrypted by Python). A new password reaches the router at once when a
-- period runs. Returns {"before", "after", "outbox_id"}. :raise MP404: no such subscriber.
CREATE OR REPLACE FUNCTION billing.update_subscriber(p_app text, p_username text, p_changes jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    old billing.subscribers := billing.subscriber_for_update(billing.client_id(p_app), p_username);
    s billing.subscribers;
    v_job bigint;
BEGIN
    IF old.status = 'removed' THEN
        RAISE EXCEPTION 'subscriber % was removed; create a new one instead', p_username USING ERRCODE = 'MP409';
    END IF;
    UPDATE billing.subscribers SET
        phone = CASE WHEN p_changes ? 'phone' THEN p_changes->>'phone' ELSE phone END,
        password_enc = coalesce(p_changes->>'password_enc', password_enc),
        updated_at = now()
     WHERE id = old.id
    RETURNING * INTO s;
    IF p_changes ? 'password_enc' AND s.hold_reason IS NULL THEN
        v_job := billing.queue_reactivation(s, 'password changed by the operator');
    END IF;
    RETURN jsonb_build_object('before', billing.subscriber_json(old), 'after', billing.subscriber_json(s),
                              'outbox_id', v_job);
END $$;

-- Suspend by hand with a reason: the account is disabled and its session dropped (a router job) whatever was
-- paid; payments are refused until resumed. Returns {"before", "after", "outbox_id"}.
CREATE OR REPLACE FUNCTION billing.hold_subscriber(p_app text, p_username text, p_reason text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    old billing.subscribers := billing.subscriber_for_update(billing.client_id(p_app), p_username);
    s billing.subscribers;
    v_job bigint;
BEGIN
    IF old.status = 'removed' THEN
        RAISE EXCEPTION 'subscriber % was removed', p_username USING ERRCODE = 'MP409';
    END IF;
    UPDATE billing.subscribers
       SET status = 'suspended', hold_reason = left(p_reason, 500), held_at = now(), updated_at = now()
     WHERE id = old.id
    RETURNING * INTO s;
    PERFORM billing.cancel_router_jobs(s.client_id, s.username, 'activate', 'suspended by the operator');
    v_job := billing.enqueue_router_job(s.client_id, s.id, s.username, s.service_type, 'suspend', NULL,
        'suspended by the operator: ' || s.hold_reason, format('billing:hold:%s:s%s:%s', s.client_id, s.id, now()));
    RETURN jsonb_build_object('before', billing.subscriber_json(old), 'after', billing.subscriber_json(s),
                              'outbox_id', v_job);
END $$;

-- Lift a manual hold: with a period running the account is switched on again (a router job), otherwise the
-- subscriber is simply able to pay again. :raise MP409: not held.
CREATE OR REPLACE FUNCTION billing.resume_subscriber(p_app text, p_username text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    old billing.subscribers := billing.subscriber_for_update(billing.client_id(p_app), p_username);
    s billing.subscribers;
    v_running boolean;
    v_ever boolean;
    v_job bigint;
BEGIN
    IF old.hold_reason IS NULL THEN
        RAISE EXCEPTION 'subscriber % is not suspended by hand; nothing to resume', p_username
            USING ERRCODE = 'MP409';
    END IF;
    v_running := (billing.current_period(old.client_id, old.id)).id IS NOT NULL;
    v_ever := EXISTS (SELECT 1 FROM billing.subscriptions WHERE client_id = old.client_id AND subscriber_id = old.id);
    UPDATE billing.subscribers
       SET hold_reason = NULL, held_at = NULL, updated_at = now(),
           status = CASE WHEN v_running THEN 'active' WHEN v_ever THEN 'suspended' ELSE 'new' END
     WHERE id = old.id
    RETURNING * INTO s;
    v_job := billing.queue_reactivation(s, 'resumed by the operator');
    RETURN jsonb_build_object('before', billing.subscriber_json(old), 'after', billing.subscriber_json(s),
                              'outbox_id', v_job);
END $$;

-- Remove: the subscriber is deactivated (row and history kept, running periods ended, payments refused) and a
-- router job deletes the account and drops its session. Removing twice answers the same.
CREATE OR REPLACE FUNCTION billing.remove_subscriber(p_app text, p_username text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    old billing.subscribers := billing.subscriber_for_update(billing.client_id(p_app), p_username);
    s billing.subscribers;
    v_job bigint;
BEGIN
    IF old.status = 'removed' THEN
        RETURN jsonb_build_object('before', billing.subscriber_json(old), 'after', billing.subscriber_json(old),
                                  'outbox_id', NULL);
    END IF;
    UPDATE billing.subscribers SET status = 'removed', removed_at = now(), updated_at = now()
     WHERE id = old.id
    RETURNING * INTO s;
    UPDATE billing.subscriptions SET status = 'expired', expired_at = now()
     WHERE client_id = s.client_id AND subscriber_id = s.id AND status = 'active';
    PERFORM billing.cancel_router_jobs(s.client_id, s.username, 'activate', 'subscriber removed');
    PERFORM billing.cancel_router_jobs(s.client_id, s.username, 'suspend', 'subscriber removed');
    v_job := billing.enqueue_router_job(s.client_id, s.id, s.username, s.service_type, 'remove', NULL,
        'removed by the operator', format('billing:remove:%s:s%s', s.client_id, s.id));
    RETURN jsonb_build_object('before', billing.subscriber_json(old), 'after', billing.subscriber_json(s),
                              'outbox_id', v_job);
END $$;
